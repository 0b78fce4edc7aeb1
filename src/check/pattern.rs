//! mtail patterns (Go RE2 syntax) translated to patterns for Rust's `regex` crate with the same meaning.
//!
//! mtail compiles its patterns with Go's `regexp` package. Its syntax is close to the one of
//! `regex-syntax`, and this module closes the gap in three steps:
//!
//! 1. `normalize` rewrites what Go reads differently from Rust at the level of the text: `\Q…\E`,
//!    octal escapes, `\<` and `\>` (plain `<` `>` in Go, word boundaries in Rust), a `{` that does
//!    not start a repetition (a literal in Go, an error in Rust), bracket classes (in Go `[` is a
//!    plain character inside a class and there are no `&&`, `--`, `~~` set operations), `\p{^X}`
//!    and the empty flag group `(?)`. Escapes that Go rejects (`\Z`, `\C`, `\u`, `\e`, …) are
//!    rejected here with Go's reason.
//! 2. The text is parsed by `regex_syntax::ast::parse::Parser`; what Rust accepts but Go does not
//!    (flags `x`, `u`, `R`, stacked repetitions like `a**`, repeat counts above 1000) is an error.
//! 3. The AST is rewritten to Go's meaning under Unicode mode: Perl classes are ASCII in Go
//!    (`\d` = `[0-9]`, `\w` = `[0-9A-Za-z_]`, `\s` = `[\t\n\f\r ]`, without `\v`), also inside
//!    bracket classes, and `\b`, `\B` are ASCII word boundaries (`(?-u:\b)`). It is printed back
//!    with `regex_syntax::ast::print::Printer`.
//!
//! POSIX classes (`[[:print:]]`) are ASCII in both engines, `(?i)` folds case with the same simple
//! case folding, `.`, `^`, `$`, `(?P<name>…)`, `(?i)`, `(?s)`, `(?m)`, `(?U)` mean the same.
//!
//! Patterns that Go accepts and this module rejects, with an `Unsupported` error: a repetition
//! right after a flag group (`a(?i)*`, Go repeats the `a`), and capture names that start with a
//! digit (`(?P<1x>…)`, which Rust's parser refuses).
//!
//! Compiling the result (checked against Go's `regexp` on random patterns and lines):
//! - `(?-u:\B)` can match the empty string inside a multi-byte character, where Go never looks.
//!   `regex::bytes::Regex` reports such matches; `regex_automata::meta::Regex` built with
//!   `syntax::Config::utf8(false)` and `meta::Config::utf8_empty(true)` skips them, and then all
//!   results equal Go's.
//! - Go reads each invalid UTF-8 byte of a line as U+FFFD, so `.` and negated classes match it;
//!   a regex in Unicode mode does not match such bytes.
//! - A group inside `{0}` never participates in a match; when such groups come last the `regex`
//!   crate leaves them out of the group count, so group numbers past that count are unset groups.
//! - Go's size limits are larger than the `regex` crate's default NFA size limit: `\pL{1000}`
//!   needs a larger `size_limit`.

use regex_syntax::ast::{
    self, parse::ParserBuilder, print::Printer, Ast, ClassBracketed, ClassPerl, ClassPerlKind,
    ClassSet, ClassSetItem, ClassSetRange, ClassSetUnion, Flag, Flags, FlagsItem, FlagsItemKind,
    Group, GroupKind, Literal, LiteralKind, Repetition, RepetitionKind, RepetitionRange, Span,
    SpecialLiteralKind,
};
use std::borrow::Cow;

/// mtail's default for `--max_regexp_length`, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;

/// Go's limit on any repeat count `{n,m}`, and on the product of nested counts.
const MAX_REPEAT: u32 = 1000;

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is longer than the configured maximum (mtail's `--max_regexp_length`).
    #[error(
        "Exceeded maximum regular expression pattern length of {max} bytes with {len}.\n\tExcessively long patterns are likely to cause compilation and runtime performance problems."
    )]
    TooLong { len: usize, max: usize },
    /// The pattern is not valid Go RE2 syntax. `offset` is the byte offset in the pattern when
    /// it is known.
    #[error("error parsing regexp: {message}")]
    Syntax {
        message: String,
        offset: Option<usize>,
    },
    /// The pattern is valid for Go but cannot be expressed for the Rust engine.
    #[error("unsupported regexp: {message}")]
    Unsupported {
        message: String,
        offset: Option<usize>,
    },
}

impl PatternError {
    fn syntax(message: impl Into<String>, offset: usize) -> Self {
        PatternError::Syntax {
            message: message.into(),
            offset: Some(offset),
        }
    }
}

/// Checks the pattern length against `max` bytes (mtail's `--max_regexp_length`, default
/// [`MAX_PATTERN_LEN`]); mtail checks this before parsing.
pub fn check_len(re2: &str, max: usize) -> Result<(), PatternError> {
    if re2.len() > max {
        return Err(PatternError::TooLong {
            len: re2.len(),
            max,
        });
    }
    Ok(())
}

/// Translates a Go RE2 pattern into a pattern for `regex::bytes::Regex` (Unicode mode on, the
/// builder's defaults) that matches the same lines with the same groups, names and numbers.
/// Does not check the length: see [`check_len`].
pub fn translate(re2: &str) -> Result<String, PatternError> {
    let ast = parse(re2)?;
    let mut out = String::new();
    Printer::new()
        .print(&ast, &mut out)
        .map_err(|_| PatternError::Unsupported {
            message: "pattern cannot be printed".into(),
            offset: None,
        })?;
    Ok(out)
}

