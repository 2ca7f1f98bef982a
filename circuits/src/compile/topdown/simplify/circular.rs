//! Circular rules: a rule that derives its head only through the head
//! itself is not needed by the least model.

use super::{Scratch, NONE};

impl Scratch {
    /// Drops the rules `h :- L, B` of which some `b ∈ B` cannot be derived
    /// without `h`, even with every slot true: such a rule only ever
    /// derives `h` in a circle, so the least model does not need it.
    /// Expects `defs`/`uses` up to date; leaves them so (rules dropped are
    /// only marked dead).
    pub(super) fn prune_circular(&mut self, k: usize) {
        if (0..self.head.len()).all(|r| !self.alive[r] || self.body(r).len() <= 1) {
            self.prune_circular_graph(k);
        } else {
            self.prune_circular_general(k);
        }
    }

    /// [`Scratch::prune_circular`] where every body has at most one atom:
    /// then `b` cannot be derived without `h` exactly when `h` dominates
    /// `b` in the derivation graph (a root before every atom with a rule
    /// without body atoms, `b → h` per rule `h :- L, b`), found in linear
    /// time per round by Cooper, Harvey and Kennedy's iteration.
    fn prune_circular_graph(&mut self, k: usize) {
        let mut g = std::mem::take(&mut self.graph);
        g.derivation_graph(self, k);
        g.postorder(self, k);
        g.dominators(k);
        g.dominator_intervals(k);
        for r in 0..self.head.len() {
            if !self.alive[r] {
                continue;
            }
            let (s, e) = self.atoms[r];
            if s < e && g.dominates(self.head[r] as usize, self.pool[s as usize] as usize) {
                self.alive[r] = false;
            }
        }
        self.graph = g;
    }

    /// [`Scratch::prune_circular`] for any bodies: per head `h`, the atoms
    /// derivable with every slot true by the rules of other heads, and
    /// `h`'s rules whose body holds another atom go (quadratic: one
    /// derivation per head).
    fn prune_circular_general(&mut self, k: usize) {
        let mut without = vec![false; k];
        let mut queue = Vec::new();
        let mut need = vec![0u32; self.head.len()];
        for h in 0..k {
            if !self.defs[h].iter().any(|&r| self.alive[r as usize] && !self.body(r as usize).is_empty()) {
                continue;
            }
            without.fill(false);
            queue.clear();
            for (r, waiting) in need.iter_mut().enumerate() {
                *waiting = if self.alive[r] && self.head[r] as usize != h { self.body(r).len() as u32 } else { NONE };
                if *waiting == 0 {
                    queue.push(self.head[r]);
                }
            }
            while let Some(a) = queue.pop() {
                if std::mem::replace(&mut without[a as usize], true) {
                    continue;
                }
                for &r in &self.uses[a as usize] {
                    let n = &mut need[r as usize];
                    if *n != NONE {
                        *n -= 1;
                        if *n == 0 {
                            queue.push(self.head[r as usize]);
                        }
                    }
                }
            }
            for i in 0..self.defs[h].len() {
                let r = self.defs[h][i] as usize;
                if self.alive[r] && self.body(r).iter().any(|&b| !without[b as usize]) {
                    self.alive[r] = false;
                }
            }
        }
    }
}

/// Working memory of [`Scratch::prune_circular_graph`], kept between
/// states so that a visit allocates nothing. Nodes are the `k` local atoms
/// and the root, numbered `k`; each step fills the fields its doc names,
/// from those of the steps before it.
#[derive(Default)]
pub(super) struct GraphScratch {
    /// The atoms with a live rule without body atoms: the root's successors.
    bases: Vec<u32>,
    /// Each node's place in `postorder`, and the nodes the root reaches in
    /// postorder of a depth-first walk.
    post: Vec<u32>,
    postorder: Vec<u32>,
    visited: Vec<bool>,
    stack: Vec<(u32, u32)>,
    /// Each atom's predecessors (CSR): the first body atom of each live
    /// rule for it, once per rule, then the root where it is a base.
    pred_start: Vec<u32>,
    preds: Vec<u32>,
    /// Immediate dominators (`NONE`: not reached); the root's is itself.
    idom: Vec<u32>,
    /// The dominator tree's children (CSR, by counting sort on parent).
    child_start: Vec<u32>,
    children: Vec<u32>,
    fill: Vec<u32>,
    /// Each node's interval in a walk of the dominator tree.
    enter: Vec<u32>,
    leave: Vec<u32>,
}

