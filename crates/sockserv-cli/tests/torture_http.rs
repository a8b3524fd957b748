//! Torture: `sockserv http` under hostile clients — slowloris heads, downloads that stall,
//! a file cut short while it is sent. The bounds are explained in `torture_support`; here
//! "served" means a fresh `GET` answered 200 within the bound.

mod http_support;
#[path = "util/metrics.rs"]
#[allow(dead_code)] // the scrape and one sample here
mod metrics;
mod torture_support;
mod util;

use http_support::download::{big_file, start_download, BIG};
use http_support::raw::get;
use http_support::{python_lacks, HttpServer, Tree, HTTP_MODES};
use metrics::{metrics_addr, sample, scrape};
use torture_support::*;

/// A fresh `GET /small.txt` is answered 200 with the file, within `bound`.
fn assert_fresh_get(addr: SocketAddr, bound: Duration, what: &str) {
    let start = Instant::now();
    let response = get(addr, "/small.txt");
    let took = start.elapsed();
    assert_eq!(response.status, 200, "{what}");
    assert_eq!(response.body, b"small\n", "{what}");
    assert!(
        took < bound,
        "{what}: a fresh GET took {took:?} (bound {bound:?})"
    );
}

/// Slowloris against the head parser: `n` connections each start a request head and add
/// a header byte every 250 ms, never finishing it. A fresh GET is served within
/// [`FRESH`] three times while the attack goes on, and after it; RSS stays below
/// [`RSS_LIMIT`]. Counts: threads 300 (a thread each), events:1 600.
#[test]
fn http_slowloris_does_not_starve_other_clients() {
    if python_lacks("slowloris bounds") {
        return;
    }
    let _serial = serial();
    let tree = Tree::new();
    tree.file("small.txt", b"small\n");
    for (mode, n) in [("threads", 300), ("events:1", 600)] {
        let mut http = HttpServer::start(&tree.root(), mode, &[]);
        let addr = http.addr;
        let pid = http.process().pid();
        let base = fds(pid);
        let mut conns = connect_many(addr, n);
        for conn in &mut conns {
            conn.write_all(b"GET /small.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
        }
        wait_until(WAIT, "server holds every slowloris connection", || {
            let now = fds(pid);
            (now >= base + n, format!("{now} fds, base {base}"))
        });
        let attack = Trickle::start(conns, b'a');
        for wanted in [1, 4, 7] {
            // Checks spread over the attack.
            attack.wait_round(wanted);
            assert_fresh_get(addr, FRESH, &format!("{mode} under slowloris"));
        }
        let conns = attack.stop();
        assert_rss_below(pid, RSS_LIMIT, mode);
        drop(conns);
        assert_fresh_get(addr, FRESH, &format!("{mode} after slowloris"));
    }
}

/// Twenty clients each start a 64 MiB download and stop reading: the server keeps them
/// all in flight without reading the file into memory (sendfile), so its RSS grows by
/// less than one file's size (buffering even one download would break it), stays below
/// [`RSS_LIMIT`], and a fresh GET is still served.
#[test]
fn stalled_downloads_do_not_grow_the_servers_memory() {
    if python_lacks("sendfile (it reads files through memory)") {
        return;
    }
    const STALLED: usize = 20;
    let _serial = serial();
    let tree = Tree::new();
    tree.file("small.txt", b"small\n");
    tree.file("big.bin", &big_file());
    for mode in HTTP_MODES {
        let mut http = HttpServer::start(&tree.root(), mode, &[]);
        let addr = http.addr;
        let pid = http.process().pid();
        assert_fresh_get(addr, FRESH, &format!("{mode} before"));
        let before = rss(pid);
        // Each download has its head and first MiB read, then stalls.
        let stalled: Vec<_> = (0..STALLED).map(|_| start_download(addr)).collect();
        assert_fresh_get(
            addr,
            FRESH,
            &format!("{mode} with {STALLED} stalled downloads"),
        );
        let peak = assert_rss_below(pid, RSS_LIMIT, mode);
        assert_rss_growth_below(before, peak, BIG as u64, mode);
        eprintln!(
            "{mode}: {STALLED} stalled 64 MiB downloads, RSS {} -> {} MiB",
            before / MIB,
            peak / MIB
        );
        drop(stalled);
        assert_fresh_get(addr, FRESH, &format!("{mode} after the stalled downloads"));
    }
}

/// A file truncated while it is being sent ends that response short — the client gets
/// fewer bytes than its Content-Length, never wrong ones — and counts as a handler
/// error: `sockserv_handler_errors_total` 1, the `-v` close event's reason `error`.
#[test]
fn a_file_truncated_mid_download_is_a_counted_handler_error() {
    if python_lacks("--metrics") {
        return;
    }
    let data = big_file();
    for mode in HTTP_MODES {
        let tree = Tree::new();
        let path = tree.file("big.bin", &data);
        let mut http = HttpServer::start(&tree.root(), mode, &["-v", "--metrics", "127.0.0.1:0"]);
        let (mut stream, mut body) = start_download(http.addr);
        // The server waits on a full socket with most of the file still to send.
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        body.extend(util::read_until_closed(&mut stream, WAIT, mode));
        assert!(body.len() < BIG, "{mode}: got the whole file");
        assert!(
            body == data[..body.len()],
            "{mode}: wrong bytes before the cut"
        );
        let server = http.process();
        let closed = server.wait_for_line("connection closed");
        assert!(closed.contains("reason=\"error\""), "{mode}: {closed}");
        let page = scrape(metrics_addr(server));
        assert_eq!(sample(&page, "sockserv_handler_errors_total"), 1, "{mode}");
        assert_eq!(sample(&page, "sockserv_handler_panics_total"), 0, "{mode}");
        // The server goes on.
        let small = get(http.addr, "/missing");
        assert_eq!(small.status, 404, "{mode}");
    }
}