/// Parses a Go RE2 pattern into a `regex-syntax` AST that has Go's meaning (see the module doc).
pub(crate) fn parse(re2: &str) -> Result<Ast, PatternError> {
    let (text, map) = normalize(re2)?;
    // Offsets in errors are in the normalized text; `map` leads them back to the pattern.
    let at = |span: &Span| Some(map.source_offset(span.start.offset));
    let mut ast = ParserBuilder::new()
        .build()
        .parse(&text)
        .map_err(|e| PatternError::Syntax {
            message: e.kind().to_string(),
            offset: at(e.span()),
        })?;
    rewrite(&mut ast, &text, &at)?;
    Ok(ast)
}

// ---------------------------------------------------------------------------------------------
// Step 1: text normalization.

/// Rewrites the Go-only spellings of `re2` into the Rust ones (see the module doc). Returns the
/// text unchanged (borrowed) when there is nothing to rewrite, and the way back from offsets in
/// the new text to offsets in `re2`.
pub(crate) fn normalize(re2: &str) -> Result<(Cow<'_, str>, OffsetMap), PatternError> {
    let mut n = Normalizer {
        src: re2,
        pos: 0,
        out: String::with_capacity(re2.len() + 8),
        map: OffsetMap::default(),
    };
    n.run()?;
    let text = if n.out == re2 {
        Cow::Borrowed(re2)
    } else {
        Cow::Owned(n.out)
    };
    Ok((text, n.map))
}

/// Where each piece of normalized text came from: `(offset in the new text, offset in the
/// pattern)` at the start of each piece, in increasing order.
#[derive(Debug, Default)]
pub(crate) struct OffsetMap(Vec<(usize, usize)>);

impl OffsetMap {
    pub(crate) fn source_offset(&self, out: usize) -> usize {
        let i = self.0.partition_point(|&(o, _)| o <= out);
        match i.checked_sub(1).and_then(|i| self.0.get(i)) {
            Some(&(o, src)) if o == out => src,
            // Inside a rewritten piece: its start.
            Some(&(_, src)) => src,
            None => out,
        }
    }
}

struct Normalizer<'a> {
    src: &'a str,
    pos: usize,
    out: String,
    map: OffsetMap,
}

