//! Compile: program text → [`Program`] (parse, check, codegen), ready for the VM.
//!
//! A `Program` is immutable and shared by every VM that runs it: the bytecode, the compiled
//! regexes (plus one multi-pattern set over every regex matched against the whole line, so a
//! line is scanned once before any captures are extracted), string constants, `strptime`
//! layouts and the metric declarations.

pub mod bytecode;
mod codegen;
pub mod runs;

use crate::check;
use crate::store::{MetricDef, ValueType};
use crate::syntax::ast::MetricKind;
use crate::syntax::{self, diag::Diagnostic};
use bytecode::Op;
use regex_automata::meta;
use std::fmt::Write as _;

/// A regex of a compiled program.
#[derive(Debug, Clone)]
pub struct Regex {
    /// As written (RE2 syntax, fragments joined).
    pub source: String,
    pub re: regex::bytes::Regex,
    /// Matched against the whole input line (a candidate for the line set).
    pub on_line: bool,
    /// Does the program read its capture groups?
    pub captures_read: bool,
    /// How captures are extracted, when the program reads them.
    pub captures: Option<CaptureEngine>,
}

/// Capture extraction for one regex. A regex anchored at the start of its subject (`^…`) is
/// searched anchored, with no DFA pass to find the match first (the line set, or the search
/// itself, rejects lines that do not match): by the [`runs::RunMatcher`] when the pattern is made
/// of literals and class runs and the subject is ASCII, else by the bounded backtracker. Other
/// regexes, and subjects too long for the backtracker, use the meta engine. All fill the same
/// capture slots.
#[derive(Debug, Clone)]
pub struct CaptureEngine {
    pub meta: meta::Regex,
    pub anchored: Option<regex_automata::nfa::thompson::backtrack::BoundedBacktracker>,
    pub runs: Option<runs::RunMatcher>,
}

impl CaptureEngine {
    fn new(pattern: &str) -> Result<CaptureEngine, String> {
        use regex_automata::nfa::thompson::{self, backtrack::BoundedBacktracker};
        let syntax = regex_automata::util::syntax::Config::new().utf8(false);
        let meta = meta::Builder::new()
            .configure(
                meta::Config::new()
                    .utf8_empty(false)
                    .nfa_size_limit(Some(64 << 20)),
            )
            .syntax(syntax)
            .build(pattern)
            .map_err(|e| e.to_string())?;
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(pattern)
            .map_err(|e| e.to_string())?;
        let starts_anchored = hir
            .properties()
            .look_set_prefix()
            .contains(regex_syntax::hir::Look::Start);
        let anchored = if starts_anchored {
            BoundedBacktracker::builder()
                .syntax(syntax)
                .thompson(
                    thompson::Config::new()
                        .utf8(false)
                        .nfa_size_limit(Some(64 << 20)),
                )
                .build(pattern)
                .ok()
        } else {
            None
        };
        let runs = runs::RunMatcher::new(pattern);
        Ok(CaptureEngine {
            meta,
            anchored,
            runs,
        })
    }
}

/// One scan of the line for every line regex: pattern `i` of `set` is regex `members[i]`.
#[derive(Debug, Clone)]
pub struct LineSet {
    pub set: meta::Regex,
    pub members: Vec<u16>,
}

/// A compiled program.
#[derive(Debug, Clone)]
pub struct Program {
    /// The program's file name (`apache.mtail`), its `prog` label.
    pub name: String,
    pub code: Vec<Op>,
    pub metrics: Vec<MetricDef>,
    pub regexes: Vec<Regex>,
    pub line_set: Option<LineSet>,
    pub strings: Vec<Box<[u8]>>,
    /// `strptime` layouts (Go reference layouts), validated by the checker.
    pub layouts: Vec<String>,
    /// `log_filter`: the only logs the program reads, by source name (every log when empty).
    pub log_filter: Vec<String>,
}

impl Program {
    /// Does the program read lines of this source (`getfilename()`'s value)? As in mtail, a
    /// `log_filter` names its logs exactly.
    pub fn reads(&self, source: &[u8]) -> bool {
        self.log_filter.is_empty() || self.log_filter.iter().any(|l| l.as_bytes() == source)
    }
}

