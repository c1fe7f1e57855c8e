//! Which offset may be committed, per partition, when recordings finish out of order.
//!
//! Messages of a partition are taken in offset order and may finish in any order. The offset
//! to commit is the lowest one still in flight, or one past the highest taken when nothing is:
//! everything below it is finished, so a restart from it loses nothing. A rebalance starts a
//! new generation of the partition: finishes from an older one are ignored, so work that
//! finished after its partition moved away never moves the new owner's position.

use std::collections::{BTreeSet, HashMap};

/// A partition of a topic.
pub type Partition = (String, i32);

/// What the consumer needs to acknowledge one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The message's offset.
    pub offset: i64,
    /// The size of its value, counted against the in-flight bound until it is finished.
    pub bytes: u64,
    generation: u64,
}

#[derive(Debug)]
struct Track {
    generation: u64,
    in_flight: BTreeSet<i64>,
    /// One past the highest offset taken.
    next: Option<i64>,
    /// The position last reported as committable.
    committable: Option<i64>,
}

/// In-flight offsets of every assigned partition.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: HashMap<Partition, Track>,
    generation: u64,
}

impl OffsetTracker {
    /// An empty tracker.
    pub fn new() -> OffsetTracker {
        OffsetTracker::default()
    }

    /// Partitions were assigned: each starts a new generation with nothing in flight.
    pub fn assign(&mut self, partitions: impl IntoIterator<Item = Partition>) {
        for partition in partitions {
            self.generation += 1;
            self.partitions.insert(
                partition,
                Track {
                    generation: self.generation,
                    in_flight: BTreeSet::new(),
                    next: None,
                    committable: None,
                },
            );
        }
    }

    /// Partitions were revoked: their work in flight no longer moves any position.
    pub fn revoke(&mut self, partitions: impl IntoIterator<Item = Partition>) {
        for partition in partitions {
            self.partitions.remove(&partition);
        }
    }

    /// A message was taken. `None` when its partition is not assigned (a message fetched
    /// before a revocation): it must not be processed, the new owner will be.
    pub fn take(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        bytes: u64,
    ) -> Option<Receipt> {
        let track = self.partitions.get_mut(&(topic.to_string(), partition))?;
        track.in_flight.insert(offset);
        // the group's position is already at the first message taken
        track.committable.get_or_insert(offset);
        track.next = Some(track.next.map_or(offset + 1, |n| n.max(offset + 1)));
        Some(Receipt {
            topic: topic.to_string(),
            partition,
            offset,
            bytes,
            generation: track.generation,
        })
    }

    /// A message is finished (stored and published, or dead-lettered). Returns the offset
    /// to store for its partition when the committable position moved, else `None`.
    pub fn finish(&mut self, receipt: &Receipt) -> Option<i64> {
        let track = self
            .partitions
            .get_mut(&(receipt.topic.clone(), receipt.partition))?;
        if track.generation != receipt.generation {
            return None;
        }
        track.in_flight.remove(&receipt.offset);
        let position = match track.in_flight.first() {
            Some(&lowest) => lowest,
            None => track.next?,
        };
        if track.committable.is_some_and(|c| c >= position) {
            return None;
        }
        track.committable = Some(position);
        Some(position)
    }

    /// Messages in flight over every partition.
    pub fn in_flight(&self) -> usize {
        self.partitions.values().map(|t| t.in_flight.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tracker() -> OffsetTracker {
        let mut tracker = OffsetTracker::new();
        tracker.assign([("t".to_string(), 0)]);
        tracker
    }

    #[test]
    fn out_of_order_finishes_commit_contiguously() {
        let mut t = tracker();
        let r: Vec<Receipt> = (10..14)
            .map(|o| t.take("t", 0, o, 1).expect("assigned"))
            .collect();
        assert_eq!(t.finish(&r[2]), None, "12 done, 10 still in flight");
        assert_eq!(t.finish(&r[1]), None);
        assert_eq!(t.finish(&r[0]), Some(13), "10..12 done: commit up to 13");
        assert_eq!(t.finish(&r[3]), Some(14));
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn revoked_partitions_ignore_late_finishes() {
        let mut t = tracker();
        let old = t.take("t", 0, 5, 1).expect("assigned");
        t.revoke([("t".to_string(), 0)]);
        assert_eq!(t.take("t", 0, 6, 1), None, "not assigned any more");
        t.assign([("t".to_string(), 0)]);
        let new = t.take("t", 0, 3, 1).expect("assigned again");
        assert_eq!(
            t.finish(&old),
            None,
            "an old generation never moves the position"
        );
        assert_eq!(t.finish(&new), Some(4));
    }

    proptest! {
        /// Whatever order work finishes in, every committed position has everything below it
        /// finished, and once all is finished the position is one past the last offset.
        #[test]
        fn commits_never_pass_unfinished_work(order in Just((0..40i64).collect::<Vec<_>>()).prop_shuffle()) {
            let mut t = tracker();
            let receipts: Vec<Receipt> = (0..40).map(|o| t.take("t", 0, o, 1).expect("assigned")).collect();
            let mut finished = BTreeSet::new();
            let mut last = None;
            for offset in order {
                finished.insert(offset);
                if let Some(position) = t.finish(&receipts[offset as usize]) {
                    prop_assert!((0..position).all(|o| finished.contains(&o)));
                    prop_assert!(last.is_none_or(|l| l < position));
                    last = Some(position);
                }
            }
            prop_assert_eq!(last, Some(40));
        }
    }
}
