//! TEMPORARY stub, replaced by the real module on merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapType {
    Int,
    Float,
    String,
}
pub fn capture_types(_re2: &str) -> Result<Vec<CapType>, String> {
    Ok(vec![])
}
