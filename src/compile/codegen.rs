//! Codegen: a checked program ([`Checked`]) → bytecode, string constants and layouts.

use super::bytecode::{Addr, LayoutId, Op, StrId};
use crate::check::ir::{Checked, Expr, ExprKind, Stmt, Type, Update};
use crate::syntax::ast::Builtin;

/// What codegen produces besides the regexes and metrics it passes through.
pub struct Code {
    pub ops: Vec<Op>,
    pub strings: Vec<Box<[u8]>>,
    pub layouts: Vec<String>,
    /// Per regex: does any op read its captures?
    pub captures_read: Vec<bool>,
}

pub fn generate(checked: &Checked) -> Code {
    let mut g = Gen {
        code: Code {
            ops: Vec::new(),
            strings: Vec::new(),
            layouts: Vec::new(),
            captures_read: vec![false; checked.regexes.len()],
        },
    };
    for s in &checked.body {
        g.stmt(s);
    }
    g.code
}

struct Gen {
    code: Code,
}

impl Gen {
    fn emit(&mut self, op: Op) -> usize {
        self.code.ops.push(op);
        self.code.ops.len() - 1
    }

    fn here(&self) -> Addr {
        self.code.ops.len() as Addr
    }

    /// Point the jump at `at` to the current end of the code.
    fn patch(&mut self, at: usize) {
        let to = self.here();
        match &mut self.code.ops[at] {
            Op::Jmp(a)
            | Op::JmpFalseOrPop(a)
            | Op::JmpTrueOrPop(a)
            | Op::Cond(a)
            | Op::JmpNotMatched(a) => *a = to,
            _ => {}
        }
    }

