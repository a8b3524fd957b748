//! The chat in a browser: one small page and a WebSocket at `/ws`, served by the chat
//! server itself (`sockserv chat --web HOST:PORT`).
//!
//! Each connection starts as an HTTP/1.1 request ([`WebSession`]): `GET /` is the page
//! (with `/chat.css` and `/chat.js`, all compiled into the binary), `GET /ws` upgrades to
//! a WebSocket whose text messages are chat lines ([`socket::WsSession`] around a
//! [`ChatSession`]); anything else is an HTTP error, and the connection closes after
//! every answer that is not an upgrade. Browser members are members like any other.
//!
//! The HTTP is sockserv-http's: its head parser, its [`Response`] values written by its
//! [`Writer`], its upgrade helpers; `handshake` adds what is WebSocket's own.

mod handshake;
mod pipe;
mod socket;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use sockserv::{Output, PeerAddr, Session, SessionFactory, SessionWaker};
use sockserv_http::request::{parse, Parsed};
use sockserv_http::writer::{Framing, Writer};
use sockserv_http::{Request, Response, Status};

use self::handshake::{method_not_allowed, refusal};
pub use self::socket::{WsLimits, WsSession};
use super::{ChatRoom, ChatSession};

const INDEX_HTML: &str = include_str!("web/page/index.html");
const CHAT_CSS: &str = include_str!("web/page/chat.css");
const CHAT_JS: &str = include_str!("web/page/chat.js");

/// Longest request head accepted; more is 431.
const MAX_HEAD: usize = 8 * 1024;
/// The page's scripts and styles come from this server only; the socket may be ws or wss.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; \
    img-src 'self' data:; frame-ancestors 'none'";

/// How the web endpoints behave.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// WebSocket limits and keep-alive.
    pub limits: WsLimits,
    /// Origins allowed to open the WebSocket (`https://chat.example.org`); empty: any.
    pub origins: Vec<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            limits: WsLimits {
                max_message: 64 * 1024,
                ping_interval: Some(Duration::from_secs(30)),
            },
            origins: Vec::new(),
        }
    }
}

/// The web front of a [`ChatRoom`]: a [`SessionFactory`] for the `--web` endpoints.
#[derive(Clone)]
pub struct WebChat {
    room: ChatRoom,
    config: Arc<WebConfig>,
}

impl WebChat {
    /// The page and WebSocket in front of `room`.
    pub fn new(room: ChatRoom, config: WebConfig) -> WebChat {
        WebChat {
            room,
            config: Arc::new(config),
        }
    }

    /// A front for a new connection from `peer`.
    pub fn session(&self, peer: &PeerAddr) -> WebSession {
        WebSession {
            web: self.clone(),
            peer: peer.clone(),
            waker: None,
            state: Front::Head(Vec::new()),
        }
    }
}

impl SessionFactory for WebChat {
    type Session = WebSession;

    fn open(&self, peer: &PeerAddr) -> WebSession {
        self.session(peer)
    }
}

enum Front {
    /// Reading the request head.
    Head(Vec<u8>),
    /// Upgraded: a chat member over a WebSocket.
    Socket(Box<WsSession<ChatSession>>),
    /// Answered; closing.
    Done,
}

/// One connection to a `--web` endpoint: an HTTP request, then (for `/ws`) a WebSocket.
pub struct WebSession {
    web: WebChat,
    peer: PeerAddr,
    waker: Option<SessionWaker>,
    state: Front,
}

impl WebSession {
    /// Answers a complete head; `rest` is what followed it (WebSocket frames, maybe).
    fn answer(&mut self, request: &Request<'_>, rest: &[u8], out: &mut Output) {
        // A WebSocket needs HTTP/1.1; the page keeps the same one rule (every browser
        // speaks 1.1), so every answer below is framed as 1.1.
        if request.minor != 1 {
            return self.refuse(
                refusal(Status::VERSION_NOT_SUPPORTED, "HTTP/1.1 required"),
                out,
            );
        }
        let path = request.target.split('?').next().unwrap_or_default();
        let page = match path {
            "/" | "/index.html" => Some(("text/html; charset=utf-8", INDEX_HTML)),
            "/chat.css" => Some(("text/css; charset=utf-8", CHAT_CSS)),
            "/chat.js" => Some(("text/javascript; charset=utf-8", CHAT_JS)),
            _ => None,
        };
        match (page, path) {
            (Some(_), _) if !matches!(request.method, "GET" | "HEAD") => {
                self.refuse(method_not_allowed("GET, HEAD"), out);
            }
            (Some((content_type, body)), _) => {
                let response = Response::new(Status::OK)
                    .with_header("Content-Type", content_type)
                    .with_header("Cache-Control", "no-cache")
                    .with_header("X-Content-Type-Options", "nosniff")
                    .with_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                    .with_body(body)
                    .closing();
                write(response, request.is_head(), out);
                self.finish(out);
            }
            (None, "/ws") => match handshake::accept(request, &self.web.config.origins) {
                Ok(switching) => self.upgrade(switching, rest, out),
                Err(refused) => self.refuse(refused, out),
            },
            (None, _) => self.refuse(refusal(Status::NOT_FOUND, "Not found"), out),
        }
    }

