//! `sockserv chat`: the chat room Session on every stream endpoint.

use std::process::ExitCode;

use anyhow::{bail, Result};
use sockserv::Server;

use crate::apps::chat::{ChatConfig, ChatRoom};
use crate::cli::ChatArgs;
use crate::serving::{serve_all, tls_acceptor};

/// Runs one chat room, shared by every `--listen` endpoint, until SIGINT/SIGTERM.
pub fn run(args: &ChatArgs) -> Result<ExitCode> {
    if let Some(endpoint) = args.serve.listen.iter().find(|e| e.is_datagram()) {
        bail!("chat needs a stream endpoint (tcp:// or unix:), not {endpoint}: a chat member is a connection");
    }
    let config = ChatConfig {
        max_line: usize::try_from(args.max_line)?,
        max_queue: usize::try_from(args.max_queue)?,
    };
    let tls = tls_acceptor(&args.serve)?;
    let room = ChatRoom::new(config);
    let stop_room = room.clone();
    serve_all(
        &args.serve,
        |endpoint| {
            let builder = Server::builder(endpoint.clone());
            match &tls {
                Some(tls) => builder.session(tls.wrap(room.clone())),
                None => builder.session(room.clone()),
            }
            .needs_shared_state()
        },
        move || stop_room.shutdown(),
    )
}
