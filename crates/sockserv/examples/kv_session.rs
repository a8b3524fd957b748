//! The key-value store of `kv_unix`, as a line Session under the per-core event loops:
//! thousands of clients without a thread each. `Lines` frames the input (lines of at
//! most 1 KiB: a longer one is answered with an error and dropped, never held whole).
//!
//! Run: `cargo run -p sockserv --example kv_session -- tcp://127.0.0.1:9000`, then
//! `nc 127.0.0.1 9000` and type `SET a 1`, `GET a`. Ctrl-C stops it cleanly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockserv::{BadLine, LineSession, Lines, Output, Server, Strategy};

type Store = Arc<Mutex<HashMap<String, String>>>;

struct Kv(Store);

impl LineSession for Kv {
    fn on_line(&mut self, line: &str, out: &mut Output) {
        let mut db = self.0.lock().unwrap();
        let reply = match line.splitn(3, ' ').collect::<Vec<_>>()[..] {
            ["SET", k, v] => db
                .insert(k.into(), v.into())
                .map_or("OK", |_| "OK replaced"),
            ["GET", k] => db.get(k).map_or("(nil)", String::as_str),
            ["DEL", k] => db.remove(k).map_or("0", |_| "1"),
            _ => "ERR expected SET key value, GET key or DEL key (at most 1024 bytes)",
        };
        out.write(reply.as_bytes());
        out.write(b"\n");
    }

    fn on_bad_line(&mut self, _why: BadLine, out: &mut Output) {
        self.on_line("", out); // answered like any other bad command
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp://127.0.0.1:9000".into());
    let store = Store::default();
    let server = Server::builder(endpoint)
        .strategy(Strategy::events())
        .session(move |_peer| Lines::new(1024, Kv(store.clone())))
        .bind()?;
    println!("listening on {}", server.local_endpoint());
    let report = server.serve_until_signal(Duration::from_secs(5))?;
    println!("stopped: {} finished, {} cut", report.finished, report.cut);
    Ok(())
}
