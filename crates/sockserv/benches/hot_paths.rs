//! Micro-benchmarks of the per-message hot paths: line framing, Session dispatch through
//! an `Output`, and broadcast-group fan-out. Run with `cargo bench -p sockserv`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sockserv::driver::OutputExt;
use sockserv::{Group, Line, LineBuffer, Output, Session};

/// The echo Session, as the event loops run it: behind `Box<dyn Session>`.
struct Echo;

impl Session for Echo {
    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        out.write(data);
    }
}

fn framing(c: &mut Criterion) {
    let mut input = Vec::new();
    for i in 0..1024 {
        input.extend_from_slice(format!("message number {i:05} from a chat client\r\n").as_bytes());
    }
    let mut group = c.benchmark_group("framing");
    group.throughput(Throughput::Bytes(input.len() as u64));
    for chunk in [64, 1500, 16 * 1024] {
        group.bench_function(format!("lines/{chunk}B-reads"), |b| {
            let mut lines = LineBuffer::new(4096);
            b.iter(|| {
                let mut count = 0usize;
                for piece in input.chunks(chunk) {
                    lines.feed(black_box(piece), |l| {
                        if let Line::Complete(bytes) = l {
                            count += bytes.len();
                        }
                    });
                }
                count
            });
        });
    }
    group.finish();
}

fn session_dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("session");
    let message = [7u8; 64];
    group.throughput(Throughput::Elements(1));
    group.bench_function("echo/64B-on_data+consume", |b| {
        let mut session: Box<dyn Session> = Box::new(Echo);
        let mut out = Output::new();
        b.iter(|| {
            session.on_data(black_box(&message), &mut out);
            let n = out.pending().len();
            out.consume(black_box(n));
        });
    });
    group.finish();
}

fn group_fan_out(c: &mut Criterion) {
    let mut group = c.benchmark_group("group");
    for members in [10, 100, 1000] {
        group.throughput(Throughput::Elements(members as u64));
        group.bench_function(format!("send_others+drain/{members}-members"), |b| {
            let room = Group::new(1 << 20);
            let mut outputs: Vec<Output> = (0..members).map(|_| Output::new()).collect();
            let joined: Vec<_> = outputs
                .iter_mut()
                .map(|out| room.join(out.waker()))
                .collect();
            let line = b"guest1: hello everyone, this is a chat line\n";
            b.iter_batched(
                || (),
                |()| {
                    joined[0].send_others(black_box(line));
                    for (member, out) in joined.iter().zip(outputs.iter_mut()).skip(1) {
                        member.drain_into(out);
                        let n = out.pending().len();
                        out.consume(n);
                    }
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, framing, session_dispatch, group_fan_out);
criterion_main!(benches);
