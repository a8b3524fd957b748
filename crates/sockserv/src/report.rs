//! What a server reports about the requests it serves: the error and close hooks'
//! arguments, its counters, and what [`Server::handle_one`](crate::Server::handle_one)
//! and [`Server::close`](crate::Server::close) return.
//!
//! | item | reported by |
//! |---|---|
//! | [`ConnError`], its [`Failure`] | the error hook ([`Builder::on_error`](crate::Builder::on_error)) |
//! | [`Closed`] | the close hook ([`Builder::on_close`](crate::Builder::on_close)), one per connection |
//! | [`Stats`], [`StatsSnapshot`] | [`Server::stats`](crate::Server::stats), readable while it serves |
//! | [`Outcome`] | [`Server::handle_one`](crate::Server::handle_one) |
//! | [`CloseReport`] | [`Server::close`](crate::Server::close) |

pub use crate::error::{ConnError, Failure};
pub use crate::server::Outcome;
pub use crate::stats::{Closed, Stats, StatsSnapshot};
pub use crate::strategy::CloseReport;
