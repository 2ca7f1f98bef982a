//! Subsumption: of two rules for one head, one that fires only where the
//! other does goes, and so do duplicates and transitive unit rules.

use super::Scratch;

impl Scratch {
    /// The live rules grouped by head (the order the key is built in),
    /// after dropping, per head: a unit rule `h :- c` where another
    /// `h :- m` has `c → m`; a rule whose body holds an atom that implies
    /// `h`; and a rule `y` that fires only where another `x` does (`x`'s
    /// literals among `y`'s, each atom of `x`'s body one of `y`'s or
    /// implied by one), which drops the second copy of a duplicate. Expects
    /// `implicants` up to date ([`Scratch::merge_equivalent`] having merged
    /// nothing), so implications form a DAG.
    pub(super) fn drop_subsumed(&mut self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.head.len() as u32).filter(|&r| self.alive[r as usize]).collect();
        // Grouped by head; within a group the order does not matter (what
        // survives does not depend on it, and the key is sorted below),
        // and a duplicate goes as a rule the first copy subsumes.
        order.sort_unstable_by_key(|&r| self.head[r as usize]);
        let mut start = 0;
        while start < order.len() {
            let head = self.head[order[start] as usize];
            let mut end = start + 1;
            while end < order.len() && self.head[order[end] as usize] == head {
                end += 1;
            }
            for i in start..end {
                let x = order[i] as usize;
                if !self.alive[x] {
                    continue;
                }
                let unit = self.lits(x).is_empty() && self.body(x).len() == 1;
                if unit {
                    // `h :- c` where `c → m → h` through another `h :- m`:
                    // a transitive edge (the implications form a DAG
                    // after merging, so dropping every such edge keeps
                    // the closure).
                    let c = self.body(x)[0];
                    let transitive = order[start..end].iter().any(|&y| {
                        let y = y as usize;
                        y != x
                            && self.lits(y).is_empty()
                            && self.body(y).len() == 1
                            && self.implied_by(self.body(y)[0], c)
                    });
                    if transitive {
                        self.alive[x] = false;
                        continue;
                    }
                } else if self.body(x).iter().any(|&c| self.implied_by(head, c)) {
                    // Whenever the body holds, so does `c`, hence `h`.
                    self.alive[x] = false;
                    continue;
                }
                for &y in &order[start..end] {
                    let y = y as usize;
                    // `y` fires only where `x` does: its literals include
                    // `x`'s, and each atom of `x`'s body is one of `y`'s
                    // or implied by one.
                    if y != x
                        && self.alive[y]
                        && is_subset(self.lits(x), self.lits(y))
                        && self.body(x).iter().all(|&b| self.body(y).iter().any(|&c| c == b || self.implied_by(b, c)))
                    {
                        self.alive[y] = false;
                    }
                }
            }
            start = end;
        }
        order
    }
}

/// Whether sorted `x` is a subset of sorted `y`.
fn is_subset(x: &[u32], y: &[u32]) -> bool {
    let mut j = 0;
    for &v in x {
        while j < y.len() && y[j] < v {
            j += 1;
        }
        if j == y.len() || y[j] != v {
            return false;
        }
        j += 1;
    }
    true
}
