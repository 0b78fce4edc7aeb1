//! Parser: program text → [`ast::Program`](super::ast::Program), using `grammar/mtail.pest`.
//!
//! pest matches the text against the grammar and hands back a tree of rule matches; this module
//! walks that tree into the AST, computing every span from the tokens it covers. Binary operator
//! precedence is resolved with pest's Pratt parser.
//!
//! The grammar accepts a few mistakes on purpose (a condition with no block, a statement with
//! no effect, an assignment to something that is not a metric) so that they are reported here
//! with mtail's wording. Text the grammar rejects is explained from where pest stopped and what
//! it expected there: an unterminated string or regex, a character that starts no token,
//! indexing of something that is not a name, a missing `}`, or a plain "unexpected X".
//!
//! Nesting is bounded: brackets nested deeper than `--max_recursion_depth` ([`super::limits`]) are rejected before pest
//! runs, and expression trees and blocks deeper than that are rejected while building, so no
//! input can exhaust the stack.

use super::ast::*;
use super::diag::Diagnostic;
use super::limits::depth_message;
use super::span::Span;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;
use std::sync::LazyLock;

mod grammar {
    //! The pest-generated matcher for `grammar/mtail.pest`.
    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/mtail.pest"]
    pub(super) struct MtailParser;
}

use grammar::{MtailParser, Rule};

/// The deepest nesting accepted by default (blocks plus expression tree height), mtail's
/// default `--max_recursion_depth`; [`super::limits`] holds the one in force.
#[cfg(test)]
pub(crate) const MAX_DEPTH: usize = super::limits::DEFAULT_MAX_RECURSION_DEPTH;
const NO_EFFECT_MESSAGE: &str =
    "syntax error: statement with no effect, missing an assignment, `+' concatenation, or `{}' block?";

/// Parse a whole program. Never panics; on failure returns one diagnostic per problem found.
pub fn parse(src: &str) -> Result<Program, Vec<Diagnostic>> {
    let max_depth = super::limits::get().max_recursion_depth;
    if let Some(d) = check_nesting(src, max_depth) {
        return Err(vec![d]);
    }
    let mut pairs = MtailParser::parse(Rule::program, src).map_err(|e| recover(src, e))?;
    let Some(program) = pairs.next() else {
        return Ok(Program::default());
    };
    let builder = Builder { src, max_depth };
    let mut diags = Vec::new();
    let stmts = builder.stmts(program.into_inner(), 0, &mut diags);
    if diags.is_empty() {
        Ok(Program { stmts })
    } else {
        Err(diags)
    }
}

/// The most syntax errors reported for one program.
const MAX_SYNTAX_ERRORS: usize = 20;

/// Report more than the first syntax error: blank the line of each error (when that cannot
/// unbalance a block: it holds no brace) and parse again, keeping errors found further on.
fn recover(src: &str, first: pest::error::Error<Rule>) -> Vec<Diagnostic> {
    let mut diags = vec![syntax_error(src, &first)];
    let mut text = src.to_string();
    while diags.len() < MAX_SYNTAX_ERRORS {
        let at = diags.last().map_or(0, |d| d.span.start).min(text.len());
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        let line = &text[line_start..line_end];
        if line.trim().is_empty() || line.contains(['{', '}']) {
            break;
        }
        // One space per byte, so later errors keep the original text's byte offsets (spans
        // into `src`, on its character boundaries).
        let blank: String = line
            .bytes()
            .map(|b| if b == b'\t' { '\t' } else { ' ' })
            .collect();
        text.replace_range(line_start..line_end, &blank);
        match MtailParser::parse(Rule::program, &text) {
            Ok(_) => break,
            Err(e) => {
                let d = syntax_error(&text, &e);
                if diags
                    .iter()
                    .any(|seen| same_line(&text, seen.span.start, d.span.start))
                {
                    break;
                }
                diags.push(d);
            }
        }
    }
    diags.sort_by_key(|d| d.span.start);
    diags
}

fn same_line(text: &str, a: usize, b: usize) -> bool {
    let (a, b) = (a.min(b), a.max(b).min(text.len()));
    !text[a..b].contains('\n')
}

/// Binary operators below `&&`/`||`, loosest first; each level is left associative.
static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    let left = |r| Op::infix(r, Assoc::Left);
    PrattParser::new()
        .op(left(Rule::bit_and) | left(Rule::bit_or) | left(Rule::bit_xor))
        .op(left(Rule::lt)
            | left(Rule::gt)
            | left(Rule::le)
            | left(Rule::ge)
            | left(Rule::eq)
            | left(Rule::ne))
        .op(left(Rule::shl) | left(Rule::shr))
        .op(left(Rule::add) | left(Rule::sub))
        .op(left(Rule::mul) | left(Rule::div) | left(Rule::mod_) | left(Rule::pow))
});

type Res<T> = Result<T, Diagnostic>;

/// An expression being built, with the height of its tree (a leaf is 1).
struct Node {
    expr: Expr,
    height: usize,
}

impl Node {
    fn new(kind: ExprKind, span: Span, height: usize) -> Node {
        Node {
            expr: Expr { kind, span },
            height,
        }
    }

    fn leaf(kind: ExprKind, span: Span) -> Node {
        Node::new(kind, span, 1)
    }
}

/// How many `~`s and `++`/`--`s an operand has around its primary.
#[derive(Clone, Copy)]
struct Shape {
    prefixes: usize,
    postfixes: usize,
}

fn span_of(p: &Pair<'_, Rule>) -> Span {
    let s = p.as_span();
    Span::new(s.start(), s.end())
}

fn internal(span: Span, what: &str) -> Diagnostic {
    Diagnostic::new(span, format!("internal parser error: {what}"))
}

/// The next pair, or an internal error (the grammar guarantees it is there).
fn next<'i>(it: &mut Pairs<'i, Rule>, at: Span, what: &str) -> Res<Pair<'i, Rule>> {
    it.next()
        .ok_or_else(|| internal(at, &format!("missing {what}")))
}

/// Walks pest's parse tree into the AST.
struct Builder<'s> {
    src: &'s str,
    /// `--max_recursion_depth`.
    max_depth: usize,
}

impl<'s> Builder<'s> {
    fn check_depth(&self, height: usize, level: usize, span: Span) -> Res<()> {
        if level + height > self.max_depth {
            Err(Diagnostic::new(span, depth_message(self.max_depth)))
        } else {
            Ok(())
        }
    }

    // ---- statements -------------------------------------------------------------------

