//! Acknowledgement in order: inputs of one lane (a Kafka partition in one assignment) finish
//! in any order, and are handed back to their source in the order they were taken, each only
//! once everything taken before it in its lane is finished.

use std::collections::{BTreeMap, HashMap};

/// A place in a lane's order, given when an input is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    lane: u64,
    seq: u64,
}

#[derive(Debug)]
enum Slot<R> {
    Running,
    Finished(R),
    /// Will never finish here (shutdown, revocation): nothing after it in its lane may be
    /// acknowledged.
    Abandoned,
}

#[derive(Debug)]
struct Lane<R> {
    next_seq: u64,
    slots: BTreeMap<u64, Slot<R>>,
}

/// The order of every lane's unfinished inputs.
#[derive(Debug)]
pub struct Sequencer<R> {
    lanes: HashMap<u64, Lane<R>>,
}

impl<R> Default for Sequencer<R> {
    fn default() -> Self {
        Sequencer {
            lanes: HashMap::new(),
        }
    }
}

impl<R> Sequencer<R> {
    /// An input of `lane` was taken: its place in the lane.
    pub fn begin(&mut self, lane: u64) -> Ticket {
        let entry = self.lanes.entry(lane).or_insert_with(|| Lane {
            next_seq: 0,
            slots: BTreeMap::new(),
        });
        let seq = entry.next_seq;
        entry.next_seq += 1;
        entry.slots.insert(seq, Slot::Running);
        Ticket { lane, seq }
    }

    /// The input of `ticket` finished: the receipts that may now be acknowledged, in order
    /// (its own and those finished after it but waiting for it; none while something earlier
    /// in the lane is unfinished). Behind an abandoned input its receipt can never be
    /// acknowledged: it comes back as `Err`, to be let go.
    pub fn finish(&mut self, ticket: Ticket, receipt: R) -> Result<Vec<R>, R> {
        let Some(lane) = self.lanes.get_mut(&ticket.lane) else {
            return Err(receipt);
        };
        let behind_abandoned = lane
            .slots
            .range(..ticket.seq)
            .any(|(_, slot)| matches!(slot, Slot::Abandoned));
        if behind_abandoned {
            lane.slots.remove(&ticket.seq);
            return Err(receipt);
        }
        if let Some(slot) = lane.slots.get_mut(&ticket.seq) {
            *slot = Slot::Finished(receipt);
        }
        let mut ready = Vec::new();
        while let Some(entry) = lane.slots.first_entry() {
            if !matches!(entry.get(), Slot::Finished(_)) {
                break;
            }
            if let Slot::Finished(receipt) = entry.remove() {
                ready.push(receipt);
            }
        }
        if lane.slots.is_empty() {
            // a lane with nothing in flight keeps only its counter
            lane.slots = BTreeMap::new();
        }
        Ok(ready)
    }

    /// The input of `ticket` will not finish here: its lane acknowledges nothing more. Returns
    /// the receipts finished after it, waiting for it, to be let go (their source gives their
    /// inputs again: to the partition's new owner, or after a restart).
    pub fn abandon(&mut self, ticket: Ticket) -> Vec<R> {
        let Some(lane) = self.lanes.get_mut(&ticket.lane) else {
            return Vec::new();
        };
        if let Some(slot) = lane.slots.get_mut(&ticket.seq) {
            *slot = Slot::Abandoned;
        }
        let after = lane.slots.split_off(&(ticket.seq + 1));
        let mut let_go = Vec::new();
        for (seq, slot) in after {
            match slot {
                Slot::Finished(receipt) => let_go.push(receipt),
                running => {
                    lane.slots.insert(seq, running);
                }
            }
        }
        let_go
    }

    /// Inputs taken and not yet handed back, over every lane.
    pub fn unfinished(&self) -> usize {
        self.lanes.values().map(|l| l.slots.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn what_finishes_behind_abandoned_work_is_let_go() {
        let mut s = Sequencer::default();
        let a: Vec<Ticket> = (0..4).map(|_| s.begin(7)).collect();
        assert_eq!(s.finish(a[1], "a1"), Ok(Vec::new()));
        assert_eq!(s.abandon(a[0]), vec!["a1"]);
        assert_eq!(s.unfinished(), 3, "a0 abandoned, a2 and a3 running");
        assert_eq!(s.finish(a[3], "a3"), Err("a3"), "let go at once");
        assert_eq!(s.unfinished(), 2);
    }

    #[test]
    fn a_late_first_holds_back_the_rest_of_its_lane_only() {
        let mut s = Sequencer::default();
        let a: Vec<Ticket> = (0..3).map(|_| s.begin(7)).collect();
        let other = s.begin(8);
        assert_eq!(s.finish(a[2], "a2"), Ok(Vec::new()));
        assert_eq!(
            s.finish(other, "b0"),
            Ok(vec!["b0"]),
            "another lane is not held"
        );
        assert_eq!(s.finish(a[1], "a1"), Ok(Vec::new()));
        assert_eq!(s.finish(a[0], "a0"), Ok(vec!["a0", "a1", "a2"]));
        assert_eq!(s.unfinished(), 0);
    }

    #[test]
    fn nothing_after_an_abandoned_input_is_acknowledged() {
        let mut s = Sequencer::default();
        let a = s.begin(1);
        let b = s.begin(1);
        assert!(s.abandon(a).is_empty());
        assert_eq!(s.finish(b, "b"), Err("b"), "let go");
        assert_eq!(s.unfinished(), 1, "a abandoned");
    }

    proptest! {
        /// Whatever order inputs finish in, each receipt comes out once, in the order taken,
        /// and only when everything taken before it has finished.
        #[test]
        fn acknowledgements_never_pass_unfinished_work(
            order in Just((0..40usize).collect::<Vec<_>>()).prop_shuffle()
        ) {
            let mut s = Sequencer::default();
            let tickets: Vec<Ticket> = (0..40).map(|_| s.begin(0)).collect();
            let mut finished = std::collections::BTreeSet::new();
            let mut acknowledged = Vec::new();
            for i in order {
                finished.insert(i);
                for receipt in s.finish(tickets[i], i).expect("nothing abandoned") {
                    prop_assert!((0..receipt).all(|earlier| finished.contains(&earlier)));
                    acknowledged.push(receipt);
                }
            }
            prop_assert_eq!(acknowledged, (0..40).collect::<Vec<_>>());
        }
    }
}
