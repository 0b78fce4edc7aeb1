//! Syntax: program text → [`ast::Program`] with spans (pest grammar in `grammar/mtail.pest`).

pub mod ast;
pub mod diag;
pub mod limits;
pub mod parse;
pub mod print;
pub mod span;
