//! sockserv: Python's `socketserver`, the Rust way.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod endpoint;
pub mod group;
mod session;

pub use endpoint::{Endpoint, ParseEndpointError, PeerAddr};
pub use session::{Output, Session, SessionFactory, SessionWaker, WakeSource};