    fn stmts(
        &self,
        pairs: Pairs<'s, Rule>,
        level: usize,
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<Stmt> {
        let mut out = Vec::new();
        for p in pairs {
            match p.as_rule() {
                Rule::EOI | Rule::block_end => {}
                _ => {
                    if let Some(s) = self.stmt(p, level, diags) {
                        out.push(s);
                    }
                }
            }
        }
        out
    }

    fn stmt(&self, p: Pair<'s, Rule>, level: usize, diags: &mut Vec<Diagnostic>) -> Option<Stmt> {
        let span = span_of(&p);
        let result = match p.as_rule() {
            Rule::metric_decl => self.metric_decl(p).map(Stmt::Metric),
            Rule::const_decl => self.const_decl(p).map(Stmt::Const),
            Rule::def_decl => return self.def_decl(p, level, diags),
            Rule::decoration => return self.decoration(p, level, diags),
            Rule::del_stmt => self.del_stmt(p, level).map(Stmt::Del),
            Rule::next_stmt => Ok(Stmt::Next(span)),
            Rule::stop_stmt => Ok(Stmt::Stop(span)),
            Rule::log_filter_stmt => {
                let mut it = p.into_inner();
                let kw = it.next().map_or(span, |k| span_of(&k));
                let names = it.filter_map(|n| n.into_inner().next());
                Ok(Stmt::LogFilter(
                    names.map(|n| name_or_string(&n)).collect(),
                    kw,
                ))
            }
            Rule::otherwise_stmt => return self.otherwise_stmt(p, level, diags),
            Rule::expr_stmt => return self.expr_stmt(p, level, diags),
            _ => Err(internal(span, "unknown statement")),
        };
        result.map_err(|d| diags.push(d)).ok()
    }

    fn block(&self, p: Pair<'s, Rule>, level: usize, diags: &mut Vec<Diagnostic>) -> Block {
        let span = span_of(&p);
        let level = level + 1;
        if level > self.max_depth {
            diags.push(Diagnostic::new(span, depth_message(self.max_depth)));
            return Block {
                stmts: Vec::new(),
                span,
            };
        }
        Block {
            stmts: self.stmts(p.into_inner(), level, diags),
            span,
        }
    }

    /// A statement that starts with an expression: a conditional with its block(s), an
    /// assignment, or an expression statement.
    fn expr_stmt(
        &self,
        p: Pair<'s, Rule>,
        level: usize,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Stmt> {
        let at = span_of(&p);
        let mut it = p.into_inner();
        let Some(cond) = it.next() else {
            diags.push(internal(at, "empty statement"));
            return None;
        };
        let result = match it.next() {
            Some(then) if then.as_rule() == Rule::block => {
                return self.cond_stmt(cond, then, it, level, diags)
            }
            Some(op) => self.assignment(cond, op, it, level),
            None => self.bare_expr(cond, level),
        };
        result.map_err(|d| diags.push(d)).ok()
    }

    /// `COND { … } [else { … }]`; `rest` holds the `else` keyword and block, if any.
    fn cond_stmt(
        &self,
        cond: Pair<'s, Rule>,
        then: Pair<'s, Rule>,
        mut rest: Pairs<'s, Rule>,
        level: usize,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Stmt> {
        let cond = self.cond_expr(cond, level).map_err(|d| diags.push(d)).ok();
        let then = self.block(then, level, diags);
        let otherwise = rest.nth(1).map(|b| self.block(b, level, diags));
        let cond = cond?;
        let end = otherwise.as_ref().map_or(then.span.end, |b| b.span.end);
        let span = Span::new(cond.expr.span.start, end);
        Some(Stmt::Cond(CondStmt {
            cond: cond.expr,
            then,
            otherwise,
            span,
        }))
    }

    fn otherwise_stmt(
        &self,
        p: Pair<'s, Rule>,
        level: usize,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Stmt> {
        let at = span_of(&p);
        let mut it = p.into_inner();
        let (Some(kw), Some(body)) = (it.next(), it.next()) else {
            diags.push(internal(at, "malformed otherwise"));
            return None;
        };
        Some(Stmt::Otherwise(
            self.block(body, level, diags),
            span_of(&kw),
        ))
    }

    fn def_decl(
        &self,
        p: Pair<'s, Rule>,
        level: usize,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Stmt> {
        let at = span_of(&p);
        let mut it = p.into_inner();
        let (Some(kw), Some(name), Some(body)) = (it.next(), it.next(), it.next()) else {
            diags.push(internal(at, "malformed def"));
            return None;
        };
        let body = self.block(body, level, diags);
        let span = Span::new(span_of(&kw).start, body.span.end);
        Some(Stmt::Def(DefDecl {
            name: ident(&name),
            body,
            span,
        }))
    }

    fn decoration(
        &self,
        p: Pair<'s, Rule>,
        level: usize,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Stmt> {
        let at = span_of(&p);
        let mut it = p.into_inner();
        let (Some(deco), Some(body)) = (it.next(), it.next()) else {
            diags.push(internal(at, "malformed decoration"));
            return None;
        };
        let deco_span = span_of(&deco);
        let name = Ident {
            name: deco.as_str().trim_start_matches('@').to_string(),
            span: deco_span,
        };
        let body = self.block(body, level, diags);
        let span = Span::new(deco_span.start, body.span.end);
        Some(Stmt::Decorate(Decoration { name, body, span }))
    }

    /// `del TARGET [after DURATION]`
    fn del_stmt(&self, p: Pair<'s, Rule>, level: usize) -> Res<DelStmt> {
        let at = span_of(&p);
        let mut it = p.into_inner();
        let kw = next(&mut it, at, "del")?;
        let target = next(&mut it, at, "del target")?;
        if let Some(tilde) = target
            .clone()
            .into_inner()
            .find(|q| q.as_rule() == Rule::bit_not)
        {
            return Err(unexpected_at(self.src, span_of(&tilde).start, ""));
        }
        let (target, _) = self.operand(target, level)?;
        let after = it.nth(1).map(|d| (d.as_str().to_string(), span_of(&d)));
        let end = after.as_ref().map_or(target.expr.span.end, |(_, s)| s.end);
        Ok(DelStmt {
            target: target.expr,
            after,
            span: Span::new(span_of(&kw).start, end),
        })
    }

    /// `const NAME pattern`
    fn const_decl(&self, p: Pair<'s, Rule>) -> Res<ConstDecl> {
        let at = span_of(&p);
        let mut it = p.into_inner();
        let kw = next(&mut it, at, "const")?;
        let name = next(&mut it, at, "const name")?;
        let pattern = self.pattern(next(&mut it, at, "const pattern")?)?;
        let span = Span::new(span_of(&kw).start, pattern.span.end);
        Ok(ConstDecl {
            name: ident(&name),
            pattern,
            span,
        })
    }

    /// `[hidden] KIND NAME` and its clauses; a repeated clause replaces the earlier one.
    fn metric_decl(&self, p: Pair<'s, Rule>) -> Res<MetricDecl> {
        let at = span_of(&p);
        let mut hidden = false;
        let mut start = None;
        let mut end = at.start;
        let mut kind = None;
        let mut name = None;
        let mut export_name = None;
        let mut keys = Vec::new();
        let mut buckets = None;
        let mut limit = None;
        for q in p.into_inner() {
            let qs = span_of(&q);
            start.get_or_insert(qs.start);
            match q.as_rule() {
                Rule::hidden_flag => hidden = true,
                Rule::metric_kind => {
                    kind = Some(match q.as_str().trim() {
                        "counter" => MetricKind::Counter,
                        "gauge" => MetricKind::Gauge,
                        "timer" => MetricKind::Timer,
                        "text" => MetricKind::Text,
                        "histogram" => MetricKind::Histogram,
                        _ => return Err(internal(qs, "unknown metric kind")),
                    });
                    end = qs.end;
                }
                Rule::metric_name => {
                    let n = next(&mut q.into_inner(), qs, "metric name")?;
                    end = span_of(&n).end;
                    name = Some(name_or_string(&n));
                }
                Rule::by_clause => {
                    keys = q
                        .into_inner()
                        .skip(1)
                        .filter_map(|k| k.into_inner().next())
                        .map(|k| name_or_string(&k))
                        .collect();
                    end = keys.last().map_or(end, |k: &Ident| k.span.end);
                }
                Rule::as_clause => {
                    let s = q
                        .into_inner()
                        .nth(1)
                        .ok_or_else(|| internal(qs, "missing exported name"))?;
                    end = span_of(&s).end;
                    export_name = Some((unescape_string(s.as_str()), span_of(&s)));
                }
                Rule::buckets_clause => {
                    let mut bs = Vec::new();
                    for b in q.into_inner().skip(1) {
                        let bspan = span_of(&b);
                        let v = match b.as_rule() {
                            Rule::int_lit => int_value(b.as_str(), bspan)? as f64,
                            _ => float_value(b.as_str(), bspan)?,
                        };
                        bs.push((v, bspan));
                        end = bspan.end;
                    }
                    buckets = Some(bs);
                }
                Rule::limit_clause => {
                    let n = q
                        .into_inner()
                        .nth(1)
                        .ok_or_else(|| internal(qs, "missing limit"))?;
                    let nspan = span_of(&n);
                    limit = Some((int_value(n.as_str(), nspan)?, nspan));
                    end = nspan.end;
                }
                _ => return Err(internal(qs, "unknown declaration part")),
            }
        }
        let (Some(kind), Some(name)) = (kind, name) else {
            return Err(internal(at, "malformed declaration"));
        };
        let span = Span::new(start.unwrap_or(at.start), end);
        Ok(MetricDecl {
            kind,
            hidden,
            name,
            export_name,
            keys,
            buckets,
            limit,
            span,
        })
    }

    /// `x = e` / `x += e`: only a single operand can be assigned to; the statement ends its line.
    fn assignment(
        &self,
        cond: Pair<'s, Rule>,
        op: Pair<'s, Rule>,
        mut rest: Pairs<'s, Rule>,
        level: usize,
    ) -> Res<Stmt> {
        let rhs = next(&mut rest, span_of(&op), "assigned value")?;
        let Some(target) = single_operand(&cond) else {
            return Err(unexpected_at(self.src, span_of(&op).start, "")
                .with_hint("only a metric (a name, maybe indexed) can be assigned to"));
        };
        let (lhs, _) = self.operand(target, level)?;
        let rhs = self.logical_expr(rhs, level)?;
        let op = if op.as_rule() == Rule::add_assign {
            AssignOp::AddAssign
        } else {
            AssignOp::Assign
        };
        let span = lhs.expr.span.to(rhs.expr.span);
        let height = 1 + lhs.height.max(rhs.height);
        self.check_depth(height, level, span)?;
        self.check_line_end(span.end)?;
        let kind = ExprKind::Assign {
            op,
            lhs: Box::new(lhs.expr),
            rhs: Box::new(rhs.expr),
        };
        Ok(Stmt::Expr(Expr { kind, span }))
    }

    /// An expression statement without `=`. As in mtail it is a primary with `++`/`--`s
    /// (`x++`, `len($1)`, even `20.0`); a pattern, `~x`, or operands joined by operators need
    /// a block. It ends its line.
    fn bare_expr(&self, cond: Pair<'s, Rule>, level: usize) -> Res<Stmt> {
        let target = single_operand(&cond);
        let node = self.cond_expr(cond, level)?;
        self.check_line_end(node.expr.span.end)?;
        let is_primary = target.is_some_and(|t| shape(&t).prefixes == 0);
        if !is_primary {
            let pos = after_line(self.src, node.expr.span.end);
            return Err(Diagnostic::new(Span::new(pos, pos), NO_EFFECT_MESSAGE)
                .with_hint("a condition needs a `{ … }' block after it"));
        }
        Ok(Stmt::Expr(node.expr))
    }

    /// An expression statement ends at a newline, a comment or the end of the program.
    fn check_line_end(&self, end: usize) -> Res<()> {
        let rest = self.src.get(end..).unwrap_or("");
        let trimmed = rest.trim_start_matches(|c: char| c != '\n' && c.is_whitespace());
        match trimmed.chars().next() {
            None | Some('\n') | Some('#') => Ok(()),
            Some(_) => {
                let pos = self.src.len() - trimmed.len();
                let d = unexpected_at(self.src, pos, "");
                Err(if d.hint.is_some() {
                    d
                } else {
                    d.with_hint("a statement ends at the end of its line")
                })
            }
        }
    }

    // ---- expressions -------------------------------------------------------------------

    /// A condition: a pattern, `pattern && expr`, or a logical expression.
    fn cond_expr(&self, p: Pair<'s, Rule>, level: usize) -> Res<Node> {
        let at = span_of(&p);
        let mut it = p.into_inner();
        let first = next(&mut it, at, "condition")?;
        if first.as_rule() != Rule::pattern {
            return self.logical_expr(first, level);
        }
        let pattern = self.pattern(first)?;
        let lhs = Node::leaf(ExprKind::Pattern(pattern.clone()), pattern.span);
        let Some(op) = it.next() else {
            return Ok(lhs);
        };
        let rhs = self.logical_expr(next(&mut it, at, "condition")?, level)?;
        self.binary(lhs, logical_op(&op), rhs, level)
    }

    /// Operands joined by `&&` and `||`, left to right.
    fn logical_expr(&self, p: Pair<'s, Rule>, level: usize) -> Res<Node> {
        let at = span_of(&p);
        let mut it = p.into_inner();
        let mut lhs = self.logical_operand(next(&mut it, at, "operand")?, level)?;
        while let Some(op) = it.next() {
            let rhs = self.logical_operand(next(&mut it, at, "operand")?, level)?;
            lhs = self.binary(lhs, logical_op(&op), rhs, level)?;
        }
        Ok(lhs)
    }

    /// `primary =~ pattern|primary`, or operands joined by binary operators (Pratt parsed).
    fn logical_operand(&self, p: Pair<'s, Rule>, level: usize) -> Res<Node> {
        let at = span_of(&p);
        let mut it = p.into_inner();
        let first = next(&mut it, at, "operand")?;
        if it.peek().is_some_and(|q| q.as_rule() == Rule::match_tail) {
            let tail = next(&mut it, at, "match")?;
            return self.match_expr(first, tail, level);
        }
        PRATT
            .map_primary(|q| self.operand(q, level).map(|(n, _)| n))
            .map_infix(|lhs, op, rhs| {
                let op = match op.as_rule() {
                    Rule::add => BinOp::Add,
                    Rule::sub => BinOp::Sub,
                    Rule::mul => BinOp::Mul,
                    Rule::div => BinOp::Div,
                    Rule::mod_ => BinOp::Mod,
                    Rule::pow => BinOp::Pow,
                    Rule::shl => BinOp::Shl,
                    Rule::shr => BinOp::Shr,
                    Rule::lt => BinOp::Lt,
                    Rule::gt => BinOp::Gt,
                    Rule::le => BinOp::Le,
                    Rule::ge => BinOp::Ge,
                    Rule::eq => BinOp::Eq,
                    Rule::ne => BinOp::Ne,
                    Rule::bit_and => BinOp::BitAnd,
                    Rule::bit_or => BinOp::BitOr,
                    _ => BinOp::BitXor,
                };
                self.binary(lhs?, op, rhs?, level)
            })
            .parse(std::iter::once(first).chain(it))
    }

    fn binary(&self, lhs: Node, op: BinOp, rhs: Node, level: usize) -> Res<Node> {
        let span = lhs.expr.span.to(rhs.expr.span);
        let height = 1 + lhs.height.max(rhs.height);
        self.check_depth(height, level, span)?;
        let kind = ExprKind::Binary {
            op,
            lhs: Box::new(lhs.expr),
            rhs: Box::new(rhs.expr),
        };
        Ok(Node::new(kind, span, height))
    }

    /// `lhs =~ rhs` / `lhs !~ rhs`: the left is a bare primary, the right a pattern or primary.
    fn match_expr(&self, lhs: Pair<'s, Rule>, tail: Pair<'s, Rule>, level: usize) -> Res<Node> {
        let at = span_of(&tail);
        let mut it = tail.into_inner();
        let op = next(&mut it, at, "match operator")?;
        let rhs = next(&mut it, at, "match operand")?;
        if shape(&lhs).prefixes + shape(&lhs).postfixes > 0 {
            return Err(unexpected_at(self.src, span_of(&op).start, "")
                .with_hint("put the left side of the match in parentheses"));
        }
        let (lhs, _) = self.operand(lhs, level)?;
        let rhs = if rhs.as_rule() == Rule::pattern {
            let pattern = self.pattern(rhs)?;
            let span = pattern.span;
            Node::leaf(ExprKind::Pattern(pattern), span)
        } else {
            self.primary(rhs, level)?
        };
        let span = lhs.expr.span.to(rhs.expr.span);
        let height = 1 + lhs.height.max(rhs.height);
        self.check_depth(height, level, span)?;
        let negated = op.as_rule() == Rule::not_match;
        let kind = ExprKind::Match {
            negated,
            lhs: Box::new(lhs.expr),
            rhs: Box::new(rhs.expr),
        };
        Ok(Node::new(kind, span, height))
    }

    /// `~`s, a primary, `++`/`--`s: postfix operators bind tighter than `~`.
    fn operand(&self, p: Pair<'s, Rule>, level: usize) -> Res<(Node, Shape)> {
        let at = span_of(&p);
        let sh = shape(&p);
        let mut prefixes = Vec::new();
        let mut node: Option<Node> = None;
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::bit_not => prefixes.push(span_of(&q)),
                Rule::inc | Rule::dec => {
                    let Some(inner) = node.take() else {
                        return Err(internal(at, "postfix operator without operand"));
                    };
                    let op = if q.as_rule() == Rule::inc {
                        IncDec::Inc
                    } else {
                        IncDec::Dec
                    };
                    let span = inner.expr.span.to(span_of(&q));
                    let height = inner.height + 1;
                    self.check_depth(height, level, span)?;
                    let kind = ExprKind::Postfix {
                        op,
                        expr: Box::new(inner.expr),
                    };
                    node = Some(Node::new(kind, span, height));
                }
                _ => node = Some(self.primary(q, level)?),
            }
        }
        let mut node = node.ok_or_else(|| internal(at, "operand without primary"))?;
        for tilde in prefixes.into_iter().rev() {
            let span = tilde.to(node.expr.span);
            let height = node.height + 1;
            self.check_depth(height, level, span)?;
            node = Node::new(ExprKind::BitNot(Box::new(node.expr)), span, height);
        }
        Ok((node, sh))
    }

    fn primary(&self, p: Pair<'s, Rule>, level: usize) -> Res<Node> {
        let span = span_of(&p);
        match p.as_rule() {
            Rule::int_lit => Ok(Node::leaf(
                ExprKind::Int(int_value(p.as_str(), span)?),
                span,
            )),
            Rule::float_lit => Ok(Node::leaf(
                ExprKind::Float(float_value(p.as_str(), span)?),
                span,
            )),
            Rule::string_lit => Ok(Node::leaf(ExprKind::Str(unescape_string(p.as_str())), span)),
            Rule::capref => Ok(Node::leaf(
                ExprKind::CapRef(p.as_str()[1..].to_string()),
                span,
            )),
            Rule::paren_expr => {
                let inner = next(&mut p.into_inner(), span, "expression")?;
                let mut node = self.logical_expr(inner, level)?;
                // The node covers its parentheses.
                node.expr.span = span;
                Ok(node)
            }
            Rule::indexed => {
                let mut it = p.into_inner();
                let name = next(&mut it, span, "name")?;
                let base = Node::leaf(ExprKind::Id(name.as_str().to_string()), span_of(&name));
                let mut keys = Vec::new();
                let mut height = 1;
                let mut end = base.expr.span.end;
                for index in it {
                    end = span_of(&index).end;
                    for arg in index.into_inner().filter(|q| q.as_rule() != Rule::rbracket) {
                        let key = self.arg(arg, level)?;
                        height = height.max(key.height);
                        keys.push(key.expr);
                    }
                }
                if keys.is_empty() {
                    return Ok(base);
                }
                let span = Span::new(base.expr.span.start, end);
                let height = height + 1;
                self.check_depth(height, level, span)?;
                let kind = ExprKind::Index {
                    base: Box::new(base.expr),
                    keys,
                };
                Ok(Node::new(kind, span, height))
            }
            Rule::call => {
                let mut it = p.into_inner();
                let name = next(&mut it, span, "builtin")?;
                let builtin = Builtin::from_name(name.as_str())
                    .ok_or_else(|| internal(span_of(&name), "unknown builtin"))?;
                let mut args = Vec::new();
                let mut height = 0;
                for arg in it.filter(|q| q.as_rule() != Rule::rparen) {
                    let a = self.arg(arg, level)?;
                    height = height.max(a.height);
                    args.push(a.expr);
                }
                let height = height + 1;
                self.check_depth(height, level, span)?;
                Ok(Node::new(ExprKind::Call { builtin, args }, span, height))
            }
            _ => Err(internal(span, "unknown primary")),
        }
    }

    /// A call argument or an index key: a pattern or a logical expression.
    fn arg(&self, p: Pair<'s, Rule>, level: usize) -> Res<Node> {
        if p.as_rule() == Rule::pattern {
            let pattern = self.pattern(p)?;
            let span = pattern.span;
            return Ok(Node::leaf(ExprKind::Pattern(pattern), span));
        }
        self.logical_expr(p, level)
    }

    /// Regex literals and const names joined by `+`.
    fn pattern(&self, p: Pair<'s, Rule>) -> Res<PatternExpr> {
        let at = span_of(&p);
        let mut parts = Vec::new();
        for q in p.into_inner() {
            match q.as_rule() {
                Rule::regex_lit => {
                    parts.push(PatternPart::Regex(unescape_regex(q.as_str()), span_of(&q)))
                }
                Rule::ident => parts.push(PatternPart::Const(ident(&q))),
                _ => {}
            }
        }
        let span = match (parts.first(), parts.last()) {
            (Some(first), Some(last)) => part_span(first).to(part_span(last)),
            _ => return Err(internal(at, "empty pattern")),
        };
        Ok(PatternExpr { parts, span })
    }
}

fn part_span(p: &PatternPart) -> Span {
    match p {
        PatternPart::Regex(_, s) => *s,
        PatternPart::Const(id) => id.span,
    }
}

fn logical_op(p: &Pair<'_, Rule>) -> BinOp {
    if p.as_rule() == Rule::and {
        BinOp::And
    } else {
        BinOp::Or
    }
}

fn ident(p: &Pair<'_, Rule>) -> Ident {
    Ident {
        name: p.as_str().to_string(),
        span: span_of(p),
    }
}

/// A name or a string literal used as a name: the string's contents, the literal's span.
fn name_or_string(p: &Pair<'_, Rule>) -> Ident {
    if p.as_rule() == Rule::string_lit {
        Ident {
            name: unescape_string(p.as_str()),
            span: span_of(p),
        }
    } else {
        ident(p)
    }
}

/// The `operand` pair when a condition is exactly one operand (no operators around it).
fn single_operand<'i>(cond: &Pair<'i, Rule>) -> Option<Pair<'i, Rule>> {
    let mut p = cond.clone();
    for rule in [Rule::logical_expr, Rule::logical_operand, Rule::operand] {
        let mut it = p.into_inner();
        let q = it.next()?;
        if it.next().is_some() || q.as_rule() != rule {
            return None;
        }
        p = q;
    }
    Some(p)
}

fn shape(operand: &Pair<'_, Rule>) -> Shape {
    let mut s = Shape {
        prefixes: 0,
        postfixes: 0,
    };
    for q in operand.clone().into_inner() {
        match q.as_rule() {
            Rule::bit_not => s.prefixes += 1,
            Rule::inc | Rule::dec => s.postfixes += 1,
            _ => {}
        }
    }
    s
}

// ---- literals ---------------------------------------------------------------------------

fn int_value(text: &str, span: Span) -> Res<i64> {
    text.parse::<i64>()
        .map_err(|_| Diagnostic::new(span, format!("Int literal out of range: {text}")))
}

fn float_value(text: &str, span: Span) -> Res<f64> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(Diagnostic::new(
            span,
            format!("Float literal out of range: {text}"),
        )),
    }
}

