//! `sockserv`: echo and chat servers, a client and a load generator.
mod apps;
mod cmd;

fn main() {}
