//! The chat room Session.
