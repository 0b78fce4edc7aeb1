//! Diagnostics: an error at a span of a program, rendered as `--> file:line:col`, the line and a caret.

use super::span::Span;
use pest::error::{Error, ErrorVariant};
use std::fmt::Write as _;

/// One problem found in a program.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
    /// An extra line of advice, shown after the message.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:col: message`, the one-line form (mtail's form).
    pub fn short(&self, file: &str, src: &str) -> String {
        let (line, col) = super::span::line_col(src, self.span.start);
        format!("{file}:{line}:{col}: {}", self.message)
    }

    /// The full form: position, source line, caret, message and hint.
    pub fn render(&self, file: &str, src: &str) -> String {
        let start = clamp(src, self.span.start);
        let end = clamp(src, self.span.end.max(self.span.start)).max(start);
        // A caret over one line only: cut the span at the end of its first line.
        let end = src[start..end].find('\n').map_or(end, |i| start + i);
        let mut message = self.message.clone();
        if let Some(h) = &self.hint {
            let _ = write!(message, "\n  = hint: {h}");
        }
        let variant = ErrorVariant::<()>::CustomError { message };
        let err = match pest::Span::new(src, start, end) {
            Some(span) if end > start => Error::new_from_span(variant, span),
            _ => match pest::Position::new(src, start) {
                Some(pos) => Error::new_from_pos(variant, pos),
                None => return self.short(file, src),
            },
        };
        err.with_path(file).to_string()
    }
}

fn clamp(src: &str, mut i: usize) -> usize {
    i = i.min(src.len());
    while i > 0 && !src.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Render every diagnostic, in source order, separated by blank lines.
pub fn render_all(file: &str, src: &str, diags: &[Diagnostic]) -> String {
    let mut sorted: Vec<&Diagnostic> = diags.iter().collect();
    sorted.sort_by_key(|d| (d.span.start, d.span.end));
    let mut out = String::new();
    for d in sorted {
        out.push_str(&d.render(file, src));
        out.push_str("\n\n");
    }
    out
}
