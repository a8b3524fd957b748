//! Micro-benchmarks of one request through the HTTP layer, in memory (no sockets, no
//! syscalls but the file server's `open` and `fstat`): parse, decide, write. Run with
//! `cargo bench -p sockserv-http`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sockserv::driver::OutputExt;
use sockserv::{Output, PeerAddr, Session, SessionFactory};
use sockserv_http::files::Root;
use sockserv_http::{FileServer, Http, Response, Status};

/// Feeds `request` to `session` and takes what it queued, as a driver that sent it would.
fn exchange(session: &mut impl Session, out: &mut Output, request: &[u8]) -> usize {
    session.on_data(black_box(request), out);
    let head = out.take().len();
    if let Some(len) = out.front_file().map(|range| range.len()) {
        out.file_sent(len);
    }
    head
}

fn file_server(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("4k.bin"), vec![7u8; 4096]).expect("write the file");
    let root = Root::new(dir.path(), false).expect("the temp dir is a directory");
    let mut group = c.benchmark_group("file_server");
    group.throughput(Throughput::Elements(1));
    for (name, request) in [
        (
            "get-4KiB",
            &b"GET /4k.bin HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"[..],
        ),
        (
            "get-range",
            b"GET /4k.bin HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nRange: bytes=0-99\r\n\r\n",
        ),
        (
            "get-404",
            b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
        ),
    ] {
        group.bench_function(name, |b| {
            let http = Http::new(FileServer::new(root.clone()));
            let mut session = http.open(&PeerAddr::Unix(None));
            let mut out = Output::new();
            b.iter(|| exchange(&mut session, &mut out, request));
        });
    }
    group.finish();
}

fn custom_handler(c: &mut Criterion) {
    let mut group = c.benchmark_group("handler");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get-hello-json", |b| {
        let http = Http::from_fn(|_request, _peer| {
            Response::new(Status::OK)
                .with_header("Content-Type", "application/json")
                .with_body(&br#"{"hello": "world"}"#[..])
        });
        let mut session = http.open(&PeerAddr::Unix(None));
        let mut out = Output::new();
        let request = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
        b.iter(|| exchange(&mut session, &mut out, request));
    });
    group.finish();
}

criterion_group!(benches, file_server, custom_handler);
criterion_main!(benches);
