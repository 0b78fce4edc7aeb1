//! TEMPORARY stub, replaced by the real parser on merge.
use super::ast::Program;
use super::diag::Diagnostic;
pub fn parse(_src: &str) -> Result<Program, Vec<Diagnostic>> {
    Err(vec![])
}
