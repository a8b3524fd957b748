//! [`Builder::bind`]'s first and last steps: `validate` makes every refusal before any
//! socket exists; `wire` turns a bound listener into a serving [`Server`].

use std::sync::Arc;

use super::{Builder, Handler, Source};
use crate::endpoint::Endpoint;
use crate::error::{Error, Unsupported};
use crate::proxied::ProxyConfig;
use crate::pump::ConnSettings;
use crate::request::{CloseHook, Context, ErrorHook, Service, TickHook, TimeoutHook, VerifyFn};
use crate::server::drain::Live;
use crate::server::{Server, Setup};
use crate::stats::Stats;
use crate::strategy::{ClosePolicy, Strategy};
use crate::transport::{Listener, SocketOptions};

/// Where the server will listen, once every check has passed.
pub(super) enum Target {
    /// Bind this endpoint.
    Bind(Endpoint),
    /// Serve this already-bound listener.
    Adopt(Listener),
}

/// A configuration that passed every check: what `wire` needs after the bind.
pub(super) struct Plan {
    pub(super) options: SocketOptions,
    strategy: Strategy,
    close_policy: ClosePolicy,
    settings: ConnSettings,
    max_packet_size: usize,
    max_connections: Option<usize>,
    proxy: Option<ProxyConfig>,
    service: Service,
    verify: Option<Arc<VerifyFn>>,
    on_error: ErrorHook,
    on_close: Option<CloseHook>,
    on_timeout: Option<TimeoutHook>,
    on_tick: Option<(std::time::Duration, TickHook)>,
}

impl Builder {
    /// Every refusal `bind` can make, made before any socket is created (an adopted
    /// listener is closed again by dropping it).
    pub(super) fn validate(self) -> Result<(Target, Plan), Error> {
        let Builder {
            source,
            options,
            strategy,
            close_policy,
            settings,
            max_packet_size,
            max_connections,
            shared_state,
            proxy,
            handler,
            verify,
            on_error,
            on_close,
            on_timeout,
            on_tick,
        } = self;
        let target = match source {
            Source::Endpoint(endpoint) => Target::Bind(endpoint?),
            Source::Listener(listener) => Target::Adopt(listener),
        };
        let handler = handler.ok_or(Error::NoHandler)?;
        refuse_strategy(strategy, shared_state)?;
        let (endpoint, datagram) = match &target {
            Target::Bind(endpoint) => (endpoint, endpoint.is_datagram()),
            Target::Adopt(listener) => (listener.local_endpoint(), listener.is_datagram()),
        };
        let endpoint = || endpoint.clone();
        if let (Target::Bind(Endpoint::Unix(_) | Endpoint::UnixDatagram(_)), true) =
            (&target, options.reuse_port)
        {
            return Err(Unsupported::ReusePortOnUnix {
                endpoint: endpoint(),
            }
            .into());
        }
        let blocking = !matches!(handler, Handler::Session(_));
        if let (Strategy::Events { .. }, true, false) = (strategy, blocking, datagram) {
            return Err(Unsupported::BlockingHandlerUnderEvents.into());
        }
        let service = match (handler, datagram) {
            (Handler::Session(open), _) => Service::Session(open),
            (Handler::Stream(h), false) => Service::Stream(h),
            (Handler::Datagram(h), true) => Service::Datagram(h),
            (Handler::Stream(_), true) => {
                return Err(Unsupported::StreamHandlerOnDatagram {
                    endpoint: endpoint(),
                }
                .into())
            }
            (Handler::Datagram(_), false) => {
                return Err(Unsupported::DatagramHandlerOnStream {
                    endpoint: endpoint(),
                }
                .into())
            }
        };
        if proxy.is_some() && datagram {
            return Err(Unsupported::ProxyProtocolOnDatagram {
                endpoint: endpoint(),
            }
            .into());
        }
        let plan = Plan {
            options,
            strategy,
            close_policy,
            settings,
            max_packet_size,
            max_connections,
            proxy,
            service,
            verify,
            on_error,
            on_close,
            on_timeout,
            on_tick,
        };
        Ok((target, plan))
    }
}

/// A strategy that cannot serve at all, or cannot serve this handler.
fn refuse_strategy(strategy: Strategy, shared_state: bool) -> Result<(), Unsupported> {
    match strategy {
        Strategy::Fork { .. } if shared_state => {
            Err(Unsupported::SharedStateUnderFork { strategy })
        }
        Strategy::Pool { workers: 0 }
        | Strategy::Fork { max_children: 0 }
        | Strategy::Events { loops: 0 } => Err(Unsupported::NoWorkers { strategy }),
        _ => Ok(()),
    }
}

impl Plan {
    /// Builds the shared request context on the bound listener and starts serving.
    pub(super) fn wire(self, listener: Listener) -> Result<Server, Error> {
        let reply = if listener.is_datagram() {
            let socket = listener.datagram_socket().map_err(|source| Error::Bind {
                endpoint: listener.local_endpoint().clone(),
                source,
            })?;
            Some(socket)
        } else {
            None
        };
        let ctx = Arc::new(Context {
            service: self.service,
            on_error: self.on_error,
            on_close: self.on_close,
            stats: Arc::new(Stats::default()),
            settings: self.settings,
            reply,
            verify: self.verify,
            proxy: self.proxy,
            live: Live::default(),
        });
        let setup = Setup {
            ctx,
            strategy: self.strategy,
            close_policy: self.close_policy,
            max_packet_size: self.max_packet_size,
            max_connections: self.max_connections,
            on_timeout: self.on_timeout,
            on_tick: self.on_tick,
        };
        Server::start(listener, setup)
    }
}
