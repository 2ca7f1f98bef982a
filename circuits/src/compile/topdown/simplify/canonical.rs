//! Canonical form: names for the atoms that follow from the residual
//! program alone, not from the history that led to it, and the key that
//! lists its rules in one order.

use super::{Scratch, NONE};

impl Scratch {
    /// Names each of the `k` atoms in `names`: the target (local `t`) one
    /// fixed name, any other atom the smallest literal of its rules where
    /// no other atom shares it, else its own id. Names are distinct, so the
    /// key is the residual program up to renaming atoms other than the
    /// target, which leaves the target's function unchanged. `order`: the
    /// rules ([`Scratch::drop_subsumed`]), the live ones counting.
    pub(super) fn name_atoms(&mut self, k: usize, t: usize, order: &[u32]) {
        self.names.clear();
        self.names.resize(k, NONE);
        for &r in order {
            let r = r as usize;
            if self.alive[r] {
                if let Some(&l) = self.lits(r).first() {
                    let h = self.head[r] as usize;
                    self.names[h] = self.names[h].min(l);
                }
            }
        }
        self.queue.clear();
        self.queue.extend(self.names.iter().copied().filter(|&l| l != NONE));
        self.queue.sort_unstable();
        for a in 0..k {
            let l = self.names[a];
            let shared = l == NONE || {
                let i = self.queue.partition_point(|&x| x < l);
                self.queue.get(i + 1) == Some(&l)
            };
            self.names[a] = if a == t {
                self.target_name
            } else if shared {
                self.global[a]
            } else {
                self.name_base + l
            };
        }
        self.separate_names(k, t);
    }

    /// The key of the live rules of `order` under `names`
    /// ([`Scratch::name_atoms`]): the target's name, then per rule
    /// `head, #lits, #atoms, lits…, atoms…`, each body sorted by name and
    /// the rules sorted, so that residual programs equal up to renaming
    /// have equal keys.
    pub(super) fn key(&mut self, order: &[u32]) -> Box<[u32]> {
        self.bodies.clear();
        // Each rule's place in the key: a prefix (head's name, first
        // literal) that orders most pairs by itself, then the rule.
        let mut records: Vec<(u64, u32, u32, u32)> = Vec::with_capacity(order.len());
        for &r in order {
            let r = r as usize;
            if !self.alive[r] {
                continue;
            }
            let start = self.bodies.len() as u32;
            let (s, e) = self.atoms[r];
            for i in s..e {
                self.bodies.push(self.names[self.pool[i as usize] as usize]);
            }
            self.bodies[start as usize..].sort_unstable();
            let prefix =
                (self.names[self.head[r] as usize] as u64) << 33 | self.lits(r).first().map_or(0, |&l| l as u64 + 1);
            records.push((prefix, r as u32, start, self.bodies.len() as u32));
        }
        records.sort_unstable_by(|&(xp, x, xs, xe), &(yp, y, ys, ye)| {
            xp.cmp(&yp).then_with(|| {
                let (x, y) = (x as usize, y as usize);
                self.lits(x)
                    .cmp(self.lits(y))
                    .then_with(|| self.bodies[xs as usize..xe as usize].cmp(&self.bodies[ys as usize..ye as usize]))
            })
        });
        let mut key = Vec::with_capacity(1 + records.len() * 5);
        key.push(self.target_name);
        for (_, r, s, e) in records {
            let r = r as usize;
            key.extend([self.names[self.head[r] as usize], self.lits(r).len() as u32, e - s]);
            key.extend_from_slice(self.lits(r));
            key.extend_from_slice(&self.bodies[s as usize..e as usize]);
        }
        key.into_boxed_slice()
    }

    /// Makes the names of the `k` atoms distinct. An atom named by its raw
    /// id keeps a name that may be a literal name of an earlier state
    /// (`name_base + l`); where another atom's literal name here is the
    /// same, that atom takes its raw id too (raw ids are distinct), until
    /// no two names are equal. Two atoms under one name would merge in
    /// the key, and the cache would then answer for another function.
    fn separate_names(&mut self, k: usize, t: usize) {
        let raw_named = |s: &Self, a: usize| a != t && s.names[a] == s.global[a];
        // Raw ids below `name_base` are atom ids, never literal names.
        if !(0..k).any(|a| raw_named(self, a) && self.global[a] >= self.name_base) {
            return;
        }
        let mut taken = std::mem::take(&mut self.queue);
        loop {
            taken.clear();
            taken.extend((0..k).filter(|&a| raw_named(self, a)).map(|a| self.global[a]));
            taken.sort_unstable();
            let mut changed = false;
            for a in 0..k {
                if a != t && !raw_named(self, a) && taken.binary_search(&self.names[a]).is_ok() {
                    self.names[a] = self.global[a];
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        self.queue = taken;
    }
}
