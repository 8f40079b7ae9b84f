//! tcpsim-tokio (work in progress).
mod runtime;