/// A string literal's contents: `\"` becomes `"`, every other escape stays as written.
fn unescape_string(literal: &str) -> String {
    unescape(strip_delims(literal), '"')
}

/// A regex literal's contents: `\/` becomes `/`, every other escape stays as written.
fn unescape_regex(literal: &str) -> String {
    unescape(strip_delims(literal), '/')
}

fn strip_delims(literal: &str) -> &str {
    let mut chars = literal.chars();
    chars.next();
    chars.next_back();
    chars.as_str()
}

fn unescape(body: &str, delim: char) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(d) if d == delim => out.push(d),
                Some(d) => {
                    out.push('\\');
                    out.push(d);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---- errors -----------------------------------------------------------------------------

/// Where the next line starts after `end` (past blanks, a comment and the newline), or the
/// end of the program: mtail reports a statement with no effect there.
fn after_line(src: &str, end: usize) -> usize {
    let rest = src.get(end..).unwrap_or("");
    match rest.find('\n') {
        Some(i) => end + i + 1,
        None => src.len(),
    }
}

/// Explain a text the grammar rejected, from where pest stopped and what it expected there.
fn syntax_error(src: &str, err: &pest::error::Error<Rule>) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
    .min(src.len());
    let positives: &[Rule] = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives,
        // pest's own limits (native stack, call budget).
        ErrorVariant::CustomError { .. } => {
            return Diagnostic::new(
                Span::new(pos, pos),
                depth_message(super::limits::get().max_recursion_depth),
            )
        }
    };
    let rest = src.get(pos..).unwrap_or("");
    let Some(c) = rest.chars().next() else {
        if positives.contains(&Rule::block_end) {
            return Diagnostic::new(
                Span::new(pos, pos),
                "syntax error: unexpected end of file, expecting '}' to end block",
            );
        }
        return Diagnostic::new(
            Span::new(pos, pos),
            format!(
                "syntax error: unexpected end of file{}",
                expecting(positives)
            ),
        );
    };
    if c == '"' || c == '/' {
        if let Some(d) = unterminated(src, pos, c) {
            return d;
        }
    }
    if !starts_token(rest) {
        return Diagnostic::new(
            Span::new(pos, pos + c.len_utf8()),
            format!("Unexpected input: {c:?}"),
        );
    }
    if c == '[' && ends_operand(src.get(..pos).unwrap_or("")) {
        return Diagnostic::new(
            Span::new(pos, pos + 1),
            "syntax error: unexpected indexing of an expression",
        );
    }
    unexpected_at(src, pos, &expecting(positives))
}

