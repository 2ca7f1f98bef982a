//! Atoms known in every world of the undecided slots: derivable for sure
//! (with no slot) or not derivable at all (with every slot true), and the
//! rules that knowing them makes useless.

use super::{bdd, Scratch, NONE};

impl Scratch {
    /// Fills `sure` (derivable by rules without slots) and `possible`
    /// (derivable with every undecided slot true), by counting down each
    /// live rule's underived body atoms; an unfounded loop is in neither.
    /// Returns the target's value where these decide it. Expects `uses` up
    /// to date.
    pub(super) fn derivable(&mut self, k: usize, target: u32) -> Option<u32> {
        let t = target as usize;
        self.sure.clear();
        self.sure.resize(k, false);
        self.possible.clear();
        self.possible.resize(k, false);
        for pass in 0..2 {
            let only_sure = pass == 0;
            self.need.clear();
            self.queue.clear();
            for r in 0..self.head.len() {
                let waiting = if !self.alive[r] || (only_sure && !self.lits(r).is_empty()) {
                    NONE
                } else {
                    self.body(r).len() as u32
                };
                self.need.push(waiting);
                if waiting == 0 {
                    self.queue.push(self.head[r]);
                }
            }
            let known = if only_sure { &mut self.sure } else { &mut self.possible };
            while let Some(a) = self.queue.pop() {
                if std::mem::replace(&mut known[a as usize], true) {
                    continue;
                }
                for &r in &self.uses[a as usize] {
                    let need = &mut self.need[r as usize];
                    if *need != NONE {
                        *need -= 1;
                        if *need == 0 {
                            self.queue.push(self.head[r as usize]);
                        }
                    }
                }
            }
            if only_sure && self.sure[t] {
                return Some(bdd::TRUE);
            }
        }
        if !self.possible[t] {
            return Some(bdd::FALSE);
        }
        None
    }

    /// Drops the rules that cannot fire or are not needed, and takes sure
    /// atoms out of the bodies of the rest. A rule goes where its head is
    /// sure, or its body holds an atom that is not derivable, its own head,
    /// the target, or an atom of `direct`: any derivation of the target
    /// that uses such an atom `a` below its root can stop at `a` instead
    /// (and [`Scratch::shortcut_to_target`] then says `t :- a`), and none
    /// uses the target itself below its root. Expects `sure`, `possible`
    /// ([`Scratch::derivable`]) and `direct`
    /// ([`Scratch::target_implicants`]) for the live rules.
    pub(super) fn drop_unneeded_rules(&mut self, target: u32) {
        let t = target as usize;
        for r in 0..self.head.len() {
            if !self.alive[r] {
                continue;
            }
            let h = self.head[r] as usize;
            let (s, e) = self.atoms[r];
            let body = &self.pool[s as usize..e as usize];
            if self.sure[h]
                || body.iter().any(|&a| {
                    let a = a as usize;
                    !self.possible[a] || a == h || a == t || self.direct[a]
                })
            {
                self.alive[r] = false;
                continue;
            }
            let mut w = s;
            for i in s..e {
                let a = self.pool[i as usize];
                if !self.sure[a as usize] {
                    self.pool[w as usize] = a;
                    w += 1;
                }
            }
            self.atoms[r].1 = w;
        }
    }
}