/// Errors of a program that did not compile, with its text to render them.
#[derive(Debug, Clone)]
pub struct CompileError {
    pub name: String,
    pub src: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(syntax::diag::render_all(&self.name, &self.src, &self.diagnostics).trim_end())?;
        let n = self.diagnostics.len();
        write!(
            f,
            "\ncompile failed for {}: {n} error{}",
            self.name,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for CompileError {}

/// Parse, check and compile a program's text. `name` is its file name.
pub fn compile(name: &str, src: &str) -> Result<Program, CompileError> {
    let fail = |diagnostics| CompileError {
        name: name.to_string(),
        src: src.to_string(),
        diagnostics,
    };
    let ast = syntax::parse::parse(src).map_err(fail)?;
    let checked = check::check(&ast, name, src).map_err(fail)?;
    let code = codegen::generate(&checked);
    let mut regexes = Vec::with_capacity(checked.regexes.len());
    let mut diags = string_counters(&checked);
    for (i, r) in checked.regexes.iter().enumerate() {
        match regex::bytes::RegexBuilder::new(&r.translated)
            .size_limit(64 << 20)
            .build()
        {
            Ok(re) => {
                let captures = match code.captures_read[i] {
                    true => match CaptureEngine::new(&r.translated) {
                        Ok(c) => Some(c),
                        Err(e) => {
                            diags.push(Diagnostic::new(
                                r.span,
                                format!("error parsing regexp: {e}"),
                            ));
                            None
                        }
                    },
                    false => None,
                };
                regexes.push(Regex {
                    source: r.source.clone(),
                    re,
                    on_line: r.on_line,
                    captures_read: code.captures_read[i],
                    captures,
                })
            }
            Err(e) => diags.push(Diagnostic::new(
                r.span,
                format!("error parsing regexp: {e}"),
            )),
        }
    }
    if !diags.is_empty() {
        return Err(fail(diags));
    }
    let line_set = line_set(&checked.regexes).map_err(|e| {
        fail(vec![Diagnostic::new(
            syntax::span::Span::default(),
            format!("compiling the line patterns together: {e}"),
        )])
    })?;
    Ok(Program {
        name: name.to_string(),
        code: code.ops,
        metrics: checked.metrics,
        regexes,
        line_set,
        strings: code.strings,
        layouts: code.layouts,
        log_filter: checked.log_filter,
    })
}

/// A scalar counter is set to 0 before the first line, so it must hold a number. As in mtail,
/// the checker accepts a string in one (its type is sound) and code generation refuses it ("Can't
/// initialize to zero"); a dimensioned counter has no value before its first label set, so it
/// may hold a string like a gauge.
fn string_counters(checked: &check::ir::Checked) -> Vec<Diagnostic> {
    checked
        .metrics
        .iter()
        .zip(&checked.metric_spans)
        .filter(|(m, _)| {
            m.kind == MetricKind::Counter && m.keys.is_empty() && m.value_type == ValueType::String
        })
        .map(|(m, &span)| {
            Diagnostic::new(
                span,
                format!(
                    "Scalar counter `{}' is assigned a string: a scalar counter starts at 0, so it can only hold numbers.",
                    m.name
                ),
            )
            .with_hint(format!(
                "Declare it as `text {}' to keep a string, or convert the value with int() or float().",
                m.name
            ))
        })
        .collect()
}

/// The set of line regexes, when there are at least two (one regex is run directly).
fn line_set(regexes: &[check::ir::RegexDef]) -> Result<Option<LineSet>, String> {
    let members: Vec<u16> = (0..regexes.len() as u16)
        .filter(|&i| regexes[i as usize].on_line)
        .collect();
    if members.len() < 2 {
        return Ok(None);
    }
    let patterns: Vec<&str> = members
        .iter()
        .map(|&i| regexes[i as usize].translated.as_str())
        .collect();
    let set = meta::Builder::new()
        .configure(
            meta::Config::new()
                .match_kind(regex_automata::MatchKind::All)
                .utf8_empty(false),
        )
        .syntax(regex_automata::util::syntax::Config::new().utf8(false))
        .build_many(&patterns)
        .map_err(|e| e.to_string())?;
    Ok(Some(LineSet { set, members }))
}

impl Program {
    /// A readable listing: metrics, regexes, constants and the code with addresses.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "program {}", self.name);
        for (i, m) in self.metrics.iter().enumerate() {
            let _ = writeln!(
                out,
                "  m{i}: {}{} {} {:?} keys={:?} ({})",
                if m.hidden { "hidden " } else { "" },
                m.kind.as_str(),
                m.name,
                m.value_type,
                m.keys,
                m.source
            );
        }
        for (i, r) in self.regexes.iter().enumerate() {
            let _ = writeln!(
                out,
                "  re{i}: /{}/{}{}",
                r.source,
                if r.on_line { " line" } else { "" },
                if r.captures_read { " captures" } else { "" }
            );
        }
        for (i, s) in self.strings.iter().enumerate() {
            let _ = writeln!(out, "  str #{i}: {:?}", String::from_utf8_lossy(s));
        }
        for (i, l) in self.layouts.iter().enumerate() {
            let _ = writeln!(out, "  layout #{i}: {l:?}");
        }
        for (pc, op) in self.code.iter().enumerate() {
            let _ = writeln!(out, "  {pc:4}  {op}");
        }
        out
    }
}