/// `syntax error: unexpected TOKEN` at `pos`, with `tail` appended to the message.
fn unexpected_at(src: &str, pos: usize, tail: &str) -> Diagnostic {
    let rest = src.get(pos..).unwrap_or("");
    let tok = token_at(rest);
    let what = match tok {
        "" => "end of file".to_string(),
        "\n" => "end of line".to_string(),
        t => format!("'{t}'"),
    };
    let d = Diagnostic::new(
        Span::new(pos, pos + tok.len()),
        format!("syntax error: unexpected {what}{tail}"),
    );
    let mut chars = rest.chars();
    if chars.next() == Some('-') && chars.next().is_some_and(|d| d.is_ascii_digit()) {
        return d.with_hint(
            "a `-' right before a digit starts a negative number; write `x - 1' to subtract",
        );
    }
    if tok == "else" {
        return d.with_hint("`else' goes right after the `}' of its block, on the same line");
    }
    let before = src.get(..pos).unwrap_or("");
    if tok == "(" && before.ends_with(is_ident_char) {
        let name_start = before.trim_end_matches(is_ident_char).len();
        let name = &before[name_start..];
        let builtins: Vec<&str> = Builtin::ALL.iter().map(|b| b.as_str()).collect();
        return d.with_hint(format!(
            "`{name}' is not a builtin; the builtins are {}",
            builtins.join(", ")
        ));
    }
    d
}

