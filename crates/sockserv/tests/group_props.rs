//! `Group` against a simple model (random interleavings), and under concurrent senders.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use proptest::prelude::*;
use sockserv::driver::{OutputExt, WakeSource};
use sockserv::{Group, Member, Output};

#[derive(Debug, Clone)]
enum Op {
    Join,
    Leave(usize),
    SendOthers(usize, usize),
    SendAll(usize, usize),
    GroupSend(usize),
    Drain(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let pick = any::<usize>();
    let len = 8usize..40;
    prop_oneof![
        2 => Just(Op::Join),
        1 => pick.prop_map(Op::Leave),
        4 => (pick, len.clone()).prop_map(|(i, n)| Op::SendOthers(i, n)),
        1 => (pick, len.clone()).prop_map(|(i, n)| Op::SendAll(i, n)),
        1 => len.prop_map(Op::GroupSend),
        4 => pick.prop_map(Op::Drain),
    ]
}

/// One joined member: the real one, and what the model says it should hold.
struct Live {
    member: Member,
    wake: WakeSource,
    expected: Vec<Vec<u8>>,
    expected_bytes: usize,
    evicted: bool,
}

/// A message that names its sender and its place in the total order, padded to `len`.
fn message(sender: u32, seq: u32, len: usize) -> Vec<u8> {
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&sender.to_le_bytes());
    msg.extend_from_slice(&seq.to_le_bytes());
    msg.resize(len, b'.');
    msg
}

/// Applies one send to the model and checks the real result against it.
fn send(lives: &mut [Live], from: Option<usize>, msg: &[u8], max: usize, sent: usize) {
    let mut expected_delivered = 0;
    for (i, live) in lives.iter_mut().enumerate() {
        let recipient = !live.evicted && from != Some(i);
        if recipient {
            if live.expected_bytes + msg.len() > max {
                live.evicted = true;
                live.expected.clear();
                live.expected_bytes = 0;
            } else {
                live.expected.push(msg.to_vec());
                live.expected_bytes += msg.len();
                expected_delivered += 1;
            }
        }
        assert_eq!(live.wake.take(), recipient, "woken iff a recipient");
        assert_eq!(live.member.is_evicted(), live.evicted);
    }
    assert_eq!(sent, expected_delivered);
}

fn run(max: usize, ops: Vec<Op>) {
    let group = Group::new(max);
    let mut lives: Vec<Live> = Vec::new();
    let mut seq = 0u32;
    for op in ops {
        let pick = |i: usize| (!lives.is_empty()).then(|| i % lives.len());
        match op {
            Op::Join => {
                let mut out = Output::new();
                let member = group.join(out.waker());
                let wake = out.wake_source().expect("waker was asked for");
                lives.push(Live {
                    member,
                    wake,
                    expected: Vec::new(),
                    expected_bytes: 0,
                    evicted: false,
                });
            }
            Op::Leave(i) => {
                if let Some(i) = pick(i) {
                    lives.remove(i).member.leave();
                }
            }
            Op::SendOthers(i, len) | Op::SendAll(i, len) => {
                if let Some(i) = pick(i) {
                    seq += 1;
                    let msg = message(i as u32, seq, len);
                    let (from, sent) = match op {
                        Op::SendOthers(..) => (Some(i), lives[i].member.send_others(&msg)),
                        _ => (None, lives[i].member.send_all(&msg)),
                    };
                    send(&mut lives, from, &msg, max, sent);
                }
            }
            Op::GroupSend(len) => {
                seq += 1;
                let msg = message(u32::MAX, seq, len);
                let sent = group.send_all(&msg);
                send(&mut lives, None, &msg, max, sent);
            }
            Op::Drain(i) => {
                if let Some(i) = pick(i) {
                    let live = &mut lives[i];
                    assert_eq!(live.member.queued_bytes(), live.expected_bytes);
                    let got: Vec<Vec<u8>> =
                        live.member.drain().iter().map(|m| m.to_vec()).collect();
                    assert_eq!(got, std::mem::take(&mut live.expected));
                    live.expected_bytes = 0;
                }
            }
        }
        let in_group: Vec<_> = lives
            .iter()
            .filter(|l| !l.evicted)
            .map(|l| l.member.id())
            .collect();
        assert_eq!(group.member_ids(), in_group);
    }
    // Whatever is left is delivered too: nothing lost.
    for live in &mut lives {
        let got: Vec<Vec<u8>> = live.member.drain().iter().map(|m| m.to_vec()).collect();
        assert_eq!(got, live.expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn group_matches_model(max in 0usize..160, ops in prop::collection::vec(op(), 0..80)) {
        run(max, ops);
    }
}

/// Several threads send at once; every receiver gets every message exactly once and in
/// each sender's order.
#[test]
fn concurrent_senders_lose_nothing_and_keep_each_senders_order() {
    const SENDERS: u32 = 4;
    const RECEIVERS: usize = 3;
    const PER_SENDER: u32 = 2_000;
    const LEN: usize = 8;
    const WAIT: Duration = Duration::from_secs(10);

    // Big enough that nobody can be evicted: this test is about ordering and loss.
    let group = Group::new(SENDERS as usize * PER_SENDER as usize * LEN);
    let start = Arc::new(Barrier::new(SENDERS as usize + RECEIVERS));

    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let mut out = Output::new();
            let member = group.join(out.waker());
            let source = out.wake_source().expect("waker was asked for");
            let (tx, rx) = mpsc::channel();
            source.set_notify(move || {
                let _ = tx.send(());
            });
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                let mut next: HashMap<u32, u32> = HashMap::new();
                let mut total = 0;
                while total < SENDERS * PER_SENDER {
                    rx.recv_timeout(WAIT).expect("woken within the bound");
                    source.take();
                    for msg in member.drain() {
                        let sender = u32::from_le_bytes(msg[..4].try_into().unwrap());
                        let seq = u32::from_le_bytes(msg[4..8].try_into().unwrap());
                        let want = next.entry(sender).or_insert(0);
                        assert_eq!(seq, *want, "sender {sender} out of order or lost");
                        *want += 1;
                        total += 1;
                    }
                }
                assert!(!member.is_evicted());
                assert_eq!(member.drain().len(), 0, "nothing duplicated");
            })
        })
        .collect();

    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let member = group.join(Output::new().waker());
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                for seq in 0..PER_SENDER {
                    let mut msg = [0u8; LEN];
                    msg[..4].copy_from_slice(&sender.to_le_bytes());
                    msg[4..].copy_from_slice(&seq.to_le_bytes());
                    member.send_others(&msg);
                }
                // Stay a member until every sender is done so each sees the others.
                member
            })
        })
        .collect();

    let members: Vec<Member> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    for receiver in receivers {
        receiver.join().unwrap();
    }
    for member in &members {
        let others = (SENDERS - 1) * PER_SENDER;
        assert_eq!(member.drain().len(), others as usize);
    }
}
