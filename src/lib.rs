//! logmill: runs mtail programs over log lines and exports the metrics they compute.
pub mod check;
pub mod cli;
pub mod compile;
pub mod daemon;
pub mod expect;
pub mod export;
pub mod logging;
pub mod oneshot;
pub mod programs;
pub mod push;
pub mod serve;
pub mod state;
pub mod store;
pub mod syntax;
pub mod tail;
pub mod vm;
