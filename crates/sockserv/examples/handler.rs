//! The notes' three steps, with a handler "subclass".
//!
//! Python:
//!
//! ```python
//! class EchoHandler(socketserver.StreamRequestHandler):    # step 1
//!     def setup(self): ...
//!     def handle(self):
//!         for line in self.rfile: self.wfile.write(line)
//!     def finish(self): ...
//! server = socketserver.TCPServer(("127.0.0.1", 9000), EchoHandler)  # step 2
//! server.serve_forever()                                    # step 3
//! ```
//!
//! Run: `cargo run -p sockserv --example handler`, then `nc 127.0.0.1 9000` in another
//! terminal. `--once` serves a single connection on a free port and exits (like
//! `handle_request()`); the tests use it.

use std::io::{self, BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

use sockserv::{Conn, Server, StopOnSignals, Strategy, StreamHandler};

/// Step 1: the handler. In Python a *new* handler object is made per connection; here
/// one value serves every connection. So:
/// - per-connection state lives in local variables of `handle` (Python: `self.x`);
/// - state shared by all connections lives in the struct (Python: attributes of the
///   `server`), behind atomics or a `Mutex` because connections may run in parallel.
struct EchoHandler {
    connections: AtomicUsize,
}

impl StreamHandler for EchoHandler {
    fn setup(&self, conn: &mut Conn) -> io::Result<()> {
        let n = self.connections.fetch_add(1, Ordering::Relaxed) + 1;
        println!("setup: connection #{n} from {}", conn.peer_addr());
        Ok(())
    }

    fn handle(&self, conn: &mut Conn) -> io::Result<()> {
        // `conn` is both `self.rfile` (buffered reads) and `self.wfile` (writes).
        let mut lines = 0; // per-connection state: a local
        let mut line = String::new();
        while conn.read_line(&mut line)? > 0 {
            conn.write_all(line.as_bytes())?;
            lines += 1;
            line.clear();
        }
        println!("handle: echoed {lines} line(s) to {}", conn.peer_addr());
        Ok(())
    }

    fn finish(&self, conn: &mut Conn) -> io::Result<()> {
        // Runs even if `handle` failed, as in Python. The server closes the socket.
        println!("finish: {} disconnected", conn.peer_addr());
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let once = std::env::args().any(|a| a == "--once");
    let address = if once {
        "tcp://127.0.0.1:0" // port 0: the OS picks a free port
    } else {
        "tcp://127.0.0.1:9000"
    };

    // Step 2: the server = an address + the handler. `Sequential` is the plain
    // `TCPServer`: one client at a time; a second client waits until the first leaves.
    let mut server = Server::builder(address)
        .strategy(Strategy::Sequential)
        .stream_handler(EchoHandler {
            connections: AtomicUsize::new(0),
        })
        .bind()?;
    // `local_endpoint()` is Python's `server.server_address` (with the real port).
    println!("listening on {}", server.local_endpoint());

    // Step 3: serve.
    if once {
        // `handle_request()`: wait for one connection and serve it.
        server.handle_one(None)?;
    } else {
        // Ctrl-C (or SIGTERM) makes `serve` return, instead of killing the process.
        let _signals = StopOnSignals::install([server.shutdown_handle()])?;
        println!("press Ctrl-C to stop");
        server.serve()?; // `serve_forever()`
    }
    server.close()?; // `server_close()`
    Ok(())
}
