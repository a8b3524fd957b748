//! tokio's canonical echo server (accept loop, a task per connection, a 1024-byte
//! read/write_all loop) on a `current_thread` runtime, so it uses one core.
//!
//! Usage: `tokio-echo [PORT]` (0 or nothing picks a free port). Prints
//! `listening on tcp://127.0.0.1:PORT` to stderr once it accepts.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "usage: tokio-echo [PORT]")
        })?,
        None => 0,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("listening on tcp://{}", listener.local_addr()?);

    loop {
        let (mut socket, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut buf = vec![0; 1024];
            loop {
                let n = match socket.read(&mut buf).await {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(_) => return,
                };
                if socket.write_all(&buf[0..n]).await.is_err() {
                    return;
                }
            }
        });
    }
}