impl<'a> Normalizer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn copy(&mut self, len: usize) {
        let end = self.pos + len;
        self.out.push_str(&self.src[self.pos..end]);
        self.pos = end;
    }

    fn err(&self, message: impl Into<String>, at: usize) -> PatternError {
        PatternError::syntax(message, at)
    }

    /// Notes that the next output comes from the current position.
    fn mark(&mut self) {
        self.map.0.push((self.out.len(), self.pos));
    }

    fn run(&mut self) -> Result<(), PatternError> {
        while let Some(c) = self.peek() {
            self.mark();
            match c {
                '\\' => self.escape()?,
                '[' => self.class()?,
                '{' => match go_repeat_len(self.rest()) {
                    Some(len) => self.copy(len),
                    None => {
                        self.pos += 1;
                        self.out.push_str("\\{");
                    }
                },
                '(' => self.paren()?,
                _ => self.copy(c.len_utf8()),
            }
        }
        Ok(())
    }

    /// `(`: Go's no-op `(?)` and capture names, which Go restricts to `[A-Za-z0-9_]+`.
    fn paren(&mut self) -> Result<(), PatternError> {
        let rest = self.rest();
        if rest.starts_with("(?)") {
            self.pos += 3;
            return Ok(());
        }
        // A flag group such as `(?U)` pushes nothing in Go, so a repetition right after it
        // applies to what came before it, under the new flags; Rust rejects it.
        if let Some(body) = rest.strip_prefix("(?") {
            let flags = body.bytes().take_while(|b| b"imsU-".contains(b)).count();
            if body.as_bytes().get(flags) == Some(&b')') {
                let after = &body[flags + 1..];
                if after.starts_with(['*', '+', '?']) || go_repeat_len(after).is_some() {
                    return Err(PatternError::Unsupported {
                        message: format!(
                            "repetition operator right after the flag group `{}`; put the flags elsewhere",
                            &rest[..flags + 3]
                        ),
                        offset: Some(self.pos),
                    });
                }
            }
        }
        let name_at = if rest.starts_with("(?P<") {
            4
        } else if rest.starts_with("(?<") && !rest.starts_with("(?<=") && !rest.starts_with("(?<!")
        {
            3
        } else {
            self.copy(1);
            return Ok(());
        };
        let Some(end) = rest.find('>') else {
            return Err(self.err(format!("invalid named capture: `{rest}`"), self.pos));
        };
        let name = &rest[name_at..end];
        if name.is_empty() || !name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric()) {
            return Err(self.err(
                format!("invalid named capture: `{}`", &rest[..=end]),
                self.pos,
            ));
        }
        if name.as_bytes()[0].is_ascii_digit() {
            return Err(PatternError::Unsupported {
                message: format!(
                    "capture group name `{name}` starts with a digit; use a name that starts with a letter or `_`"
                ),
                offset: Some(self.pos),
            });
        }
        self.copy(end + 1);
        Ok(())
    }

    /// A backslash outside a bracket class.
    fn escape(&mut self) -> Result<(), PatternError> {
        let start = self.pos;
        let rest = &self.src[start + 1..];
        let Some(c) = rest.chars().next() else {
            return Err(self.err("trailing backslash at end of expression", start));
        };
        match c {
            'Q' => {
                // \Q...\E: everything up to \E (or the end) is literal.
                let body = &rest[1..];
                let (lit, skip) = match body.find("\\E") {
                    Some(i) => (&body[..i], i + 2),
                    None => (body, body.len()),
                };
                for ch in lit.chars() {
                    push_literal(&mut self.out, ch);
                }
                self.pos = start + 2 + skip;
            }
            'A' | 'z' | 'd' | 'D' | 'w' | 'W' | 's' | 'S' => self.copy(2),
            'b' | 'B' => {
                self.pos += 2;
                // Go reads `\b{` as `\b` then a repetition or a literal `{`; Rust would read
                // `\b{start}` as one assertion.
                if self.peek() == Some('{') {
                    self.out
                        .push_str(if c == 'b' { "(?:\\b)" } else { "(?:\\B)" });
                } else {
                    self.out.push('\\');
                    self.out.push(c);
                }
            }
            'p' | 'P' => self.unicode_class()?,
            'Z' => {
                return Err(self.err(
                    "invalid escape sequence: `\\Z` (RE2 has no `\\Z`; use `$` or `\\z`)",
                    start,
                ))
            }
            'C' => {
                return Err(self.err(
                    "invalid escape sequence: `\\C` (matching single bytes is not supported)",
                    start,
                ))
            }
            _ => {
                let (ch, len) = go_escape(rest).map_err(|m| self.err(m, start))?;
                // Rust reads hexadecimal, C-style and punctuation escapes as Go does; octal
                // escapes and `\<`, `\>` must be rewritten.
                let same = match c {
                    'x' | 'a' | 'f' | 'n' | 'r' | 't' | 'v' => true,
                    c => !c.is_ascii_alphanumeric() && regex_syntax::is_escapeable_character(c),
                };
                if same {
                    self.copy(1 + len);
                } else {
                    push_literal(&mut self.out, ch);
                    self.pos = start + 1 + len;
                }
            }
        }
        Ok(())
    }

    /// `\pX`, `\p{Name}`, `\P{…}`, `\p{^…}` at the current position; checks that Go knows the name.
    fn unicode_class(&mut self) -> Result<(), PatternError> {
        let start = self.pos;
        let rest = self.rest();
        let mut negated = rest.as_bytes().get(1) == Some(&b'P');
        let after = &rest[2..];
        let Some(first) = after.chars().next() else {
            return Err(self.err("invalid character class range: `\\p`", start));
        };
        let (mut name, len) = if first == '{' {
            let Some(end) = rest.find('}') else {
                return Err(self.err(format!("invalid character class range: `{rest}`"), start));
            };
            (&rest[3..end], end + 1)
        } else {
            (&after[..first.len_utf8()], 2 + first.len_utf8())
        };
        let seq = &rest[..len];
        if let Some(n) = name.strip_prefix('^') {
            negated = !negated;
            name = n;
        }
        if !go_unicode_class(name) {
            return Err(self.err(format!("invalid character class range: `{seq}`"), start));
        }
        self.out.push_str(if negated { "\\P{" } else { "\\p{" });
        self.out.push_str(name);
        self.out.push('}');
        self.pos = start + len;
        Ok(())
    }

    /// A bracket class, read with Go's rules and written out with every character escaped.
    fn class(&mut self) -> Result<(), PatternError> {
        let start = self.pos;
        let whole = self.rest();
        self.pos += 1;
        self.out.push('[');
        if self.peek() == Some('^') {
            self.pos += 1;
            self.out.push('^');
        }
        let mut first = true;
        loop {
            self.mark();
            let Some(c) = self.peek() else {
                return Err(self.err(format!("missing closing ]: `{whole}`"), start));
            };
            if c == ']' && !first {
                self.pos += 1;
                self.out.push(']');
                return Ok(());
            }
            first = false;
            let rest = self.rest();
            if let Some(tail) = rest.strip_prefix("[:") {
                if let Some(i) = tail.find(":]") {
                    let name = &rest[..i + 4];
                    if !go_posix_class(name) {
                        return Err(
                            self.err(format!("invalid character class range: `{name}`"), self.pos)
                        );
                    }
                    self.copy(name.len());
                    continue;
                }
            }
            if rest.starts_with("\\p") || rest.starts_with("\\P") {
                self.unicode_class()?;
                continue;
            }
            if ["\\d", "\\D", "\\w", "\\W", "\\s", "\\S"]
                .iter()
                .any(|p| rest.starts_with(p))
            {
                self.copy(2);
                continue;
            }
            let item_at = self.pos;
            let lo = self.class_char(whole, start)?;
            let rest = self.rest();
            if rest.starts_with('-') && rest.len() >= 2 && !rest[1..].starts_with(']') {
                self.pos += 1;
                let hi = self.class_char(whole, start)?;
                if hi < lo {
                    return Err(self.err(
                        format!(
                            "invalid character class range: `{}`",
                            &self.src[item_at..self.pos]
                        ),
                        item_at,
                    ));
                }
                push_literal(&mut self.out, lo);
                self.out.push('-');
                push_literal(&mut self.out, hi);
            } else {
                push_literal(&mut self.out, lo);
            }
        }
    }

    fn class_char(&mut self, whole: &str, class_at: usize) -> Result<char, PatternError> {
        let at = self.pos;
        match self.bump() {
            None => Err(self.err(format!("missing closing ]: `{whole}`"), class_at)),
            Some('\\') => {
                let (c, len) = go_escape(self.rest()).map_err(|m| self.err(m, at))?;
                self.pos += len;
                Ok(c)
            }
            Some(c) => Ok(c),
        }
    }
}

