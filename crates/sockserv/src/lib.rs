//! sockserv: Python's `socketserver`, the Rust way.
//!
//! A server is three independent choices, as in Python: **where** it listens (an
//! [`Endpoint`]: TCP, UDP, Unix stream, Unix datagram), **what** it does with one client (a
//! blocking [`StreamHandler`] / [`DatagramHandler`], or a sans-IO [`Session`]), and **how**
//! it serves many clients at once (a [`Strategy`]: sequential, threads, pool, fork, or
//! per-core event loops).
//!
//! Around that core: [`Group`] for 1:N broadcast with bounded per-member queues,
//! [`LineBuffer`] for bounded line framing, TLS for any Session (the `tls` module,
//! rustls), the PROXY protocol ([`Builder::proxy_protocol`]), CIDR
//! [`AccessList`](acl::AccessList)s, per-server [`Stats`](report::Stats) and a
//! per-connection close hook, and socket activation
//! ([`Listener::from_systemd`](transport::Listener::from_systemd)). Code that runs Sessions itself — a Session wrapping
//! another, a unit test reading what a Session wrote — takes their output through the
//! [`driver`] module.
//!
//! The notes' three steps — write a handler, create the server with an address and the
//! handler, call `serve_forever` — make an echo server:
//!
//! ```no_run
//! use std::io::Write;
//!
//! fn main() -> Result<(), sockserv::Error> {
//!     let server = sockserv::Server::builder("tcp://127.0.0.1:9000") // 2. the server
//!         .handler(|conn| {
//!             // 1. handle(): each line back, holding at most 64 KiB of one.
//!             while let Some(line) = conn.next_line(64 * 1024)? {
//!                 writeln!(conn, "{line}")?;
//!             }
//!             Ok(())
//!         })
//!         .bind()?;
//!     // 3. Serve until Ctrl-C/SIGTERM; then 5 s for connected clients, and the rest are cut.
//!     server.serve_until_signal(std::time::Duration::from_secs(5)).map(drop)
//! }
//! ```
//!
//! The default strategy is a thread per client ([`Strategy::Threads`], Python's
//! `ThreadingMixIn`). The same server as a [`Session`], which also runs under the event
//! loops ([`Strategy::events`]):
//!
//! ```no_run
//! use sockserv::{Output, Server, Session, Strategy};
//!
//! struct Echo;
//!
//! impl Session for Echo {
//!     fn on_data(&mut self, data: &[u8], out: &mut Output) {
//!         out.write(data);
//!     }
//! }
//!
//! fn main() -> Result<(), sockserv::Error> {
//!     let server = Server::builder("tcp://127.0.0.1:9000")
//!         .strategy(Strategy::events())
//!         .session(|_peer| Echo)
//!         .bind()?;
//!     server.serve_until_signal(std::time::Duration::from_secs(5)).map(drop)
//! }
//! ```
//!
//! Without the default `tls` feature (`default-features = false`) neither rustls nor
//! *ring* is built and the `tls` module is absent; everything else stays.
//!
//! # The names, on one screen
//!
//! One path per name: the root holds what a newcomer needs first; the rest lives in the
//! module named for its concept.
//!
//! | part | items |
//! |---|---|
//! | where | [`Endpoint`] (or text: `"tcp://HOST:PORT"`), [`PeerAddr`]; [`transport`]: [`SocketOptions`](transport::SocketOptions), [`Listener`](transport::Listener) and [`UnboundSocket`](transport::UnboundSocket) for sockets made or inherited by hand, [`claim_inherited_fd`](transport::claim_inherited_fd), and for handing listeners to a new process [`pass_fds`](transport::pass_fds), [`take_passed_fds`](transport::take_passed_fds), [`ListenerHandle`](transport::ListenerHandle) |
//! | what | [`StreamHandler`] over a [`Conn`] (its socket: [`transport::Stream`]; bounded lines: [`ReadLine`]); [`DatagramHandler`] over a [`Datagram`]; [`Session`] made by a [`SessionFactory`], writing to an [`Output`], woken by a [`SessionWaker`]; [`LineSession`] run by [`Lines`] |
//! | how many at once | [`Strategy`], and at close [`ClosePolicy`] |
//! | the server | [`Server::builder`] → [`Builder`] → [`Server`]; [`ShutdownHandle`], [`StopOnSignals`], [`Server::serve_until_signal`] |
//! | errors | [`Error`] (with [`Unsupported`]) from `bind`; [`ParseEndpointError`], [`ParseStrategyError`]; [`BadLine`] |
//! | what it reports | [`report`]: [`ConnError`](report::ConnError) and [`Failure`](report::Failure) for one connection, [`Closed`](report::Closed), [`Stats`](report::Stats), [`Outcome`](report::Outcome) of `handle_one`, [`CloseReport`](report::CloseReport) |
//! | around the core | [`Group`], [`Member`], [`MemberId`]; [`LineBuffer`], [`Line`]; the [`acl`], [`proxy`], `tls` and [`driver`] modules |
//!
//! # Lifecycle without Python's traps
//!
//! * [`ShutdownHandle::shutdown`] never blocks and wakes the loop at once (no 0.5 s
//!   polling); it works from a handler, from any thread, before `serve`, many times.
//! * [`Server::close`] waits for running requests under a [`ClosePolicy`] (join, join
//!   with a deadline, drain: finish within a deadline then cut the rest, detach), reaps
//!   forked children, removes the Unix socket file (and `bind` replaces one a crash left).
//! * [`Server::serve_until_signal`] is the whole life of a program's server: SIGINT or
//!   SIGTERM starts a bounded drain; a second Ctrl-C ends the process.
//! * Finished threads and children are forgotten/reaped as they finish.
//! * A failed bind closes its socket; accept errors such as EMFILE back off instead of
//!   spinning; a handler error or panic is reported with the peer and the server goes on.
//!
//! # The fork strategy: what a child may do
//!
//! [`Strategy::Fork`] runs each request in a child process made by `fork(2)`. The child is
//! a copy of the serving thread only. If the process had other threads at fork time, a
//! lock one of them held (a `Mutex` of yours, stdout's lock, a logger's) stays locked in
//! the child forever. So in the handler, under fork: use the connection, allocate (glibc's
//! allocator is fork-safe), compute, read files; do **not** take locks other threads may
//! hold, and do not rely on state shared with the parent — changes are lost when the child
//! exits. The child closes its copy of the listener, serves the one request, and ends with
//! `_exit` (no destructors, no atexit handlers): exit status 0 on success, 1 after a
//! handler error or panic (reported to the error hook in the child). For a fully
//! predictable child, fork from a process whose other threads hold no lock the handler
//! needs. The `sockserv` CLI's other threads (signals, further endpoints, metrics) spend
//! their time blocked in the kernel; the one lock they share with a child is stderr's,
//! held only while a log line is written.
#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