impl GraphScratch {
    /// `preds`, `pred_start` and `bases` of the live rules of `s`, whose
    /// bodies hold at most one atom.
    fn derivation_graph(&mut self, s: &Scratch, k: usize) {
        let root = k as u32;
        self.bases.clear();
        self.pred_start.clear();
        self.preds.clear();
        for n in 0..k {
            self.pred_start.push(self.preds.len() as u32);
            let mut base = false;
            for &r in &s.defs[n] {
                let r = r as usize;
                if !s.alive[r] {
                    continue;
                }
                let (b, e) = s.atoms[r];
                if b == e {
                    base = true;
                } else {
                    self.preds.push(s.pool[b as usize]);
                }
            }
            if base {
                self.bases.push(n as u32);
                self.preds.push(root);
            }
        }
        self.pred_start.push(self.preds.len() as u32);
    }

    /// `post` and `postorder`: a depth-first walk from the root along the
    /// derivation graph's edges (`b → h` per live rule `h :- L, b`).
    fn postorder(&mut self, s: &Scratch, k: usize) {
        let root = k;
        self.post.clear();
        self.post.resize(k + 1, NONE);
        self.postorder.clear();
        self.visited.clear();
        self.visited.resize(k + 1, false);
        self.stack.clear();
        self.stack.push((root as u32, 0));
        self.visited[root] = true;
        while let Some(&mut (n, ref mut next)) = self.stack.last_mut() {
            let n = n as usize;
            let child = if n == root {
                self.bases.get(*next as usize).map(|&a| a as usize)
            } else {
                s.uses[n]
                    .get(*next as usize)
                    .map(|&r| if s.alive[r as usize] { s.head[r as usize] as usize } else { n })
            };
            match child {
                Some(c) => {
                    *next += 1;
                    if !self.visited[c] {
                        self.visited[c] = true;
                        self.stack.push((c as u32, 0));
                    }
                }
                None => {
                    self.post[n] = self.postorder.len() as u32;
                    self.postorder.push(n as u32);
                    self.stack.pop();
                }
            }
        }
    }

    /// `idom`: Cooper, Harvey and Kennedy's iteration in reverse postorder
    /// to a fixpoint.
    fn dominators(&mut self, k: usize) {
        let root = k;
        self.idom.clear();
        self.idom.resize(k + 1, NONE);
        self.idom[root] = root as u32;
        let post = &self.post;
        let intersect = |idom: &[u32], mut a: usize, mut b: usize| {
            while a != b {
                while post[a] < post[b] {
                    a = idom[a] as usize;
                }
                while post[b] < post[a] {
                    b = idom[b] as usize;
                }
            }
            a
        };
        let mut changed = true;
        while changed {
            changed = false;
            for &n in self.postorder.iter().rev() {
                let n = n as usize;
                if n == root {
                    continue;
                }
                let mut new = NONE as usize;
                for &p in &self.preds[self.pred_start[n] as usize..self.pred_start[n + 1] as usize] {
                    let p = p as usize;
                    if self.idom[p] != NONE {
                        new = if new == NONE as usize { p } else { intersect(&self.idom, p, new) };
                    }
                }
                if new != NONE as usize && self.idom[n] != new as u32 {
                    self.idom[n] = new as u32;
                    changed = true;
                }
            }
        }
    }

    /// `enter` and `leave`: the dominator tree's intervals, so that `h`
    /// dominates `b` iff `b`'s interval lies in `h`'s.
    fn dominator_intervals(&mut self, k: usize) {
        let root = k;
        self.child_start.clear();
        self.child_start.resize(k + 2, 0);
        for n in 0..k {
            if self.idom[n] != NONE {
                self.child_start[self.idom[n] as usize + 1] += 1;
            }
        }
        for i in 0..=k {
            self.child_start[i + 1] += self.child_start[i];
        }
        self.children.clear();
        self.children.resize(self.child_start[k + 1] as usize, 0);
        self.fill.clear();
        self.fill.extend_from_slice(&self.child_start[..k + 1]);
        for n in 0..k {
            if self.idom[n] != NONE {
                let p = self.idom[n] as usize;
                self.children[self.fill[p] as usize] = n as u32;
                self.fill[p] += 1;
            }
        }
        self.enter.clear();
        self.enter.resize(k + 1, 0);
        self.leave.clear();
        self.leave.resize(k + 1, 0);
        let mut clock = 0u32;
        self.stack.clear();
        self.stack.push((root as u32, self.child_start[root]));
        self.enter[root] = clock;
        while let Some(&mut (n, ref mut next)) = self.stack.last_mut() {
            let n = n as usize;
            if *next < self.child_start[n + 1] {
                let c = self.children[*next as usize];
                *next += 1;
                clock += 1;
                self.enter[c as usize] = clock;
                self.stack.push((c, self.child_start[c as usize]));
            } else {
                self.leave[n] = clock;
                self.stack.pop();
            }
        }
    }

    /// Whether atom `h` dominates atom `b` (both reached from the root),
    /// after [`GraphScratch::dominator_intervals`].
    #[inline]
    fn dominates(&self, h: usize, b: usize) -> bool {
        self.idom[b] != NONE && self.idom[h] != NONE && self.enter[h] <= self.enter[b] && self.leave[b] <= self.leave[h]
    }
}