    fn string(&mut self, s: &str) -> StrId {
        if let Some(i) = self.code.strings.iter().position(|x| &**x == s.as_bytes()) {
            return StrId(i as u32);
        }
        self.code.strings.push(s.as_bytes().into());
        StrId(self.code.strings.len() as u32 - 1)
    }

    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Cond {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                let to_else = self.emit(Op::Cond(0));
                self.emit(Op::SetMatched(false));
                self.stmts(then);
                self.emit(Op::SetMatched(true));
                match otherwise {
                    Some(o) => {
                        let to_end = self.emit(Op::Jmp(0));
                        self.patch(to_else);
                        self.stmts(o);
                        self.patch(to_end);
                    }
                    None => self.patch(to_else),
                }
            }
            Stmt::Otherwise(body) => {
                self.emit(Op::Otherwise);
                let to_end = self.emit(Op::JmpNotMatched(0));
                self.stmts(body);
                self.patch(to_end);
            }
            Stmt::Eval(e) => {
                self.expr(e);
                if e.ty != Type::None {
                    self.emit(Op::Pop);
                }
            }
            Stmt::Update { metric, keys, op } => {
                for k in keys {
                    self.expr(k);
                }
                let n = keys.len() as u8;
                let op = match op {
                    Update::Set(v) => {
                        self.expr(v);
                        Op::Set(*metric, n)
                    }
                    Update::Add(v) => {
                        self.expr(v);
                        Op::Add(*metric, n)
                    }
                    Update::Observe(v) => {
                        self.expr(v);
                        Op::Observe(*metric, n)
                    }
                    Update::Inc => Op::Inc(*metric, n),
                    Update::Dec => Op::Dec(*metric, n),
                };
                self.emit(op);
            }
            Stmt::Del {
                metric,
                keys,
                after_ns,
            } => {
                for k in keys {
                    self.expr(k);
                }
                let n = keys.len() as u8;
                self.emit(match after_ns {
                    Some(ns) => Op::Expire(*metric, n, *ns),
                    None => Op::Del(*metric, n),
                });
            }
            Stmt::Stop => {
                self.emit(Op::Stop);
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Int(i) => {
                self.emit(Op::PushInt(*i));
            }
            ExprKind::Float(f) => {
                self.emit(Op::PushFloat(*f));
            }
            ExprKind::Str(s) => {
                let id = self.string(s);
                self.emit(Op::PushStr(id));
            }
            ExprKind::Capture { regex, group } => {
                self.code.captures_read[regex.0 as usize] = true;
                self.emit(Op::Capture(*regex, *group));
            }
            ExprKind::Defined { regex, group } => {
                self.code.captures_read[regex.0 as usize] = true;
                self.emit(Op::Defined(*regex, *group));
            }
            ExprKind::Load { metric, keys } => {
                for k in keys {
                    self.expr(k);
                }
                self.emit(Op::Load(*metric, keys.len() as u8));
            }
            ExprKind::Match {
                regex,
                subject,
                negated,
            } => {
                match subject {
                    None => self.emit(Op::MatchLine(*regex)),
                    Some(s) => {
                        self.expr(s);
                        self.emit(Op::MatchStr(*regex))
                    }
                };
                if *negated {
                    self.emit(Op::Not);
                }
            }
            ExprKind::Convert { conv, expr } => {
                self.expr(expr);
                self.emit(Op::Convert(*conv));
            }
            ExprKind::Arith { op, lhs, rhs } => {
                self.expr(lhs);
                self.expr(rhs);
                self.emit(if e.ty == Type::Float {
                    Op::FloatOp(*op)
                } else {
                    Op::IntOp(*op)
                });
            }
            ExprKind::Concat(l, r) => {
                self.expr(l);
                self.expr(r);
                self.emit(Op::Concat);
            }
            ExprKind::Compare {
                op,
                operand,
                lhs,
                rhs,
            } => {
                self.expr(lhs);
                self.expr(rhs);
                self.emit(match operand {
                    Type::Float => Op::CmpFloat(*op),
                    Type::String => Op::CmpStr(*op),
                    _ => Op::CmpInt(*op),
                });
            }
            ExprKind::BitNot(x) => {
                self.expr(x);
                self.emit(Op::BitNot);
            }
            ExprKind::And(l, r) | ExprKind::Or(l, r) => {
                self.expr(l);
                let at = self.emit(if matches!(e.kind, ExprKind::And(..)) {
                    Op::JmpFalseOrPop(0)
                } else {
                    Op::JmpTrueOrPop(0)
                });
                self.expr(r);
                self.patch(at);
            }
            ExprKind::Call {
                builtin,
                args,
                regex,
            } => self.call(*builtin, args, *regex),
        }
    }

    fn call(&mut self, b: Builtin, args: &[Expr], regex: Option<crate::check::ir::RegexId>) {
        if b == Builtin::Strptime {
            if let [value, Expr {
                kind: ExprKind::Str(layout),
                ..
            }] = args
            {
                self.expr(value);
                let id = match self.code.layouts.iter().position(|l| l == layout) {
                    Some(i) => i,
                    None => {
                        self.code.layouts.push(layout.clone());
                        self.code.layouts.len() - 1
                    }
                };
                self.emit(Op::Strptime(LayoutId(id as u32)));
                return;
            }
        }
        for a in args {
            self.expr(a);
        }
        let op = match b {
            Builtin::GetFilename => Op::Getfilename,
            Builtin::Timestamp => Op::Timestamp,
            Builtin::Len => Op::Len,
            Builtin::Tolower => Op::Tolower,
            Builtin::Strtol => Op::Strtol,
            Builtin::Settime => Op::Settime,
            Builtin::Strptime => Op::StrptimeDyn,
            Builtin::Subst => match regex {
                Some(r) => Op::SubstRegex(r),
                None => Op::SubstStr,
            },
            // int/float/string/bool are conversions, and defined() an expression of its own,
            // resolved by the checker.
            Builtin::Int | Builtin::Float | Builtin::String | Builtin::Bool | Builtin::Defined => {
                return
            }
        };
        self.emit(op);
    }
}