// One path per public name. The root holds what a newcomer needs first: the three axes
// (Endpoint, the handlers, Strategy), the server around them, and their errors. The rest
// lives in a public module named for its concept, never also at the root:
//   acl        CIDR access lists                     driver     running Sessions yourself
//   proxy      the PROXY protocol v1/v2              report     what a server reports
//   tls        TLS for any Session (feature "tls")   transport  sockets by hand
// Every other module is private; the crate's own code imports from the module that
// defines an item, never through these re-exports.

pub mod acl;
pub mod driver;
pub mod proxy;
pub mod report;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;

mod backoff;
mod builder;
mod conn;
mod endpoint;
mod error;
mod group;
mod handler;
mod lines;
mod output;
mod proxied;
mod pump;
mod request;
mod server;
mod session;
mod shutdown;
mod stats;
mod strategy;
mod sys;

// Where: an endpoint, and who is on the other end.
pub use endpoint::{Endpoint, ParseEndpointError, PeerAddr};
// What: a blocking handler over a Conn or a Datagram, or a sans-IO Session.
pub use conn::Conn;
pub use handler::{Datagram, DatagramHandler, StreamHandler};
pub use output::Output;
pub use session::{Session, SessionFactory, SessionWaker};
// How many at once.
pub use strategy::{ClosePolicy, ParseStrategyError, Strategy};
// The server and its lifecycle.
pub use builder::Builder;
pub use error::{Error, Unsupported};
pub use server::{Server, StopOnSignals};
pub use shutdown::ShutdownHandle;
// What Sessions build on: 1:N groups, bounded line framing.
pub use group::{Group, Member, MemberId};
// A group across processes: the trait a bus (sockserv-redis) implements.
pub use group::bus;
pub use lines::{BadLine, Line, LineBuffer, LineSession, Lines, ReadLine};

// The code blocks of the README and of docs/python-mapping.md compile (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
#[cfg(doctest)]
#[doc = include_str!("../../../docs/python-mapping.md")]
struct PythonMappingDoctests;
