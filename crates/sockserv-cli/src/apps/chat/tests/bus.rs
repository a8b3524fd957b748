//! The room joined to a bus, in memory: a fake bus records what is published and lets
//! the test answer nick claims when it wants.

use std::sync::atomic::AtomicU64;

use sockserv::bus::ClaimAnswer;

use super::super::bus::{LINK_BACK, LINK_LOST, NOT_RELAYED};
use super::*;

#[derive(Default)]
struct FakeBus {
    published: Mutex<Vec<(String, Option<Presence>)>>,
    claims: Mutex<Vec<(String, ClaimAnswer)>>,
    remote: Mutex<Vec<String>>,
    numbers: AtomicU64,
    refuse_lines: AtomicBool,
}

impl Bus for FakeBus {
    fn publish(&self, line: &[u8], change: Option<Presence>) -> bool {
        if change.is_none() && self.refuse_lines.load(Ordering::Relaxed) {
            return false;
        }
        let line = String::from_utf8(line.to_vec()).unwrap();
        self.published.lock().unwrap().push((line, change));
        true
    }

    fn claim(&self, name: &str, answer: ClaimAnswer) {
        self.claims.lock().unwrap().push((name.to_owned(), answer));
    }

    fn remote_names(&self) -> Vec<String> {
        self.remote.lock().unwrap().clone()
    }

    fn unique_number(&self) -> Option<u64> {
        Some(100 + self.numbers.fetch_add(1, Ordering::Relaxed))
    }
}

impl FakeBus {
    fn take_published(&self) -> Vec<(String, Option<Presence>)> {
        std::mem::take(&mut *self.published.lock().unwrap())
    }

    /// Answers the oldest claim.
    fn answer(&self, won: bool) -> String {
        let (name, answer) = self.claims.lock().unwrap().remove(0);
        answer(won);
        name
    }
}

fn pump_on_bus(n: usize) -> (Pump, Arc<FakeBus>) {
    let bus = Arc::new(FakeBus::default());
    let mut pump = Pump::new(ChatConfig::default());
    pump.room
        .attach_bus(Arc::clone(&bus) as Arc<dyn Bus>, BusStats::default);
    for i in 0..n {
        pump.connect();
        for j in 0..=i {
            pump.lines(j);
        }
    }
    bus.take_published();
    (pump, bus)
}

#[test]
fn guests_come_from_the_bus_and_joins_lines_and_actions_are_published() {
    let (mut p, bus) = pump_on_bus(0);
    let a = p.connect();
    assert_eq!(p.lines(a), ["* welcome, you are guest100"]);
    p.send(a, b"hi\n/me waves\n/who\n");
    assert_eq!(p.lines(a), ["* online (1): guest100"]);
    assert_eq!(
        bus.take_published(),
        [
            (
                "* guest100 joined\n".into(),
                Some(Presence::Joined("guest100".into()))
            ),
            ("guest100: hi\n".into(), None),
            ("* guest100 waves\n".into(), None),
        ]
    );
    p.eof(a);
    assert_eq!(
        bus.take_published(),
        [(
            "* guest100 left\n".into(),
            Some(Presence::Left("guest100".into()))
        )]
    );
}

#[test]
fn lines_from_other_nodes_reach_every_member_and_who_lists_them() {
    let (mut p, bus) = pump_on_bus(2);
    bus.remote.lock().unwrap().push("zoe".into());
    p.room.bus_handler().deliver(b"zoe: hello from afar\n");
    p.settle();
    for i in [0, 1] {
        assert_eq!(p.lines(i), ["zoe: hello from afar"]);
    }
    p.send(0, b"/who\n");
    assert_eq!(p.lines(0), ["* online (3): guest100, guest101, zoe"]);
}

#[test]
fn a_nick_is_answered_once_the_bus_agrees() {
    let (mut p, bus) = pump_on_bus(2);
    p.send(0, b"/nick ann\n");
    assert!(p.lines(0).is_empty(), "no answer before the bus's");
    // Asked for here and not answered yet: taken for the other local member.
    p.send(1, b"/nick ann\n");
    assert_eq!(p.lines(1), ["* error: nick ann is taken"]);
    assert_eq!(bus.answer(true), "ann");
    p.settle();
    assert_eq!(p.lines(0), ["* guest100 is now ann"]);
    assert_eq!(p.lines(1), ["* guest100 is now ann"]);
    let change = Presence::Renamed {
        from: "guest100".into(),
        to: "ann".into(),
    };
    assert_eq!(
        bus.take_published(),
        [("* guest100 is now ann\n".into(), Some(change))]
    );

    // Refused by the bus (another node got it first), or known to be on another node.
    p.send(1, b"/nick bea\n");
    assert_eq!(bus.answer(false), "bea");
    p.settle();
    assert_eq!(p.lines(1), ["* error: nick bea is taken"]);
    bus.remote.lock().unwrap().push("cy".into());
    p.send(1, b"/nick cy\n");
    assert_eq!(p.lines(1), ["* error: nick cy is taken"]);
    assert!(bus.claims.lock().unwrap().is_empty());
}

#[test]
fn a_nick_won_for_a_member_that_left_is_released() {
    let (mut p, bus) = pump_on_bus(1);
    p.send(0, b"/nick ann\n");
    p.eof(0);
    bus.take_published();
    bus.answer(true);
    assert_eq!(
        bus.take_published(),
        [(String::new(), Some(Presence::Left("ann".into())))]
    );
    // Free again here too.
    let b = p.connect();
    p.lines(b);
    p.send(b, b"/nick ann\n");
    assert_eq!(bus.answer(true), "ann");
    p.settle();
    assert_eq!(p.lines(b), ["* guest101 is now ann"]);
}

#[test]
fn link_changes_are_told_to_everyone_and_a_refused_line_to_its_sender() {
    let (mut p, bus) = pump_on_bus(2);
    let handler = p.room.bus_handler();
    handler.link_changed(false);
    p.settle();
    for i in [0, 1] {
        assert_eq!(p.lines(i), [LINK_LOST.trim_end()]);
    }
    bus.refuse_lines.store(true, Ordering::Relaxed);
    p.send(0, b"still here\n");
    assert_eq!(p.lines(0), [NOT_RELAYED.trim_end()]);
    assert_eq!(
        p.lines(1),
        ["guest100: still here"],
        "local members still hear it"
    );
    handler.link_changed(true);
    p.settle();
    assert_eq!(p.lines(1), [LINK_BACK.trim_end()]);
}
