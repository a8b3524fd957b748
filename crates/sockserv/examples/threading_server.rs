//! `ThreadingMixIn`: a thread per connection, and `daemon_threads = True`.
//!
//! Python:
//!
//! ```python
//! class ThreadingTCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
//!     daemon_threads = True
//! class Handler(socketserver.BaseRequestHandler):
//!     def handle(self):
//!         print(threading.current_thread())
//!         ...
//! ```
//!
//! In sockserv the mix-in is a value, `Strategy::Threads`, and `daemon_threads` is a
//! `ClosePolicy`.
//!
//! Run: `cargo run -p sockserv --example threading_server`, then connect with several
//! `nc 127.0.0.1 9001` at once: each is served by its own thread. `--once` runs three
//! clients itself, prints which thread served each, and exits; the tests use it.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;

use sockserv::{ClosePolicy, Conn, Server, StopOnSignals, Strategy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let once = std::env::args().any(|a| a == "--once");
    let address = if once {
        "tcp://127.0.0.1:0"
    } else {
        "tcp://127.0.0.1:9001"
    };

    // A closure is a handler too (only `handle`, like overriding just `handle()`).
    let handler = |conn: &mut Conn| -> io::Result<()> {
        // Python: threading.current_thread()
        println!(
            "{} served by thread {:?}",
            conn.peer_addr(),
            thread::current().id()
        );
        let mut line = String::new();
        while conn.read_line(&mut line)? > 0 {
            conn.write_all(line.as_bytes())?;
            line.clear();
        }
        Ok(())
    };

    let mut server = Server::builder(address)
        // ThreadingMixIn: a new thread for every connection.
        .strategy(Strategy::Threads)
        // daemon_threads = True: when the server closes, do not wait for the threads
        // still serving clients; they die with the process. The default,
        // ClosePolicy::Join, is Python's block_on_close = True (wait for all of them).
        .close_policy(ClosePolicy::Detach)
        .handler(handler)
        .bind()?;
    println!("listening on {}", server.local_endpoint());

    if once {
        // Three clients, connected at the same time. Each waits at the barrier until
        // all three got their echo: that only finishes because each has its own
        // server thread (with Strategy::Sequential the second would wait forever).
        let addr = server
            .local_endpoint()
            .socket_addr()
            .expect("a TCP endpoint");
        let stop = server.shutdown_handle(); // usable from any thread
        let all_served = Arc::new(Barrier::new(3));
        let clients: Vec<_> = (0..3)
            .map(|i| {
                let all_served = Arc::clone(&all_served);
                thread::spawn(move || -> io::Result<()> {
                    let mut stream = TcpStream::connect(addr)?;
                    writeln!(stream, "hello from client {i}")?;
                    let mut reply = String::new();
                    BufReader::new(&stream).read_line(&mut reply)?;
                    print!("client {i} got: {reply}");
                    all_served.wait();
                    Ok(())
                })
            })
            .collect();
        thread::spawn(move || {
            for client in clients {
                if let Err(e) = client.join().expect("client thread") {
                    eprintln!("client failed: {e}");
                }
            }
            stop.shutdown(); // makes serve() below return
        });
    }
    // Ctrl-C (or SIGTERM) makes `serve` return, instead of killing the process; with
    // Detach, `close` then returns at once.
    let _signals = StopOnSignals::install([server.shutdown_handle()])?;
    if !once {
        println!("press Ctrl-C to stop");
    }
    server.serve()?;
    server.close()?;
    Ok(())
}
