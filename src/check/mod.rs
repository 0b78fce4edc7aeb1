//! Check: symbols and scopes, decorators, types (capture groups included) and diagnostics.
//!
//! [`check`] takes a parsed program to a [`ir::Checked`] program, or every error found.

pub mod captype;
mod checker;
pub mod duration;
pub mod ir;
pub mod pattern;
pub mod print;

pub use checker::check;
