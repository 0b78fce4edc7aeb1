//! A readable dump of the syntax tree (`--dump_ast`): one node per line, children indented,
//! each statement with its `line:col`.

use super::ast::*;
use super::span::{line_col, Span};
use std::fmt::Write as _;

/// Dump a program's syntax tree.
pub fn dump(prog: &Program, src: &str) -> String {
    let mut p = Printer {
        src,
        out: String::new(),
    };
    p.stmts(&prog.stmts, 0);
    p.out
}

struct Printer<'a> {
    src: &'a str,
    out: String,
}

impl Printer<'_> {
    fn line(&mut self, depth: usize, span: Span, text: &str) {
        let (l, c) = line_col(self.src, span.start);
        let _ = writeln!(
            self.out,
            "{:indent$}{text}  @{l}:{c}",
            "",
            indent = depth * 2
        );
    }

    fn stmts(&mut self, stmts: &[Stmt], depth: usize) {
        for s in stmts {
            self.stmt(s, depth);
        }
    }

    fn block(&mut self, label: &str, b: &Block, depth: usize) {
        self.line(depth, b.span, label);
        self.stmts(&b.stmts, depth + 1);
    }

    fn stmt(&mut self, s: &Stmt, depth: usize) {
        match s {
            Stmt::Metric(d) => {
                let mut t = format!(
                    "{}{} {}",
                    if d.hidden { "hidden " } else { "" },
                    d.kind.as_str(),
                    d.name.name
                );
                if !d.keys.is_empty() {
                    let keys: Vec<&str> = d.keys.iter().map(|k| k.name.as_str()).collect();
                    let _ = write!(t, " by {}", keys.join(", "));
                }
                if let Some((n, _)) = &d.export_name {
                    let _ = write!(t, " as {n:?}");
                }
                if let Some(b) = &d.buckets {
                    let b: Vec<String> = b.iter().map(|(v, _)| v.to_string()).collect();
                    let _ = write!(t, " buckets {}", b.join(", "));
                }
                if let Some((n, _)) = d.limit {
                    let _ = write!(t, " limit {n}");
                }
                self.line(depth, d.span, &t);
            }
            Stmt::Const(c) => {
                let t = format!("const {} {}", c.name.name, pattern(&c.pattern));
                self.line(depth, c.span, &t);
            }
            Stmt::Def(d) => self.block(&format!("def {}", d.name.name), &d.body, depth),
            Stmt::Decorate(d) => self.block(&format!("@{}", d.name.name), &d.body, depth),
            Stmt::Cond(c) => {
                self.line(depth, c.span, &format!("cond {}", expr(&c.cond)));
                self.block("then", &c.then, depth + 1);
                if let Some(o) = &c.otherwise {
                    self.block("else", o, depth + 1);
                }
            }
            Stmt::Otherwise(b, span) => {
                self.line(depth, *span, "otherwise");
                self.stmts(&b.stmts, depth + 1);
            }
            Stmt::Expr(e) => self.line(depth, e.span, &expr(e)),
            Stmt::Del(d) => {
                let mut t = format!("del {}", expr(&d.target));
                if let Some((a, _)) = &d.after {
                    let _ = write!(t, " after {a}");
                }
                self.line(depth, d.span, &t);
            }
            Stmt::Next(span) => self.line(depth, *span, "next"),
            Stmt::Stop(span) => self.line(depth, *span, "stop"),
            Stmt::LogFilter(names, span) => {
                let names: Vec<String> = names.iter().map(|n| format!("{:?}", n.name)).collect();
                self.line(depth, *span, &format!("log_filter {}", names.join(", ")));
            }
        }
    }
}

fn pattern(p: &PatternExpr) -> String {
    let parts: Vec<String> = p
        .parts
        .iter()
        .map(|part| match part {
            PatternPart::Regex(r, _) => format!("/{}/", r.replace('/', "\\/")),
            PatternPart::Const(id) => id.name.clone(),
        })
        .collect();
    parts.join(" + ")
}

/// An expression, fully parenthesised so precedence is visible.
pub fn expr(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Pattern(p) => pattern(p),
        ExprKind::Id(n) => n.clone(),
        ExprKind::Index { base, keys } => {
            let keys: Vec<String> = keys.iter().map(expr).collect();
            format!("{}[{}]", expr(base), keys.join(", "))
        }
        ExprKind::CapRef(n) => format!("${n}"),
        ExprKind::Call { builtin, args } => {
            let args: Vec<String> = args.iter().map(expr).collect();
            format!("{}({})", builtin.as_str(), args.join(", "))
        }
        ExprKind::BitNot(x) => format!("(~{})", expr(x)),
        ExprKind::Postfix { op, expr: x } => format!(
            "({}{})",
            expr(x),
            if *op == IncDec::Inc { "++" } else { "--" }
        ),
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", expr(lhs), op.as_str(), expr(rhs))
        }
        ExprKind::Match { negated, lhs, rhs } => {
            format!(
                "({} {} {})",
                expr(lhs),
                if *negated { "!~" } else { "=~" },
                expr(rhs)
            )
        }
        ExprKind::Assign { op, lhs, rhs } => {
            format!(
                "{} {} {}",
                expr(lhs),
                if *op == AssignOp::Assign { "=" } else { "+=" },
                expr(rhs)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_shows_structure_precedence_and_positions() {
        let src = "counter c by a\n/(\\d+)/ {\n  c[$1] += 1 + 2 * 3\n}\notherwise {\n  stop\n}\n";
        let ast = crate::syntax::parse::parse(src).unwrap();
        let d = dump(&ast, src);
        assert_eq!(
            d,
            "counter c by a  @1:1\ncond /(\\d+)/  @2:1\n  then  @2:9\n    c[$1] += (1 + (2 * 3))  @3:3\notherwise  @5:1\n  stop  @6:3\n"
        );
    }
}
