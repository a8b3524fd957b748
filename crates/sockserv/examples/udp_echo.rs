//! A datagram handler: Python's `DatagramRequestHandler` on a `UDPServer`.
//!
//! Python:
//!
//! ```python
//! class Handler(socketserver.DatagramRequestHandler):
//!     def handle(self):
//!         self.wfile.write(self.rfile.read().upper())
//! server = socketserver.UDPServer(("127.0.0.1", 0), Handler)
//! server.handle_request()
//! ```
//!
//! Run: `cargo run -p sockserv --example udp_echo` (it ends by itself).

use std::net::UdpSocket;
use std::time::Duration;

use sockserv::{Server, Strategy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut server = Server::builder("udp://127.0.0.1:0")
        .strategy(Strategy::Sequential)
        .max_packet_size(8192) // Python's max_packet_size (the default)
        // `request.data()` is `self.rfile`; `reply` is `self.wfile`: what the handler
        // writes there goes back to the sender as one datagram. Nothing written, nothing
        // sent (Python would send an empty datagram).
        .datagram_handler(|request, reply| {
            println!(
                "{} bytes from {}{}",
                request.data().len(),
                request.peer_addr(),
                if request.is_truncated() {
                    " (cut to max_packet_size)"
                } else {
                    ""
                }
            );
            reply.extend(request.data().to_ascii_uppercase());
            Ok(())
        })
        .bind()?;
    let addr = server
        .local_endpoint()
        .socket_addr()
        .expect("a UDP endpoint");
    println!("listening on {}", server.local_endpoint());

    // A client in the same thread: the datagram waits in the server's socket buffer
    // until handle_one() takes it.
    let client = UdpSocket::bind("127.0.0.1:0")?;
    client.set_read_timeout(Some(Duration::from_secs(5)))?;
    for word in ["hello", "datagram"] {
        client.send_to(word.as_bytes(), addr)?;
        server.handle_one(Some(Duration::from_secs(5)))?; // handle_request()
        let mut buf = [0; 64];
        let (n, from) = client.recv_from(&mut buf)?;
        println!("reply from {from}: {}", String::from_utf8_lossy(&buf[..n]));
    }
    server.close()?;
    Ok(())
}
