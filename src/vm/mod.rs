//! The virtual machine: runs a compiled program over each log line.

pub mod strptime;
