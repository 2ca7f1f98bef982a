//! Strongly connected components of a logic program's dependency graph (an
//! atom depends on the atoms in the bodies of its rules), found by an
//! iterative Tarjan walk — no recursion: programs have millions of atoms —
//! that stops at each finished component, so that a builder can build it,
//! its dependencies all built, before the walk goes on. Components come out
//! dependencies first. Both the lineage ([`crate::compile::lineage`]) and
//! the fuzzy values ([`crate::fuzzy`]) are built this way.

use deeplog_program::AtomId;

/// `component` of an atom whose component is not finished yet.
pub(crate) const NO_COMPONENT: u32 = u32::MAX;
/// `visit` of an atom the walk has not reached.
const UNVISITED: u32 = 0;

pub(crate) struct Tarjan {
    /// Visit number (0: not visited) and low link.
    visit: Vec<u32>,
    low: Vec<u32>,
    /// Each atom's component once finished, and its position in it.
    pub component: Vec<u32>,
    pub position: Vec<u32>,
    visits: u32,
    /// Components finished so far.
    pub count: u32,
    /// The walk: an atom and the next (rule, body literal) of it to look at.
    calls: Vec<(AtomId, u32, u32)>,
    stack: Vec<AtomId>,
}

impl Tarjan {
    pub fn new(atoms: usize) -> Tarjan {
        Tarjan {
            visit: vec![UNVISITED; atoms],
            low: vec![0; atoms],
            component: vec![NO_COMPONENT; atoms],
            position: vec![0; atoms],
            visits: 0,
            count: 0,
            calls: Vec::new(),
            stack: Vec::new(),
        }
    }

    pub fn visited(&self, atom: AtomId) -> bool {
        self.visit[atom.index()] != UNVISITED
    }

    /// Starts a walk from an atom not visited yet.
    pub fn start(&mut self, atom: AtomId) {
        self.calls.clear();
        self.stack.clear();
        self.enter(atom);
    }

    fn enter(&mut self, atom: AtomId) {
        self.visits += 1;
        self.visit[atom.index()] = self.visits;
        self.low[atom.index()] = self.visits;
        self.stack.push(atom);
        self.calls.push((atom, 0, 0));
    }

    /// Walks on until a component is finished and returns its members, or
    /// `None` when the walk from the start is over. `body(a, k)` is the
    /// body of atom `a`'s `k`-th rule (`None` past its last); the walk does
    /// not enter atoms for which `skip` holds (built before).
    pub fn next_component<'p>(
        &mut self,
        body: impl Fn(AtomId, usize) -> Option<&'p [(AtomId, bool)]>,
        skip: impl Fn(AtomId) -> bool,
    ) -> Option<Vec<AtomId>> {
        while let Some(&(v, r, l)) = self.calls.last() {
            let vi = v.index();
            let top = self.calls.len() - 1;
            if let Some(literals) = body(v, r as usize) {
                match literals.get(l as usize) {
                    Some(&(w, _)) => {
                        self.calls[top].2 += 1;
                        let wi = w.index();
                        if skip(w) {
                            continue;
                        }
                        if self.visit[wi] == UNVISITED {
                            self.enter(w);
                        } else if self.component[wi] == NO_COMPONENT {
                            // Visited and without a component: on the stack.
                            self.low[vi] = self.low[vi].min(self.visit[wi]);
                        }
                    }
                    None => self.calls[top] = (v, r + 1, 0),
                }
                continue;
            }
            self.calls.pop();
            if let Some(&(u, _, _)) = self.calls.last() {
                self.low[u.index()] = self.low[u.index()].min(self.low[vi]);
            }
            if self.low[vi] == self.visit[vi] {
                let mut members = Vec::new();
                loop {
                    let w = self.stack.pop().expect("Tarjan's stack holds the component's root");
                    self.component[w.index()] = self.count;
                    self.position[w.index()] = members.len() as u32;
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                self.count += 1;
                return Some(members);
            }
        }
        None
    }
}
