//! The connection's writer: CPython `SocketWriterTest` #23 (the writer is the socket's
//! own descriptor) and #24 (a write is sent at once, whole, even a 16 MiB + 1 one, and
//! even when the process is stopped and continued while the sending thread is blocked in
//! the send).

mod util;

use std::io::{self, BufRead, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{self, Sender};
use std::sync::Mutex;
use std::time::Duration;

use sockserv::{Conn, Server, Strategy};
use util::{Client, Serving, Transport, WAIT};

const BIG: usize = 16 * 1024 * 1024 + 1;

fn big_payload() -> Vec<u8> {
    (0..BIG).map(|i| (i % 253) as u8).collect()
}

// #23 test_basics: the writer writes to the connection's own descriptor and needs no
// flush.
#[test]
fn writer_is_the_connections_descriptor() {
    let _isolation = util::isolate(false);
    let dir = util::temp_dir();
    for transport in [Transport::Tcp4, Transport::Unix] {
        let (tx, seen) = mpsc::channel();
        let tx = Mutex::new(tx);
        let server = Server::builder(transport.endpoint(dir.path()))
            .strategy(Strategy::Threads)
            .handler(move |conn: &mut Conn| {
                let same_fd = conn.as_raw_fd() == conn.stream().as_raw_fd();
                let written = conn.write(b"direct\n")?;
                conn.flush()?;
                let _ = tx.lock().unwrap().send((same_fd, written));
                Ok(())
            })
            .bind()
            .unwrap();
        let serving = Serving::start(server);
        let mut client = Client::connect(&serving.endpoint);
        assert_eq!(client.read_line().unwrap(), b"direct\n");
        let (same_fd, written) = seen.recv_timeout(WAIT).unwrap();
        assert!(same_fd, "{transport:?}: the writer is another descriptor");
        assert_eq!(written, 7);
        serving.stop().close().unwrap();
    }
}

/// Greets at once (unbuffered), waits for a line, then writes [`BIG`] bytes in one call
/// and reports the count that call returned. Before the greeting it reports its thread's
/// `/proc` directory, where the test sees which syscall it is blocked in.
fn greet_then_write_big(
    report: Sender<usize>,
    thread_dir: Sender<PathBuf>,
) -> impl Fn(&mut Conn) -> io::Result<()> {
    let report = Mutex::new(report);
    let thread_dir = Mutex::new(thread_dir);
    let payload = big_payload();
    move |conn: &mut Conn| {
        // "PID/task/TID": this thread, without the unsafe of gettid(2).
        let me = std::fs::read_link("/proc/thread-self")?;
        let _ = thread_dir.lock().unwrap().send(Path::new("/proc").join(me));
        conn.write_all(b"ready\n")?;
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let written = conn.write(&payload)?;
        let _ = report.lock().unwrap().send(written);
        Ok(())
    }
}

/// Stops and continues this whole process from outside, `times` times. While a
/// `SO_SNDTIMEO` is set, Linux fails a blocked `send` with `EINTR` (or a short count)
/// after a stop signal, even without a signal handler (signal(7), "Interruption of
/// system calls ... by stop signals"): this exercises the writer's retry without the
/// `unsafe` a SIGUSR1 handler would need. What the test can see from outside is that
/// the thread was blocked in a write-family syscall when the stops came
/// ([`blocked_in_a_write`]); whether each stop made that call return `EINTR` or a short
/// count is the kernel's to choose, and either must leave the data whole.
fn stop_and_continue_this_process(times: usize) {
    let pid = std::process::id();
    let script = format!("for i in $(seq {times}); do kill -STOP {pid}; kill -CONT {pid}; done");
    let status = Command::new("sh")
        .args(["-c", &script])
        .status()
        .expect("sh");
    assert!(status.success());
}

/// Whether the thread whose `/proc` directory is `thread` is blocked in `write`,
/// `sendto`, `sendmsg` or `writev` (x86-64 and aarch64 syscall numbers): the first field
/// of its `syscall` file.
fn blocked_in_a_write(thread: &Path) -> bool {
    const WRITES: &[&str] = if cfg!(target_arch = "aarch64") {
        &["64", "66", "206", "211"]
    } else {
        &["1", "20", "44", "46"]
    };
    std::fs::read_to_string(thread.join("syscall"))
        .is_ok_and(|s| WRITES.contains(&s.split_whitespace().next().unwrap_or("")))
}

fn big_write_arrives_whole(transport: Transport, interrupt: bool) {
    // The stops interrupt every thread's blocking calls, not only the server's: the
    // other tests of this binary wait meanwhile.
    let _isolation = util::isolate(interrupt);
    let dir = util::temp_dir();
    let (tx, written) = mpsc::channel();
    let (thread_tx, thread_dir) = mpsc::channel();
    let server = Server::builder(transport.endpoint(dir.path()))
        .strategy(Strategy::Threads)
        // A send timeout makes the blocked send interruptible by stop signals.
        .write_timeout(Some(Duration::from_secs(30)))
        .handler(greet_then_write_big(tx, thread_tx))
        .bind()
        .unwrap();
    let serving = Serving::start(server);
    let mut client = Client::connect(&serving.endpoint);
    // The greeting arrives before the client sends anything: nothing is buffered.
    assert_eq!(client.read_line().unwrap(), b"ready\n");
    client.write_all(b"go\n").unwrap();
    let mut head = vec![0u8; 100];
    client.read_exact(&mut head).unwrap();
    if interrupt {
        // 16 MiB does not fit the socket buffers: the handler blocks in its send, and
        // stays blocked (the client reads nothing more) while the stops come.
        let thread = thread_dir.recv_timeout(WAIT).unwrap();
        testkit::wait_until(WAIT, "the handler blocked in its send", || {
            let syscall = std::fs::read_to_string(thread.join("syscall")).unwrap_or_default();
            (blocked_in_a_write(&thread), syscall)
        });
        stop_and_continue_this_process(20);
    }
    let mut rest = Vec::with_capacity(BIG);
    client.read_to_end(&mut rest).unwrap();
    assert_eq!(rest.len(), BIG - 100, "{transport:?}: truncated");
    head.extend_from_slice(&rest);
    assert!(head == big_payload(), "{transport:?}: corrupted");
    assert_eq!(written.recv_timeout(WAIT).unwrap(), BIG, "write's count");
    serving.stop().close().unwrap();
}

// #24 test_write
#[test]
fn big_write_is_sent_whole_tcp() {
    big_write_arrives_whole(Transport::Tcp4, false);
}

#[test]
fn big_write_is_sent_whole_unix() {
    big_write_arrives_whole(Transport::Unix, false);
}

#[test]
fn big_write_survives_stops_while_blocked_in_send_tcp() {
    big_write_arrives_whole(Transport::Tcp4, true);
}

#[test]
fn big_write_survives_stops_while_blocked_in_send_unix() {
    big_write_arrives_whole(Transport::Unix, true);
}
