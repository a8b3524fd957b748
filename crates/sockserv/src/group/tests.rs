//! Unit tests of the broadcast group: queues, eviction, wake-ups.

use super::*;
use crate::driver::OutputExt;
use crate::session::WakeSource;

struct Conn {
    out: Output,
    wake: WakeSource,
    member: Member,
}

fn join(group: &Group) -> Conn {
    let mut out = Output::new();
    let member = group.join(out.waker());
    let wake = out.wake_source().expect("waker was asked for");
    Conn { out, wake, member }
}

/// What a driver does for a member: drain on a wake-up, then send everything.
fn received(conn: &mut Conn) -> Vec<u8> {
    conn.member.drain_into(&mut conn.out);
    conn.out.take()
}

#[test]
fn join_and_leave_update_the_member_list() {
    let group = Group::new(100);
    assert!(group.is_empty());
    let a = join(&group);
    let b = join(&group);
    assert_eq!(group.len(), 2);
    assert_eq!(group.member_ids(), vec![a.member.id(), b.member.id()]);
    assert!(a.member.id() < b.member.id());
    b.member.leave();
    assert_eq!(group.member_ids(), vec![a.member.id()]);
    drop(a);
    assert!(group.is_empty());
}

#[test]
fn send_others_fans_out_without_self_delivery_and_wakes() {
    let group = Group::new(100);
    let mut a = join(&group);
    let mut b = join(&group);
    let mut c = join(&group);
    assert_eq!(a.member.send_others(b"x"), 2);
    assert!(!a.wake.take());
    assert!(b.wake.take() && c.wake.take());
    assert_eq!(a.member.send_all(b"y"), 3);
    assert!(a.wake.take());
    assert_eq!(group.send_all(b"z"), 3);
    assert_eq!(received(&mut a), b"yz");
    assert_eq!(received(&mut b), b"xyz");
    assert_eq!(received(&mut c), b"xyz");
}

#[test]
fn late_joiner_and_leaver_see_only_their_membership_window() {
    let group = Group::new(100);
    let a = join(&group);
    a.member.send_others(b"1");
    let b = join(&group);
    a.member.send_others(b"2");
    assert_eq!(b.member.queued_bytes(), 1);
    b.member.leave();
    assert_eq!(a.member.send_others(b"3"), 0);
    let mut b = join(&group);
    a.member.send_others(b"4");
    assert_eq!(received(&mut b), b"4");
}

#[test]
fn overflowing_member_is_evicted_and_others_unaffected() {
    let group = Group::new(4);
    let mut slow = join(&group);
    let mut fast = join(&group);
    group.send_all(b"abc");
    assert_eq!(received(&mut fast), b"abc");
    slow.wake.take();
    // slow has 3 queued; 2 more would make 5 > 4.
    assert_eq!(group.send_all(b"de"), 1);
    assert!(slow.member.is_evicted());
    assert!(!fast.member.is_evicted());
    assert!(slow.wake.take(), "evicted member is woken");
    assert_eq!(group.member_ids(), vec![fast.member.id()]);
    assert_eq!(received(&mut slow), b"", "queue dropped on eviction");
    assert_eq!(received(&mut fast), b"de");
    // An evicted member may still send to the others.
    assert_eq!(slow.member.send_others(b"!"), 1);
    assert_eq!(received(&mut fast), b"!");
}

#[test]
fn exactly_full_queue_is_kept_and_oversized_message_evicts_all() {
    let group = Group::new(4);
    let a = join(&group);
    let b = join(&group);
    assert_eq!(a.member.send_others(b"abcd"), 1);
    assert!(!b.member.is_evicted());
    assert_eq!(a.member.send_others(b"abcde"), 0);
    assert!(b.member.is_evicted());
    assert_eq!(group.send_all(b"abcde"), 0);
    assert!(a.member.is_evicted());
    assert!(group.is_empty());
}

#[test]
fn empty_messages_are_ignored() {
    let group = Group::new(4);
    let a = join(&group);
    assert_eq!(group.send_all(b""), 0);
    assert!(!a.wake.take());
}

#[test]
fn wake_all_wakes_every_member() {
    let group = Group::new(4);
    let a = join(&group);
    let b = join(&group);
    group.wake_all();
    assert!(a.wake.take() && b.wake.take());
}

#[test]
fn unsent_output_counts_against_the_bound_and_eviction_discards_it() {
    let group = Group::new(10);
    let mut slow = join(&group);
    let mut fast = join(&group);
    group.send_all(b"0123456");
    // The slow member drains into its output but its peer reads nothing.
    assert_eq!(slow.member.drain_into(&mut slow.out), 7);
    assert_eq!(received(&mut fast), b"0123456");
    // 7 unsent + 4 queued would pass 10: evicted at send time.
    assert_eq!(group.send_all(b"789a"), 1);
    assert!(slow.member.is_evicted());
    assert_eq!(slow.member.drain_into(&mut slow.out), 0);
    assert_eq!(slow.out.queued(), 0, "the unsent backlog is discarded");
    assert!(slow.out.is_closing(), "and the connection closes");
    assert_eq!(received(&mut fast), b"789a");
}

#[test]
fn what_the_connection_sent_no_longer_counts() {
    let group = Group::new(10);
    let mut a = join(&group);
    group.send_all(b"0123456");
    assert_eq!(a.member.drain_into(&mut a.out), 7);
    a.out.consume(5); // the driver sent 5 of the 7
    assert_eq!(group.send_all(b"abcdefgh"), 1, "2 unsent + 8 fits in 10");
    assert!(!a.member.is_evicted());
    assert_eq!(group.send_all(b"x"), 0, "2 + 8 + 1 does not");
    assert!(a.member.is_evicted());
}

#[test]
fn a_drain_that_would_pass_the_bound_evicts() {
    let group = Group::new(10);
    let mut a = join(&group);
    a.out.write(b"own reply"); // 9 bytes the session wrote itself, unsent
    group.send_all(b"xyz");
    assert_eq!(a.member.drain_into(&mut a.out), 0);
    assert!(a.member.is_evicted());
    assert!(a.out.is_closing() && a.out.queued() == 0);
    assert!(group.is_empty());
}
