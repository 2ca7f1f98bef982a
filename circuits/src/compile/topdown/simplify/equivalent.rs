//! Equivalent atoms: atoms that imply each other through slot-free unit
//! rules are one atom.

use super::Scratch;

impl Scratch {
    /// `implicants`: for each atom `a`, the atoms `c` with `c →⁺ a`
    /// through live rules `h :- b` without slots (bitsets, `words` per
    /// atom).
    fn closure(&mut self, k: usize) {
        self.words = k.div_ceil(64);
        let w = self.words;
        self.implicants.clear();
        self.implicants.resize(k * w, 0);
        self.units.clear();
        for r in 0..self.head.len() {
            if self.alive[r] && self.lits(r).is_empty() && self.body(r).len() == 1 {
                self.units.push((self.head[r], self.body(r)[0]));
            }
        }
        loop {
            let mut changed = false;
            for &(a, b) in &self.units {
                let (a, b) = (a as usize, b as usize);
                let before = self.implicants[a * w + b / 64];
                self.implicants[a * w + b / 64] |= 1 << (b % 64);
                changed |= before != self.implicants[a * w + b / 64];
                for i in 0..w {
                    let add = self.implicants[b * w + i] & !self.implicants[a * w + i];
                    if add != 0 {
                        self.implicants[a * w + i] |= add;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Whether `c →⁺ a` (after [`Scratch::closure`]).
    #[inline]
    pub(super) fn implied_by(&self, a: u32, c: u32) -> bool {
        let (a, c) = (a as usize, c as usize);
        self.implicants[a * self.words + c / 64] >> (c % 64) & 1 == 1
    }

    /// Atoms that imply each other through rules without slots (a cycle of
    /// `a :- b`, `b :- a`) are equal in every world: each class becomes
    /// its smallest atom (in heads, bodies and the target), and a rule
    /// whose body then holds its head goes. Whether any class had two
    /// atoms. Leaves `implicants` up to date for the live rules where none
    /// had; `defs`/`uses` are stale where one had.
    pub(super) fn merge_equivalent(&mut self, k: usize, target: &mut u32) -> bool {
        self.closure(k);
        self.representative.clear();
        self.representative.extend(0..k as u32);
        // Only atoms on slot-free rules `h :- b` can imply each other.
        let mut involved: Vec<u32> = self.units.iter().flat_map(|&(h, b)| [h, b]).collect();
        involved.sort_unstable();
        involved.dedup();
        let mut merged = false;
        for (i, &a) in involved.iter().enumerate() {
            for &c in &involved[..i] {
                if self.implied_by(a, c) && self.implied_by(c, a) {
                    self.representative[a as usize] = self.representative[c as usize];
                    merged = true;
                    break;
                }
            }
        }
        if !merged {
            return false;
        }
        for r in 0..self.head.len() {
            if !self.alive[r] {
                continue;
            }
            let head = self.representative[self.head[r] as usize];
            self.head[r] = head;
            let (s, e) = self.atoms[r];
            for i in s..e {
                self.pool[i as usize] = self.representative[self.pool[i as usize] as usize];
            }
            let body = &mut self.pool[s as usize..e as usize];
            body.sort_unstable();
            let mut w = s;
            for i in s..e {
                let a = self.pool[i as usize];
                if w == s || self.pool[w as usize - 1] != a {
                    self.pool[w as usize] = a;
                    w += 1;
                }
            }
            self.atoms[r].1 = w;
            if self.body(r).contains(&head) {
                self.alive[r] = false;
            }
        }
        *target = self.representative[*target as usize];
        true
    }
}
