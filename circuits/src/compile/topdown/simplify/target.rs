//! Passes about the target's own rules: a target that is another atom
//! under a new name, and the atoms the target follows from directly.

use super::Scratch;

impl Scratch {
    /// `t :- a` alone: the target is `a`. A minimal derivation of `a` uses
    /// `t` (derived from `a` alone) nowhere, so the rules whose body holds
    /// `t` go with `t :- a`; returns `a`, the new target. Expects
    /// `defs`/`uses` up to date.
    pub(super) fn follow_unit_target(&mut self, target: u32) -> Option<u32> {
        let t = target as usize;
        let [r] = self.defs[t][..] else { return None };
        let r = r as usize;
        debug_assert!(self.alive[r]);
        if !self.lits(r).is_empty() || self.body(r).len() != 1 {
            return None;
        }
        self.alive[r] = false;
        for &u in &self.uses[t] {
            self.alive[u as usize] = false;
        }
        Some(self.body(r)[0])
    }

    /// The atoms the target follows from through rules `h :- a` without
    /// slots (`a → h → … → t`), the target itself excepted: marked in
    /// `direct`, and returned in the order found. Expects `defs` up to
    /// date.
    pub(super) fn target_implicants(&mut self, k: usize, target: u32) -> Vec<u32> {
        self.direct.clear();
        self.direct.resize(k, false);
        self.queue.clear();
        self.queue.push(target);
        let mut implied = Vec::new();
        while let Some(h) = self.queue.pop() {
            for &r in &self.defs[h as usize] {
                if self.lits(r as usize).is_empty() && self.body(r as usize).len() == 1 {
                    let a = self.body(r as usize)[0];
                    if a != target && !std::mem::replace(&mut self.direct[a as usize], true) {
                        implied.push(a);
                        self.queue.push(a);
                    }
                }
            }
        }
        implied
    }

    /// `t :- a` for each atom `a` of `implied` ([`Scratch::target_implicants`])
    /// that is derivable but not for sure: after
    /// [`Scratch::drop_unneeded_rules`] took out the rules through which
    /// `a` implied the target, these say it directly, and the target's
    /// rules name its frontier.
    pub(super) fn shortcut_to_target(&mut self, target: u32, implied: Vec<u32>) {
        for a in implied {
            if self.possible[a as usize] && !self.sure[a as usize] {
                self.push_rule(target, 0..0, &[a]);
            }
        }
    }

    /// Whether the target's one live rule is `t :- a`, which
    /// [`Scratch::follow_unit_target`] would take in another round.
    pub(super) fn target_is_unit(&self, target: u32) -> bool {
        let mut target_rules = self.defs[target as usize].iter().filter(|&&r| self.alive[r as usize]);
        match (target_rules.next(), target_rules.next()) {
            (Some(&r), None) => self.lits(r as usize).is_empty() && self.body(r as usize).len() == 1,
            _ => false,
        }
    }
}
