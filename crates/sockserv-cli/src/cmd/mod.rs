//! One module per subcommand.
pub mod bench;
pub mod chat;
pub mod client;
pub mod echo;
pub mod http;
