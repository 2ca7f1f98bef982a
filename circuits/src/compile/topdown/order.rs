//! Variable orders for the top-down compiler: which slot it decides first.
//!
//! The residual programs the compiler caches are, for a graph, which
//! frontier atoms are connected to which; an order that keeps the frontier
//! between decided and undecided atoms small keeps their number small.

use deeplog_program::AtomId;

use super::{literals, RawRule, NONE};
use crate::compile::FxMap;

/// Two greedy slot orders; neither dominates (on the shared graphs each is
/// several times faster than the other somewhere), so compilation races
/// them where there are two cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Each step places the atom that leaves the fewest placed atoms with
    /// unplaced neighbours.
    Frontier,
    /// The same, counting a placed atom as open only while most of its
    /// neighbours are unplaced: it pulls in dense neighbourhoods earlier.
    Majority,
}

/// Most atoms for which [`frontier_order`] runs (it takes time quadratic in
/// them).
const MOST_ATOMS_ORDERED: usize = 4000;

/// A variable order that keeps the frontier small: atoms are placed one at
/// a time, from the targets, each time the one that leaves the fewest
/// placed atoms with unplaced neighbours (ties: more placed neighbours,
/// then breadth-first position), where a rule makes its head and body
/// atoms neighbours; a rule's slots come as soon as all its atoms are
/// placed. The residual programs of the top-down compiler then only
/// distinguish how the frontier's atoms are connected. `None` when there
/// are too many atoms to order this way.
pub(super) fn frontier_order(raw: &[RawRule], targets: &[AtomId], num_slots: usize, order: Order) -> Option<Vec<u32>> {
    // Local numbering in breadth-first order (the order of `raw`).
    let mut local: FxMap<AtomId, u32> = FxMap::default();
    let number = |a: AtomId, local: &mut FxMap<AtomId, u32>| {
        let next = local.len() as u32;
        *local.entry(a).or_insert(next)
    };
    for &t in targets {
        number(t, &mut local);
    }
    let rules: Vec<(u32, Vec<u32>)> = raw
        .iter()
        .map(|(head, _, atoms)| {
            let h = number(*head, &mut local);
            (h, atoms.iter().map(|&a| number(a, &mut local)).collect())
        })
        .collect();
    let n = local.len();
    if n > MOST_ATOMS_ORDERED {
        return None;
    }
    let mut neighbours: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut rules_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (r, (h, body)) in rules.iter().enumerate() {
        rules_of[*h as usize].push(r as u32);
        for &b in body {
            rules_of[b as usize].push(r as u32);
            if b != *h {
                neighbours[*h as usize].push(b);
                neighbours[b as usize].push(*h);
            }
        }
    }
    for list in neighbours.iter_mut().chain(rules_of.iter_mut()) {
        list.sort_unstable();
        list.dedup();
    }
    let mut unplaced_neighbours: Vec<u32> = neighbours.iter().map(|l| l.len() as u32).collect();
    let mut placed = vec![false; n];
    let mut placed_neighbours = vec![0u32; n];
    let mut candidates: Vec<u32> = Vec::new();
    let mut is_candidate = vec![false; n];
    let mut var_of_slot = vec![NONE; num_slots];
    let mut next_var = 0u32;
    let mut next_unplaced = 0usize;
    for step in 0..n {
        let v = if step < targets.len().min(n) && !placed[step] {
            step as u32
        } else if candidates.is_empty() {
            while placed[next_unplaced] {
                next_unplaced += 1;
            }
            next_unplaced as u32
        } else {
            // Frontier change: +1 if `v` keeps unplaced neighbours, −1 per
            // placed neighbour whose last unplaced neighbour `v` is.
            let score = |v: u32| {
                let vi = v as usize;
                let stays = match order {
                    Order::Frontier => (unplaced_neighbours[vi] > 0) as i64,
                    Order::Majority => (unplaced_neighbours[vi] > placed_neighbours[vi]) as i64,
                };
                let closes = neighbours[vi]
                    .iter()
                    .filter(|&&u| placed[u as usize] && unplaced_neighbours[u as usize] == 1)
                    .count() as i64;
                (stays - closes, std::cmp::Reverse(placed_neighbours[vi]), v)
            };
            let (i, _) = candidates.iter().enumerate().min_by_key(|(_, &v)| score(v)).expect("candidates");
            candidates.swap_remove(i)
        };
        let vi = v as usize;
        if placed[vi] {
            continue;
        }
        placed[vi] = true;
        is_candidate[vi] = false;
        candidates.retain(|&c| c != v);
        for &u in &neighbours[vi] {
            let ui = u as usize;
            unplaced_neighbours[ui] -= 1;
            placed_neighbours[ui] += 1;
            if !placed[ui] && !std::mem::replace(&mut is_candidate[ui], true) {
                candidates.push(u);
            }
        }
        for &r in &rules_of[vi] {
            let (h, body) = &rules[r as usize];
            if placed[*h as usize] && body.iter().all(|&b| placed[b as usize]) {
                for (s, _) in literals(&raw[r as usize].1) {
                    if var_of_slot[s as usize] == NONE {
                        var_of_slot[s as usize] = next_var;
                        next_var += 1;
                    }
                }
            }
        }
    }
    for v in var_of_slot.iter_mut().filter(|v| **v == NONE) {
        *v = next_var;
        next_var += 1;
    }
    Some(var_of_slot)
}