/// Writes `c` so that it is one literal character both inside and outside a bracket class.
fn push_literal(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\x0B' => out.push_str("\\v"),
        '\x0C' => out.push_str("\\f"),
        '\x07' => out.push_str("\\a"),
        c if regex_syntax::is_meta_character(c) => {
            out.push('\\');
            out.push(c);
        }
        c if c.is_control() || c.is_whitespace() && c != ' ' => {
            out.push_str(&format!("\\x{{{:X}}}", c as u32));
        }
        c => out.push(c),
    }
}

/// Go's `parseRepeat`: is `s` (starting at `{`) a repetition `{n}`, `{n,}` or `{n,m}`? Numbers
/// have no leading zeros. Returns its length in bytes.
fn go_repeat_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let int = |i: &mut usize| -> bool {
        let start = *i;
        match b.get(start) {
            Some(d) if d.is_ascii_digit() => {}
            _ => return false,
        }
        if b[start] == b'0' && b.get(start + 1).is_some_and(|d| d.is_ascii_digit()) {
            return false;
        }
        while b.get(*i).is_some_and(|d| d.is_ascii_digit()) {
            *i += 1;
        }
        true
    };
    let mut i = 1;
    if !int(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b',') {
        i += 1;
        if b.get(i) != Some(&b'}') && !int(&mut i) {
            return None;
        }
    }
    (b.get(i) == Some(&b'}')).then_some(i + 1)
}

/// Go's `parseEscape` for the text after a backslash: returns the character and the number of
/// bytes it used, or Go's error message.
fn go_escape(s: &str) -> Result<(char, usize), String> {
    let mut it = s.char_indices();
    let Some((_, c)) = it.next() else {
        return Err("trailing backslash at end of expression".into());
    };
    // The first `n` characters of `s`, for error messages.
    let chars = |n: usize| s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i]);
    let invalid = |n: usize| format!("invalid escape sequence: `\\{}`", chars(n));
    let b = s.as_bytes();
    let is_oct = |i: usize| b.get(i).is_some_and(|d| (b'0'..=b'7').contains(d));
    match c {
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c, 1)),
        '1'..='7' if !is_oct(1) => Err(format!(
            "invalid escape sequence: `\\{c}` (backreferences are not supported)"
        )),
        '0'..='7' => {
            let mut r = u32::from(b[0] - b'0');
            let mut len = 1;
            while len < 3 && is_oct(len) {
                r = r * 8 + u32::from(b[len] - b'0');
                len += 1;
            }
            char::from_u32(r)
                .map(|c| (c, len))
                .ok_or_else(|| invalid(len))
        }
        'x' => {
            if b.get(1) == Some(&b'{') {
                let Some(end) = s.find('}') else {
                    return Err(invalid(s.len()));
                };
                let n = s[..=end].chars().count();
                let digits = &s[2..end];
                let ok = !digits.is_empty() && digits.bytes().all(|d| d.is_ascii_hexdigit());
                u32::from_str_radix(digits, 16)
                    .ok()
                    .filter(|_| ok)
                    .and_then(char::from_u32)
                    .map(|c| (c, end + 1))
                    .ok_or_else(|| invalid(n))
            } else {
                let hex = s
                    .get(1..3)
                    .filter(|h| h.bytes().all(|d| d.is_ascii_hexdigit()));
                hex.and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
                    .map(|c| (c, 3))
                    .ok_or_else(|| invalid(3))
            }
        }
        'a' => Ok(('\x07', 1)),
        'f' => Ok(('\x0C', 1)),
        'n' => Ok(('\n', 1)),
        'r' => Ok(('\r', 1)),
        't' => Ok(('\t', 1)),
        'v' => Ok(('\x0B', 1)),
        _ => Err(invalid(1)),
    }
}

/// Is `[:name:]` (with the brackets and colons) one of Go's POSIX classes?
fn go_posix_class(name: &str) -> bool {
    let inner = &name[2..name.len() - 2];
    let inner = inner.strip_prefix('^').unwrap_or(inner);
    matches!(
        inner,
        "alnum"
            | "alpha"
            | "ascii"
            | "blank"
            | "cntrl"
            | "digit"
            | "graph"
            | "lower"
            | "print"
            | "punct"
            | "space"
            | "upper"
            | "word"
            | "xdigit"
    )
}

/// Does Go know the Unicode class `name` (`\p{name}`)? Go knows general categories, scripts and
/// `Any`, `ASCII`, `Assigned`; Rust knows more (binary properties, `name=value`), which Go rejects.
fn go_unicode_class(name: &str) -> bool {
    if name.is_empty() || name.contains(['=', ':', '!', '{', '}', '\\']) {
        return false;
    }
    let canon: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    if matches!(canon.as_str(), "any" | "ascii" | "assigned") {
        return true;
    }
    ["gc", "sc"].iter().any(|prop| {
        regex_syntax::ParserBuilder::new()
            .build()
            .parse(&format!("\\p{{{prop}={name}}}"))
            .is_ok()
    })
}

