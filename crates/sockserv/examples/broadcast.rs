//! A broadcast server on `Group`: every byte a client sends goes to every other client.
//! Each member may fall at most 1 MiB behind (queued plus unsent): a client that stops
//! reading is dropped, and never slows the others or grows the server.
//!
//! Run: `cargo run -p sockserv --example broadcast -- tcp://127.0.0.1:9000 events`, then
//! `nc 127.0.0.1 9000` in two terminals. The second argument is the strategy.

use std::time::Duration;

use sockserv::{Group, Member, Output, Server, Session};

struct Broadcast(Group, Option<Member>);

impl Session for Broadcast {
    fn on_open(&mut self, out: &mut Output) {
        self.1 = Some(self.0.join(out.waker()));
        out.write(b"joined\n");
    }

    fn on_data(&mut self, data: &[u8], _out: &mut Output) {
        self.1.as_ref().map(|me| me.send_others(data));
    }

    fn on_wake(&mut self, out: &mut Output) {
        // Past the bound, this discards the backlog and closes the connection.
        self.1.as_ref().map(|me| me.drain_into(out));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "tcp://127.0.0.1:9000".into());
    let strategy = args.next().unwrap_or_else(|| "threads".into()).parse()?;
    let group = Group::new(1 << 20);
    let server = Server::builder(endpoint)
        .strategy(strategy)
        .needs_shared_state()
        .session(move |_peer| Broadcast(group.clone(), None))
        .bind()?;
    println!("listening on {}", server.local_endpoint());
    server.serve_until_signal(Duration::from_secs(1))?;
    Ok(())
}
