//! Static checks of a parsed program: patterns and the types of their capture groups.
pub mod captype;
pub mod pattern;
