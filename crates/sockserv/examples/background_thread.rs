//! Serving in a background thread, stopping from the main thread.
//!
//! Python:
//!
//! ```python
//! server = ThreadingTCPServer(("127.0.0.1", 0), Handler)
//! server_thread = threading.Thread(target=server.serve_forever)
//! server_thread.start()
//! ...                       # talk to it from the main thread
//! server.shutdown()         # blocks until serve_forever has returned
//! server_thread.join()
//! server.server_close()
//! ```
//!
//! Run: `cargo run -p sockserv --example background_thread` (it ends by itself).

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;

use sockserv::{Conn, Server, Strategy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut server = Server::builder("tcp://127.0.0.1:0")
        .strategy(Strategy::Threads)
        .handler(|conn: &mut Conn| -> io::Result<()> {
            let mut line = String::new();
            while conn.read_line(&mut line)? > 0 {
                conn.write_all(line.to_uppercase().as_bytes())?;
                line.clear();
            }
            Ok(())
        })
        .bind()?;
    let addr = server
        .local_endpoint()
        .socket_addr()
        .expect("a TCP endpoint");
    println!("listening on {}", server.local_endpoint());

    // Take the handle *before* the server moves into its thread. Unlike Python's
    // `shutdown()` it never blocks and works even before `serve` has started.
    let stop = server.shutdown_handle();

    // threading.Thread(target=server.serve_forever).start(). The thread hands the
    // server back when serve() returns, so main can close it.
    let serving = thread::spawn(move || server.serve().map(|()| server));

    // The main thread is a client now.
    for i in 0..3 {
        let mut stream = TcpStream::connect(addr)?;
        writeln!(stream, "hello {i}")?;
        let mut reply = String::new();
        BufReader::new(&stream).read_line(&mut reply)?;
        print!("reply {i}: {reply}");
    }

    stop.shutdown(); // server.shutdown(): returns at once
    let server = serving.join().expect("the serving thread panicked")?; // server_thread.join()
    let report = server.close()?; // server.server_close(): waits for running handlers
    println!(
        "closed: {} request(s) were still finishing, {} left running",
        report.finished, report.left
    );
    Ok(())
}
