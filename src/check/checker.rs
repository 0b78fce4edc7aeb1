//! The checker: resolves names in scopes, inlines decorators, infers every type and reports all
//! of a program's errors at once, in mtail's words.
//!
//! Metric value types are inferred by unification over every assignment: a pass over the whole
//! program records the type of each value written to each metric, and passes repeat until no
//! metric's type changes (types only move up the lattice, so this ends quickly).

use super::ir::{Checked, Conv, Expr, ExprKind, RegexDef, RegexId, Stmt, Type, Update};
use super::{captype, duration, pattern};
use crate::store::{MetricDef, MetricId, ValueType};
use crate::syntax::ast::{self, AssignOp, BinOp, Builtin, IncDec, MetricKind};
use crate::syntax::diag::Diagnostic;
use crate::syntax::span::{line_col, Span};
use std::collections::HashMap;

/// Check a parsed program. `name` is the program's file name, `src` its text (for positions).
pub fn check(prog: &ast::Program, name: &str, src: &str) -> Result<Checked, Vec<Diagnostic>> {
    let mut types: Vec<Option<Type>> = Vec::new();
    for _ in 0..16 {
        let mut c = Checker::new(name, src, &types);
        let body = c.stmts(&prog.stmts);
        c.report_unused();
        let inferred: Vec<Option<Type>> = c.metrics.iter().map(|m| m.assigned).collect();
        if inferred == types {
            return c.finish(body);
        }
        types = inferred;
    }
    let mut c = Checker::new(name, src, &types);
    let body = c.stmts(&prog.stmts);
    c.report_unused();
    c.finish(body)
}

#[derive(Clone, Copy)]
enum Sym {
    Metric(usize),
    Const(usize),
    Def(usize),
    Capture {
        regex: RegexId,
        group: u16,
        ty: Type,
    },
}

struct MetricSlot<'a> {
    decl: &'a ast::MetricDecl,
    used: bool,
    /// LUB of the types written to it in this pass.
    assigned: Option<Type>,
}

struct ConstSlot {
    name: String,
    span: Span,
    text: String,
    used: bool,
}

struct DefSlot<'a> {
    decl: &'a ast::DefDecl,
    used: bool,
    expanding: bool,
}

struct Checker<'a> {
    name: &'a str,
    src: &'a str,
    diags: Vec<Diagnostic>,
    scopes: Vec<HashMap<String, Sym>>,
    metrics: Vec<MetricSlot<'a>>,
    metric_by_span: HashMap<(usize, usize), usize>,
    prior_types: &'a [Option<Type>],
    consts: Vec<ConstSlot>,
    defs: Vec<DefSlot<'a>>,
    regexes: Vec<RegexDef>,
    /// Bodies waiting for a `next`: the innermost decoration is last.
    next_bodies: Vec<&'a ast::Block>,
    /// While checking a def at its declaration: how many `next`s were seen.
    def_nexts: Option<usize>,
    /// The logs named by `log_filter`s, in order, without duplicates.
    log_filter: Vec<String>,
}