// ---------------------------------------------------------------------------------------------
// Steps 2 and 3: check what Go rejects, rewrite Perl classes and word boundaries to ASCII.

fn rewrite(
    ast: &mut Ast,
    text: &str,
    at: &dyn Fn(&Span) -> Option<usize>,
) -> Result<(), PatternError> {
    let unsupported_flag = |flags: &Flags| -> Result<(), PatternError> {
        for item in &flags.items {
            if let FlagsItemKind::Flag(f) = &item.kind {
                let name = match f {
                    Flag::Unicode => "u",
                    Flag::CRLF => "R",
                    Flag::IgnoreWhitespace => "x",
                    _ => continue,
                };
                return Err(PatternError::Syntax {
                    message: format!(
                        "invalid or unsupported Perl syntax: flag `{name}` (RE2 knows only i, m, s, U)"
                    ),
                    offset: at(&item.span),
                });
            }
        }
        Ok(())
    };
    match ast {
        Ast::Flags(set) => unsupported_flag(&set.flags)?,
        Ast::Group(g) => {
            if let GroupKind::NonCapturing(flags) = &g.kind {
                unsupported_flag(flags)?;
            }
            rewrite(&mut g.ast, text, at)?;
        }
        Ast::Alternation(alt) => {
            for a in &mut alt.asts {
                rewrite(a, text, at)?;
            }
        }
        Ast::Concat(cat) => {
            for a in &mut cat.asts {
                rewrite(a, text, at)?;
            }
        }
        Ast::Repetition(rep) => {
            if let Ast::Repetition(inner) = &*rep.ast {
                let span = Span::new(inner.op.span.start, rep.op.span.end);
                return Err(PatternError::Syntax {
                    message: format!(
                        "invalid nested repetition operator: `{}`",
                        &text[span.start.offset..span.end.offset]
                    ),
                    offset: at(&span),
                });
            }
            if let Some((min, max)) = counts(rep) {
                let counted = min >= 2 || max.is_some_and(|m| m >= 2);
                if min > MAX_REPEAT
                    || max.is_some_and(|m| m > MAX_REPEAT)
                    || counted && !repetition_is_valid(rep, MAX_REPEAT)
                {
                    let span = rep.op.span;
                    return Err(PatternError::Syntax {
                        message: format!(
                            "invalid repeat count: `{}` (at most {MAX_REPEAT}, also for nested repetitions)",
                            &text[span.start.offset..span.end.offset]
                        ),
                        offset: at(&span),
                    });
                }
            }
            rewrite(&mut rep.ast, text, at)?;
        }
        Ast::ClassPerl(perl) => {
            let class = ascii_perl_class(perl);
            *ast = Ast::class_bracketed(class);
        }
        Ast::ClassBracketed(class) => rewrite_class_set(&mut class.kind),
        Ast::Assertion(a) => {
            use ast::AssertionKind as K;
            match a.kind {
                K::WordBoundary | K::NotWordBoundary => {
                    let span = a.span;
                    let inner = std::mem::replace(ast, Ast::empty(span));
                    *ast = ascii_group(span, inner);
                }
                K::StartLine | K::EndLine | K::StartText | K::EndText => {}
                _ => {
                    return Err(PatternError::Unsupported {
                        message: "special word boundary assertions are not RE2 syntax".into(),
                        offset: at(&a.span),
                    })
                }
            }
        }
        Ast::Empty(_) | Ast::Literal(_) | Ast::Dot(_) | Ast::ClassUnicode(_) => {}
    }
    Ok(())
}

/// The `(min, max)` of a counted repetition `{n,m}` (`max` is `None` for `{n,}`).
fn counts(rep: &Repetition) -> Option<(u32, Option<u32>)> {
    match &rep.op.kind {
        RepetitionKind::Range(RepetitionRange::Exactly(n)) => Some((*n, Some(*n))),
        RepetitionKind::Range(RepetitionRange::AtLeast(n)) => Some((*n, None)),
        RepetitionKind::Range(RepetitionRange::Bounded(a, b)) => Some((*a, Some(*b))),
        _ => None,
    }
}

/// Go's `repeatIsValid`: the product of nested `{n,m}` counts stays within `n`.
fn repetition_is_valid(rep: &Repetition, mut n: u32) -> bool {
    if let Some((min, max)) = counts(rep) {
        let m = max.unwrap_or(min);
        if m == 0 {
            return true;
        }
        if m > n {
            return false;
        }
        n /= m;
    }
    repeat_is_valid(&rep.ast, n)
}

fn repeat_is_valid(ast: &Ast, n: u32) -> bool {
    match ast {
        Ast::Repetition(rep) => repetition_is_valid(rep, n),
        Ast::Group(g) => repeat_is_valid(&g.ast, n),
        Ast::Alternation(alt) => alt.asts.iter().all(|a| repeat_is_valid(a, n)),
        Ast::Concat(cat) => cat.asts.iter().all(|a| repeat_is_valid(a, n)),
        _ => true,
    }
}

/// `(?-u:X)`: an ASCII-only group around an assertion.
fn ascii_group(span: Span, inner: Ast) -> Ast {
    Ast::group(Group {
        span,
        kind: GroupKind::NonCapturing(Flags {
            span,
            items: vec![
                FlagsItem {
                    span,
                    kind: FlagsItemKind::Negation,
                },
                FlagsItem {
                    span,
                    kind: FlagsItemKind::Flag(Flag::Unicode),
                },
            ],
        }),
        ast: Box::new(inner),
    })
}