    /// Writes the 101 `switching` and hands the connection (and `rest`) to a WebSocket.
    fn upgrade(&mut self, switching: Response, rest: &[u8], out: &mut Output) {
        write(switching, false, out);
        let room = self.web.room.clone();
        let going_away: socket::GoingAway = Arc::new(move || room.is_shutting_down());
        let member = self.web.room.session(&self.peer);
        let mut ws = Box::new(WsSession::new(member, &self.web.config.limits, going_away));
        let waker = self.waker.clone().unwrap_or_else(|| out.waker());
        ws.open(waker, out);
        if !rest.is_empty() {
            ws.on_data(rest, out);
        }
        tracing::debug!(peer = %self.peer, "websocket opened");
        self.state = Front::Socket(ws);
    }

    /// Writes the error `response` and closes.
    fn refuse(&mut self, response: Response, out: &mut Output) {
        tracing::debug!(peer = %self.peer, status = %response.status, "web request refused");
        write(response, false, out);
        self.finish(out);
    }

    fn finish(&mut self, out: &mut Output) {
        out.close();
        self.state = Front::Done;
    }
}

/// Writes `response` to an HTTP/1.1 request (the head only for HEAD): the connection
/// stays open after it unless the response is [closing](Response::closing), which every
/// answer but the 101 is.
fn write(response: Response, head_only: bool, out: &mut Output) {
    let framing = Framing {
        keep_alive: !response.close,
        minor: 1,
        head_only,
    };
    Writer::new().write(response, framing, out);
}

impl Session for WebSession {
    fn on_open(&mut self, out: &mut Output) {
        // Asked for here, the only place a driver hands out wake-ups; the WebSocket uses
        // it for the room's messages.
        self.waker = Some(out.waker());
        if self.web.room.is_shutting_down() {
            self.finish(out);
        }
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        match &mut self.state {
            Front::Head(head) => {
                head.extend_from_slice(data);
                let head = std::mem::take(head);
                match parse(&head, MAX_HEAD) {
                    Parsed::Partial => {}
                    Parsed::Complete(request, len) => self.answer(&request, &head[len..], out),
                    Parsed::Invalid(reject) => {
                        self.refuse(refusal(reject.status, &reject.message), out);
                    }
                }
                if let Front::Head(pending) = &mut self.state {
                    *pending = head;
                }
            }
            Front::Socket(ws) => ws.on_data(data, out),
            Front::Done => {}
        }
    }

    fn on_eof(&mut self, out: &mut Output) {
        match &mut self.state {
            Front::Socket(ws) => ws.on_eof(out),
            _ => self.finish(out),
        }
    }

    fn on_wake(&mut self, out: &mut Output) {
        match &mut self.state {
            Front::Socket(ws) => ws.on_wake(out),
            // Shutting down: a request that has not come yet is not waited for.
            Front::Head(_) if self.web.room.is_shutting_down() => self.finish(out),
            _ => {}
        }
    }

    fn on_drained(&mut self, out: &mut Output) {
        if let Front::Socket(ws) = &mut self.state {
            ws.on_drained(out);
        }
    }

    /// The WebSocket's keep-alive (the only timer set on a web connection).
    fn on_timer(&mut self, out: &mut Output) {
        if let Front::Socket(ws) = &mut self.state {
            ws.on_timer(out);
        }
    }

    /// The server drains: the room says goodbye (a WebSocket sends its close frame), a
    /// request that has not come yet is not waited for.
    fn on_shutdown(&mut self, out: &mut Output) {
        self.web.room.shutdown();
        self.on_wake(out);
    }

    fn on_close(&mut self) {
        if let Front::Socket(ws) = &mut self.state {
            ws.on_close();
        }
    }
}
