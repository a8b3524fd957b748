//! The chat in a browser: one small page and a WebSocket at `/ws`, served by the chat
//! server itself (`sockserv chat --web HOST:PORT`).
//!
//! Each connection starts as an HTTP/1.1 request ([`WebSession`]): `GET /` is the page
//! (with `/chat.css` and `/chat.js`, all compiled into the binary), `GET /ws` upgrades to
//! a WebSocket whose text messages are chat lines ([`socket::WsSession`] around a
//! [`ChatSession`]); anything else is an HTTP error, and the connection closes after
//! every answer that is not an upgrade. Browser members are members like any other.

mod keepalive;
mod pipe;
mod request;
mod socket;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use sockserv::{Output, PeerAddr, Session, SessionFactory, SessionWaker};

use self::keepalive::Registration;
pub use self::keepalive::Ticker;
use self::request::{Parsed, Status};
pub use self::socket::{WsLimits, WsSession};
use super::{ChatRoom, ChatSession};

const INDEX_HTML: &str = include_str!("web/page/index.html");
const CHAT_CSS: &str = include_str!("web/page/chat.css");
const CHAT_JS: &str = include_str!("web/page/chat.js");

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
    ticker: Arc<Ticker>,
}

impl WebChat {
    /// The page and WebSocket in front of `room`.
    ///
    /// # Errors
    ///
    /// When the keep-alive thread cannot be started.
    pub fn new(room: ChatRoom, config: WebConfig) -> std::io::Result<WebChat> {
        // Ticks at half the interval (a quiet peer is pinged within 1.5 intervals), but
        // not more often than every 10 ms whatever the flag says.
        let period = config
            .limits
            .ping_interval
            .map(|i| (i / 2).max(Duration::from_millis(10)));
        Ok(WebChat::with_ticker(room, config, Ticker::start(period)?))
    }

    /// [`WebChat::new`] with the ticker given (tests pass one without a thread, and
    /// deliver its ticks themselves).
    fn with_ticker(room: ChatRoom, config: WebConfig, ticker: Arc<Ticker>) -> WebChat {
        WebChat {
            room,
            config: Arc::new(config),
            ticker,
        }
    }

    /// Wakes every web connection after the room began shutting down: WebSockets send
    /// their close frame (1001), connections still waiting for a request close. (A
    /// server drain does this through each Session's `on_shutdown`.)
    #[cfg(test)]
    pub fn shutdown(&self) {
        self.ticker.wake_all();
    }

    /// A front for a new connection from `peer`.
    pub fn session(&self, peer: &PeerAddr) -> WebSession {
        WebSession {
            web: self.clone(),
            peer: peer.clone(),
            waker: None,
            _registration: None,
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
    /// Keep-alive ticks and the shutdown wake-up, for as long as the connection lives.
    _registration: Option<Registration>,
    state: Front,
}

impl WebSession {
    /// Answers a complete head; `rest` is what followed it (WebSocket frames, maybe).
    fn answer(&mut self, request: &request::Request, rest: &[u8], out: &mut Output) {
        let head_only = request.method == "HEAD";
        let page = match request.path.as_str() {
            "/" | "/index.html" => Some(("text/html; charset=utf-8", INDEX_HTML)),
            "/chat.css" => Some(("text/css; charset=utf-8", CHAT_CSS)),
            "/chat.js" => Some(("text/javascript; charset=utf-8", CHAT_JS)),
            _ => None,
        };
        match (page, request.path.as_str()) {
            (Some(_), _) if !matches!(request.method.as_str(), "GET" | "HEAD") => {
                self.refuse(Status::MethodNotAllowed, out);
            }
            (Some((content_type, body)), _) => {
                out.write(&request::ok(content_type, body, head_only));
                self.finish(out);
            }
            (None, "/ws") => match request.accept_upgrade(&self.web.config.origins) {
                Ok(accept) => self.upgrade(&accept, rest, out),
                Err(status) => self.refuse(status, out),
            },
            (None, _) => self.refuse(Status::NotFound, out),
        }
    }

    fn upgrade(&mut self, accept: &str, rest: &[u8], out: &mut Output) {
        out.write(&request::switching_protocols(accept));
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

    fn refuse(&mut self, status: Status, out: &mut Output) {
        tracing::debug!(peer = %self.peer, ?status, "web request refused");
        out.write(&request::error(status));
        self.finish(out);
    }

    fn finish(&mut self, out: &mut Output) {
        out.close();
        self.state = Front::Done;
    }
}

impl Session for WebSession {
    fn on_open(&mut self, out: &mut Output) {
        // Asked for here, the only place a driver hands out wake-ups; the WebSocket uses
        // it for the room's messages and the keep-alive ticks.
        let waker = out.waker();
        self._registration = Some(self.web.ticker.register(waker.clone()));
        self.waker = Some(waker);
        if self.web.room.is_shutting_down() {
            self.finish(out);
        }
    }

    fn on_data(&mut self, data: &[u8], out: &mut Output) {
        match &mut self.state {
            Front::Head(head) => {
                head.extend_from_slice(data);
                let head = std::mem::take(head);
                match request::parse(&head) {
                    Parsed::Partial => self.state = Front::Head(head),
                    Parsed::Complete(request, len) => self.answer(&request, &head[len..], out),
                    Parsed::Invalid(status) => self.refuse(status, out),
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
