//! Relevance: only the rules the target depends on stay.

use super::Scratch;

impl Scratch {
    /// Marks in `relevant` the atoms the target's rules reach, and drops
    /// the rules of every other atom: no derivation of the target uses
    /// them. Expects `defs` up to date; leaves them naming dropped rules
    /// (dead, not removed), so [`Scratch::index`] should run next.
    pub(super) fn keep_relevant(&mut self, k: usize, target: u32) {
        self.relevant.clear();
        self.relevant.resize(k, false);
        self.relevant[target as usize] = true;
        self.queue.clear();
        self.queue.push(target);
        while let Some(a) = self.queue.pop() {
            for i in 0..self.defs[a as usize].len() {
                let r = self.defs[a as usize][i] as usize;
                let (s, e) = self.atoms[r];
                for j in s..e {
                    let b = self.pool[j as usize];
                    if !std::mem::replace(&mut self.relevant[b as usize], true) {
                        self.queue.push(b);
                    }
                }
            }
        }
        for a in 0..k {
            if !self.relevant[a] {
                for &r in &self.defs[a] {
                    self.alive[r as usize] = false;
                }
            }
        }
    }
}
