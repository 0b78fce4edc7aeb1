//! The abstract syntax tree of an mtail program, exactly as written (no types, no resolution).
//!
//! Every node carries the [`Span`] of the text it came from so later stages can point at it.
//! Decorators are not expanded here and names are not resolved: that is the checker's job.

use super::span::Span;

/// A name as written, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole program: its top-level statements in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    pub stmts: Vec<Stmt>,
}

/// `{ … }`: a list of statements; `span` covers the braces.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `[hidden] counter NAME by … as "…" buckets … limit N`
    Metric(MetricDecl),
    /// `const NAME /re/ + …`
    Const(ConstDecl),
    /// `def NAME { … next … }`
    Def(DefDecl),
    /// `@NAME { … }`
    Decorate(Decoration),
    /// `COND { … } [else { … }]`
    Cond(CondStmt),
    /// `otherwise { … }`; the span covers the keyword.
    Otherwise(Block, Span),
    /// An expression statement: assignment, `x++`, a builtin call.
    Expr(Expr),
    /// `del m[k…] [after DURATION]`
    Del(DelStmt),
    /// `next` (only inside a `def`).
    Next(Span),
    /// `stop`
    Stop(Span),
    /// `log_filter NAME, …` (names or strings); the span covers the keyword.
    LogFilter(Vec<Ident>, Span),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Counter,
    Gauge,
    Timer,
    Text,
    Histogram,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Timer => "timer",
            MetricKind::Text => "text",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// A metric declaration. Attribute clauses may repeat in the source; the last one wins.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDecl {
    pub kind: MetricKind,
    pub hidden: bool,
    /// The name as declared (an identifier, or the contents of a string literal).
    pub name: Ident,
    /// `as "exported-name"`: the string's contents and the span of the literal.
    pub export_name: Option<(String, Span)>,
    /// `by k1, "k2"`: label keys in order.
    pub keys: Vec<Ident>,
    /// `buckets b1, b2, …`: each boundary's value and span (int or float literals, maybe negative).
    pub buckets: Option<Vec<(f64, Span)>>,
    /// `limit N`
    pub limit: Option<(i64, Span)>,
    /// The whole declaration.
    pub span: Span,
}

/// `const NAME pattern`
#[derive(Debug, Clone, PartialEq)]
pub struct ConstDecl {
    pub name: Ident,
    pub pattern: PatternExpr,
    pub span: Span,
}

/// `def NAME { … }`
#[derive(Debug, Clone, PartialEq)]
pub struct DefDecl {
    pub name: Ident,
    pub body: Block,
    pub span: Span,
}

/// `@NAME { … }`
#[derive(Debug, Clone, PartialEq)]
pub struct Decoration {
    pub name: Ident,
    pub body: Block,
    pub span: Span,
}

/// `COND { … } [else { … }]`
#[derive(Debug, Clone, PartialEq)]
pub struct CondStmt {
    pub cond: Expr,
    pub then: Block,
    pub otherwise: Option<Block>,
    pub span: Span,
}

/// `del TARGET [after DURATION]`
#[derive(Debug, Clone, PartialEq)]
pub struct DelStmt {
    pub target: Expr,
    /// The duration text as written after `after` (e.g. `"168h"`), validated by the checker.
    pub after: Option<(String, Span)>,
    pub span: Span,
}

/// A pattern: regex literals and const names joined with `+`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternExpr {
    pub parts: Vec<PatternPart>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PatternPart {
    /// `/…/` with `\/` already turned into `/`; every other escape is kept as written.
    Regex(String, Span),
    /// A `const` name used in a concatenation.
    Const(Ident),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    /// A string literal's contents (`\"` turned into `"`, other escapes kept verbatim).
    Str(String),
    /// A pattern in expression position: a condition, a `subst` argument, the right of `=~`.
    Pattern(PatternExpr),
    /// A bare name: a metric or a const.
    Id(String),
    /// `base[k1][k2]` or `base[k1, k2]`, flattened: all keys in order.
    Index {
        base: Box<Expr>,
        keys: Vec<Expr>,
    },
    /// `$name` or `$3` (the text after `$`).
    CapRef(String),
    /// A builtin call.
    Call {
        builtin: Builtin,
        args: Vec<Expr>,
    },
    /// `~x`
    BitNot(Box<Expr>),
    /// `x++` / `x--`
    Postfix {
        op: IncDec,
        expr: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `lhs =~ rhs` / `lhs !~ rhs`
    Match {
        negated: bool,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `lhs = rhs` / `lhs += rhs`
    Assign {
        op: AssignOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncDec {
    Inc,
    Dec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOp {
    Assign,
    AddAssign,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Shl,
    Shr,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitOr,
    BitXor,
    And,
    Or,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "**",
            Shl => "<<",
            Shr => ">>",
            Lt => "<",
            Gt => ">",
            Le => "<=",
            Ge => ">=",
            Eq => "==",
            Ne => "!=",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            And => "&&",
            Or => "||",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    Bool,
    /// `defined($x)`: did capture group `$x` take part in the match (mtail 3.4)?
    Defined,
    Float,
    GetFilename,
    Int,
    Len,
    Settime,
    String,
    Strptime,
    Strtol,
    Subst,
    Timestamp,
    Tolower,
}

impl Builtin {
    pub const ALL: [Builtin; 13] = [
        Builtin::Bool,
        Builtin::Defined,
        Builtin::Float,
        Builtin::GetFilename,
        Builtin::Int,
        Builtin::Len,
        Builtin::Settime,
        Builtin::String,
        Builtin::Strptime,
        Builtin::Strtol,
        Builtin::Subst,
        Builtin::Timestamp,
        Builtin::Tolower,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Builtin::Bool => "bool",
            Builtin::Defined => "defined",
            Builtin::Float => "float",
            Builtin::GetFilename => "getfilename",
            Builtin::Int => "int",
            Builtin::Len => "len",
            Builtin::Settime => "settime",
            Builtin::String => "string",
            Builtin::Strptime => "strptime",
            Builtin::Strtol => "strtol",
            Builtin::Subst => "subst",
            Builtin::Timestamp => "timestamp",
            Builtin::Tolower => "tolower",
        }
    }

    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.as_str() == name)
    }
}
