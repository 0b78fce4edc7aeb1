//! The two language limits mtail lets its users raise: `--max_recursion_depth` (nesting of
//! blocks and expressions) and `--max_regexp_length` (bytes of one regular expression).
//!
//! They are process-wide settings, set once from the command line before any program is
//! compiled ([`set`]) and read by the parser and the checker; every compile (startup, reload,
//! `check`, `test`) sees the same values.

use std::sync::atomic::{AtomicUsize, Ordering};

/// mtail's default `--max_recursion_depth`.
pub const DEFAULT_MAX_RECURSION_DEPTH: usize = 100;
/// mtail's default `--max_regexp_length`, in bytes.
pub const DEFAULT_MAX_REGEXP_LENGTH: usize = 1024;
/// The deepest `--max_recursion_depth` accepted: the parser recurses once per level, and this
/// many levels fit well in the stack of any thread that compiles programs.
pub const MAX_RECURSION_DEPTH_CAP: usize = 1000;

static RECURSION_DEPTH: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_RECURSION_DEPTH);
static REGEXP_LENGTH: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_REGEXP_LENGTH);

/// The limits a compile applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of blocks plus expression height.
    pub max_recursion_depth: usize,
    /// Longest regular expression, in bytes.
    pub max_regexp_length: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_recursion_depth: DEFAULT_MAX_RECURSION_DEPTH,
            max_regexp_length: DEFAULT_MAX_REGEXP_LENGTH,
        }
    }
}

/// Set the limits for every later compile (the depth is capped at [`MAX_RECURSION_DEPTH_CAP`]).
pub fn set(limits: Limits) {
    RECURSION_DEPTH.store(
        limits.max_recursion_depth.min(MAX_RECURSION_DEPTH_CAP),
        Ordering::Relaxed,
    );
    REGEXP_LENGTH.store(limits.max_regexp_length, Ordering::Relaxed);
}

/// The limits in force.
pub fn get() -> Limits {
    Limits {
        max_recursion_depth: RECURSION_DEPTH.load(Ordering::Relaxed),
        max_regexp_length: REGEXP_LENGTH.load(Ordering::Relaxed),
    }
}

/// mtail's message for a program nested deeper than the limit.
pub fn depth_message(max: usize) -> String {
    format!("Expression exceeded maximum recursion depth of {max}")
}
