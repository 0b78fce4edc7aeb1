//! Cutting a byte stream into lines with memchr over a reused buffer: `\n` ends a line, a `\r`
//! before it is dropped, a partial last line is carried until its newline (or the end).

/// Splits chunks of bytes into lines, carrying a partial line between chunks.
#[derive(Debug, Default)]
pub struct LineSplitter {
    carry: Vec<u8>,
}

impl LineSplitter {
    pub fn new() -> LineSplitter {
        LineSplitter::default()
    }

    /// Feed a chunk; `f` is called with every complete line (without `\n` / `\r\n`).
    pub fn feed(&mut self, mut chunk: &[u8], mut f: impl FnMut(&[u8])) {
        if !self.carry.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                None => {
                    self.carry.extend_from_slice(chunk);
                    return;
                }
                Some(i) => {
                    self.carry.extend_from_slice(&chunk[..i]);
                    f(trim_cr(&self.carry));
                    self.carry.clear();
                    chunk = &chunk[i + 1..];
                }
            }
        }
        let mut start = 0;
        for i in memchr::memchr_iter(b'\n', chunk) {
            f(trim_cr(&chunk[start..i]));
            start = i + 1;
        }
        self.carry.extend_from_slice(&chunk[start..]);
    }

    /// The stream ended: deliver a last line that had no newline.
    pub fn finish(&mut self, mut f: impl FnMut(&[u8])) {
        if !self.carry.is_empty() {
            f(trim_cr(&self.carry));
            self.carry.clear();
        }
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        self.carry.len()
    }
}

#[inline]
fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |l| out.push(l.to_vec()));
        }
        s.finish(|l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn lines_across_chunks_with_crlf_and_partial_end() {
        let got = split(&[b"a\r\nb", b"c\n\n", b"d"]);
        assert_eq!(
            got,
            vec![b"a".to_vec(), b"bc".to_vec(), b"".to_vec(), b"d".to_vec()]
        );
    }

    #[test]
    fn carry_waits_for_newline() {
        let mut s = LineSplitter::new();
        let mut n = 0;
        s.feed(b"abc", |_| n += 1);
        s.feed(b"def", |_| n += 1);
        assert_eq!((n, s.pending()), (0, 6));
        s.feed(b"\n", |l| assert_eq!(l, b"abcdef"));
    }
}
