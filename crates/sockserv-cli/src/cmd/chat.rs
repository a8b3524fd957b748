//! `sockserv chat`: the chat room Session on every stream endpoint.

use std::process::ExitCode;

use anyhow::Result;
use sockserv::Builder;

use crate::apps::chat::{ChatConfig, ChatRoom};
use crate::cli::ChatArgs;
use crate::metrics::AppMetrics;
use crate::serving::{serve_all, tls_acceptor};

/// Runs one chat room, shared by every `--listen` endpoint, until SIGINT/SIGTERM.
pub fn run(args: &ChatArgs) -> Result<ExitCode> {
    let config = ChatConfig {
        max_line: usize::try_from(args.max_line)?,
        max_queue: usize::try_from(args.max_queue)?,
    };
    let tls = tls_acceptor(&args.serve)?;
    let room = ChatRoom::new(config);
    let stop_room = room.clone();
    serve_all(
        &args.serve,
        Some("a chat member is a connection"),
        |builder: Builder| {
            match &tls {
                Some(tls) => builder.session_factory(tls.wrap(room.clone())),
                None => builder.session_factory(room.clone()),
            }
            .needs_shared_state()
        },
        move || stop_room.shutdown(),
        AppMetrics::Chat(room.clone()),
    )
}
