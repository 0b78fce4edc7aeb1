//! Capture group types as mtail infers them from a pattern (`InferCaprefType`).
//!
//! mtail gives each capture group a type from what the group can match: a group that only
//! matches `+`, `-` and digits, with at least one digit, is Int (`\d+`, `-?\d+`), unless the group
//! itself is a single character class or an alternation (`[-0-9]`, `-|[0-9]` are String); a group
//! that only matches `+-0123456789.eE` with at most one `.` in its printed form is Float
//! (`\d+\.\d+`); an alternation at the top of a group gets the least upper bound of its branches;
//! everything else is String.
//!
//! mtail computes this on Go's parse tree after `Simplify()`, and Go's parser already rewrites the
//! pattern: adjacent literals are merged, `1|2` becomes the class `[1-2]`, a one-character class
//! `[5]` becomes the literal `5`, alternations are factored (`1|1\.5` becomes `1(?:|\.5)`), and
//! `Simplify` expands counted repetitions (`\d{3}` becomes `[0-9][0-9][0-9]`). These change the
//! answer, so this module rebuilds Go's tree (`Re`) from the `regex-syntax` AST following Go's
//! parser step by step (its parse stack, `factor`, `Simplify`) and runs mtail's rules on it.
//! `regex-syntax`'s own HIR simplifies differently and is only used for the character sets of
//! classes.

use super::pattern::{self, PatternError};
use regex_syntax::ast::{self, Ast, Flag, Flags, FlagsItemKind, GroupKind, RepetitionKind};
use regex_syntax::hir::{self, ClassUnicode, ClassUnicodeRange, HirKind};

/// The type mtail gives a capture group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapType {
    Int,
    Float,
    String,
}

/// The type of every capture group of a Go RE2 pattern, indexed by group number: entry `i` is
/// the type of `$i` for `i` in `1..=n`, and entry 0 (the whole match, which mtail leaves untyped)
/// is `String`. The vector has one entry per group of the pattern, numbered as Go and
/// `regex-syntax` number them.
///
/// A group that Go's `Simplify` removes (inside `{0}`) gets `String`; mtail types it None.
pub fn capture_types(re2: &str) -> Result<Vec<CapType>, PatternError> {
    let ast = pattern::parse(re2)?;
    let n = capture_names_of(&ast).len().saturating_sub(1);
    let re = Builder::default().top(&ast)?.simplify();
    let mut types = vec![CapType::String];
    types.extend((1..=n).map(|i| infer_capref_type(&re, i as u32)));
    Ok(types)
}

/// The name of every capture group, indexed by group number (entry 0, the whole match, is `None`;
/// unnamed groups are `None`).
pub fn capture_names(re2: &str) -> Result<Vec<Option<String>>, PatternError> {
    Ok(capture_names_of(&pattern::parse(re2)?))
}

fn capture_names_of(ast: &Ast) -> Vec<Option<String>> {
    fn walk(ast: &Ast, names: &mut Vec<Option<String>>) {
        match ast {
            Ast::Group(g) => {
                if let Some(i) = g.capture_index() {
                    let i = i as usize;
                    if names.len() <= i {
                        names.resize(i + 1, None);
                    }
                    if let GroupKind::CaptureName { name, .. } = &g.kind {
                        names[i] = Some(name.name.clone());
                    }
                }
                walk(&g.ast, names);
            }
            Ast::Repetition(r) => walk(&r.ast, names),
            Ast::Alternation(a) => a.asts.iter().for_each(|a| walk(a, names)),
            Ast::Concat(c) => c.asts.iter().for_each(|a| walk(a, names)),
            _ => {}
        }
    }
    let mut names = vec![None];
    walk(ast, &mut names);
    names
}

// ---------------------------------------------------------------------------------------------
// mtail's rules (internal/runtime/compiler/types).

/// Types during inference: `Undef` is the start of a least upper bound.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    Undef,
    Int,
    Float,
    String,
}

