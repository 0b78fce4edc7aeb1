//! Cutting a byte stream into lines with memchr over a reused buffer: `\n` ends a line, a `\r`
//! before it is dropped, a partial last line is carried until its newline (or the end).
//!
//! Lines are capped at `max` bytes (`--max_line_length`): a longer line is delivered as its
//! first `max` bytes as soon as they are known, the rest of it, up to its newline, is dropped
//! and the line is counted in [`LineSplitter::take_long`]. The carry therefore never holds more
//! than `max` bytes, whatever the stream.

use super::Lines;

/// The default `--max_line_length`: 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// Splits chunks of bytes into lines, carrying a partial line between chunks.
#[derive(Debug)]
pub struct LineSplitter {
    carry: Vec<u8>,
    max: usize,
    /// The line under way passed `max`: its first `max` bytes were delivered, the rest is
    /// dropped up to the next newline.
    skipping: bool,
    /// Lines cut at `max` since the last [`LineSplitter::take_long`].
    long: u64,
}

impl Default for LineSplitter {
    fn default() -> LineSplitter {
        LineSplitter::with_max(DEFAULT_MAX_LINE)
    }
}

impl LineSplitter {
    pub fn new() -> LineSplitter {
        LineSplitter::default()
    }

    /// A splitter that cuts lines at `max` bytes (at least 1).
    pub fn with_max(max: usize) -> LineSplitter {
        LineSplitter {
            carry: Vec::new(),
            max: max.max(1),
            skipping: false,
            long: 0,
        }
    }

    /// Feed a chunk; `f` is called with every complete line (without `\n` / `\r\n`).
    pub fn feed(&mut self, mut chunk: &[u8], mut f: impl FnMut(&[u8])) {
        if self.skipping || !self.carry.is_empty() {
            let (head, rest) = match memchr::memchr(b'\n', chunk) {
                None => (chunk, None),
                Some(i) => (&chunk[..i], Some(&chunk[i + 1..])),
            };
            if !self.skipping {
                let room = self.max - self.carry.len();
                if head.len() > room && (rest.is_none() || trim_cr(head).len() > room) {
                    self.carry.extend_from_slice(&head[..room]);
                    f(&self.carry);
                    self.carry.clear();
                    self.skipping = true;
                    self.long += 1;
                } else {
                    self.carry.extend_from_slice(head);
                }
            }
            let Some(rest) = rest else { return };
            if !self.skipping {
                f(trim_cr(&self.carry));
            }
            self.carry.clear();
            self.skipping = false;
            chunk = rest;
        }
        let mut start = 0;
        for i in memchr::memchr_iter(b'\n', chunk) {
            let line = trim_cr(&chunk[start..i]);
            if line.len() > self.max {
                self.long += 1;
                f(&line[..self.max]);
            } else {
                f(line);
            }
            start = i + 1;
        }
        let tail = &chunk[start..];
        if tail.len() > self.max {
            self.long += 1;
            f(&tail[..self.max]);
            self.skipping = true;
        } else {
            self.carry.extend_from_slice(tail);
        }
    }

    /// The stream ended: deliver a last line that had no newline.
    pub fn finish(&mut self, mut f: impl FnMut(&[u8])) {
        if !self.carry.is_empty() {
            f(trim_cr(&self.carry));
            self.carry.clear();
        }
        self.skipping = false;
    }

    /// [`LineSplitter::feed`] into a batch, which also counts the lines cut at the cap.
    pub fn feed_lines(&mut self, chunk: &[u8], lines: &mut Lines) {
        self.feed(chunk, |l| lines.push(l));
        lines.long += self.take_long();
    }

    /// [`LineSplitter::finish`] into a batch.
    pub fn finish_lines(&mut self, lines: &mut Lines) {
        self.finish(|l| lines.push(l));
        lines.long += self.take_long();
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        self.carry.len()
    }

    /// Lines cut at the cap since the last call.
    pub fn take_long(&mut self) -> u64 {
        std::mem::take(&mut self.long)
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

    fn split_max(max: usize, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, u64, usize) {
        let mut s = LineSplitter::with_max(max);
        let mut out = Vec::new();
        let mut most = 0;
        for c in chunks {
            s.feed(c, |l| out.push(l.to_vec()));
            most = most.max(s.pending());
        }
        s.finish(|l| out.push(l.to_vec()));
        (out, s.take_long(), most)
    }

    #[test]
    fn long_lines_are_cut_at_the_cap_in_one_chunk_or_many() {
        let (got, long, _) = split_max(4, &[b"abcdefg\nhi\nabcd\r\nxyz"]);
        let want: Vec<&[u8]> = vec![b"abcd", b"hi", b"abcd", b"xyz"];
        assert_eq!((got, long), (want.iter().map(|l| l.to_vec()).collect(), 1));
        let (got, long, most) = split_max(4, &[b"ab", b"cdef", b"gh", b"ij\nk", b"l\n"]);
        let want: Vec<&[u8]> = vec![b"abcd", b"kl"];
        assert_eq!((got, long), (want.iter().map(|l| l.to_vec()).collect(), 1));
        assert!(most <= 4);
        // A tail past the cap without a newline: delivered at once, the rest dropped.
        let (got, long, most) = split_max(3, &[b"x\nabcdef", b"ghi", b"\ny"]);
        let want: Vec<&[u8]> = vec![b"x", b"abc", b"y"];
        assert_eq!(
            (got, long, most),
            (want.iter().map(|l| l.to_vec()).collect(), 1, 1)
        );
    }

    #[test]
    fn a_huge_line_without_newline_holds_at_most_the_cap() {
        let mut s = LineSplitter::with_max(1024);
        let chunk = vec![b'x'; 64 * 1024];
        let mut n = 0;
        for _ in 0..160 {
            s.feed(&chunk, |l| {
                assert_eq!(l.len(), 1024);
                n += 1
            });
            assert!(s.pending() <= 1024);
        }
        s.feed(b"\nok\n", |l| {
            assert_eq!(l, b"ok");
            n += 1
        });
        assert_eq!((n, s.take_long()), (2, 1));
        assert!(s.carry.capacity() <= 2048);
    }
}
