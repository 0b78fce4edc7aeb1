//! logmill: runs mtail programs over log lines and exports the metrics they compute.
pub mod check;
pub mod syntax;
