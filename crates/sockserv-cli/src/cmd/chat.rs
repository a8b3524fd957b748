//! `sockserv chat`: the chat room Session on every stream endpoint, and its web front.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use sockserv::bus::Bus;
use sockserv::Builder;
use sockserv_redis::{BusConfig, RedisBus};

use crate::apps::chat::web::{WebChat, WebConfig, WsLimits};
use crate::apps::chat::{ChatConfig, ChatRoom};
use crate::cli::{BusArgs, ChatArgs, ServeArgs};
use crate::metrics::AppMetrics;
use crate::serving::{serve_all_with, tls_acceptor, Extra};

/// Runs one chat room, shared by every `--listen` and `--web` endpoint, until
/// SIGINT/SIGTERM.
pub fn run(args: &ChatArgs) -> Result<ExitCode> {
    let config = ChatConfig {
        max_line: usize::try_from(args.max_line)?,
        max_queue: usize::try_from(args.max_queue)?,
    };
    let tls = tls_acceptor(&args.serve)?;
    let room = ChatRoom::new(config);
    let bus = join_bus(&args.bus, &room)?;
    let web = WebChat::new(
        room.clone(),
        WebConfig {
            limits: WsLimits {
                max_message: usize::try_from(args.web.web_max_message)?,
                ping_interval: ServeArgs::limit(args.web.web_ping),
            },
            origins: args.web.web_origin.clone(),
        },
    );
    let build_web = |builder: Builder| {
        match &tls {
            Some(tls) => builder.session_factory(tls.wrap(web.clone())),
            None => builder.session_factory(web.clone()),
        }
        .needs_shared_state()
    };
    let extra = (!args.web.web.is_empty()).then(|| Extra {
        endpoints: &args.web.web,
        scheme: if tls.is_some() { "https" } else { "http" },
        build: &build_web,
    });
    let served = serve_all_with(
        &args.serve,
        Some("a chat member is a connection"),
        |builder: Builder| {
            match &tls {
                Some(tls) => builder.session_factory(tls.wrap(room.clone())),
                None => builder.session_factory(room.clone()),
            }
            .needs_shared_state()
        },
        extra,
        // Every member's Session hears the drain (`on_shutdown`) and says goodbye.
        || {},
        AppMetrics::Chat(room.clone()),
    );
    // After the members have left (their leaves are queued for the other nodes): send
    // what is queued, leave the room.
    if let Some(bus) = bus {
        bus.close();
    }
    served
}

/// Starts the Redis bus for `--bus` and joins the room to it.
fn join_bus(args: &BusArgs, room: &ChatRoom) -> Result<Option<Arc<RedisBus>>> {
    let Some(url) = &args.bus else {
        return Ok(None);
    };
    let mut config = BusConfig::new(&args.room);
    config.max_len = args.bus_max_len;
    config.max_queue = usize::try_from(args.bus_queue)?;
    let bus = Arc::new(RedisBus::start(url, config, room.bus_handler())?);
    let stats = Arc::clone(&bus);
    room.attach_bus(Arc::clone(&bus) as Arc<dyn Bus>, move || stats.stats());
    eprintln!("room {} on {url} (node {})", args.room, bus.node());
    Ok(Some(bus))
}