/// If a string or regex starting at `pos` runs into a newline or the end, say so.
fn unterminated(src: &str, pos: usize, delim: char) -> Option<Diagnostic> {
    let body_start = pos + 1;
    let body = src.get(body_start..)?;
    let mut chars = body.char_indices();
    let end = loop {
        match chars.next() {
            None => break body.len(),
            Some((i, '\n')) => break i,
            Some((_, c)) if c == delim => return None,
            Some((i, '\\')) => match chars.next() {
                None => break body.len(),
                Some((_, '\n')) => break i + 1,
                Some(_) => {}
            },
            Some(_) => {}
        }
    };
    let text = &body[..end];
    Some(if delim == '/' {
        Diagnostic::new(
            Span::new(body_start, body_start + end),
            format!("Unterminated regular expression: \"/{text}\""),
        )
        .with_hint("a regular expression ends with `/' on the same line")
    } else {
        Diagnostic::new(
            Span::new(pos, body_start + end),
            format!("Unterminated quoted string: \"\\\"{text}\""),
        )
        .with_hint("a string ends with `\"' on the same line")
    })
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether the text can start a token at all (else mtail says `Unexpected input`).
fn starts_token(rest: &str) -> bool {
    let mut chars = rest.chars();
    let Some(c) = chars.next() else { return true };
    match c {
        '!' => matches!(chars.next(), Some('=' | '~')),
        '.' => chars.next().is_some_and(|d| d.is_ascii_digit()),
        '_' => false,
        '{' | '}' | '(' | ')' | '[' | ']' | ',' | '+' | '-' | '*' | '/' | '%' | '<' | '>' | '='
        | '&' | '|' | '^' | '~' | '"' | '$' | '@' | '#' => true,
        c => c.is_whitespace() || c.is_alphanumeric(),
    }
}

/// Whether the text before an error ends with something that cannot be indexed: a literal,
/// a capture reference, `)`, `]`, a regex, `++` or `--`.
fn ends_operand(before: &str) -> bool {
    let before = before.trim_end_matches(|c: char| c != '\n' && c.is_whitespace());
    let Some(last) = before.chars().next_back() else {
        return false;
    };
    if matches!(last, ')' | ']' | '"' | '/') || before.ends_with("++") || before.ends_with("--") {
        return true;
    }
    let word_start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_ident_char(c) || c == '.' || c == '$')
        .last()
        .map_or(before.len(), |(i, _)| i);
    let word = &before[word_start..];
    word.starts_with('$') || word.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// The token at the start of `rest`, for an "unexpected" message.
fn token_at(rest: &str) -> &str {
    const OPERATORS: [&str; 14] = [
        "**", "++", "--", "+=", "<<", ">>", "<=", ">=", "==", "!=", "=~", "!~", "&&", "||",
    ];
    let Some(c) = rest.chars().next() else {
        return "";
    };
    if is_ident_char(c)
        || c == '$'
        || c == '@'
        || (c == '-' && rest[1..].starts_with(|d: char| d.is_ascii_digit()))
    {
        let len = rest
            .char_indices()
            .skip(1)
            .find(|&(_, d)| !(is_ident_char(d) || d == '.'))
            .map_or(rest.len(), |(i, _)| i);
        return &rest[..len];
    }
    if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
        return &rest[..op.len()];
    }
    &rest[..c.len_utf8()]
}

/// `, expecting A, B or C` from pest's list of rules it tried, in words.
fn expecting(positives: &[Rule]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for r in positives {
        let name = rule_name(*r);
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    // Right after an expression, a new statement may not start on the same line.
    if names.contains(&"an operator") && names.contains(&"a statement") {
        names.retain(|n| *n != "a statement" && *n != "end of file");
        names.push("the end of the line");
    }
    match names.as_slice() {
        [] => String::new(),
        [one] => format!(", expecting {one}"),
        [init @ .., last] => format!(", expecting {} or {last}", init.join(", ")),
    }
}

/// A rule as the user would name the thing it matches.
fn rule_name(r: Rule) -> &'static str {
    use Rule::*;
    match r {
        EOI => "end of file",
        metric_decl | const_decl | def_decl | decoration | del_stmt | next_stmt | stop_stmt
        | otherwise_stmt | expr_stmt | cond_expr | kw_const | kw_def | kw_del | kw_next
        | kw_otherwise | kw_stop | deco_name => "a statement",
        block => "'{'",
        block_end => "'}'",
        rparen => "')'",
        rbracket => "']'",
        kw_else => "'else'",
        kw_after => "'after'",
        kw_as => "'as'",
        kw_by => "'by'",
        kw_buckets => "'buckets'",
        kw_limit => "'limit'",
        logical_expr | logical_operand | operand | paren_expr | call | indexed | capref
        | int_lit | float_lit | bit_not | builtin => "an expression",
        string_lit => "a string",
        pattern | regex_lit => "a regular expression",
        ident => "a name",
        metric_name => "a metric name",
        metric_key => "a label name",
        log_name => "a log file name",
        metric_kind => "a metric kind",
        hidden_flag => "'hidden'",
        by_clause => "'by'",
        as_clause => "'as'",
        buckets_clause => "'buckets'",
        limit_clause => "'limit'",
        duration => "a duration (like 168h)",
        index => "'['",
        assign | add_assign => "'=' or '+='",
        concat_op => "'+'",
        match_tail | match_ | not_match | and | or | inc | dec | pow | mul | div | mod_ | add
        | sub | shl | shr | le | ge | eq | ne | lt | gt | bit_and | bit_or | bit_xor => {
            "an operator"
        }
        _ => "",
    }
}

// ---- nesting ----------------------------------------------------------------------------

/// Reject brackets nested deeper than `max` before pest recurses into them.
///
/// A light scan: strings, comments and regex literals are skipped. A `/` starts a regex
/// unless it follows something that ends an operand (a name, a number, `)`, `]`, …), except
/// right after `const NAME`.
fn check_nesting(src: &str, max: usize) -> Option<Diagnostic> {
    let b = src.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    // Whether the last token ends an operand (so `/` is a division).
    let mut after_operand = false;
    let mut after_const = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i = skip_delimited(b, i, b'"');
                after_operand = true;
                after_const = false;
                continue;
            }
            b'/' if !after_operand => {
                i = skip_delimited(b, i, b'/');
                after_operand = true;
                after_const = false;
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(Diagnostic::new(Span::new(i, i + 1), depth_message(max)));
                }
                after_operand = false;
            }
            b')' | b']' => {
                depth = depth.saturating_sub(1);
                after_operand = true;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                after_operand = false;
            }
            b'+' | b'-' if b.get(i + 1) == Some(&c) => {
                i += 2;
                after_operand = true;
                continue;
            }
            c if c.is_ascii_alphanumeric()
                || c == b'_'
                || c == b'$'
                || c == b'@'
                || c == b'.'
                || c >= 0x80 =>
            {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || matches!(b[i], b'_' | b'$' | b'@' | b'.')
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                let word = &b[start..i];
                let is_const = word == b"const";
                // The name after `const` is followed by a regex, not a division.
                after_operand = !is_const && !after_const && !is_keyword(word);
                after_const = is_const;
                continue;
            }
            b' ' | b'\t' | b'\r' => {}
            _ => {
                after_operand = false;
                after_const = false;
            }
        }
        i += 1;
    }
    None
}

fn is_keyword(word: &[u8]) -> bool {
    const KEYWORDS: [&[u8]; 18] = [
        b"after",
        b"as",
        b"buckets",
        b"by",
        b"const",
        b"counter",
        b"def",
        b"del",
        b"else",
        b"gauge",
        b"hidden",
        b"histogram",
        b"limit",
        b"next",
        b"otherwise",
        b"stop",
        b"text",
        b"timer",
    ];
    KEYWORDS.contains(&word)
}

