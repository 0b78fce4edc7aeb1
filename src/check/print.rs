//! A readable dump of the checked program (`--dump_ast_types`): metrics with their inferred
//! types, regexes with their capture groups, and the tree with every expression's type and
//! every implicit conversion spelled out.

use super::ir::{Checked, Expr, ExprKind, Stmt, Update};
use std::fmt::Write as _;

pub fn dump(c: &Checked) -> String {
    let mut out = String::new();
    for (i, m) in c.metrics.iter().enumerate() {
        let _ = writeln!(
            out,
            "metric m{i}: {}{} {} : {} keys={:?}",
            if m.hidden { "hidden " } else { "" },
            m.kind.as_str(),
            m.name,
            m.value_type.as_str(),
            m.keys
        );
    }
    for (i, r) in c.regexes.iter().enumerate() {
        let _ = writeln!(
            out,
            "regex re{i}: /{}/{}",
            r.source,
            if r.on_line { " (line)" } else { "" }
        );
    }
    stmts(&mut out, &c.body, 0, c);
    out
}

fn stmts(out: &mut String, body: &[Stmt], depth: usize, c: &Checked) {
    for s in body {
        let pad = "  ".repeat(depth);
        match s {
            Stmt::Cond {
                cond,
                then,
                otherwise,
            } => {
                let _ = writeln!(out, "{pad}cond {}", expr(cond, c));
                let _ = writeln!(out, "{pad}  then");
                stmts(out, then, depth + 2, c);
                if let Some(o) = otherwise {
                    let _ = writeln!(out, "{pad}  else");
                    stmts(out, o, depth + 2, c);
                }
            }
            Stmt::Otherwise(b) => {
                let _ = writeln!(out, "{pad}otherwise");
                stmts(out, b, depth + 1, c);
            }
            Stmt::Eval(e) => {
                let _ = writeln!(out, "{pad}{}", expr(e, c));
            }
            Stmt::Update { metric, keys, op } => {
                let target = target(metric.0 as usize, keys, c);
                let text = match op {
                    Update::Set(v) => format!("{target} = {}", expr(v, c)),
                    Update::Add(v) => format!("{target} += {}", expr(v, c)),
                    Update::Observe(v) => format!("{target} observe {}", expr(v, c)),
                    Update::Inc => format!("{target}++"),
                    Update::Dec => format!("{target}--"),
                };
                let _ = writeln!(out, "{pad}{text}");
            }
            Stmt::Del {
                metric,
                keys,
                after_ns,
            } => {
                let t = target(metric.0 as usize, keys, c);
                match after_ns {
                    Some(ns) => writeln!(out, "{pad}del {t} after {ns}ns"),
                    None => writeln!(out, "{pad}del {t}"),
                }
                .ok();
            }
            Stmt::Stop => {
                let _ = writeln!(out, "{pad}stop");
            }
        }
    }
}

fn target(metric: usize, keys: &[Expr], c: &Checked) -> String {
    let name = c.metrics.get(metric).map_or("?", |m| m.name.as_str());
    if keys.is_empty() {
        return name.to_string();
    }
    let keys: Vec<String> = keys.iter().map(|k| expr(k, c)).collect();
    format!("{name}[{}]", keys.join(", "))
}

/// An expression with its type: `(… : Int)`.
fn expr(e: &Expr, c: &Checked) -> String {
    let inner = match &e.kind {
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Capture { regex, group } => format!("re{}.${group}", regex.0),
        ExprKind::Defined { regex, group } => format!("defined(re{}.${group})", regex.0),
        ExprKind::Load { metric, keys } => target(metric.0 as usize, keys, c),
        ExprKind::Match {
            regex,
            subject,
            negated,
        } => {
            let op = if *negated { "!~" } else { "=~" };
            match subject {
                Some(s) => format!("{} {op} re{}", expr(s, c), regex.0),
                None => format!("line {op} re{}", regex.0),
            }
        }
        ExprKind::Convert { conv, expr: x } => format!("{conv:?}({})", expr(x, c)),
        ExprKind::Arith { op, lhs, rhs } | ExprKind::Compare { op, lhs, rhs, .. } => {
            format!("{} {} {}", expr(lhs, c), op.as_str(), expr(rhs, c))
        }
        ExprKind::Concat(l, r) => format!("{} . {}", expr(l, c), expr(r, c)),
        ExprKind::BitNot(x) => format!("~{}", expr(x, c)),
        ExprKind::And(l, r) => format!("{} && {}", expr(l, c), expr(r, c)),
        ExprKind::Or(l, r) => format!("{} || {}", expr(l, c), expr(r, c)),
        ExprKind::Call {
            builtin,
            args,
            regex,
        } => {
            let mut a: Vec<String> = regex.iter().map(|r| format!("re{}", r.0)).collect();
            a.extend(args.iter().map(|x| expr(x, c)));
            format!("{}({})", builtin.as_str(), a.join(", "))
        }
    };
    format!("({inner} : {})", e.ty.as_str())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dump_shows_types_and_conversions() {
        let src = "gauge g by k\n/(?P<n>\\d+) (?P<f>\\d+\\.\\d+)/ {\n  g[$f] = $n\n}\n";
        let ast = crate::syntax::parse::parse(src).unwrap();
        let checked = crate::check::check(&ast, "p.mtail", src).unwrap();
        let d = super::dump(&checked);
        assert!(d.contains("metric m0: gauge g : Int keys=[\"k\"]"), "{d}");
        assert!(d.contains("g[(FloatToStr((StrToFloat((re0.$2 : String)) : Float)) : String)] = (StrToInt((re0.$1 : String)) : Int)"), "{d}");
    }
}