impl<'a> Checker<'a> {
    fn new(name: &'a str, src: &'a str, prior_types: &'a [Option<Type>]) -> Checker<'a> {
        Checker {
            name,
            src,
            diags: Vec::new(),
            scopes: vec![HashMap::new()],
            metrics: Vec::new(),
            metric_by_span: HashMap::new(),
            prior_types,
            consts: Vec::new(),
            defs: Vec::new(),
            regexes: Vec::new(),
            next_bodies: Vec::new(),
            log_filter: Vec::new(),
            def_nexts: None,
        }
    }

    fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, msg));
    }

    fn error_hint(&mut self, span: Span, msg: impl Into<String>, hint: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, msg).with_hint(hint));
    }

    fn pos(&self, span: Span) -> String {
        let (l, c) = line_col(self.src, span.start);
        let (_, ec) = line_col(self.src, span.end.max(span.start + 1) - 1);
        // As mtail's `Position.String`: the end column only when the span is wider than one.
        if ec > c {
            format!("{}:{l}:{c}-{ec}", self.name)
        } else {
            format!("{}:{l}:{c}", self.name)
        }
    }

    // ---- scopes -------------------------------------------------------------------------

    fn lookup(&self, name: &str) -> Option<Sym> {
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    fn declare(&mut self, name: String, sym: Sym) {
        if let Some(top) = self.scopes.last_mut() {
            top.insert(name, sym);
        }
    }

    fn scoped<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        self.scopes.push(HashMap::new());
        let out = f(self);
        self.scopes.pop();
        out
    }

    // ---- statements ---------------------------------------------------------------------

    fn stmts(&mut self, stmts: &'a [ast::Stmt]) -> Vec<Stmt> {
        let mut out = Vec::new();
        for s in stmts {
            self.stmt(s, &mut out);
        }
        out
    }

    fn block(&mut self, b: &'a ast::Block) -> Vec<Stmt> {
        self.scoped(|c| c.stmts(&b.stmts))
    }

    fn stmt(&mut self, s: &'a ast::Stmt, out: &mut Vec<Stmt>) {
        match s {
            ast::Stmt::Metric(d) => self.declare_metric(d),
            ast::Stmt::Const(c) => self.declare_const(c),
            ast::Stmt::Def(d) => self.declare_def(d),
            ast::Stmt::Decorate(d) => self.decorate(d, out),
            ast::Stmt::Cond(c) => {
                let stmt = self.scoped(|ch| {
                    let cond = ch.condition(&c.cond);
                    let then = ch.block(&c.then);
                    let otherwise = c.otherwise.as_ref().map(|b| ch.block(b));
                    Stmt::Cond {
                        cond,
                        then,
                        otherwise,
                    }
                });
                out.push(stmt);
            }
            ast::Stmt::Otherwise(b, _) => {
                let body = self.block(b);
                out.push(Stmt::Otherwise(body));
            }
            ast::Stmt::Expr(e) => self.expr_stmt(e, out),
            ast::Stmt::Del(d) => self.del(d, out),
            ast::Stmt::Next(span) => self.next(*span, out),
            ast::Stmt::Stop(_) => out.push(Stmt::Stop),
            // As in mtail, a `log_filter` anywhere restricts the whole program.
            ast::Stmt::LogFilter(names, _) => {
                for n in names {
                    if !self.log_filter.contains(&n.name) {
                        self.log_filter.push(n.name.clone());
                    }
                }
            }
        }
    }

    fn declare_metric(&mut self, d: &'a ast::MetricDecl) {
        let key = (d.span.start, d.span.end);
        if let Some(&i) = self.metric_by_span.get(&key) {
            self.declare(d.name.name.clone(), Sym::Metric(i));
            return;
        }
        if let Some(Sym::Metric(prev)) = self.lookup(&d.name.name) {
            let at = self.pos(self.metrics[prev].decl.name.span);
            self.error(
                d.name.span,
                format!(
                    "Redeclaration of metric `{}' previously declared at {at}",
                    d.name.name
                ),
            );
        }
        if d.buckets.is_some() && d.kind != MetricKind::Histogram {
            self.error(
                d.name.span,
                "Can't specify buckets for non-histogram metric",
            );
        }
        if let Some(b) = &d.buckets {
            if b.windows(2).any(|w| w[1].0 <= w[0].0) {
                self.error(
                    d.name.span,
                    "Histogram buckets must be in strictly increasing order",
                );
            }
        }
        let i = self.metrics.len();
        self.metrics.push(MetricSlot {
            decl: d,
            used: false,
            assigned: None,
        });
        self.metric_by_span.insert(key, i);
        self.declare(d.name.name.clone(), Sym::Metric(i));
    }

    fn declare_const(&mut self, c: &'a ast::ConstDecl) {
        let text = self
            .pattern_text(&c.pattern, Some(&c.name.name))
            .unwrap_or_default();
        let i = self.consts.len();
        self.consts.push(ConstSlot {
            name: c.name.name.clone(),
            span: c.name.span,
            text,
            used: false,
        });
        self.declare(c.name.name.clone(), Sym::Const(i));
    }

    fn declare_def(&mut self, d: &'a ast::DefDecl) {
        let i = self.defs.len();
        self.defs.push(DefSlot {
            decl: d,
            used: false,
            expanding: true,
        });
        self.declare(d.name.name.clone(), Sym::Def(i));
        // Check the body once where it is declared, as mtail does; the code is discarded and
        // produced again, with the decorated body in place of `next`, at each use.
        let saved_regexes = self.regexes.len();
        let saved_nexts = self.def_nexts.replace(0);
        let saved_bodies = std::mem::take(&mut self.next_bodies);
        let _ = self.block(&d.body);
        self.next_bodies = saved_bodies;
        self.def_nexts = saved_nexts;
        self.regexes.truncate(saved_regexes);
        self.defs[i].expanding = false;
    }

    fn decorate(&mut self, d: &'a ast::Decoration, out: &mut Vec<Stmt>) {
        let name = &d.name.name;
        let at = Span::new(d.span.start, d.name.span.end);
        let def = match self.lookup(name) {
            Some(Sym::Def(i)) => i,
            _ => {
                self.error_hint(
                    at,
                    format!("Decorator `@{name}' is not defined."),
                    format!("Try adding a definition `def {name} {{}}' earlier in the program."),
                );
                return;
            }
        };
        if self.defs[def].expanding {
            self.defs[def].used = true;
            self.error_hint(
                at,
                format!("Decorator `@{name}' is not completely defined yet."),
                format!("Try removing @{name} from here."),
            );
            self.error_hint(
                at,
                format!("No symbols found in decorator `@{name}'."),
                "Try adding a `next' statement inside the `{}' block.",
            );
            return;
        }
        self.defs[def].used = true;
        let decl = self.defs[def].decl;
        if !contains_next(&decl.body.stmts) {
            let s = decl.span.start;
            self.error_hint(
                Span::new(s, s + 3),
                format!("No symbols found in decorator `@{name}'."),
                "Try adding a `next' statement inside the `{}' block.",
            );
            return;
        }
        self.defs[def].expanding = true;
        self.next_bodies.push(&d.body);
        let body = self.block(&decl.body);
        self.next_bodies.pop();
        self.defs[def].expanding = false;
        out.extend(body);
    }

    fn next(&mut self, span: Span, out: &mut Vec<Stmt>) {
        if let Some(n) = self.def_nexts.as_mut() {
            *n += 1;
            if *n > 1 {
                self.error(span, "Can't use `next' statement twice in a decorator.");
            }
            return;
        }
        let Some(body) = self.next_bodies.pop() else {
            self.error(span, "Can't use `next' outside of a decorator.");
            return;
        };
        let stmts = self.block(body);
        self.next_bodies.push(body);
        out.extend(stmts);
    }

    fn del(&mut self, d: &'a ast::DelStmt, out: &mut Vec<Stmt>) {
        let target = match &d.target.kind {
            ast::ExprKind::Index { base, keys } => match &base.kind {
                ast::ExprKind::Id(n) => match self.lookup(n) {
                    Some(Sym::Metric(i)) if !self.metrics[i].decl.keys.is_empty() => {
                        Some((i, keys, base.span))
                    }
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        let Some((i, keys, _)) = target else {
            let hint = match &d.target.kind {
                ast::ExprKind::Id(n) if matches!(self.lookup(n), Some(Sym::Metric(_))) => {
                    if let Some(Sym::Metric(i)) = self.lookup(n) {
                        self.metrics[i].used = true;
                    }
                    "Try deleting an index from this dimensioned metric."
                }
                _ => "Try deleting from a dimensioned metric with this as an index.",
            };
            self.error_hint(d.target.span, "Cannot delete this.", hint);
            return;
        };
        let Some((metric, keys)) = self.metric_keys(i, keys, d.target.span) else {
            return;
        };
        let after_ns = match &d.after {
            None => None,
            Some((text, span)) => match duration::parse(text) {
                Ok(ns) => Some(ns),
                Err(e) => {
                    self.error(*span, e);
                    return;
                }
            },
        };
        out.push(Stmt::Del {
            metric,
            keys,
            after_ns,
        });
    }

    fn expr_stmt(&mut self, e: &'a ast::Expr, out: &mut Vec<Stmt>) {
        match &e.kind {
            ast::ExprKind::Assign { op, lhs, rhs } => {
                let Some((metric, keys)) = self.target(
                    lhs,
                    "Can't assign to expression on left; expecting a variable here.",
                ) else {
                    let _ = self.expr(rhs);
                    return;
                };
                let value = self.expr(rhs);
                if matches!(value.ty, Type::Bool | Type::None) && !is_poison(&value) {
                    self.error_hint(
                        rhs.span,
                        format!("Can't assign a {} value to a metric.", value.ty.as_str()),
                        "Metrics hold numbers or strings; use the condition in a block instead.",
                    );
                    return;
                }
                let i = metric.0 as usize;
                self.note_assigned(i, value.ty);
                let kind = self.metrics[i].decl.kind;
                let mty = self.metric_type(i);
                let op = match (op, kind) {
                    (AssignOp::Assign, MetricKind::Histogram) => {
                        Update::Observe(self.coerce(value, Type::Float))
                    }
                    (AssignOp::AddAssign, MetricKind::Histogram) => {
                        self.error(
                            e.span,
                            "Can't add to a histogram; assign an observation with `='",
                        );
                        return;
                    }
                    (AssignOp::Assign, _) => Update::Set(self.coerce(value, mty)),
                    (AssignOp::AddAssign, _) => Update::Add(self.coerce(value, mty)),
                };
                out.push(Stmt::Update { metric, keys, op });
            }
            ast::ExprKind::Postfix { op, expr } => {
                let Some((metric, keys)) = self.target(
                    expr,
                    "Can't assign to expression; expecting a variable here.",
                ) else {
                    return;
                };
                let i = metric.0 as usize;
                self.note_assigned(i, Type::Int);
                let mty = self.metric_type(i);
                if mty != Type::Int {
                    let which = if *op == IncDec::Inc { "INC" } else { "DEC" };
                    self.error(
                        Span::new(e.span.start, e.span.start),
                        format!(
                            "type mismatch: expecting an Int for {which}, not {}.",
                            mty.as_str()
                        ),
                    );
                    return;
                }
                let op = if *op == IncDec::Inc {
                    Update::Inc
                } else {
                    Update::Dec
                };
                out.push(Stmt::Update { metric, keys, op });
            }
            _ => {
                let value = self.expr(e);
                out.push(Stmt::Eval(value));
            }
        }
    }

    /// An assignment target: a metric, indexed with all its keys.
    fn target(&mut self, e: &'a ast::Expr, msg: &str) -> Option<(MetricId, Vec<Expr>)> {
        let (name, keys): (&str, &'a [ast::Expr]) = match &e.kind {
            ast::ExprKind::Id(n) => (n, &[]),
            ast::ExprKind::Index { base, keys } => match &base.kind {
                ast::ExprKind::Id(n) => (n, keys),
                _ => {
                    self.error(e.span, msg);
                    return None;
                }
            },
            _ => {
                self.error(e.span, msg);
                return None;
            }
        };
        match self.lookup(name) {
            Some(Sym::Metric(i)) => self.metric_keys(i, keys, e.span),
            Some(_) => {
                self.error(e.span, msg);
                None
            }
            None => {
                self.undeclared(name, e.span);
                None
            }
        }
    }

    /// Resolve `metric[keys…]`, checking the number of keys; keys become label strings.
    fn metric_keys(
        &mut self,
        i: usize,
        keys: &'a [ast::Expr],
        span: Span,
    ) -> Option<(MetricId, Vec<Expr>)> {
        self.metrics[i].used = true;
        let want = self.metrics[i].decl.keys.len();
        let got = keys.len();
        if want == 0 && got > 0 {
            self.error(span, "Index taken on unindexable expression");
            return None;
        }
        if got < want {
            self.error(
                span,
                format!("Not enough keys for indexed expression: expecting {want}, received {got}"),
            );
            return None;
        }
        if got > want {
            self.error(
                span,
                format!("Too many keys for indexed expression: expecting {want}, received {got}."),
            );
            return None;
        }
        let keys = keys
            .iter()
            .map(|k| {
                let e = self.expr(k);
                self.coerce(e, Type::String)
            })
            .collect();
        Some((MetricId(i as u32), keys))
    }

    fn note_assigned(&mut self, i: usize, ty: Type) {
        let ty = if ty == Type::Bool { Type::Int } else { ty };
        if !matches!(ty, Type::Int | Type::Float | Type::String) {
            return;
        }
        let slot = &mut self.metrics[i];
        slot.assigned = Some(slot.assigned.map_or(ty, |t| t.lub(ty)));
    }

    /// The type of a metric's values as an expression sees them.
    fn metric_type(&self, i: usize) -> Type {
        match self.metrics[i].decl.kind {
            MetricKind::Text => Type::String,
            MetricKind::Histogram => Type::Float,
            _ => match self.prior_types.get(i).copied().flatten() {
                Some(Type::Float) => Type::Float,
                Some(Type::String) => Type::String,
                _ => Type::Int,
            },
        }
    }

    fn undeclared(&mut self, name: &str, span: Span) {
        self.error_hint(
            span,
            format!("Identifier `{name}' not declared."),
            format!("Try declaring it as a metric, or adding `const {name} /.../' earlier in the program."),
        );
    }

    fn report_unused(&mut self) {
        let mut found = Vec::new();
        for m in &self.metrics {
            if !m.used {
                found.push(Diagnostic::new(
                    m.decl.name.span,
                    format!(
                        "Declaration of variable `{}' here is never used.",
                        m.decl.name.name
                    ),
                ));
            }
        }
        for c in &self.consts {
            if !c.used {
                found.push(Diagnostic::new(
                    c.span,
                    format!(
                        "Declaration of named pattern constant `{}' here is never used.",
                        c.name
                    ),
                ));
            }
        }
        for d in &self.defs {
            if !d.used {
                found.push(Diagnostic::new(
                    d.decl.span,
                    format!(
                        "Declaration of decorator `{}' here is never used.",
                        d.decl.name.name
                    ),
                ));
            }
        }
        self.diags.extend(found);
    }

    fn finish(mut self, body: Vec<Stmt>) -> Result<Checked, Vec<Diagnostic>> {
        if !self.diags.is_empty() {
            let mut seen = std::collections::HashSet::new();
            self.diags
                .retain(|d| seen.insert((d.span.start, d.span.end, d.message.clone())));
            self.diags.sort_by_key(|d| (d.span.start, d.span.end));
            return Err(self.diags);
        }
        let metrics = (0..self.metrics.len())
            .map(|i| self.metric_def(i))
            .collect();
        Ok(Checked {
            metrics,
            metric_spans: self.metrics.iter().map(|m| m.decl.name.span).collect(),
            regexes: self.regexes,
            body,
            log_filter: self.log_filter,
        })
    }

    fn metric_def(&self, i: usize) -> MetricDef {
        let d = self.metrics[i].decl;
        let value_type = match d.kind {
            MetricKind::Text => ValueType::String,
            MetricKind::Histogram => ValueType::Buckets,
            _ => match self.metrics[i].assigned {
                Some(Type::Float) => ValueType::Float,
                Some(Type::String) => ValueType::String,
                _ => ValueType::Int,
            },
        };
        let mut buckets = Vec::new();
        if let Some(b) = &d.buckets {
            let bounds: Vec<f64> = b.iter().map(|(v, _)| *v).collect();
            if let Some(&first) = bounds.first() {
                if first > 0.0 {
                    buckets.push((0.0, first));
                }
            }
            for w in bounds.windows(2) {
                buckets.push((w[0], w[1]));
            }
            if let Some(&last) = bounds.last() {
                buckets.push((last, f64::INFINITY));
            }
        }
        MetricDef {
            name: d
                .export_name
                .as_ref()
                .map_or_else(|| d.name.name.clone(), |(n, _)| n.clone()),
            program: self.name.to_string(),
            kind: d.kind,
            value_type,
            keys: d.keys.iter().map(|k| k.name.clone()).collect(),
            hidden: d.hidden,
            buckets,
            limit: d.limit.map_or(0, |(n, _)| n.max(0) as u64),
            source: self.pos(d.name.span),
        }
    }

    // ---- patterns -----------------------------------------------------------------------

    /// The RE2 text of a pattern expression; `defining` names a const being defined.
    fn pattern_text(&mut self, p: &ast::PatternExpr, defining: Option<&str>) -> Option<String> {
        let mut text = String::new();
        let mut ok = true;
        for part in &p.parts {
            match part {
                ast::PatternPart::Regex(s, _) => text.push_str(s),
                ast::PatternPart::Const(id) => match self.lookup(&id.name) {
                    Some(Sym::Const(i)) => {
                        self.consts[i].used = true;
                        text.push_str(&self.consts[i].text);
                    }
                    Some(sym) => {
                        if let Sym::Metric(m) = sym {
                            self.metrics[m].used = true;
                        }
                        self.error(id.span, format!("Can't append variable `{}' to a pattern; only const patterns may be concatenated.", id.name));
                        ok = false;
                    }
                    None if defining == Some(id.name.as_str()) => {
                        self.error_hint(
                            Span::new(id.span.start, id.span.start),
                            format!("Can't evaluate pattern fragment `{}' here.", id.name),
                            "Try defining it earlier in the program.",
                        );
                        ok = false;
                    }
                    None => {
                        self.error_hint(
                            Span::new(id.span.start, id.span.start),
                            format!("Identifier `{}' not declared.", id.name),
                            format!(
                                "Try adding `const {} /.../' earlier in the program.",
                                id.name
                            ),
                        );
                        ok = false;
                    }
                },
            }
        }
        ok.then_some(text)
    }

    /// Compile a regex; when `declare`, its capture groups become visible in the current scope.
    fn regex(
        &mut self,
        source: String,
        span: Span,
        on_line: bool,
        declare: bool,
    ) -> Option<RegexId> {
        let max_len = crate::syntax::limits::get().max_regexp_length;
        if source.len() > max_len {
            self.error_hint(
                span,
                format!(
                    "Exceeded maximum regular expression pattern length of {} bytes with {}.",
                    max_len,
                    source.len()
                ),
                "Excessively long patterns are likely to cause compilation and runtime performance problems.",
            );
            return None;
        }
        let translated = match pattern::translate(&source) {
            Ok(t) => t,
            Err(e) => {
                self.error(span, format!("error parsing regexp: {e}"));
                return None;
            }
        };
        let compiled = match regex::bytes::RegexBuilder::new(&translated)
            .size_limit(64 << 20)
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                self.error(span, format!("error parsing regexp: {e}"));
                return None;
            }
        };
        let id = RegexId(self.regexes.len() as u16);
        if self.regexes.len() >= u16::MAX as usize {
            self.error(span, "too many regular expressions in one program");
            return None;
        }
        if declare {
            let types = captype::capture_types(&source).unwrap_or_default();
            for (group, name) in compiled.capture_names().enumerate() {
                let ty = match types.get(group) {
                    // mtail types the whole match as None: a label key, not a value.
                    _ if group == 0 => Type::None,
                    Some(captype::CapType::Int) => Type::Int,
                    Some(captype::CapType::Float) => Type::Float,
                    _ => Type::String,
                };
                let sym = Sym::Capture {
                    regex: id,
                    group: group as u16,
                    ty,
                };
                // As in mtail 3.4, a numbered group may be declared again in the same scope
                // (`/(\w+)/ && PAT`): the last match wins. A named group may not.
                if let Some(n) = name {
                    let key = format!("${n}");
                    if let Some(Sym::Capture { regex, .. }) =
                        self.scopes.last().and_then(|s| s.get(&key)).copied()
                    {
                        let at = self.pos(self.regexes[regex.0 as usize].span);
                        self.error(
                            span,
                            format!(
                                "Redeclaration of capture group `{n}' previously declared at {at}"
                            ),
                        );
                    }
                    self.declare(key, sym);
                }
                self.declare(format!("${group}"), sym);
            }
        }
        self.regexes.push(RegexDef {
            source,
            translated,
            on_line,
            span,
        });
        Some(id)
    }

    // ---- expressions --------------------------------------------------------------------

    fn poison(span: Span) -> Expr {
        Expr {
            kind: ExprKind::Int(0),
            ty: Type::None,
            span,
        }
    }

    /// A condition: a Bool expression; a pattern or a const name matches the input line.
    fn condition(&mut self, e: &'a ast::Expr) -> Expr {
        let c = self.logical_operand(e);
        if c.ty == Type::Int {
            self.error_hint(
                Span::new(e.span.start, e.span.start),
                "Can't interpret Int as a boolean expression here.",
                "Try using comparison operators to make the condition explicit.",
            );
        } else if !matches!(c.ty, Type::Bool | Type::None) {
            self.error_hint(
                e.span,
                format!(
                    "Can't interpret {} as a boolean expression here.",
                    c.ty.as_str()
                ),
                "Try using a comparison or a match (`=~`) to make the condition explicit.",
            );
        }
        c
    }

    /// An operand of `&&`/`||` or a condition: patterns and const names match the line.
    fn logical_operand(&mut self, e: &'a ast::Expr) -> Expr {
        match &e.kind {
            ast::ExprKind::Pattern(p) => self.line_match(p, e.span),
            ast::ExprKind::Id(n) if matches!(self.lookup(n), Some(Sym::Const(_))) => {
                let Some(Sym::Const(i)) = self.lookup(n) else {
                    return Self::poison(e.span);
                };
                self.consts[i].used = true;
                let text = self.consts[i].text.clone();
                self.match_line_text(text, e.span, e.span)
            }
            _ => self.expr(e),
        }
    }

    fn line_match(&mut self, p: &ast::PatternExpr, span: Span) -> Expr {
        let Some(text) = self.pattern_text(p, None) else {
            return Self::poison(span);
        };
        self.match_line_text(text, p.span, span)
    }

    /// Match the regex `text` (written at `at`) against the input line; its captures are
    /// declared in the current scope.
    fn match_line_text(&mut self, text: String, at: Span, span: Span) -> Expr {
        match self.regex(text, at, true, true) {
            Some(regex) => Expr {
                kind: ExprKind::Match {
                    regex,
                    subject: None,
                    negated: false,
                },
                ty: Type::Bool,
                span,
            },
            None => Self::poison(span),
        }
    }

    fn as_bool(&mut self, e: Expr) -> Expr {
        match e.ty {
            Type::Int => {
                let span = e.span;
                Expr {
                    kind: ExprKind::Convert {
                        conv: Conv::IntToBool,
                        expr: Box::new(e),
                    },
                    ty: Type::Bool,
                    span,
                }
            }
            _ => e,
        }
    }

    fn coerce(&mut self, e: Expr, to: Type) -> Expr {
        let conv = match (e.ty, to) {
            (a, b) if a == b => return e,
            (Type::None, _) => return e,
            (Type::Bool, Type::Int) => Conv::BoolToInt,
            (Type::Bool, Type::Float) => {
                let e = self.coerce(e, Type::Int);
                return self.coerce(e, Type::Float);
            }
            (Type::Bool, Type::String) => {
                let e = self.coerce(e, Type::Int);
                return self.coerce(e, Type::String);
            }
            (Type::Int, Type::Float) => Conv::IntToFloat,
            (Type::Int, Type::String) => Conv::IntToStr,
            (Type::Float, Type::String) => Conv::FloatToStr,
            (Type::String, Type::Int) => Conv::StrToInt,
            (Type::String, Type::Float) => Conv::StrToFloat,
            (Type::Int, Type::Bool) => Conv::IntToBool,
            (from, to) => {
                self.error(
                    e.span,
                    format!("can't convert {:?} to {:?}", from.as_str(), to.as_str()),
                );
                return Self::poison(e.span);
            }
        };
        let span = e.span;
        Expr {
            kind: ExprKind::Convert {
                conv,
                expr: Box::new(e),
            },
            ty: to,
            span,
        }
    }

    fn expr(&mut self, e: &'a ast::Expr) -> Expr {
        let span = e.span;
        let mk = |kind, ty| Expr { kind, ty, span };
        match &e.kind {
            ast::ExprKind::Int(i) => mk(ExprKind::Int(*i), Type::Int),
            ast::ExprKind::Float(f) => mk(ExprKind::Float(*f), Type::Float),
            ast::ExprKind::Str(s) => mk(ExprKind::Str(s.clone()), Type::String),
            ast::ExprKind::Pattern(p) => self.line_match(p, span),
            ast::ExprKind::Id(n) => match self.lookup(n) {
                Some(Sym::Metric(i)) => match self.metric_keys(i, &[], span) {
                    Some((metric, keys)) => {
                        mk(ExprKind::Load { metric, keys }, self.metric_type(i))
                    }
                    None => Self::poison(span),
                },
                Some(Sym::Const(_)) => self.logical_operand(e),
                Some(Sym::Def(_)) => {
                    self.error(span, format!("Decorator `{n}' can't be used as a value."));
                    Self::poison(span)
                }
                Some(Sym::Capture { .. }) | None => {
                    self.undeclared(n, span);
                    Self::poison(span)
                }
            },
            ast::ExprKind::Index { base, keys } => {
                let name = match &base.kind {
                    ast::ExprKind::Id(n) => n,
                    _ => {
                        self.error(span, "Index taken on unindexable expression");
                        return Self::poison(span);
                    }
                };
                match self.lookup(name) {
                    Some(Sym::Metric(i)) => match self.metric_keys(i, keys, span) {
                        Some((metric, keys)) => {
                            mk(ExprKind::Load { metric, keys }, self.metric_type(i))
                        }
                        None => Self::poison(span),
                    },
                    Some(_) => {
                        self.error(span, "Index taken on unindexable expression");
                        Self::poison(span)
                    }
                    None => {
                        self.undeclared(name, base.span);
                        Self::poison(span)
                    }
                }
            }
            ast::ExprKind::CapRef(name) => self.capref(name, span),
            ast::ExprKind::Call { builtin, args } => self.call(*builtin, args, span),
            ast::ExprKind::BitNot(inner) => {
                let v = self.expr(inner);
                match v.ty {
                    Type::Int | Type::Bool => {
                        let v = self.coerce(v, Type::Int);
                        // Typed Bool (a condition, not assignable) but the value stays the
                        // complemented Int, which arithmetic and bitwise ops use as it is.
                        mk(ExprKind::BitNot(Box::new(v)), Type::Bool)
                    }
                    t => {
                        self.error(
                            span,
                            format!(
                                "type mismatch; expected Int received {} for `~' operator.",
                                t.as_str()
                            ),
                        );
                        Self::poison(span)
                    }
                }
            }
            ast::ExprKind::Postfix { .. } | ast::ExprKind::Assign { .. } => {
                self.error(
                    span,
                    "An assignment can't be used as a value here; make it a statement of its own.",
                );
                Self::poison(span)
            }
            ast::ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span),
            ast::ExprKind::Match { negated, lhs, rhs } => {
                let subject = self.expr(lhs);
                let subject = self.coerce(subject, Type::String);
                let source = match &rhs.kind {
                    ast::ExprKind::Pattern(p) => self.pattern_text(p, None),
                    ast::ExprKind::Str(s) => Some(s.clone()),
                    ast::ExprKind::Id(n) => match self.lookup(n) {
                        Some(Sym::Const(i)) => {
                            self.consts[i].used = true;
                            Some(self.consts[i].text.clone())
                        }
                        _ => {
                            // mtail has no dynamic regexes: anything else is the empty regex.
                            let _ = self.expr(rhs);
                            Some(String::new())
                        }
                    },
                    _ => {
                        let _ = self.expr(rhs);
                        Some(String::new())
                    }
                };
                let Some(source) = source else {
                    return Self::poison(span);
                };
                match self.regex(source, rhs.span, false, true) {
                    Some(regex) => mk(
                        ExprKind::Match {
                            regex,
                            subject: Some(Box::new(subject)),
                            negated: *negated,
                        },
                        Type::Bool,
                    ),
                    None => Self::poison(span),
                }
            }
        }
    }

    fn capref(&mut self, name: &str, span: Span) -> Expr {
        match self.lookup(&format!("${name}")) {
            Some(Sym::Capture { regex, group, ty }) => {
                let raw = Expr {
                    kind: ExprKind::Capture { regex, group },
                    ty: Type::String,
                    span,
                };
                if ty == Type::None {
                    return Expr {
                        ty: Type::None,
                        ..raw
                    };
                }
                self.coerce(raw, ty)
            }
            _ => {
                let hint = if name.bytes().all(|b| b.is_ascii_digit()) {
                    format!("Check that there are at least {name} pairs of parentheses.")
                } else {
                    format!("Try using `(?P<{name}>...)' to name the capture group.")
                };
                self.error_hint(
                    span,
                    format!("Capture group `${name}' was not defined by a regular expression visible to this scope."),
                    hint,
                );
                Self::poison(span)
            }
        }
    }

    fn binary(&mut self, op: BinOp, lhs: &'a ast::Expr, rhs: &'a ast::Expr, span: Span) -> Expr {
        if matches!(op, BinOp::And | BinOp::Or) {
            let l = self.logical_operand(lhs);
            let l = self.as_bool(l);
            let r = self.logical_operand(rhs);
            let r = self.as_bool(r);
            let kind = if op == BinOp::And {
                ExprKind::And(Box::new(l), Box::new(r))
            } else {
                ExprKind::Or(Box::new(l), Box::new(r))
            };
            return Expr {
                kind,
                ty: Type::Bool,
                span,
            };
        }
        let l = self.expr(lhs);
        let r = self.expr(rhs);
        if l.ty == Type::None || r.ty == Type::None {
            if !is_poison(&l) && !is_poison(&r) {
                self.error(
                    span,
                    format!("type mismatch: can't apply {} to None", op.as_str()),
                );
            }
            return Self::poison(span);
        }
        if let Some(folded) = self.fold(op, &l, &r, span) {
            return folded;
        }
        if matches!(op, BinOp::Div | BinOp::Mod) && matches!(r.kind, ExprKind::Int(0)) {
            self.error(span, "Can't divide by zero.");
            return Self::poison(span);
        }
        let t = l.ty.lub(r.ty);
        let t = if t == Type::Bool { Type::Int } else { t };
        match op {
            BinOp::Add if t == Type::String => {
                let l = self.coerce(l, Type::String);
                let r = self.coerce(r, Type::String);
                Expr {
                    kind: ExprKind::Concat(Box::new(l), Box::new(r)),
                    ty: Type::String,
                    span,
                }
            }
            BinOp::Add
            | BinOp::Sub
            | BinOp::Mul
            | BinOp::Div
            | BinOp::Mod
            | BinOp::Pow
            | BinOp::Shl
            | BinOp::Shr
            | BinOp::BitAnd
            | BinOp::BitOr
            | BinOp::BitXor => {
                let bitwise = matches!(
                    op,
                    BinOp::Shl | BinOp::Shr | BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor
                );
                let (ok, what) = if bitwise {
                    (t == Type::Int, "Integer types expected for bitwise op")
                } else {
                    (t.is_numeric(), "type mismatch: can't apply")
                };
                if !ok {
                    let (lt, rt) = (l.ty.as_str(), r.ty.as_str());
                    self.error(span, format!("{what} {} to {lt} and {rt}", op.as_str()));
                    return Self::poison(span);
                }
                let l = self.coerce(l, t);
                let r = self.coerce(r, t);
                let kind = ExprKind::Arith {
                    op,
                    lhs: Box::new(l),
                    rhs: Box::new(r),
                };
                Expr { kind, ty: t, span }
            }
            _ => {
                if !matches!(t, Type::Int | Type::Float | Type::String) {
                    self.error(
                        span,
                        format!(
                            "type mismatch: can't compare {} and {}",
                            l.ty.as_str(),
                            r.ty.as_str()
                        ),
                    );
                    return Self::poison(span);
                }
                let l = self.coerce(l, t);
                let r = self.coerce(r, t);
                Expr {
                    kind: ExprKind::Compare {
                        op,
                        operand: t,
                        lhs: Box::new(l),
                        rhs: Box::new(r),
                    },
                    ty: Type::Bool,
                    span,
                }
            }
        }
    }

    /// Fold arithmetic on two literals, as mtail's optimiser does before type checking.
    fn fold(&mut self, op: BinOp, l: &Expr, r: &Expr, span: Span) -> Option<Expr> {
        use BinOp::*;
        let int = |v| {
            Some(Expr {
                kind: ExprKind::Int(v),
                ty: Type::Int,
                span,
            })
        };
        let float = |v| {
            Some(Expr {
                kind: ExprKind::Float(v),
                ty: Type::Float,
                span,
            })
        };
        match (&l.kind, &r.kind) {
            (ExprKind::Int(a), ExprKind::Int(b)) => {
                let (a, b) = (*a, *b);
                match op {
                    Add => int(a.wrapping_add(b)),
                    Sub => int(a.wrapping_sub(b)),
                    Mul => int(a.wrapping_mul(b)),
                    Div | Mod if b == 0 => {
                        self.error(
                            span,
                            if op == Div {
                                "divide by zero"
                            } else {
                                "mod by zero"
                            },
                        );
                        Some(Self::poison(span))
                    }
                    Div => int(a.wrapping_div(b)),
                    Mod => int(a.wrapping_rem(b)),
                    Pow => int(crate::vm::ops::int_pow(a, b)),
                    _ => None,
                }
            }
            (ExprKind::Int(_) | ExprKind::Float(_), ExprKind::Int(_) | ExprKind::Float(_)) => {
                let a = literal_f64(l)?;
                let b = literal_f64(r)?;
                match op {
                    Add => float(a + b),
                    Sub => float(a - b),
                    Mul => float(a * b),
                    Div if b == 0.0 => {
                        self.error(span, "divide by zero");
                        Some(Self::poison(span))
                    }
                    Mod if b == 0.0 => {
                        self.error(span, "mod by zero");
                        Some(Self::poison(span))
                    }
                    Div => float(a / b),
                    Mod => float(a % b),
                    Pow => float(a.powf(b)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A builtin's argument: a value (not None, like `$0` or `strptime(…)`).
    fn arg(&mut self, b: Builtin, i: usize, e: &'a ast::Expr) -> Expr {
        let v = self.expr(e);
        if v.ty == Type::None && !is_poison(&v) {
            self.error(
                e.span,
                format!(
                    "Expecting a value for argument {} of {}(), not None.",
                    i + 1,
                    b.as_str()
                ),
            );
            return Self::poison(e.span);
        }
        v
    }

    fn call(&mut self, b: Builtin, args: &'a [ast::Expr], span: Span) -> Expr {
        let arity = match b {
            Builtin::GetFilename | Builtin::Timestamp => 0,
            Builtin::Len
            | Builtin::Tolower
            | Builtin::Int
            | Builtin::Float
            | Builtin::String
            | Builtin::Bool
            | Builtin::Defined => 1,
            Builtin::Settime => 1,
            Builtin::Strtol | Builtin::Strptime => 2,
            Builtin::Subst => 3,
        };
        if args.len() != arity {
            self.error(
                span,
                format!(
                    "{}() takes {arity} argument{}, not {}.",
                    b.as_str(),
                    if arity == 1 { "" } else { "s" },
                    args.len()
                ),
            );
            return Self::poison(span);
        }
        let mk = |args, ty, regex| Expr {
            kind: ExprKind::Call {
                builtin: b,
                args,
                regex,
            },
            ty,
            span,
        };
        match b {
            Builtin::GetFilename => mk(vec![], Type::String, None),
            Builtin::Timestamp => mk(vec![], Type::Int, None),
            Builtin::Len => {
                let a = self.arg(b, 0, &args[0]);
                let a = self.coerce(a, Type::String);
                mk(vec![a], Type::Int, None)
            }
            Builtin::Tolower => {
                let a = self.arg(b, 0, &args[0]);
                if a.ty != Type::String {
                    self.error(
                        Span::new(args[0].span.start, args[0].span.start),
                        format!(
                            "Expecting a String for argument 1 of tolower(), not {}.",
                            a.ty.as_str()
                        ),
                    );
                    return Self::poison(span);
                }
                mk(vec![a], Type::String, None)
            }
            Builtin::Strtol => {
                let s = self.arg(b, 0, &args[0]);
                let s = self.coerce(s, Type::String);
                let base = self.arg(b, 1, &args[1]);
                let base = self.coerce(base, Type::Int);
                mk(vec![s, base], Type::Int, None)
            }
            Builtin::Int => {
                let a = self.arg(b, 0, &args[0]);
                if a.ty == Type::Float {
                    self.error(span, "can't convert \"Float\" to \"Int\"");
                    return Self::poison(span);
                }
                self.coerce(a, Type::Int)
            }
            Builtin::Float => {
                let a = self.arg(b, 0, &args[0]);
                self.coerce(a, Type::Float)
            }
            Builtin::String => {
                let a = self.arg(b, 0, &args[0]);
                self.coerce(a, Type::String)
            }
            Builtin::Bool => {
                let a = self.arg(b, 0, &args[0]);
                match a.ty {
                    Type::Int => self.as_bool(a),
                    _ => a,
                }
            }
            Builtin::Defined => {
                let ast::ExprKind::CapRef(name) = &args[0].kind else {
                    self.error(
                        args[0].span,
                        "defined() expects a capture group reference as its argument",
                    );
                    return Self::poison(span);
                };
                match self.lookup(&format!("${name}")) {
                    Some(Sym::Capture { regex, group, .. }) => Expr {
                        kind: ExprKind::Defined { regex, group },
                        ty: Type::Bool,
                        span,
                    },
                    // Not a visible group: the usual error.
                    _ => self.capref(name, args[0].span),
                }
            }
            Builtin::Settime => {
                let a = self.arg(b, 0, &args[0]);
                let a = self.coerce(a, Type::Int);
                mk(vec![a], Type::None, None)
            }
            Builtin::Strptime => {
                let s = self.arg(b, 0, &args[0]);
                let s = self.coerce(s, Type::String);
                let layout = self.arg(b, 1, &args[1]);
                if let ExprKind::Str(text) = &layout.kind {
                    if crate::vm::strptime::Layout::new(text).is_err() {
                        self.error_hint(
                            args[1].span,
                            format!("invalid time format string {text:?}"),
                            "Refer to the documentation at https://golang.org/pkg/time/#pkg-constants for advice.",
                        );
                        return Self::poison(span);
                    }
                } else if layout.ty != Type::String {
                    self.error(
                        Span::new(args[1].span.start, args[1].span.start),
                        format!(
                            "Expecting a format string for argument 2 of strptime(), not {}.",
                            layout.ty.as_str()
                        ),
                    );
                    return Self::poison(span);
                }
                mk(vec![s, layout], Type::None, None)
            }
            Builtin::Subst => {
                let (old, regex) = match &args[0].kind {
                    ast::ExprKind::Pattern(p) => {
                        let Some(text) = self.pattern_text(p, None) else {
                            return Self::poison(span);
                        };
                        match self.regex(text, args[0].span, false, false) {
                            Some(id) => (None, Some(id)),
                            None => return Self::poison(span),
                        }
                    }
                    _ => {
                        let o = self.arg(b, 0, &args[0]);
                        (Some(self.coerce(o, Type::String)), None)
                    }
                };
                let new = self.arg(b, 1, &args[1]);
                let new = self.coerce(new, Type::String);
                let s = self.arg(b, 2, &args[2]);
                let s = self.coerce(s, Type::String);
                let mut a = Vec::new();
                a.extend(old);
                a.push(new);
                a.push(s);
                mk(a, Type::String, regex)
            }
        }
    }
}

fn is_poison(e: &Expr) -> bool {
    e.ty == Type::None && matches!(e.kind, ExprKind::Int(0))
}

fn literal_f64(e: &Expr) -> Option<f64> {
    match e.kind {
        ExprKind::Int(i) => Some(i as f64),
        ExprKind::Float(f) => Some(f),
        _ => None,
    }
}

fn contains_next(stmts: &[ast::Stmt]) -> bool {
    stmts.iter().any(|s| match s {
        ast::Stmt::Next(_) => true,
        ast::Stmt::Cond(c) => {
            contains_next(&c.then.stmts)
                || c.otherwise
                    .as_ref()
                    .is_some_and(|b| contains_next(&b.stmts))
        }
        ast::Stmt::Otherwise(b, _) => contains_next(&b.stmts),
        ast::Stmt::Decorate(d) => contains_next(&d.body.stmts),
        _ => false,
    })
}