/// The index just past a string or regex starting at `i` (or past its line if unterminated).
fn skip_delimited(b: &[u8], mut i: usize, delim: u8) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' if b.get(i + 1).is_some_and(|&n| n != b'\n') => i += 2,
            b'\n' => return i,
            c if c == delim => return i + 1,
            _ => i += 1,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::span::line_col;

    fn ok(src: &str) -> Program {
        parse(src).unwrap_or_else(|d| panic!("{src:?} should parse: {d:?}"))
    }

    fn err(src: &str) -> Vec<Diagnostic> {
        match parse(src) {
            Ok(p) => panic!("{src:?} should not parse, got {p:?}"),
            Err(d) => d,
        }
    }

    /// The first error as (line, message).
    fn first_err(src: &str) -> (usize, String) {
        let d = err(src).remove(0);
        (line_col(src, d.span.start).0, d.message)
    }

    /// A compact s-expression of an expression, for precedence tests.
    fn sx(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Int(i) => i.to_string(),
            ExprKind::Float(f) => format!("{f:?}"),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Pattern(p) => p
                .parts
                .iter()
                .map(|part| match part {
                    PatternPart::Regex(r, _) => format!("/{r}/"),
                    PatternPart::Const(id) => id.name.clone(),
                })
                .collect::<Vec<_>>()
                .join("+"),
            ExprKind::Id(n) => n.clone(),
            ExprKind::Index { base, keys } => {
                format!(
                    "(idx {} {})",
                    sx(base),
                    keys.iter().map(sx).collect::<Vec<_>>().join(" ")
                )
            }
            ExprKind::CapRef(c) => format!("${c}"),
            ExprKind::Call { builtin, args } => {
                let args: Vec<String> = args.iter().map(sx).collect();
                format!(
                    "({}{})",
                    builtin.as_str(),
                    args.iter().map(|a| format!(" {a}")).collect::<String>()
                )
            }
            ExprKind::BitNot(x) => format!("(~ {})", sx(x)),
            ExprKind::Postfix { op, expr } => format!(
                "({} {})",
                if *op == IncDec::Inc { "++" } else { "--" },
                sx(expr)
            ),
            ExprKind::Binary { op, lhs, rhs } => {
                format!("({} {} {})", op.as_str(), sx(lhs), sx(rhs))
            }
            ExprKind::Match { negated, lhs, rhs } => {
                format!(
                    "({} {} {})",
                    if *negated { "!~" } else { "=~" },
                    sx(lhs),
                    sx(rhs)
                )
            }
            ExprKind::Assign { op, lhs, rhs } => {
                format!(
                    "({} {} {})",
                    if *op == AssignOp::Assign { "=" } else { "+=" },
                    sx(lhs),
                    sx(rhs)
                )
            }
        }
    }

    /// The s-expression of a one-statement program: an expression statement or a condition.
    fn first(src: &str) -> String {
        match ok(src).stmts.first() {
            Some(Stmt::Expr(e)) => sx(e),
            Some(Stmt::Cond(c)) => sx(&c.cond),
            other => panic!("{src:?}: unexpected first statement {other:?}"),
        }
    }

    /// The s-expression of the value assigned in `x = EXPR`.
    fn rhs(expr: &str) -> String {
        let src = format!("x = {expr}\n");
        match ok(&src).stmts.first() {
            Some(Stmt::Expr(Expr {
                kind: ExprKind::Assign { rhs, .. },
                ..
            })) => sx(rhs),
            other => panic!("{src:?}: not an assignment: {other:?}"),
        }
    }

    #[test]
    fn precedence_of_binary_operators() {
        assert_eq!(rhs("7 & 6 | 1 ^ 8"), "(^ (| (& 7 6) 1) 8)");
        assert_eq!(rhs("a + b * c"), "(+ a (* b c))");
        assert_eq!(rhs("a * b ** c / d % e"), "(% (/ (** (* a b) c) d) e)");
        assert_eq!(rhs("a - b + c"), "(+ (- a b) c)");
        assert_eq!(rhs("a << 1 + 2"), "(<< a (+ 1 2))");
        assert_eq!(rhs("a < b << c"), "(< a (<< b c))");
        assert_eq!(rhs("a == b & c != d"), "(& (== a b) (!= c d))");
        assert_eq!(rhs("a <= b >= c"), "(>= (<= a b) c)");
        assert_eq!(rhs("a || b && c"), "(&& (|| a b) c)");
        assert_eq!(rhs("a && b || c"), "(|| (&& a b) c)");
        assert_eq!(rhs("(a + b) * c"), "(* (+ a b) c)");
        assert_eq!(rhs("a >> 2 > 1 && b"), "(&& (> (>> a 2) 1) b)");
    }

    #[test]
    fn precedence_of_unary_and_postfix() {
        assert_eq!(rhs("~x++"), "(~ (++ x))");
        assert_eq!(rhs("~~x"), "(~ (~ x))");
        assert_eq!(rhs("x++ + 1"), "(+ (++ x) 1)");
        assert_eq!(rhs("~a * b"), "(* (~ a) b)");
        assert_eq!(first("x--\n"), "(-- x)");
        assert_eq!(first("x[1]++\n"), "(++ (idx x 1))");
    }

    #[test]
    fn matches_and_conditions() {
        assert_eq!(
            first("$x =~ /a/ && y !~ X {\n}\n"),
            "(&& (=~ $x /a/) (!~ y X))"
        );
        assert_eq!(first("$x =~ /a/ + C {}\n"), "(=~ $x /a/+C)");
        assert_eq!(first("$x =~ \"a\" {}\n"), "(=~ $x \"a\")");
        assert_eq!(first("(x =~ /a/) || b {}\n"), "(|| (=~ x /a/) b)");
        // A leading pattern takes the whole logical expression after it.
        assert_eq!(first("/a/ && x > 1 || y {}\n"), "(&& /a/ (|| (> x 1) y))");
        assert_eq!(first("/a/ + X + /b/ {}\n"), "/a/+X+/b/");
        assert_eq!(first("X {}\n"), "X");
        assert_eq!(first("~x {}\n"), "(~ x)");
        assert_eq!(first("0 || 1 && 0 {\n}\n"), "(&& (|| 0 1) 0)");
        // Only a bare primary may be matched.
        assert!(first_err("x++ =~ /a/ {}\n").1.contains("unexpected '=~'"));
        assert!(parse("a + b =~ /x/ {}\n").is_err());
        assert!(parse("x && /a/ {}\n").is_err());
    }

    #[test]
    fn assignments() {
        assert_eq!(first("x = a + b\n"), "(= x (+ a b))");
        assert_eq!(first("x[$1] += $2\n"), "(+= (idx x $1) $2)");
        assert_eq!(first("x = $a =~ /b/\n"), "(= x (=~ $a /b/))");
        assert_eq!(first("x = a || b\n"), "(= x (|| a b))");
        assert_eq!(first("~x = 1\n"), "(= (~ x) 1)");
        let (_, msg) = first_err("a + b = 1\n");
        assert_eq!(msg, "syntax error: unexpected '='");
        assert!(parse("x = y = 1\n").is_err());
    }

    #[test]
    fn statements_need_their_newline() {
        assert!(parse("/a/ { x++ }\n").is_err());
        assert_eq!(
            first_err("/a/ {\n x++ }\n"),
            (2, "syntax error: unexpected '}'".to_string())
        );
        assert!(parse("x++ y++\n").is_err());
        ok("/a/ {}\n");
        ok("/a/ {\n}\n");
        ok("/a/ {\n x++\n}\n");
        ok("/a/ {} /b/ {}\n");
        ok("def d { /x/ { next } }\n");
        ok("x++");
        ok("x++ # counts\ny++\n");
        ok("x++\r\ny++\r\n");
        ok("counter a counter b\n");
        ok("/a/ {\n  stop }\n");
    }

    #[test]
    fn optional_newlines() {
        assert_eq!(first("x = 1 +\n 2\n"), "(= x (+ 1 2))");
        assert_eq!(first("x =\n 1\n"), "(= x 1)");
        assert_eq!(first("x +=\n 1\n"), "(+= x 1)");
        assert_eq!(first("a &&\n b {}\n"), "(&& a b)");
        assert_eq!(first("$a =~\n /b/ {}\n"), "(=~ $a /b/)");
        assert_eq!(first("/a/ ||\n b {}\n"), "(|| /a/ b)");
        assert_eq!(first("/^/ +\n /a/ + # comment\n /$/ {}\n"), "/^/+/a/+/$/");
        assert!(matches!(
            ok("const X\n/a/ +\n/b/").stmts[..],
            [Stmt::Const(_)]
        ));
        // Only one newline, and only after an operator.
        assert!(parse("x = 1 +\n\n 2\n").is_err());
        assert!(parse("x = 1\n+ 2\n").is_err());
        assert!(parse("/a/\n{}\n").is_err());
        // A comment swallows its newline, as in mtail.
        ok("/a/ # comment\n{}\n");
        ok("/a/ {} # comment\nelse {}\n");
        ok("histogram#\nm del#\nm");
    }

    #[test]
    fn else_follows_its_block() {
        let p = ok("/a/ {\n x++\n} else {\n y++\n}\n");
        let [Stmt::Cond(c)] = &p.stmts[..] else {
            panic!("{p:?}")
        };
        assert_eq!(c.then.stmts.len(), 1);
        assert_eq!(c.otherwise.as_ref().map(|b| b.stmts.len()), Some(1));
        assert_eq!(
            c.span,
            Span::new(0, p_len("/a/ {\n x++\n} else {\n y++\n}"))
        );
        let (line, msg) = first_err("/a/ {\n}\nelse {}\n");
        assert_eq!(
            (line, msg.as_str()),
            (
                3,
                "syntax error: unexpected 'else', expecting end of file or a statement"
            )
        );
        ok("/foo/ { / bar/ {}  } else { /quux/ {} else {} }");
    }

    fn p_len(s: &str) -> usize {
        s.len()
    }

    #[test]
    fn negative_literals() {
        assert_eq!(rhs("-1"), "-1");
        assert_eq!(rhs("3 - -1"), "(- 3 -1)");
        assert_eq!(rhs("x - 1"), "(- x 1)");
        assert_eq!(rhs("x-y"), "(- x y)");
        assert_eq!(rhs("-1.5e3"), "-1500.0");
        assert_eq!(rhs("2 * -3"), "(* 2 -3)");
        let d = err("x = y -1\n").remove(0);
        assert_eq!(d.message, "syntax error: unexpected '-1'");
        assert!(d.hint.is_some_and(|h| h.contains("x - 1")));
        assert!(parse("x -1\n").is_err());
        assert!(parse("x = -y\n").is_err());
        assert!(parse("x = -.5\n").is_err());
    }

    #[test]
    fn number_literals() {
        assert_eq!(rhs("007"), "7");
        assert_eq!(rhs("9223372036854775807"), "9223372036854775807");
        assert_eq!(rhs("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(rhs(".5"), "0.5");
        assert_eq!(rhs("1."), "1.0");
        assert_eq!(rhs("1e3"), "1000.0");
        assert_eq!(rhs("2.5E-1"), "0.25");
        assert_eq!(
            first_err("x = 9223372036854775808\n").1,
            "Int literal out of range: 9223372036854775808"
        );
        assert!(first_err("x = 1e999\n")
            .1
            .starts_with("Float literal out of range"));
        assert!(parse("x = 1h\n").is_err());
        assert!(parse("x = 0x10\n").is_err());
        assert!(parse("x = 1.5.3\n").is_err());
        assert!(parse("x = 1e\n").is_err());
        assert!(parse("histogram h buckets 1, 2.5.3\n").is_err());
    }

    #[test]
    fn string_escapes() {
        assert_eq!(rhs(r#""a\"b\d\\""#), r#""a\"b\\d\\\\""#);
        let p = ok("x = \"a\\\"b\\d\"\n");
        let [Stmt::Expr(Expr {
            kind: ExprKind::Assign { rhs, .. },
            ..
        })] = &p.stmts[..]
        else {
            panic!()
        };
        assert_eq!(rhs.kind, ExprKind::Str("a\"b\\d".to_string()));
        assert_eq!(rhs.span, Span::new(4, 12));
        assert_eq!(rhs_str("\"#not a comment\""), "#not a comment");
        assert_eq!(rhs_str("\"\\n\""), "\\n");
        let (line, msg) = first_err(" \"foo }\n");
        assert_eq!(
            (line, msg.as_str()),
            (1, "Unterminated quoted string: \"\\\"foo }\"")
        );
        assert!(first_err("x = \"a\\\n\"\n")
            .1
            .starts_with("Unterminated quoted string"));
    }

    fn rhs_str(lit: &str) -> String {
        let src = format!("x = {lit}\n");
        match ok(&src).stmts.first() {
            Some(Stmt::Expr(Expr {
                kind: ExprKind::Assign { rhs, .. },
                ..
            })) => match &rhs.kind {
                ExprKind::Str(s) => s.clone(),
                k => panic!("not a string: {k:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn regex_escapes() {
        let p = ok("/a\\/b\\d#c/ {}\n");
        let [Stmt::Cond(c)] = &p.stmts[..] else {
            panic!()
        };
        let ExprKind::Pattern(pat) = &c.cond.kind else {
            panic!()
        };
        assert_eq!(
            pat.parts,
            vec![PatternPart::Regex("a/b\\d#c".to_string(), Span::new(0, 10))]
        );
        assert_eq!(pat.span, Span::new(0, 10));
        ok("// {\n}\n");
        let d = err("/foo\n").remove(0);
        assert_eq!(d.message, "Unterminated regular expression: \"/foo\"");
        assert_eq!(d.span, Span::new(1, 4));
        assert_eq!(
            first_err("const X /(?P<foo>").1,
            "Unterminated regular expression: \"/(?P<foo>\""
        );
        // `/` is division where an operand ends.
        assert_eq!(rhs("a / b / 2"), "(/ (/ a b) 2)");
    }

    #[test]
    fn index_is_flattened() {
        assert_eq!(rhs("m[a][b]"), "(idx m a b)");
        assert_eq!(rhs("m[a, b]"), "(idx m a b)");
        assert_eq!(rhs("m[a][b, c][$1]"), "(idx m a b c $1)");
        assert_eq!(rhs("m[a + 1][len($x)]"), "(idx m (+ a 1) (len $x))");
        let p = ok("x = m[a][b]\n");
        let [Stmt::Expr(Expr {
            kind: ExprKind::Assign { rhs, .. },
            ..
        })] = &p.stmts[..]
        else {
            panic!()
        };
        assert_eq!(rhs.span, Span::new(4, 11));
        for src in [
            "// {\n\tfoo++[$1]++\n\t}",
            "// {\n\t0[$1]++\n\t}",
            "/foo/[0]\n",
            "x = (a)[1]\n",
            "x = $1[0]\n",
            "x = len($a)[0]\n",
            "x = \"s\"[0]\n",
        ] {
            assert_eq!(
                first_err(src).1,
                "syntax error: unexpected indexing of an expression",
                "{src:?}"
            );
        }
        assert_eq!(first_err("// {\n\tfoo++[$1]++\n\t}").0, 2);
    }

    #[test]
    fn metric_declarations() {
        let p =
            ok("hidden counter foo by a, \"b-c\" as \"x-y\" buckets 1, 2.5, -3 limit 10 by c, d\n");
        let [Stmt::Metric(m)] = &p.stmts[..] else {
            panic!("{p:?}")
        };
        assert_eq!(m.kind, MetricKind::Counter);
        assert!(m.hidden);
        assert_eq!(
            m.name,
            Ident {
                name: "foo".into(),
                span: Span::new(15, 18)
            }
        );
        let keys: Vec<&str> = m.keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(keys, ["c", "d"]);
        assert_eq!(m.export_name, Some(("x-y".to_string(), Span::new(34, 39))));
        let buckets: Vec<f64> = m.buckets.iter().flatten().map(|b| b.0).collect();
        assert_eq!(buckets, [1.0, 2.5, -3.0]);
        assert_eq!(m.limit.map(|l| l.0), Some(10));
        assert_eq!(m.span, Span::new(0, 75));

        let p = ok("gauge \"quoted-name\" by \"k\"\n");
        let [Stmt::Metric(m)] = &p.stmts[..] else {
            panic!()
        };
        assert_eq!(
            m.name,
            Ident {
                name: "quoted-name".into(),
                span: Span::new(6, 19)
            }
        );
        assert_eq!(
            m.keys,
            vec![Ident {
                name: "k".into(),
                span: Span::new(23, 26)
            }]
        );
        assert!(!m.hidden);

        for (src, kind) in [
            ("counter a\n", MetricKind::Counter),
            ("gauge a\n", MetricKind::Gauge),
            ("timer a\n", MetricKind::Timer),
            ("text a\n", MetricKind::Text),
            ("histogram a buckets 0, 1e3\n", MetricKind::Histogram),
        ] {
            let [Stmt::Metric(m)] = &ok(src).stmts[..] else {
                panic!()
            };
            assert_eq!(m.kind, kind);
        }
        let (line, msg) = first_err("counter foo by a limit 10, b");
        assert_eq!(line, 1);
        assert!(msg.starts_with("syntax error: unexpected ','"), "{msg}");
        assert!(parse("counter foo limit 1.5\n").is_err());
        assert!(parse("counter foo as bar\n").is_err());
        assert!(parse("counter\n").is_err());
    }

    #[test]
    fn names_are_not_keywords_or_builtins() {
        assert!(parse("counter counter\n").is_err());
        assert!(parse("counter len\n").is_err());
        assert!(parse("counter foo by limit\n").is_err());
        ok("counter counters by bye, asx\n");
        ok("counter café\n");
        ok("counter lengths\nlengths++\n");
        assert_eq!(first_err("_x = 1\n").1, "Unexpected input: '_'");
        assert_eq!(first_err("?\n").1, "Unexpected input: '?'");
        assert_eq!(first_err("x = !y\n").1, "Unexpected input: '!'");
        assert!(parse("x = y != z\n").is_ok());
        let d = err("foo(1)\n").remove(0);
        assert!(d.hint.is_some_and(|h| h.contains("not a builtin")));
    }

    #[test]
    fn every_statement_kind() {
        let src = "counter c by k\nconst RE /a(?P<k>\\w+)/\ndef deco {\n  RE {\n    next\n  }\n}\n@deco {\n  c[$k]++\n}\n\
                   /x/ {\n  del c[$1] after 1h30m\n  del c[\"a\"]\n  stop\n} else {\n  c[\"b\"] = 1\n}\notherwise {\n  c[\"o\"] += 2\n}\n\
                   strptime($1, \"2006\")\n";
        let p = ok(src);
        let kinds: Vec<&str> = p
            .stmts
            .iter()
            .map(|s| match s {
                Stmt::Metric(_) => "metric",
                Stmt::Const(_) => "const",
                Stmt::Def(_) => "def",
                Stmt::Decorate(_) => "decorate",
                Stmt::Cond(_) => "cond",
                Stmt::Otherwise(..) => "otherwise",
                Stmt::Expr(_) => "expr",
                Stmt::Del(_) => "del",
                Stmt::Next(_) => "next",
                Stmt::Stop(_) => "stop",
                Stmt::LogFilter(..) => "log_filter",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "metric",
                "const",
                "def",
                "decorate",
                "cond",
                "otherwise",
                "expr"
            ]
        );
        let Stmt::Const(k) = &p.stmts[1] else {
            panic!()
        };
        assert_eq!(k.name.name, "RE");
        assert_eq!(
            k.pattern.parts,
            vec![PatternPart::Regex("a(?P<k>\\w+)".into(), Span::new(24, 37))]
        );
        let Stmt::Def(d) = &p.stmts[2] else { panic!() };
        assert_eq!(d.name.name, "deco");
        let [Stmt::Cond(inner)] = &d.body.stmts[..] else {
            panic!("{d:?}")
        };
        assert!(matches!(inner.then.stmts[..], [Stmt::Next(s)] if &src[s.start..s.end] == "next"));
        let Stmt::Decorate(deco) = &p.stmts[3] else {
            panic!()
        };
        assert_eq!(deco.name.name, "deco");
        assert_eq!(&src[deco.name.span.start..deco.name.span.end], "@deco");
        let Stmt::Cond(c) = &p.stmts[4] else { panic!() };
        let [Stmt::Del(d1), Stmt::Del(d2), Stmt::Stop(_)] = &c.then.stmts[..] else {
            panic!("{c:?}")
        };
        assert_eq!(d1.after.as_ref().map(|a| a.0.as_str()), Some("1h30m"));
        assert_eq!(sx(&d1.target), "(idx c $1)");
        assert_eq!(&src[d1.span.start..d1.span.end], "del c[$1] after 1h30m");
        assert_eq!(d2.after, None);
        assert_eq!(&src[d2.span.start..d2.span.end], "del c[\"a\"]");
        let Stmt::Otherwise(block, kw) = &p.stmts[5] else {
            panic!()
        };
        assert_eq!(&src[kw.start..kw.end], "otherwise");
        assert_eq!(block.stmts.len(), 1);
        assert_eq!(
            &src[block.span.start..block.span.end],
            "{\n  c[\"o\"] += 2\n}"
        );
        let Stmt::Expr(e) = &p.stmts[6] else { panic!() };
        assert_eq!(sx(e), "(strptime $1 \"2006\")");
        ok("del x after 168h\ndel x after 1d\ndel x after 90s\ndel x after 1.5h\n");
        assert!(parse("del x after 5\n").is_err());
        assert!(parse("del ~x\n").is_err());
    }

    #[test]
    fn builtin_calls() {
        assert_eq!(first("subst(/re/, \"x\", $y)\n"), "(subst /re/ \"x\" $y)");
        assert_eq!(first("getfilename()\n"), "(getfilename)");
        assert_eq!(first("len($1) > 0 {}\n"), "(> (len $1) 0)");
        assert_eq!(rhs("tolower(string(1 + 2))"), "(tolower (string (+ 1 2)))");
        assert!(parse("x = len 1\n").is_err());
    }

    #[test]
    fn statements_with_no_effect() {
        let msg = NO_EFFECT_MESSAGE.to_string();
        assert_eq!(first_err("/(?P<a>.)/\n"), (2, msg.clone()));
        assert_eq!(
            first_err("/(?P<a>.)/\n\t/(?P<b>.)/ {}\n\t"),
            (2, msg.clone())
        );
        assert_eq!(
            first_err("/(\\d)foo/ {\n timestamp() - $1\n}"),
            (3, msg.clone())
        );
        assert_eq!(first_err("x =~ /a/\n").1, msg);
        assert_eq!(first_err("~x\n").1, msg);
        // A bare primary is a statement, as in mtail (its checker decides about names).
        assert_eq!(first("20.0\n"), "20.0");
        assert_eq!(first("(0 =~ \"\")\n"), "(=~ 0 \"\")");
        assert_eq!(first("asdfasdf\n"), "asdfasdf");
    }

    #[test]
    fn unbalanced_blocks() {
        let want = "syntax error: unexpected end of file, expecting '}' to end block";
        assert_eq!(first_err("/foo/ {\n"), (2, want.to_string()));
        assert_eq!(first_err("/foo/ { } else {\n"), (2, want.to_string()));
        assert_eq!(first_err("otherwise {\n"), (2, want.to_string()));
        assert!(first_err("x = (1 + 2\n").1.contains("')'"));
        assert!(first_err("x = m[1\n").1.contains("']'"));
        assert!(parse("}\n").is_err());
    }

    #[test]
    fn spans_are_byte_offsets() {
        let src = "# é\nx = é + $1\n";
        let p = ok(src);
        let [Stmt::Expr(e)] = &p.stmts[..] else {
            panic!()
        };
        assert_eq!(&src[e.span.start..e.span.end], "x = é + $1");
        let ExprKind::Assign { rhs, .. } = &e.kind else {
            panic!()
        };
        assert_eq!(&src[rhs.span.start..rhs.span.end], "é + $1");
        assert_eq!(rhs_span("(a + b) * c"), "(a + b) * c");
        assert_eq!(rhs_span("~ x ++"), "~ x ++");
    }

    fn rhs_span(expr: &str) -> String {
        let src = format!("x = {expr} # trailing\n");
        let p = ok(&src);
        let [Stmt::Expr(Expr {
            kind: ExprKind::Assign { rhs, .. },
            ..
        })] = &p.stmts[..]
        else {
            panic!()
        };
        src[rhs.span.start..rhs.span.end].to_string()
    }

    /// Runs `f` on a thread with the default 2 MiB stack of test and worker threads.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .expect("spawn")
            .join()
            .expect("no stack overflow");
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed() {
        on_small_stack(|| {
            let n = MAX_DEPTH - 2;
            // As deep as allowed: parentheses, indexes, calls and blocks.
            ok(&format!("x = {}1{}\n", "(".repeat(n), ")".repeat(n)));
            ok(&format!(
                "x = {}1{}\n",
                "m[".repeat(n / 2),
                "]".repeat(n / 2)
            ));
            ok(&format!(
                "x = {}1{}\n",
                "len(".repeat(n / 2),
                ")".repeat(n / 2)
            ));
            ok(&format!("{}{}", "/a/ {\n".repeat(n), "}\n".repeat(n)));
            // Too deep, in every way.
            let too_deep = [
                format!("x = {}1{}\n", "(".repeat(20_000), ")".repeat(20_000)),
                format!("x = {}\n", "(".repeat(20_000)),
                format!("{}{}", "/a/ {\n".repeat(200), "}\n".repeat(200)),
                format!("x = {}1\n", "~".repeat(20_000)),
                format!("x{}\n", "++".repeat(20_000)),
                format!("x = 1{}\n", " + 1".repeat(20_000)),
                format!("x = 1{}\n", " && 1".repeat(20_000)),
                format!("x = {}\n", "len(".repeat(20_000)),
            ];
            for src in &too_deep {
                let d = err(src);
                assert_eq!(d[0].message, depth_message(MAX_DEPTH), "{}", &src[..40]);
            }
            // Brackets inside strings, regexes and comments do not count.
            let n = MAX_DEPTH + 50;
            ok(&format!(
                "x = \"{}\"\n# {}\n/{}/ {{}}\nconst X /{}/\nx = a / (b) / c\n",
                "(".repeat(n),
                "[".repeat(n),
                "\\(".repeat(n),
                "[(]".repeat(n)
            ));
        });
    }

    #[test]
    fn mangled_programs_never_panic() {
        let seeds = [
            "hidden counter c by a, \"b\" as \"n\" buckets -1, 0.5, 2 limit 5\nconst R /(?P<a>\\d+)\\/x/ +\n  R2\n",
            "def d {\n  /x/ && $a =~ \"y\" || ~len($1) {\n    next\n  }\n}\n@d {\n  c[$a, $b][1]++ # note\n} else {\n stop\n}\n",
            "otherwise {\n  del c[\"a\"] after 1h\n  x += (1 << 2 | 3) ** -4.5e2 / .5\n  subst(/a/, \"b\\\"\", tolower($x))\n}\n",
        ];
        for seed in seeds {
            let cuts: Vec<usize> = (0..=seed.len())
                .filter(|&i| seed.is_char_boundary(i))
                .collect();
            for &i in &cuts {
                let _ = parse(&seed[..i]);
                let _ = parse(&seed[i..]);
                if let Some(&j) = cuts.iter().find(|&&j| j > i) {
                    let _ = parse(&format!("{}{}", &seed[..i], &seed[j..]));
                }
            }
        }
    }
}
