//! Unfolding: an atom whose rules mention no slot is replaced, in the
//! rules that use it, by the bodies of its rules.

use super::Scratch;

impl Scratch {
    /// Unfolds the atoms other than the target whose live rules mention no
    /// slot, cheapest first (fewest rules made), while the program stays
    /// under twice its size (plus 64 rules): `h :- a, B` and `a :- C` give
    /// `h :- B, C`, and the rules of `a` and those using it go. This keeps
    /// the least model on every atom left. An unfolded rule whose body
    /// holds its own head goes too (it only derives its head in a circle).
    /// Whether any atom was unfolded. Expects `defs`/`uses` up to date and
    /// `relevant` ([`Scratch::keep_relevant`]); keeps `defs`/`uses` naming
    /// every live rule (and some dead ones).
    pub(super) fn unfold_slot_free(&mut self, k: usize, target: u32) -> bool {
        let mut candidates: Vec<(usize, u32)> = (0..k as u32)
            .filter(|&a| {
                a != target
                    && self.relevant[a as usize]
                    && !self.defs[a as usize].is_empty()
                    && self.defs[a as usize].iter().all(|&r| self.lits(r as usize).is_empty())
            })
            .map(|a| (self.defs[a as usize].len() * self.uses[a as usize].len(), a))
            .collect();
        candidates.sort_unstable();
        let initial = self.alive.iter().filter(|&&a| a).count();
        let mut live_rules = initial;
        let mut body = Vec::new();
        let mut unfolded = false;
        for (_, a) in candidates {
            let ai = a as usize;
            let defs: Vec<u32> = self.defs[ai].iter().copied().filter(|&r| self.alive[r as usize]).collect();
            let uses: Vec<u32> = self.uses[ai].iter().copied().filter(|&r| self.alive[r as usize]).collect();
            let grown = live_rules + defs.len() * uses.len() - defs.len() - uses.len();
            if grown > 2 * initial + 64 {
                continue;
            }
            unfolded = true;
            for &u in &uses {
                let u = u as usize;
                self.alive[u] = false;
                live_rules -= 1;
                let head = self.head[u];
                let (ls, le) = self.lits[u];
                for &d in &defs {
                    body.clear();
                    merge_without(self.body(u), self.body(d as usize), a, &mut body);
                    if body.binary_search(&head).is_ok() {
                        continue;
                    }
                    let r = self.push_rule(head, ls as usize..le as usize, &body);
                    self.defs[head as usize].push(r as u32);
                    for &b in &body {
                        self.uses[b as usize].push(r as u32);
                    }
                    live_rules += 1;
                }
            }
            for &d in &defs {
                self.alive[d as usize] = false;
                live_rules -= 1;
            }
        }
        unfolded
    }
}

/// `x ∪ y` without `skip`, sorted (both inputs sorted).
fn merge_without(x: &[u32], y: &[u32], skip: u32, out: &mut Vec<u32>) {
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        let next = if j == y.len() || (i < x.len() && x[i] <= y[j]) {
            let v = x[i];
            if j < y.len() && y[j] == v {
                j += 1;
            }
            i += 1;
            v
        } else {
            j += 1;
            y[j - 1]
        };
        if next != skip {
            out.push(next);
        }
    }
}