fn rewrite_class_set(set: &mut ClassSet) {
    match set {
        ClassSet::Item(item) => rewrite_class_item(item),
        ClassSet::BinaryOp(op) => {
            rewrite_class_set(&mut op.lhs);
            rewrite_class_set(&mut op.rhs);
        }
    }
}

fn rewrite_class_item(item: &mut ClassSetItem) {
    match item {
        ClassSetItem::Perl(perl) => {
            *item = if perl.negated {
                ClassSetItem::Bracketed(Box::new(ascii_perl_class(perl)))
            } else {
                ClassSetItem::Union(ascii_union(perl))
            };
        }
        ClassSetItem::Bracketed(b) => rewrite_class_set(&mut b.kind),
        ClassSetItem::Union(u) => u.items.iter_mut().for_each(rewrite_class_item),
        _ => {}
    }
}

/// The ASCII class RE2 means by a Perl class: `\d` = `[0-9]`, `\w` = `[0-9A-Za-z_]`,
/// `\s` = `[\t\n\f\r ]`; negated ones are negated classes (any other character, Unicode ones too).
fn ascii_perl_class(perl: &ClassPerl) -> ClassBracketed {
    ClassBracketed {
        span: perl.span,
        negated: perl.negated,
        kind: ClassSet::Item(ClassSetItem::Union(ascii_union(perl))),
    }
}

