//! The stock servers, written as sans-IO Sessions.
pub mod chat;
pub mod echo;
pub mod metrics;
