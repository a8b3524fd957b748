//! The stock servers, written as sans-IO Sessions.
pub mod chat;
pub mod echo;
pub mod http;
pub mod metrics;
