//! The bytecode: the [`Op`] enum (each op's stack effect documented) and its readable dump.
//!
//! The VM is a stack machine over values of four kinds (Int, Float, Bool, String). Besides the
//! stack it keeps per line a `matched` flag (for `otherwise`), a time register (set by
//! `strptime`/`settime`) and the capture locations of every regex that matched.

use crate::check::ir::{Conv, RegexId};
use crate::store::MetricId;
use crate::syntax::ast::BinOp;
use std::fmt;

/// Index into the program's string constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrId(pub u32);

/// Index into the program's compiled `strptime` layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutId(pub u32);

/// A jump target: an index into the code.
pub type Addr = u32;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `[] → [int]`
    PushInt(i64),
    /// `[] → [float]`
    PushFloat(f64),
    /// `[] → [str]`
    PushStr(StrId),
    /// `[] → [bool]`
    PushBool(bool),
    /// `[a] → []`
    Pop,
    /// `[] → [str]`: capture group `.1` of the last match of regex `.0` (`""` if it did not take part).
    Capture(RegexId, u16),
    /// `[] → [bool]`: did capture group `.1` of the last match of regex `.0` take part?
    Defined(RegexId, u16),
    /// `[] → [bool]`: does the regex match the input line?
    MatchLine(RegexId),
    /// `[str] → [bool]`: does the regex match the string?
    MatchStr(RegexId),
    /// `[bool] → [bool]`
    Not,
    /// `[a] → [b]`: a type conversion; fails (runtime error) on a bad string.
    Convert(Conv),
    /// `[int int] → [int]`: `+ - * / % ** << >> & | ^` on Int (`/`, `%` by 0 fail).
    IntOp(BinOp),
    /// `[float float] → [float]`: `+ - * / % **` on Float.
    FloatOp(BinOp),
    /// `[str str] → [str]`
    Concat,
    /// `[int int] → [bool]`
    CmpInt(BinOp),
    /// `[float float] → [bool]`
    CmpFloat(BinOp),
    /// `[str str] → [bool]`: byte-wise lexicographic.
    CmpStr(BinOp),
    /// `[int] → [int]`: bitwise not.
    BitNot,
    /// `[] → []`: jump.
    Jmp(Addr),
    /// `[bool] → [bool]` and jump when false, else `[bool] → []` (`&&`).
    JmpFalseOrPop(Addr),
    /// `[bool] → [bool]` and jump when true, else `[bool] → []` (`||`).
    JmpTrueOrPop(Addr),
    /// `[bool] → []`: a block's condition: `matched := b`; jump when false.
    Cond(Addr),
    /// `[] → []`: `matched := b`.
    SetMatched(bool),
    /// `[] → []`: `matched := !matched` (start of `otherwise`).
    Otherwise,
    /// `[] → []`: jump when `!matched`.
    JmpNotMatched(Addr),
    /// `[] → []`: end this line for this program.
    Stop,
    /// `[k1…kn] → [value]`: read a datum (created when missing).
    Load(MetricId, u8),
    /// `[k1…kn v] → []`
    Set(MetricId, u8),
    /// `[k1…kn v] → []`: add (Int, Float) or append (String).
    Add(MetricId, u8),
    /// `[k1…kn] → []`
    Inc(MetricId, u8),
    /// `[k1…kn] → []`
    Dec(MetricId, u8),
    /// `[k1…kn float] → []`: histogram observation.
    Observe(MetricId, u8),
    /// `[k1…kn] → []`: remove the datum.
    Del(MetricId, u8),
    /// `[k1…kn] → []`: expire the (existing) datum after `.2` ns without update.
    Expire(MetricId, u8, i64),
    /// `[str] → [int]`: byte length.
    Len,
    /// `[str] → [str]`
    Tolower,
    /// `[str int] → [int]`: parse in a base.
    Strtol,
    /// `[new str] → [str]`: replace every match of the regex, literally.
    SubstRegex(RegexId),
    /// `[old new str] → [str]`: replace every occurrence of `old`.
    SubstStr,
    /// `[str] → []`: parse a time with a compiled layout; sets the time register.
    Strptime(LayoutId),
    /// `[str layout] → []`: the same with a layout computed at run time.
    StrptimeDyn,
    /// `[int] → []`: time register := Unix seconds.
    Settime,
    /// `[] → [int]`: time register (or now) as Unix seconds.
    Timestamp,
    /// `[] → [str]`: the name of the line's source.
    Getfilename,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Op::*;
        match self {
            PushInt(i) => write!(f, "push int {i}"),
            PushFloat(x) => write!(f, "push float {x}"),
            PushStr(s) => write!(f, "push str #{}", s.0),
            PushBool(b) => write!(f, "push bool {b}"),
            Pop => write!(f, "pop"),
            Capture(r, g) => write!(f, "capture re{} ${g}", r.0),
            Defined(r, g) => write!(f, "defined re{} ${g}", r.0),
            MatchLine(r) => write!(f, "match line re{}", r.0),
            MatchStr(r) => write!(f, "match str re{}", r.0),
            Not => write!(f, "not"),
            Convert(c) => write!(f, "convert {c:?}"),
            IntOp(op) => write!(f, "int {}", op.as_str()),
            FloatOp(op) => write!(f, "float {}", op.as_str()),
            Concat => write!(f, "concat"),
            CmpInt(op) => write!(f, "cmp int {}", op.as_str()),
            CmpFloat(op) => write!(f, "cmp float {}", op.as_str()),
            CmpStr(op) => write!(f, "cmp str {}", op.as_str()),
            BitNot => write!(f, "bitnot"),
            Jmp(a) => write!(f, "jmp {a}"),
            JmpFalseOrPop(a) => write!(f, "jmp false-or-pop {a}"),
            JmpTrueOrPop(a) => write!(f, "jmp true-or-pop {a}"),
            Cond(a) => write!(f, "cond else {a}"),
            SetMatched(b) => write!(f, "setmatched {b}"),
            Otherwise => write!(f, "otherwise"),
            JmpNotMatched(a) => write!(f, "jmp not-matched {a}"),
            Stop => write!(f, "stop"),
            Load(m, n) => write!(f, "load m{} keys={n}", m.0),
            Set(m, n) => write!(f, "set m{} keys={n}", m.0),
            Add(m, n) => write!(f, "add m{} keys={n}", m.0),
            Inc(m, n) => write!(f, "inc m{} keys={n}", m.0),
            Dec(m, n) => write!(f, "dec m{} keys={n}", m.0),
            Observe(m, n) => write!(f, "observe m{} keys={n}", m.0),
            Del(m, n) => write!(f, "del m{} keys={n}", m.0),
            Expire(m, n, ns) => write!(f, "expire m{} keys={n} after {ns}ns", m.0),
            Len => write!(f, "len"),
            Tolower => write!(f, "tolower"),
            Strtol => write!(f, "strtol"),
            SubstRegex(r) => write!(f, "subst re{}", r.0),
            SubstStr => write!(f, "subst str"),
            Strptime(l) => write!(f, "strptime layout #{}", l.0),
            StrptimeDyn => write!(f, "strptime dynamic"),
            Settime => write!(f, "settime"),
            Timestamp => write!(f, "timestamp"),
            Getfilename => write!(f, "getfilename"),
        }
    }
}
