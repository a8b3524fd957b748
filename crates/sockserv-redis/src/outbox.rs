//! The node's queue towards Redis: published lines and name claims, in order, bounded.

use std::collections::VecDeque;

use sockserv::bus::{ClaimAnswer, Presence};

/// One thing the writer thread must do in Redis, in the order it was asked for.
pub(crate) enum Item {
    /// Append a line to the stream (and apply its membership change to the registry).
    Publish {
        /// This node's sequence number: readers drop an entry they have already seen
        /// from this node (a retried XADD whose first reply was lost).
        seq: u64,
        line: Vec<u8>,
        change: Option<Presence>,
    },
    /// `HSETNX` a name, then answer.
    Claim { name: String, answer: ClaimAnswer },
}

/// Items not yet confirmed by Redis. Lines without a membership change count towards
/// the bound; changes and claims are always taken, so the registry never goes wrong.
pub(crate) struct Outbox {
    items: VecDeque<Item>,
    lines: usize,
    max_lines: usize,
    next_seq: u64,
}

impl Outbox {
    pub(crate) fn new(max_lines: usize) -> Self {
        Self {
            items: VecDeque::new(),
            lines: 0,
            max_lines,
            next_seq: 1,
        }
    }

    /// Queues a line; `false` if the bound is reached (and it carries no change).
    pub(crate) fn publish(&mut self, line: &[u8], change: Option<Presence>) -> bool {
        if change.is_none() {
            if self.lines >= self.max_lines {
                return false;
            }
            self.lines += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.items.push_back(Item::Publish {
            seq,
            line: line.to_vec(),
            change,
        });
        true
    }

    pub(crate) fn claim(&mut self, name: &str, answer: ClaimAnswer) {
        self.items.push_back(Item::Claim {
            name: name.to_owned(),
            answer,
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Takes up to `max` items from the front, to be sent together.
    pub(crate) fn take(&mut self, max: usize) -> Vec<Item> {
        let n = self.items.len().min(max);
        let batch: Vec<Item> = self.items.drain(..n).collect();
        self.lines -= batch.iter().filter(|i| counts(i)).count();
        batch
    }

    /// Puts back a batch that Redis did not confirm, ahead of everything queued since.
    pub(crate) fn put_back(&mut self, batch: Vec<Item>) {
        self.lines += batch.iter().filter(|i| counts(i)).count();
        for item in batch.into_iter().rev() {
            self.items.push_front(item);
        }
    }
}

fn counts(item: &Item) -> bool {
    matches!(item, Item::Publish { change: None, .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(items: &[Item]) -> Vec<u64> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Publish { seq, .. } => Some(*seq),
                Item::Claim { .. } => None,
            })
            .collect()
    }

    #[test]
    fn lines_are_bounded_but_changes_are_always_taken() {
        let mut outbox = Outbox::new(2);
        assert!(outbox.publish(b"a\n", None));
        assert!(outbox.publish(b"b\n", None));
        assert!(!outbox.publish(b"c\n", None));
        assert!(outbox.publish(b"* x left\n", Some(Presence::Left("x".into()))));
        assert_eq!(outbox.len(), 3);
    }

    #[test]
    fn a_batch_put_back_keeps_its_place_and_its_numbers() {
        let mut outbox = Outbox::new(10);
        for line in [&b"1\n"[..], b"2\n", b"3\n"] {
            assert!(outbox.publish(line, None));
        }
        let batch = outbox.take(2);
        assert_eq!(seqs(&batch), [1, 2]);
        assert!(outbox.publish(b"4\n", None));
        outbox.put_back(batch);
        assert_eq!(seqs(&outbox.take(10)), [1, 2, 3, 4]);
        assert!(outbox.is_empty());
    }
}
