//! The checked program: names resolved, decorators inlined, every expression typed and every
//! implicit conversion explicit. Codegen turns this tree into bytecode without further checks.

use crate::store::{MetricDef, MetricId};
use crate::syntax::ast::{BinOp, Builtin};
use crate::syntax::span::Span;

/// Index of a regex in [`Checked::regexes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegexId(pub u16);

/// The types of mtail values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// What `strptime`/`settime` return: nothing.
    None,
    Bool,
    Int,
    Float,
    String,
    Pattern,
}

impl Type {
    pub fn as_str(self) -> &'static str {
        match self {
            Type::None => "None",
            Type::Bool => "Bool",
            Type::Int => "Int",
            Type::Float => "Float",
            Type::String => "String",
            Type::Pattern => "Pattern",
        }
    }

    fn rank(self) -> u8 {
        match self {
            Type::None => 0,
            Type::Bool => 1,
            Type::Int => 2,
            Type::Float => 3,
            Type::String => 4,
            Type::Pattern => 5,
        }
    }

    /// Least upper bound: Bool ⊂ Int ⊂ Float ⊂ String ⊂ Pattern (None is the bottom).
    pub fn lub(self, other: Type) -> Type {
        if self.rank() >= other.rank() {
            self
        } else {
            other
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }
}

/// A regex of the program: its RE2 source and what the checker learned about it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegexDef {
    /// The pattern as mtail sees it (fragments concatenated).
    pub source: String,
    /// The same pattern for Rust's regex engine (ASCII `\d \w \s \b`).
    pub translated: String,
    /// Does it always run against the whole input line?
    pub on_line: bool,
    pub span: Span,
}

/// The output of the checker, the input of codegen.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub metrics: Vec<MetricDef>,
    /// Where each metric's name is declared, by the index of `metrics`.
    pub metric_spans: Vec<Span>,
    pub regexes: Vec<RegexDef>,
    pub body: Vec<Stmt>,
    /// `log_filter`: the only logs the program reads (every log when empty).
    pub log_filter: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `cond { then } [else { otherwise }]`
    Cond {
        cond: Expr,
        then: Vec<Stmt>,
        otherwise: Option<Vec<Stmt>>,
    },
    /// `otherwise { body }`
    Otherwise(Vec<Stmt>),
    /// An expression run for its effect (`strptime(…)`, `settime(…)`).
    Eval(Expr),
    /// A write to a metric's datum.
    Update {
        metric: MetricId,
        keys: Vec<Expr>,
        op: Update,
    },
    /// `del m[k…]`, or with `after` an expiry in ns.
    Del {
        metric: MetricId,
        keys: Vec<Expr>,
        after_ns: Option<i64>,
    },
    Stop,
}

/// How a metric's datum changes; values already have the metric's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Set(Expr),
    Add(Expr),
    Inc,
    Dec,
    /// `hist = v`: record a Float observation.
    Observe(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

/// Conversions between value types (mtail's S2i, S2f, I2f, I2s, F2s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    StrToInt,
    StrToFloat,
    IntToFloat,
    IntToStr,
    FloatToStr,
    /// Non-zero is true.
    IntToBool,
    BoolToInt,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Str(String),
    /// The text of capture group `group` of the last match of `regex` (always a String here;
    /// typed captures are wrapped in a [`ExprKind::Convert`]).
    Capture {
        regex: RegexId,
        group: u16,
    },
    /// Did capture group `group` take part in the last match of `regex`?
    Defined {
        regex: RegexId,
        group: u16,
    },
    /// Read a metric's datum (created when missing).
    Load {
        metric: MetricId,
        keys: Vec<Expr>,
    },
    /// Match `regex` against `subject` (the input line when `None`).
    Match {
        regex: RegexId,
        subject: Option<Box<Expr>>,
        negated: bool,
    },
    Convert {
        conv: Conv,
        expr: Box<Expr>,
    },
    /// `+ - * / % **` (Int or Float, per `ty`), `<< >> & | ^` (Int).
    Arith {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// String concatenation.
    Concat(Box<Expr>, Box<Expr>),
    /// `< > <= >= == !=` over operands of type `operand`.
    Compare {
        op: BinOp,
        operand: Type,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `~x`
    BitNot(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// A builtin; for `subst` with a regex, the regex; for `strptime`, arguments as given.
    Call {
        builtin: Builtin,
        args: Vec<Expr>,
        regex: Option<RegexId>,
    },
}
