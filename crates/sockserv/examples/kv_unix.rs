//! A key-value store on a Unix socket, as a blocking handler: `SET key value`, `GET key`,
//! `DEL key`, one per line of at most 1 KiB. Ctrl-C stops it cleanly: clients get 5 s to
//! finish, and the socket file is removed. Run: `cargo run -p sockserv --example kv_unix
//! -- /tmp/kv.sock`, then `nc -U /tmp/kv.sock`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use sockserv::{Conn, Server};

fn handle(conn: &mut Conn, store: &Mutex<HashMap<String, String>>) -> std::io::Result<()> {
    // A longer line ends the connection with an error (`read_line_max` tells it apart).
    while let Some(line) = conn.next_line(1024)? {
        let mut db = store.lock().unwrap();
        let reply = match line.splitn(3, ' ').collect::<Vec<_>>()[..] {
            ["SET", k, v] => db
                .insert(k.into(), v.into())
                .map_or("OK", |_| "OK replaced"),
            ["GET", k] => db.get(k).map_or("(nil)", String::as_str),
            ["DEL", k] => db.remove(k).map_or("0", |_| "1"),
            _ => "ERR expected SET key value, GET key or DEL key (at most 1024 bytes)",
        }
        .to_owned();
        drop(db); // not held while writing to a client that may be slow to read
        writeln!(conn, "{reply}")?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/kv.sock".into());
    let store = Mutex::default();
    let server = Server::builder(format!("unix:{path}"))
        .handler(move |conn| handle(conn, &store))
        .bind()?;
    println!("listening on {}", server.local_endpoint());
    let report = server.serve_until_signal(Duration::from_secs(5))?;
    println!("stopped: {} finished, {} cut", report.finished, report.cut);
    Ok(())
}