/// The characters of a Perl class in RE2, ignoring its negation.
fn ascii_union(perl: &ClassPerl) -> ClassSetUnion {
    let span = perl.span;
    let lit = |c: char| {
        let kind = match c {
            '\t' => LiteralKind::Special(SpecialLiteralKind::Tab),
            '\n' => LiteralKind::Special(SpecialLiteralKind::LineFeed),
            '\x0C' => LiteralKind::Special(SpecialLiteralKind::FormFeed),
            '\r' => LiteralKind::Special(SpecialLiteralKind::CarriageReturn),
            _ => LiteralKind::Verbatim,
        };
        Literal { span, kind, c }
    };
    let range = |a: char, b: char| {
        ClassSetItem::Range(ClassSetRange {
            span,
            start: lit(a),
            end: lit(b),
        })
    };
    let items = match perl.kind {
        ClassPerlKind::Digit => vec![range('0', '9')],
        ClassPerlKind::Word => vec![
            range('0', '9'),
            range('A', 'Z'),
            ClassSetItem::Literal(lit('_')),
            range('a', 'z'),
        ],
        ClassPerlKind::Space => ['\t', '\n', '\x0C', '\r', ' ']
            .into_iter()
            .map(|c| ClassSetItem::Literal(lit(c)))
            .collect(),
    };
    ClassSetUnion { span, items }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::bytes::{Regex, RegexBuilder};

    fn re(p: &str) -> Regex {
        let t = translate(p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        RegexBuilder::new(&t)
            .build()
            .unwrap_or_else(|e| panic!("{p:?} -> {t:?}: {e}"))
    }

    fn finds(p: &str, hay: &str) -> Option<String> {
        re(p)
            .find(hay.as_bytes())
            .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
    }

    fn err(p: &str) -> String {
        match translate(p) {
            Ok(t) => panic!("{p:?} translated to {t:?}, expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn perl_classes_are_ascii() {
        assert_eq!(translate(r"\d+").unwrap(), "[0-9]+");
        assert_eq!(finds(r"\d+", "x٣٤5"), Some("5".into()));
        assert_eq!(finds(r"\d", "٣"), None);
        assert_eq!(finds(r"\D", "٣"), Some("٣".into()));
        assert_eq!(finds(r"\w+", "éa_1é"), Some("a_1".into()));
        assert_eq!(finds(r"\W", "aé"), Some("é".into()));
        assert_eq!(finds(r"\s", "a\u{a0}b"), None);
        assert_eq!(finds(r"\s", "a\u{b}b"), None, "RE2's \\s has no \\v");
        assert_eq!(finds(r"\s+", "a \t\r\n\x0Cb"), Some(" \t\r\n\x0C".into()));
        assert_eq!(finds(r"\S+", "\u{a0}é "), Some("\u{a0}é".into()));
        assert_eq!(finds(r"\D+", "\n٣a1"), Some("\n٣a".into()));
    }

    #[test]
    fn perl_classes_inside_brackets() {
        assert_eq!(finds(r"[\d.]+", "v٣1.2.3x"), Some("1.2.3".into()));
        assert_eq!(finds(r"[^\d]+", "12٣é4"), Some("٣é".into()));
        assert_eq!(finds(r"[^\s]+", " a\u{a0}b "), Some("a\u{a0}b".into()));
        assert_eq!(finds(r"[\w-]+", "é-a_b-é"), Some("-a_b-".into()));
        assert_eq!(finds(r"[\D]+", "1٣b2"), Some("٣b".into()));
        assert_eq!(finds(r"[\Sx]+", " é "), Some("é".into()));
        assert_eq!(finds(r"[^\S]+", "a \u{a0}b"), Some(" ".into()));
        assert_eq!(finds(r"[^\D]+", "٣12"), Some("12".into()));
        assert_eq!(finds(r"[^\W\d]+", "1é_ab2"), Some("_ab".into()));
    }

    #[test]
    fn word_boundaries_are_ascii() {
        // é is not a word character in RE2, so there is a boundary between é and a.
        assert_eq!(finds(r"\ba", "éa"), Some("a".into()));
        assert_eq!(finds(r"é\b", "éa"), Some("é".into()));
        assert_eq!(finds(r"é\b", "éé"), None);
        assert_eq!(finds(r"\Ba", "éa"), None);
        assert_eq!(finds(r"\Bé", "aé"), None);
        assert_eq!(finds(r"\Bé", "éé"), Some("é".into()));
        assert_eq!(finds(r"\bfoo\b", "éfooé"), Some("foo".into()));
    }

    #[test]
    fn posix_classes_and_flags_are_kept() {
        assert_eq!(
            finds(r"[[:print:]]+", "\u{1}ab c\u{e9}"),
            Some("ab c".into())
        );
        assert_eq!(finds(r"(?i)ABC", "xabc"), Some("abc".into()));
        assert_eq!(
            translate(r"(?P<x>\d+)\.(?P<y>\w)").unwrap(),
            r"(?P<x>[0-9]+)\.(?P<y>[0-9A-Z_a-z])"
        );
        let r = re(r"(?P<x>\d+)-(?P<y>\d+)");
        let names: Vec<_> = r.capture_names().collect();
        assert_eq!(names, vec![None, Some("x"), Some("y")]);
    }

    #[test]
    fn go_spellings() {
        assert_eq!(finds(r"\Qa.b\E+", "axb a.bb"), Some("a.bb".into()));
        assert_eq!(finds(r"\Q(*", "x(*"), Some("(*".into()));
        assert_eq!(finds(r"\101\0", "A\0"), Some("A\0".into()));
        assert_eq!(finds(r"\<a\>", "<a>"), Some("<a>".into()));
        assert_eq!(finds(r"a{", "a{"), Some("a{".into()));
        assert_eq!(finds(r"{x}", "{x}"), Some("{x}".into()));
        assert_eq!(finds(r"a{,2}", "a{,2}"), Some("a{,2}".into()));
        assert_eq!(finds(r"a{01}", "a{01}"), Some("a{01}".into()));
        assert_eq!(finds(r"a{2}", "aaa"), Some("aa".into()));
        assert_eq!(finds(r"\b{start}", "a{start}"), Some("{start}".into()));
        assert_eq!(finds(r"[[]+", "[[a"), Some("[[".into()));
        assert_eq!(finds(r"[a&&b]+", "x&&ab"), Some("&&ab".into()));
        assert_eq!(finds(r"[+--]+", "x+,-"), Some("+,-".into()));
        assert_eq!(finds(r"[~~a]+", "~a"), Some("~a".into()));
        assert_eq!(finds(r"[]a]+", "]a"), Some("]a".into()));
        assert_eq!(finds(r"[^]a]+", "]ab"), Some("b".into()));
        assert_eq!(finds(r"\p{^Greek}+", "αab"), Some("ab".into()));
        assert_eq!(finds(r"\pN", "x٣"), Some("٣".into()));
        assert_eq!(finds(r"(?)a", "a"), Some("a".into()));
        assert_eq!(finds(r"\/\_\%", "/_%"), Some("/_%".into()));
        assert_eq!(finds(r"[\x41-\x{43}\101]+", "ABC"), Some("ABC".into()));
    }

    #[test]
    fn go_rejections() {
        for p in [
            r"\Z",
            r"\C",
            r"\u0041",
            r"\e",
            r"\1",
            r"a**",
            r"a*+",
            r"a{2}{3}",
            r"(?x)a",
            r"(?u:a)",
            r"a{1001}",
            r"(a{100}){100}",
            r"\p{Emoji}",
            r"\p{sc=Greek}",
            r"[[:foo:]]",
            r"(?P<a.b>x)",
            r"[z-a]",
            r"[a",
            r"(",
            r"\",
            r"(?<=a)",
            r"\8",
            r"\k",
            r"a(?U)+",
            r"a(?i){2}",
            "\\x1é",
            "\\x{1é}",
            "\\é",
        ] {
            err(p);
        }
        assert!(err(r"a\Z").contains(r"\z"));
        assert!(err("(?P<1a>x)").contains("digit"));
        let offset = |p: &str| match translate(p) {
            Err(PatternError::Syntax { offset, .. }) => offset,
            other => panic!("{p:?}: {other:?}"),
        };
        assert_eq!(offset("(a"), Some(0));
        assert_eq!(offset(r"\/x(a"), Some(3));
        // Offsets point into the pattern as written, also after a rewrite.
        assert_eq!(offset(r"\101\Q..\E[[](a"), Some(13));
        assert_eq!(offset(r"\101x\Z"), Some(5));
    }

    /// Every pattern of mtail's example programs translates and compiles.
    #[test]
    fn example_programs() {
        let patterns = samples::example_patterns();
        let mut failed = Vec::new();
        for (file, p) in &patterns {
            match translate(p).map(|t| RegexBuilder::new(&t).build()) {
                Ok(Ok(_)) => {}
                other => failed.push(format!("{file}: {p:?}: {other:?}")),
            }
        }
        println!(
            "passed {}/{} patterns of the example programs",
            patterns.len() - failed.len(),
            patterns.len()
        );
        assert!(failed.is_empty(), "{failed:#?}");
        assert!(
            patterns.len() > 80,
            "only {} patterns found",
            patterns.len()
        );
    }

    /// Short patterns over an alphabet of syntax characters: errors are fine, panics are not.
    #[test]
    fn no_panics() {
        for p in samples::syntax_soup() {
            if let Ok(t) = translate(&p) {
                assert!(RegexBuilder::new(&t).build().is_ok(), "{p:?} -> {t:?}");
            }
        }
    }

    #[test]
    fn length_limit() {
        assert!(check_len(&"c".repeat(1024), MAX_PATTERN_LEN).is_ok());
        let e = check_len(&"c".repeat(1025), MAX_PATTERN_LEN).unwrap_err();
        assert!(e.to_string().starts_with(
            "Exceeded maximum regular expression pattern length of 1024 bytes with 1025."
        ));
    }
}

/// Patterns for tests of this module and of the modules built on it.
#[cfg(test)]
pub(crate) mod samples {
    /// Every pattern of mtail's example programs (from the shared conformance corpus), with the
    /// name of its program.
    pub(crate) fn example_patterns() -> Vec<(String, String)> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/conformance/mtail/examples_all"
        );
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "mtail"))
            .collect();
        files.sort();
        let mut out = Vec::new();
        for file in &files {
            let src = std::fs::read_to_string(file).unwrap();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            out.extend(
                program_patterns(&src)
                    .into_iter()
                    .map(|p| (name.clone(), p)),
            );
        }
        out
    }

    /// Short patterns over an alphabet of syntax characters: every one of up to three
    /// characters, and longer ones from a fixed pseudo-random sequence.
    pub(crate) fn syntax_soup() -> Vec<String> {
        let alphabet: Vec<char> = r"\xpPQEb{}[]:^-(?<>|*1é0dD".chars().collect();
        let n = alphabet.len();
        let mut out = Vec::new();
        for i in 0..n * n * n {
            let p: String = [i % n, i / n % n, i / n / n]
                .iter()
                .map(|&k| alphabet[k])
                .collect();
            out.push(p.chars().take(2).collect());
            out.push(p);
        }
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..10_000 {
            let mut p = String::new();
            for _ in 0..(x % 7 + 4) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p.push(alphabet[(x % n as u64) as usize]);
            }
            out.push(p);
        }
        out
    }

    /// The full patterns of an mtail program: regex literals joined by `+`, with `const`
    /// fragments substituted. A rough scanner, enough for the example programs.
    fn program_patterns(src: &str) -> Vec<String> {
        #[derive(Debug, PartialEq)]
        enum Tok {
            Re(String),
            Id(String),
            Plus,
            Other(char),
        }
        let mut toks: Vec<Tok> = Vec::new();
        let mut chars = src.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '#' => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '"' => {
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => {
                                chars.next();
                            }
                            '"' => break,
                            _ => {}
                        }
                    }
                    toks.push(Tok::Other('"'));
                }
                '/' => {
                    let regex_here = match toks.last() {
                        None | Some(Tok::Plus) => true,
                        Some(Tok::Other(c)) => "{}(,=~!&|:\n".contains(*c),
                        Some(Tok::Id(_)) => {
                            toks.len() >= 2 && toks[toks.len() - 2] == Tok::Id("const".into())
                        }
                        Some(Tok::Re(_)) => false,
                    };
                    if !regex_here {
                        toks.push(Tok::Other('/'));
                        continue;
                    }
                    let mut re = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' if chars.peek() == Some(&'/') => {
                                re.push_str("\\/");
                                chars.next();
                            }
                            '/' => break,
                            c => re.push(c),
                        }
                    }
                    toks.push(Tok::Re(re));
                }
                '+' => toks.push(Tok::Plus),
                c if c.is_alphabetic() || c == '_' => {
                    let mut id = c.to_string();
                    while let Some(&c) = chars.peek() {
                        if !(c.is_alphanumeric() || c == '_') {
                            break;
                        }
                        id.push(c);
                        chars.next();
                    }
                    toks.push(Tok::Id(id));
                }
                // A newline ends a statement, so a pattern may follow; `+` continues a line.
                '\n' if !matches!(toks.last(), None | Some(Tok::Plus | Tok::Other('\n'))) => {
                    toks.push(Tok::Other('\n'))
                }
                c if c.is_whitespace() => {}
                c => toks.push(Tok::Other(c)),
            }
        }
        let mut consts = std::collections::HashMap::new();
        let mut patterns = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let (name, start) = match (&toks[i], toks.get(i + 1)) {
                (Tok::Id(k), Some(Tok::Id(name))) if k == "const" => (Some(name.clone()), i + 2),
                (Tok::Re(_), _) => (None, i),
                _ => {
                    i += 1;
                    continue;
                }
            };
            let atom = |t: Option<&Tok>| match t {
                Some(Tok::Re(r)) => Some(r.clone()),
                Some(Tok::Id(id)) => consts.get(id).cloned(),
                _ => None,
            };
            let mut j = start;
            let mut text = atom(toks.get(j)).unwrap_or_default();
            while toks.get(j + 1) == Some(&Tok::Plus) {
                match atom(toks.get(j + 2)) {
                    Some(more) => text.push_str(&more),
                    None => break,
                }
                j += 2;
            }
            match name {
                Some(name) => {
                    consts.insert(name, text);
                }
                None => patterns.push(text),
            }
            i = j + 1;
        }
        patterns
    }
}