fn lub(a: Ty, b: Ty) -> Ty {
    match (a, b) {
        (a, b) if a == b => a,
        (Ty::Undef, t) | (t, Ty::Undef) => t,
        (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Ty::Float,
        _ => Ty::String,
    }
}

fn infer_capref_type(re: &Re, n: u32) -> CapType {
    let ty = match capture_group(re, n) {
        None => Ty::String,
        Some(group) if group.op != Op::Alternate => group_type(group),
        Some(group) => group
            .subs
            .iter()
            .fold(Ty::Undef, |t, sub| lub(t, group_type(sub))),
    };
    match ty {
        Ty::Int => CapType::Int,
        Ty::Float => CapType::Float,
        Ty::Undef | Ty::String => CapType::String,
    }
}

fn group_type(group: &Re) -> Ty {
    const SIGNS: &str = "+-";
    const INTS: &str = "+-0123456789";
    const FLOATS: &str = "+-0123456789.eE";
    if only_matches(group, SIGNS) {
        Ty::String
    } else if only_matches(group, INTS) {
        let printed = group.go_string();
        if !printed.contains(|c: char| c.is_ascii_digit())
            || matches!(group.op, Op::Alternate | Op::CharClass)
        {
            Ty::String
        } else {
            Ty::Int
        }
    } else if only_matches(group, FLOATS) {
        if group.go_string().matches('.').count() > 1 {
            Ty::String
        } else {
            Ty::Float
        }
    } else {
        Ty::String
    }
}

/// mtail's `getCaptureGroup`: the body of the first group numbered `n`, depth first.
fn capture_group(re: &Re, n: u32) -> Option<&Re> {
    if re.op == Op::Capture && re.cap == n {
        return re.subs.first();
    }
    re.subs.iter().find_map(|s| capture_group(s, n))
}

/// mtail's `groupOnlyMatches`: does `re` only match characters of `set`?
fn only_matches(re: &Re, set: &str) -> bool {
    let has = |r: u32| char::from_u32(r).is_some_and(|c| set.contains(c));
    match re.op {
        Op::Literal => re.runes.iter().all(|&r| has(r)),
        Op::CharClass => re.runes.chunks(2).all(|p| (p[0]..=p[1]).all(has)),
        Op::Star | Op::Plus | Op::Repeat | Op::Quest | Op::Capture => {
            re.subs.first().is_some_and(|s| only_matches(s, set))
        }
        Op::Concat | Op::Alternate => re.subs.iter().all(|s| only_matches(s, set)),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Go's regexp/syntax tree.

/// Go's `syntax.Op`, in Go's order (the order ranks character classes by complexity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
enum Op {
    NoMatch,
    #[default]
    EmptyMatch,
    Literal,
    CharClass,
    AnyCharNotNl,
    AnyChar,
    BeginLine,
    EndLine,
    BeginText,
    EndText,
    WordBoundary,
    NoWordBoundary,
    Capture,
    Star,
    Plus,
    Quest,
    Repeat,
    Concat,
    Alternate,
}

/// Go's parse flags that can differ between nodes of one pattern.
const FOLD_CASE: u8 = 1;
const DOT_NL: u8 = 2;
/// `(?m)`: Go's flag is the opposite, `OneLine`.
const MULTI_LINE: u8 = 4;
const NON_GREEDY: u8 = 8;
const WAS_DOLLAR: u8 = 16;

/// A node of Go's `syntax.Regexp`. `runes` holds a literal's characters or a class as sorted,
/// merged `lo, hi` pairs, as in Go.
#[derive(Debug, Clone, Default)]
struct Re {
    op: Op,
    flags: u8,
    runes: Vec<u32>,
    subs: Vec<Re>,
    /// Counted repetition bounds; `max` is `None` for `{n,}`.
    min: u32,
    max: Option<u32>,
    cap: u32,
    name: String,
}

impl Re {
    fn new(op: Op) -> Re {
        Re {
            op,
            ..Re::default()
        }
    }

    fn literal(runes: Vec<u32>, flags: u8) -> Re {
        Re {
            op: Op::Literal,
            flags,
            runes,
            ..Re::default()
        }
    }

    fn class(runes: Vec<u32>) -> Re {
        Re {
            op: Op::CharClass,
            runes,
            ..Re::default()
        }
    }

    fn with_subs(op: Op, subs: Vec<Re>) -> Re {
        Re {
            op,
            subs,
            ..Re::default()
        }
    }

    /// Go's `isCharClass`: a single-character literal, a class, or `.`.
    fn is_char_class(&self) -> bool {
        self.op == Op::Literal && self.runes.len() == 1
            || matches!(self.op, Op::CharClass | Op::AnyCharNotNl | Op::AnyChar)
    }

    /// Go's `Regexp.Equal`.
    fn equal(&self, y: &Re) -> bool {
        if self.op != y.op {
            return false;
        }
        let subs_equal = || {
            self.subs.len() == y.subs.len()
                && self.subs.iter().zip(&y.subs).all(|(a, b)| a.equal(b))
        };
        match self.op {
            Op::EndText => self.flags & WAS_DOLLAR == y.flags & WAS_DOLLAR,
            Op::Literal | Op::CharClass => self.runes == y.runes,
            Op::Alternate | Op::Concat => subs_equal(),
            Op::Star | Op::Plus | Op::Quest => {
                self.flags & NON_GREEDY == y.flags & NON_GREEDY && subs_equal()
            }
            Op::Repeat => {
                self.flags & NON_GREEDY == y.flags & NON_GREEDY
                    && self.min == y.min
                    && self.max == y.max
                    && subs_equal()
            }
            Op::Capture => self.cap == y.cap && self.name == y.name && subs_equal(),
            _ => true,
        }
    }

    /// Go's `Regexp.String()`, without the `(?i:…)`-style flag groups (they hold neither digits
    /// nor dots, which is all mtail looks for in it).
    fn go_string(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, false);
        out
    }

    fn write(&self, b: &mut String, paren: bool) {
        if paren {
            b.push_str("(?:");
        }
        match self.op {
            Op::NoMatch => b.push_str(r"[^\x00-\x{10FFFF}]"),
            Op::EmptyMatch => b.push_str("(?:)"),
            Op::Literal => self.runes.iter().for_each(|&r| go_escape(b, r, false)),
            Op::CharClass => {
                b.push('[');
                let r = &self.runes;
                if r.is_empty() {
                    b.push_str(r"^\x00-\x{10FFFF}");
                } else if r[0] == 0 && r[r.len() - 1] == MAX_RUNE && r.len() > 2 {
                    b.push('^');
                    for gap in r[1..r.len() - 1].chunks(2) {
                        write_range(b, gap[0] + 1, gap[1] - 1);
                    }
                } else {
                    r.chunks(2).for_each(|p| write_range(b, p[0], p[1]));
                }
                b.push(']');
            }
            Op::AnyCharNotNl | Op::AnyChar => b.push('.'),
            Op::BeginLine => b.push('^'),
            Op::EndLine => b.push('$'),
            Op::BeginText => b.push_str(r"\A"),
            Op::EndText if self.flags & WAS_DOLLAR != 0 => b.push('$'),
            Op::EndText => b.push_str(r"\z"),
            Op::WordBoundary => b.push_str(r"\b"),
            Op::NoWordBoundary => b.push_str(r"\B"),
            Op::Capture => {
                if self.name.is_empty() {
                    b.push('(');
                } else {
                    b.push_str("(?P<");
                    b.push_str(&self.name);
                    b.push('>');
                }
                if let Some(sub) = self.subs.first().filter(|s| s.op != Op::EmptyMatch) {
                    sub.write(b, false);
                }
                b.push(')');
            }
            Op::Star | Op::Plus | Op::Quest | Op::Repeat => {
                if let Some(sub) = self.subs.first() {
                    let p = sub.op > Op::Capture || sub.op == Op::Literal && sub.runes.len() > 1;
                    sub.write(b, p);
                }
                match self.op {
                    Op::Star => b.push('*'),
                    Op::Plus => b.push('+'),
                    Op::Quest => b.push('?'),
                    _ => {
                        b.push_str(&format!("{{{}", self.min));
                        if self.max != Some(self.min) {
                            b.push(',');
                            if let Some(max) = self.max {
                                b.push_str(&max.to_string());
                            }
                        }
                        b.push('}');
                    }
                }
                if self.flags & NON_GREEDY != 0 {
                    b.push('?');
                }
            }
            Op::Concat => self
                .subs
                .iter()
                .for_each(|s| s.write(b, s.op == Op::Alternate)),
            Op::Alternate => {
                for (i, s) in self.subs.iter().enumerate() {
                    if i > 0 {
                        b.push('|');
                    }
                    s.write(b, false);
                }
            }
        }
        if paren {
            b.push(')');
        }
    }

    /// Go's `Regexp.Simplify`: counted repetitions expanded, `(?:a+)+` folded to `a+`.
    fn simplify(self) -> Re {
        match self.op {
            Op::Capture | Op::Concat | Op::Alternate => Re {
                subs: self.subs.into_iter().map(Re::simplify).collect(),
                ..self
            },
            Op::Star | Op::Plus | Op::Quest => {
                let Re {
                    op, flags, subs, ..
                } = self;
                match subs.into_iter().next() {
                    Some(sub) => simplify1(op, flags, sub.simplify()),
                    None => Re::new(Op::EmptyMatch),
                }
            }
            Op::Repeat => {
                if self.min == 0 && self.max == Some(0) {
                    return Re::new(Op::EmptyMatch);
                }
                let (min, max, flags) = (self.min, self.max, self.flags);
                let Some(sub) = self.subs.into_iter().next() else {
                    return Re::new(Op::EmptyMatch);
                };
                let sub = sub.simplify();
                let Some(max) = max else {
                    return match min {
                        0 => simplify1(Op::Star, flags, sub),
                        1 => simplify1(Op::Plus, flags, sub),
                        _ => {
                            let mut subs = vec![sub.clone(); min as usize - 1];
                            subs.push(simplify1(Op::Plus, flags, sub));
                            Re::with_subs(Op::Concat, subs)
                        }
                    };
                };
                if min == 1 && max == 1 {
                    return sub;
                }
                let mut prefix =
                    (min > 0).then(|| Re::with_subs(Op::Concat, vec![sub.clone(); min as usize]));
                if max > min {
                    let mut suffix = simplify1(Op::Quest, flags, sub.clone());
                    for _ in min + 1..max {
                        let inner = Re::with_subs(Op::Concat, vec![sub.clone(), suffix]);
                        suffix = simplify1(Op::Quest, flags, inner);
                    }
                    match prefix.as_mut() {
                        None => return suffix,
                        Some(p) => p.subs.push(suffix),
                    }
                }
                prefix.unwrap_or_else(|| Re::new(Op::NoMatch))
            }
            _ => self,
        }
    }
}

fn simplify1(op: Op, flags: u8, sub: Re) -> Re {
    if sub.op == Op::EmptyMatch {
        return sub;
    }
    if op == sub.op && flags & NON_GREEDY == sub.flags & NON_GREEDY {
        return sub;
    }
    Re {
        op,
        flags,
        subs: vec![sub],
        ..Re::default()
    }
}

const MAX_RUNE: u32 = 0x10FFFF;
/// The smallest and largest characters that case folding involves (Go's `minFold`, `maxFold`).
const MIN_FOLD: u32 = 0x41;
const MAX_FOLD: u32 = 0x1E943;

fn write_range(b: &mut String, lo: u32, hi: u32) {
    go_escape(b, lo, lo == u32::from('-'));
    if lo != hi {
        if hi != lo + 1 {
            b.push('-');
        }
        go_escape(b, hi, hi == u32::from('-'));
    }
}

/// Go's `escape` in `regexp/syntax`'s printer.
fn go_escape(b: &mut String, r: u32, force: bool) {
    let c = char::from_u32(r);
    if let Some(c) = c.filter(|c| !c.is_control() && (!c.is_whitespace() || *c == ' ')) {
        if r"\.+*?()|[]{}^$".contains(c) || force {
            b.push('\\');
        }
        b.push(c);
        return;
    }
    match r {
        0x07 => b.push_str(r"\a"),
        0x0C => b.push_str(r"\f"),
        0x0A => b.push_str(r"\n"),
        0x0D => b.push_str(r"\r"),
        0x09 => b.push_str(r"\t"),
        0x0B => b.push_str(r"\v"),
        r if r < 0x100 => b.push_str(&format!(r"\x{r:02x}")),
        r => b.push_str(&format!(r"\x{{{r:x}}}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Character sets, through regex-syntax's Unicode tables and simple case folding (Go's
// `unicode.SimpleFold` orbits are the same equivalence classes).

fn to_class(runes: &[u32]) -> ClassUnicode {
    ClassUnicode::new(runes.chunks(2).filter_map(|p| {
        // Rust characters exclude the surrogates that Go's ranges may span.
        let lo = char::from_u32(p[0]).or_else(|| char::from_u32(0xE000))?;
        let hi = char::from_u32(p[1]).or_else(|| char::from_u32(0xD7FF))?;
        (lo <= hi).then(|| ClassUnicodeRange::new(lo, hi))
    }))
}

fn from_class(class: &ClassUnicode) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::with_capacity(class.ranges().len() * 2);
    for r in class.ranges() {
        let (lo, hi) = (u32::from(r.start()), u32::from(r.end()));
        // Go's ranges include the surrogates between U+D7FF and U+E000.
        if out.last() == Some(&0xD7FF) && lo == 0xE000 {
            if let Some(last) = out.last_mut() {
                *last = hi;
            }
            continue;
        }
        out.extend([lo, hi]);
    }
    out
}

fn fold(class: &mut ClassUnicode) {
    // Fails only without the crate's Unicode case tables, which are enabled.
    let _ = class.try_case_fold_simple();
}

/// The case folding orbit of `r`: `r` and every character that folds to the same one.
fn orbit(r: u32) -> Vec<u32> {
    let mut class = to_class(&[r, r]);
    fold(&mut class);
    from_class(&class)
}

/// Go's `minFoldRune`.
fn min_fold_rune(r: u32) -> u32 {
    if !(MIN_FOLD..=MAX_FOLD).contains(&r) {
        return r;
    }
    orbit(r).first().copied().unwrap_or(r).min(r)
}

/// Adds the range `lo..=hi` (and its case folds when `fold_case`) to the class `runes`.
fn append_range(runes: &mut Vec<u32>, lo: u32, hi: u32, fold_case: bool) {
    let mut add = to_class(&[lo, hi]);
    if fold_case {
        fold(&mut add);
    }
    let mut class = to_class(runes);
    class.union(&add);
    *runes = from_class(&class);
}

fn append_class(runes: &mut Vec<u32>, other: &[u32]) {
    let mut class = to_class(runes);
    class.union(&to_class(other));
    *runes = from_class(&class);
}

/// Go's `mergeCharClass`: `dst = dst|src`, where `dst.op >= src.op`.
fn merge_char_class(dst: &mut Re, src: &Re) {
    match dst.op {
        Op::AnyChar => {}
        Op::AnyCharNotNl if match_rune(src, u32::from('\n')) => dst.op = Op::AnyChar,
        Op::CharClass => {
            if src.op == Op::Literal {
                let r = src.runes.first().copied().unwrap_or_default();
                append_range(&mut dst.runes, r, r, src.flags & FOLD_CASE != 0);
            } else {
                append_class(&mut dst.runes, &src.runes);
            }
        }
        Op::Literal => {
            if src.runes.first() == dst.runes.first() && src.flags == dst.flags {
                return;
            }
            let (d, s) = (
                dst.runes.first().copied().unwrap_or_default(),
                src.runes.first().copied().unwrap_or_default(),
            );
            dst.op = Op::CharClass;
            dst.runes.clear();
            append_range(&mut dst.runes, d, d, dst.flags & FOLD_CASE != 0);
            append_range(&mut dst.runes, s, s, src.flags & FOLD_CASE != 0);
        }
        _ => {}
    }
}

/// Go's `matchRune`.
fn match_rune(re: &Re, r: u32) -> bool {
    match re.op {
        Op::Literal => re.runes.len() == 1 && re.runes[0] == r,
        Op::CharClass => re.runes.chunks(2).any(|p| p[0] <= r && r <= p[1]),
        Op::AnyCharNotNl => r != u32::from('\n'),
        Op::AnyChar => true,
        _ => false,
    }
}

/// Go's `cleanAlt`: a class of every character is `.` in `(?s)` form, one without `\n` is `.`.
fn clean_alt(re: &mut Re) {
    if re.op != Op::CharClass {
        return;
    }
    if re.runes == [0, MAX_RUNE] {
        *re = Re::new(Op::AnyChar);
    } else if re.runes == [0, 0x09, 0x0B, MAX_RUNE] {
        *re = Re::new(Op::AnyCharNotNl);
    }
}

// ---------------------------------------------------------------------------------------------
// Go's parser, replayed over the regex-syntax AST.

#[derive(Default)]
struct Builder {
    /// The flags in force (`FOLD_CASE`, `DOT_NL`, `MULTI_LINE`, `NON_GREEDY`).
    flags: u8,
}

impl Builder {
    fn top(&mut self, ast: &Ast) -> Result<Re, PatternError> {
        let re = self.group_body(ast)?;
        Ok(self.normalize_pushed(re))
    }

    fn apply(&mut self, flags: &Flags) {
        let mut on = true;
        for item in &flags.items {
            let bit = match &item.kind {
                FlagsItemKind::Negation => {
                    on = false;
                    continue;
                }
                FlagsItemKind::Flag(Flag::CaseInsensitive) => FOLD_CASE,
                FlagsItemKind::Flag(Flag::DotMatchesNewLine) => DOT_NL,
                FlagsItemKind::Flag(Flag::MultiLine) => MULTI_LINE,
                FlagsItemKind::Flag(Flag::SwapGreed) => NON_GREEDY,
                FlagsItemKind::Flag(_) => continue,
            };
            if on {
                self.flags |= bit;
            } else {
                self.flags &= !bit;
            }
        }
    }

    /// The inside of a group (or the whole pattern): branches separated by `|`, as Go's
    /// `parseVerticalBar` / `swapVerticalBar` and `alternate` build them.
    fn group_body(&mut self, ast: &Ast) -> Result<Re, PatternError> {
        let branches = match ast {
            Ast::Alternation(alt) => alt.asts.as_slice(),
            other => std::slice::from_ref(other),
        };
        let mut alts: Vec<Re> = Vec::with_capacity(branches.len());
        for branch in branches {
            let re = self.concat(branch)?;
            if let Some(prev) = alts.last_mut() {
                if prev.is_char_class() && re.is_char_class() {
                    if re.op > prev.op {
                        let old = std::mem::replace(prev, re);
                        merge_char_class(prev, &old);
                    } else {
                        merge_char_class(prev, &re);
                    }
                    continue;
                }
            }
            alts.push(re);
        }
        alts.iter_mut().for_each(clean_alt);
        let re = match alts.len() {
            0 => Re::new(Op::NoMatch),
            _ => collapse(alts, Op::Alternate),
        };
        Ok(self.normalize_pushed(re))
    }

    /// One branch: Go's parse stack between two `|`, with its incremental literal merging.
    fn concat(&mut self, branch: &Ast) -> Result<Re, PatternError> {
        let items = match branch {
            Ast::Concat(cat) => cat.asts.as_slice(),
            other => std::slice::from_ref(other),
        };
        let mut stack: Vec<Re> = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ast::Flags(set) => self.apply(&set.flags),
                Ast::Empty(_) => {}
                Ast::Repetition(rep) => {
                    let sub = self.atom(&rep.ast)?;
                    self.push(&mut stack, sub);
                    let Some(sub) = stack.pop() else { continue };
                    let mut flags = self.flags;
                    if !rep.greedy {
                        flags ^= NON_GREEDY;
                    }
                    let (op, min, max) = match &rep.op.kind {
                        RepetitionKind::ZeroOrOne => (Op::Quest, 0, None),
                        RepetitionKind::ZeroOrMore => (Op::Star, 0, None),
                        RepetitionKind::OneOrMore => (Op::Plus, 0, None),
                        RepetitionKind::Range(r) => match *r {
                            ast::RepetitionRange::Exactly(n) => (Op::Repeat, n, Some(n)),
                            ast::RepetitionRange::AtLeast(n) => (Op::Repeat, n, None),
                            ast::RepetitionRange::Bounded(a, b) => (Op::Repeat, a, Some(b)),
                        },
                    };
                    stack.push(Re {
                        op,
                        flags,
                        subs: vec![sub],
                        min,
                        max,
                        ..Re::default()
                    });
                }
                other => {
                    let re = self.atom(other)?;
                    self.push(&mut stack, re);
                }
            }
        }
        maybe_concat(&mut stack);
        let re = match stack.len() {
            0 => Re::new(Op::EmptyMatch),
            _ => collapse(stack, Op::Concat),
        };
        Ok(self.normalize_pushed(re))
    }

    /// One item of a branch.
    fn atom(&mut self, ast: &Ast) -> Result<Re, PatternError> {
        use ast::AssertionKind as A;
        let flags = self.flags;
        let multi = flags & MULTI_LINE != 0;
        Ok(match ast {
            Ast::Literal(lit) => {
                let mut r = u32::from(lit.c);
                if flags & FOLD_CASE != 0 {
                    r = min_fold_rune(r);
                }
                Re::literal(vec![r], flags)
            }
            Ast::Dot(_) if flags & DOT_NL != 0 => Re::new(Op::AnyChar),
            Ast::Dot(_) => Re::new(Op::AnyCharNotNl),
            Ast::Assertion(a) => match a.kind {
                A::StartLine if multi => Re::new(Op::BeginLine),
                A::EndLine if multi => Re::new(Op::EndLine),
                A::StartLine | A::StartText => Re::new(Op::BeginText),
                A::EndLine => Re {
                    flags: WAS_DOLLAR,
                    ..Re::new(Op::EndText)
                },
                A::EndText => Re::new(Op::EndText),
                A::NotWordBoundary => Re::new(Op::NoWordBoundary),
                _ => Re::new(Op::WordBoundary),
            },
            Ast::ClassUnicode(_) | Ast::ClassBracketed(_) | Ast::ClassPerl(_) => {
                Re::class(class_runes(ast, flags & FOLD_CASE != 0)?)
            }
            Ast::Group(g) => {
                let saved = self.flags;
                if let GroupKind::NonCapturing(f) = &g.kind {
                    self.apply(f);
                }
                let body = self.group_body(&g.ast);
                self.flags = saved;
                let body = body?;
                match (&g.kind, g.capture_index()) {
                    (GroupKind::NonCapturing(_), _) | (_, None) => body,
                    (kind, Some(cap)) => Re {
                        op: Op::Capture,
                        cap,
                        name: match kind {
                            GroupKind::CaptureName { name, .. } => name.name.clone(),
                            _ => String::new(),
                        },
                        subs: vec![body],
                        ..Re::default()
                    },
                }
            }
            Ast::Empty(_) | Ast::Flags(_) => Re::new(Op::EmptyMatch),
            Ast::Repetition(_) | Ast::Alternation(_) | Ast::Concat(_) => {
                let saved = self.flags;
                let re = self.group_body(ast);
                self.flags = saved;
                re?
            }
        })
    }

    /// Go's `push`: merge the two literals below, then turn a one-character class into a
    /// literal (`[Aa]`-style case pairs into a case-folding literal).
    fn push(&self, stack: &mut Vec<Re>, re: Re) {
        maybe_concat(stack);
        stack.push(self.normalize_pushed(re));
    }

    fn normalize_pushed(&self, re: Re) -> Re {
        if re.op != Op::CharClass {
            return re;
        }
        let r = &re.runes;
        if r.len() == 2 && r[0] == r[1] {
            return Re::literal(vec![r[0]], self.flags & !FOLD_CASE);
        }
        let pair = r.len() == 4 && r[0] == r[1] && r[2] == r[3] || r.len() == 2 && r[0] + 1 == r[1];
        if pair && orbit(r[0]) == *r {
            return Re::literal(vec![r[0]], self.flags | FOLD_CASE);
        }
        re
    }
}

/// Go's `maybeConcat` (without a rune to push): merges the top two literals of the stack when
/// both fold case or neither does.
fn maybe_concat(stack: &mut Vec<Re>) {
    let n = stack.len();
    if n < 2 {
        return;
    }
    let (a, b) = (&stack[n - 2], &stack[n - 1]);
    if a.op != Op::Literal || b.op != Op::Literal || a.flags & FOLD_CASE != b.flags & FOLD_CASE {
        return;
    }
    if let Some(top) = stack.pop() {
        stack[n - 2].runes.extend(top.runes);
    }
}

/// The runes of a class node of the AST, as Go computes them (with case folding if asked).
fn class_runes(ast: &Ast, fold_case: bool) -> Result<Vec<u32>, PatternError> {
    let mut text = String::new();
    let unsupported = |message: String| PatternError::Unsupported {
        message,
        offset: None,
    };
    ast::print::Printer::new()
        .print(ast, &mut text)
        .map_err(|_| unsupported("class cannot be printed".into()))?;
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(fold_case)
        .build()
        .parse(&text)
        .map_err(|e| unsupported(format!("class `{text}`: {e}")))?;
    match hir.kind() {
        HirKind::Class(hir::Class::Unicode(class)) => Ok(from_class(class)),
        HirKind::Literal(hir::Literal(bytes)) => {
            let s = std::str::from_utf8(bytes)
                .map_err(|_| unsupported(format!("class `{text}` is not UTF-8")))?;
            Ok(s.chars().flat_map(|c| [u32::from(c); 2]).collect())
        }
        _ => Err(unsupported(format!(
            "class `{text}` is not a set of characters"
        ))),
    }
}

/// Go's `collapse`: `op` over `subs`, with nested nodes of the same `op` flattened and
/// alternations factored.
fn collapse(subs: Vec<Re>, op: Op) -> Re {
    if subs.len() == 1 {
        if let Some(re) = subs.into_iter().next() {
            return re;
        }
        return Re::new(Op::EmptyMatch);
    }
    let mut flat = Vec::with_capacity(subs.len());
    for sub in subs {
        if sub.op == op {
            flat.extend(sub.subs);
        } else {
            flat.push(sub);
        }
    }
    if op == Op::Alternate {
        flat = factor(flat);
        if flat.len() == 1 {
            if let Some(re) = flat.pop() {
                return re;
            }
        }
    }
    Re::with_subs(op, flat)
}

/// Go's `factor`: common literal prefixes, then common leading classes are factored out of an
/// alternation, runs of single characters and classes become one class, and runs of empty
/// branches become one.
fn factor(mut sub: Vec<Re>) -> Vec<Re> {
    if sub.len() < 2 {
        return sub;
    }

    // Round 1: common literal prefixes.
    let mut out = Vec::with_capacity(sub.len());
    let mut start = 0;
    let mut prefix: Vec<u32> = Vec::new();
    let mut prefix_flags = 0;
    for i in 0..=sub.len() {
        let (istr, iflags) = match sub.get(i) {
            Some(re) => leading_string(re),
            None => (Vec::new(), 0),
        };
        if i < sub.len() && iflags == prefix_flags {
            let same = prefix.iter().zip(&istr).take_while(|(a, b)| a == b).count();
            if same > 0 {
                prefix.truncate(same);
                continue;
            }
        }
        if i == start + 1 {
            out.push(std::mem::take(&mut sub[start]));
        } else if i > start + 1 {
            let run: Vec<Re> = sub[start..i]
                .iter_mut()
                .map(|re| remove_leading_string(std::mem::take(re), prefix.len()))
                .collect();
            let suffix = collapse(run, Op::Alternate);
            let lit = Re::literal(prefix.clone(), prefix_flags);
            out.push(Re::with_subs(Op::Concat, vec![lit, suffix]));
        }
        start = i;
        prefix = istr;
        prefix_flags = iflags;
    }
    sub = out;

    // Round 2: a common leading class, or fixed repetition of a class.
    let mut out = Vec::with_capacity(sub.len());
    let mut start = 0;
    let mut first: Option<Re> = None;
    for i in 0..=sub.len() {
        let ifirst = sub.get(i).and_then(leading_regexp).cloned();
        if let (Some(f), Some(fi)) = (&first, &ifirst) {
            let simple = f.is_char_class()
                || f.op == Op::Repeat
                    && f.max == Some(f.min)
                    && f.subs.first().is_some_and(Re::is_char_class);
            if i < sub.len() && f.equal(fi) && simple {
                continue;
            }
        }
        if i == start + 1 {
            out.push(std::mem::take(&mut sub[start]));
        } else if i > start + 1 {
            let run: Vec<Re> = sub[start..i]
                .iter_mut()
                .map(|re| remove_leading_regexp(std::mem::take(re)))
                .collect();
            let suffix = collapse(run, Op::Alternate);
            let lead = first.clone().unwrap_or_default();
            out.push(Re::with_subs(Op::Concat, vec![lead, suffix]));
        }
        start = i;
        first = ifirst;
    }
    sub = out;

    // Round 3: runs of single characters and classes become one class.
    let mut out = Vec::with_capacity(sub.len());
    let mut start = 0;
    for i in 0..=sub.len() {
        if i < sub.len() && sub[i].is_char_class() {
            continue;
        }
        if i == start + 1 {
            out.push(std::mem::take(&mut sub[start]));
        } else if i > start + 1 {
            let mut max = start;
            for j in start + 1..i {
                if sub[max].op < sub[j].op
                    || sub[max].op == sub[j].op && sub[max].runes.len() < sub[j].runes.len()
                {
                    max = j;
                }
            }
            sub.swap(start, max);
            let mut class = std::mem::take(&mut sub[start]);
            for other in &sub[start + 1..i] {
                merge_char_class(&mut class, other);
            }
            clean_alt(&mut class);
            out.push(class);
        }
        if i < sub.len() {
            out.push(std::mem::take(&mut sub[i]));
        }
        start = i + 1;
    }
    sub = out;

    // Round 4: runs of empty matches become one.
    let n = sub.len();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if i + 1 < n && sub[i].op == Op::EmptyMatch && sub[i + 1].op == Op::EmptyMatch {
            continue;
        }
        out.push(std::mem::take(&mut sub[i]));
    }
    out
}

/// Go's `leadingString`: the literal `re` starts with, and whether it folds case.
fn leading_string(re: &Re) -> (Vec<u32>, u8) {
    let re = match re.op {
        Op::Concat if !re.subs.is_empty() => &re.subs[0],
        _ => re,
    };
    if re.op != Op::Literal {
        return (Vec::new(), 0);
    }
    (re.runes.clone(), re.flags & FOLD_CASE)
}

/// Go's `removeLeadingString`.
fn remove_leading_string(mut re: Re, n: usize) -> Re {
    if re.op == Op::Concat && !re.subs.is_empty() {
        let first = remove_leading_string(std::mem::take(&mut re.subs[0]), n);
        let empty = first.op == Op::EmptyMatch;
        re.subs[0] = first;
        if empty {
            match re.subs.len() {
                0 | 1 => return Re::new(Op::EmptyMatch),
                2 => return re.subs.pop().unwrap_or_default(),
                _ => {
                    re.subs.remove(0);
                }
            }
        }
        return re;
    }
    if re.op == Op::Literal {
        re.runes.drain(..n.min(re.runes.len()));
        if re.runes.is_empty() {
            re.op = Op::EmptyMatch;
        }
    }
    re
}

/// Go's `leadingRegexp`.
fn leading_regexp(re: &Re) -> Option<&Re> {
    match re.op {
        Op::EmptyMatch => None,
        Op::Concat if !re.subs.is_empty() => Some(&re.subs[0]).filter(|s| s.op != Op::EmptyMatch),
        _ => Some(re),
    }
}

/// Go's `removeLeadingRegexp`.
fn remove_leading_regexp(mut re: Re) -> Re {
    if re.op == Op::Concat && !re.subs.is_empty() {
        re.subs.remove(0);
        return match re.subs.len() {
            0 => Re::new(Op::EmptyMatch),
            1 => re.subs.pop().unwrap_or_default(),
            _ => re,
        };
    }
    Re::new(Op::EmptyMatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CapType::{Float as F, Int as I, String as S};

    fn types(p: &str) -> Vec<CapType> {
        capture_types(p).unwrap_or_else(|e| panic!("{p:?}: {e}"))
    }

    /// The simplified tree as Go prints it (without flag groups).
    fn go_tree(p: &str) -> String {
        let ast = pattern::parse(p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        let re = Builder::default().top(&ast).unwrap().simplify();
        re.go_string()
    }

    #[test]
    fn conformance_table() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/conformance/mtail/capref_types.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let mut failed = Vec::new();
        for row in &rows {
            let regex = row["regex"].as_str().unwrap();
            let want = match row["inferred_type_of_$1"].as_str().unwrap() {
                "Int" => I,
                "Float" => F,
                "String" => S,
                other => panic!("unknown type {other}"),
            };
            let got = types(regex)[1];
            if got != want {
                failed.push(format!("{regex}: got {got:?}, want {want:?}"));
            }
        }
        println!("passed {}/{}", rows.len() - failed.len(), rows.len());
        assert!(failed.is_empty(), "{failed:#?}");
    }

    #[test]
    fn apache_combined_groups() {
        let p = concat!(
            r"^(?P<hostname>[0-9A-Za-z\.:-]+) (?P<remote_logname>[0-9A-Za-z-]+) ",
            r"(?P<remote_username>[0-9A-Za-z-]+) ",
            r"\[(?P<timestamp>\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} (\+|-)\d{4})\] ",
            r#""(?P<request_method>[A-Z]+) (?P<URI>\S+) (?P<http_version>HTTP\/[0-9\.]+)" "#,
            r"(?P<request_status>\d{3}) ((?P<response_size>\d+)|-) ",
            r#""(?P<referer>\S+)" "(?P<user_agent>[[:print:]]+)"$"#,
        );
        let names = capture_names(p).unwrap();
        let types = types(p);
        assert_eq!(names.len(), types.len());
        let by_name = |n: &str| {
            let i = names
                .iter()
                .position(|x| x.as_deref() == Some(n))
                .unwrap_or_else(|| panic!("no group {n}"));
            types[i]
        };
        assert_eq!(by_name("hostname"), S);
        assert_eq!(by_name("remote_logname"), S);
        assert_eq!(by_name("timestamp"), S);
        assert_eq!(by_name("request_method"), S);
        assert_eq!(by_name("URI"), S);
        assert_eq!(by_name("http_version"), S);
        assert_eq!(by_name("request_status"), I);
        assert_eq!(by_name("response_size"), I);
        assert_eq!(by_name("referer"), S);
        assert_eq!(by_name("user_agent"), S);
        // `(\+|-)` is the class [+\-] in Go; `((?P<response_size>\d+)|-)` mixes Int and String.
        assert_eq!(types[5], S);
        assert_eq!(types[10], S);
        assert_eq!(types.len(), 14);
    }

    #[test]
    fn ntpd_peerstats_groups() {
        let p = concat!(
            r"^(?P<days>\d+) (?P<seconds>\d+)\.\d+ (?P<peer>\d+\.\d+\.\d+\.\d+) ",
            r"(?P<status>[0-9a-f]+) (?P<offset>-?\d+\.\d+) (?P<delay>\d+\.\d+) ",
            r"(?P<dispersion>\d+\.\d+)",
        );
        assert_eq!(types(p), vec![S, I, I, S, S, F, F, F]);
        let names = capture_names(p).unwrap();
        assert_eq!(names[5].as_deref(), Some("offset"));
        assert_eq!(names[0], None);
    }

    /// Answers of Go's parser and mtail's rules, checked against Go 1.19.
    #[test]
    fn go_parser_rewrites() {
        let cases: &[(&str, &[CapType])] = &[
            (r"(1|2)", &[S]),  // becomes the class [1-2]
            (r"(1|1)", &[I]),  // one literal
            (r"([5])", &[I]),  // a one-character class is a literal
            (r"([56])", &[S]), // a class
            (r"([5]+)", &[I]),
            (r"(1|1\.5)", &[S]),       // factored to 1(?:|\.5)
            (r"(\d+|\d+\.\d+)", &[F]), // not factored: Int ∨ Float
            (r"(\d+\.\d+|-)", &[S]),
            (r"(\d{3})", &[I]),
            (r"(\d{0})", &[S]),   // empty
            (r"(\.{2}\d)", &[S]), // two dots once printed
            (r"(\d+\.?\d*)", &[F]),
            (r"(\d+[.]\d+)", &[F]),
            (r"([+-]?\d+)", &[I]),
            (r"((\d))", &[I, S]), // the outer group is a capture, not a class
            (r"([eE])", &[F]),
            (r"(e)", &[F]),
            (r"(-?\d+(?:\.\d+)?)", &[F]),
            (r"((?:\+|-)?\d+)", &[I]),
            (r"(\d+(\.\d+)?)", &[F, F]),
            (r"(\d+)?(\.\d+)", &[I, F]),
            (r"((?i)1e5)", &[F]),
            (r"(12|13)", &[I]),   // factored to 1[2-3], a concatenation
            (r"(1[23]|4)", &[I]), // alternation of Int branches
            (r"(a)(\d+)(b)", &[S, I, S]),
            (r"(\d+)|(\w+)", &[I, S]),
            (r"(\S+)", &[S]),
            (r"(.)", &[S]),
            (r"(0x[0-9a-f]+)", &[S]),
            (r"(\d+){0}(\d)", &[S, S]),
        ];
        let mut failed = Vec::new();
        for (p, want) in cases {
            let got = &types(p)[1..];
            if got != *want {
                failed.push(format!("{p}: got {got:?}, want {want:?} ({})", go_tree(p)));
            }
        }
        assert!(failed.is_empty(), "{failed:#?}");
    }

    #[test]
    fn go_trees() {
        for (p, want) in [
            (r"-|[0-9]", r"[\-0-9]"),
            (r"\d+\.\d+", r"[0-9]+\.[0-9]+"),
            // Go 1.19 prints `[c-d]`, newer Go `[cd]`.
            (r"abc|abd|aef|bcx|bcy", r"a(?:b[cd]|ef)|bc[xy]"),
            (r"\d{2,4}", r"[0-9][0-9](?:[0-9][0-9]?)?"),
            (r"(?:a+)+", r"a+"),
            (
                r"[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?",
                r"[\+\-]?[0-9]*\.?[0-9]+(E[\+\-]?[0-9]+)?",
            ),
            (r"(1|1\.5)", r"(1(?:(?:)|\.5))"),
            (r"\S", r"[^\t\n\f\r ]"),
            (r"(?P<x>a)|b", r"(?P<x>a)|b"),
            (r"x{2,}", r"xx+"),
            (r"a(?:)b", r"a(?:)b"),
        ] {
            assert_eq!(go_tree(p), want, "{p}");
        }
    }

    /// Every group of mtail's example programs gets a type, one per group of the compiled regex.
    #[test]
    fn example_programs() {
        let patterns = pattern::samples::example_patterns();
        let mut failed = Vec::new();
        for (file, p) in &patterns {
            let groups = pattern::translate(p)
                .ok()
                .and_then(|t| regex::bytes::Regex::new(&t).ok())
                .map(|re| re.captures_len());
            match capture_types(p) {
                Ok(types) if Some(types.len()) == groups => {}
                other => failed.push(format!("{file}: {p:?}: {other:?}, {groups:?} groups")),
            }
        }
        println!(
            "passed {}/{} patterns of the example programs",
            patterns.len() - failed.len(),
            patterns.len()
        );
        assert!(failed.is_empty(), "{failed:#?}");
    }

    #[test]
    fn no_panics() {
        for p in pattern::samples::syntax_soup() {
            if let Ok(types) = capture_types(&p) {
                assert_eq!(
                    types.len(),
                    capture_names(&p).map_or(0, |n| n.len()),
                    "{p:?}"
                );
            }
        }
    }

    #[test]
    fn errors_are_pattern_errors() {
        assert!(capture_types(r"(\Z)").is_err());
        assert!(capture_names(r"(").is_err());
        assert_eq!(types(r"no groups"), vec![S]);
    }
}
