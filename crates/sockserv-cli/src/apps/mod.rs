//! The stock servers, written as sans-IO Sessions (HTTP ones on sockserv-http).
pub mod chat;
pub mod echo;
pub mod metrics;
