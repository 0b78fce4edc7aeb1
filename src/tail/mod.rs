//! Log sources: where lines come from and how they reach the programs.
//!
//! Every source turns bytes into [`Lines`] (complete lines stored end to end in one buffer, cut
//! by [`lines::LineSplitter`]) and sends them, with the [`Source`] they came from and, where a
//! restart can resume, a [`Mark`], to the daemon's feeder, which runs every program on them.
//! One file per source kind: `file` follows one path through rotation and truncation (the only
//! place that knows about either), `glob` polls patterns and drives the `file` followers, and
//! `pipe`, `stream` (`unix://`, `tcp://`), `datagram` (`unixgram://`, `udp://`), `stdin`,
//! `journald` and `command` are the others. [`Spec`] reads a `--logs` entry.

pub mod command;
pub mod datagram;
pub mod file;
pub mod glob;
pub mod journald;
pub mod lines;
pub mod pipe;
pub mod stdin;
pub mod stream;

use crate::daemon::Msg;
use lines::LineSplitter;
use prometheus::IntCounter;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, watch};

/// Read size per call for streams: a system call is rare per line.
pub const CHUNK: usize = 128 * 1024;

/// Complete lines (without their newline), stored end to end in one buffer.
#[derive(Debug, Default, Clone)]
pub struct Lines {
    data: Vec<u8>,
    ends: Vec<u32>,
    /// How many of the lines were cut at `--max_line_length`.
    pub long: u64,
}

impl Lines {
    pub fn new() -> Lines {
        Lines::default()
    }

    /// Room for `bytes` of lines of about 64 bytes each.
    pub fn with_capacity(bytes: usize) -> Lines {
        Lines {
            data: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(bytes / 64),
            long: 0,
        }
    }

    pub fn push(&mut self, line: &[u8]) {
        self.data.extend_from_slice(line);
        self.ends.push(self.data.len() as u32);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of line content (newlines not counted).
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Lines that are not text: invalid UTF-8, or holding a NUL byte. One pass over the whole
    /// batch when it is all text (the usual case), line by line only when it is not.
    pub fn binary(&self) -> u64 {
        let text = |b: &[u8]| memchr::memchr(0, b).is_none() && std::str::from_utf8(b).is_ok();
        // Valid as a whole, but a line may still end inside a character the next one finishes.
        let all_text = memchr::memchr(0, &self.data).is_none()
            && std::str::from_utf8(&self.data)
                .is_ok_and(|s| self.ends.iter().all(|&e| s.is_char_boundary(e as usize)));
        if all_text {
            return 0;
        }
        self.iter().filter(|l| !text(l)).count() as u64
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut start = 0usize;
        self.ends.iter().map(move |&end| {
            let line = &self.data[start..end as usize];
            start = end as usize;
            line
        })
    }
}

/// A position a restarted logmill resumes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mark {
    /// A followed file: the byte after the last complete line handed to the programs.
    File(FilePos),
    /// A journald source: the cursor of the last entry handed to the programs.
    Journal { source: String, cursor: String },
}

impl Mark {
    /// The checkpoint key: the path of a file, the spec of a journald source.
    pub fn key(&self) -> &str {
        match self {
            Mark::File(p) => &p.path,
            Mark::Journal { source, .. } => source,
        }
    }
}

/// A file's identity and an offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePos {
    pub path: String,
    pub id: FileId,
    pub offset: u64,
}

/// A running source: what `getfilename()` says for its lines, and its self-metrics.
pub struct Source {
    /// `getfilename()`: the absolute path of a file, the spec (`unix:///p`, `journald:x`, …) else.
    pub name: Box<[u8]>,
    pub lines: IntCounter,
    pub bytes: IntCounter,
    pub errors: IntCounter,
    pub rotations: IntCounter,
    pub truncations: IntCounter,
    /// Lines cut at `--max_line_length`.
    pub long_lines: IntCounter,
    /// Lines that are not text ([`Lines::binary`]).
    pub binary_lines: IntCounter,
    /// `--max_line_length`: the longest line handed to the programs.
    pub max_line: usize,
}

impl Source {
    pub fn name_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }
}

/// Where sources send their lines.
#[derive(Clone)]
pub struct Sink {
    pub tx: mpsc::Sender<Msg>,
    pub source: Arc<Source>,
}

impl Sink {
    pub async fn send(&self, lines: Lines, mark: Option<Mark>) {
        if lines.is_empty() && mark.is_none() {
            return;
        }
        let msg = Msg::Lines {
            source: Arc::clone(&self.source),
            lines,
            mark,
        };
        // A closed channel means the daemon is stopping; nothing to do with the lines.
        let _ = self.tx.send(msg).await;
    }

    pub fn blocking_send(&self, lines: Lines, mark: Option<Mark>) {
        if lines.is_empty() && mark.is_none() {
            return;
        }
        let msg = Msg::Lines {
            source: Arc::clone(&self.source),
            lines,
            mark,
        };
        let _ = self.tx.blocking_send(msg);
    }
}

/// One `--logs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// A path or glob pattern (made absolute), followed through rotation.
    Files(String),
    /// A named pipe.
    Pipe(PathBuf),
    /// `unix:///path`: a stream socket logmill listens on.
    Unix(PathBuf),
    /// `unixgram:///path`: a datagram socket logmill listens on.
    Unixgram(PathBuf),
    /// `tcp://host:port`: a TCP listener, one stream per connection.
    Tcp(String),
    /// `udp://host:port`: a UDP socket, lines from each datagram.
    Udp(String),
    /// `-` or `/dev/stdin`.
    Stdin,
    /// `journald:` (the whole journal) or `journald:UNIT`.
    Journald(Option<String>),
    /// `cmd:INTERVAL:COMMAND`: run `sh -c COMMAND` every INTERVAL (Go duration) and read its output.
    Command { interval: Duration, command: String },
}

impl Spec {
    /// Read a `--logs` entry. A plain path that is a FIFO is a [`Spec::Pipe`].
    pub fn parse(text: &str) -> Result<Spec, String> {
        if text == "-" || text == "/dev/stdin" {
            return Ok(Spec::Stdin);
        }
        let nonempty = |rest: &str, what: &str| {
            if rest.is_empty() {
                Err(format!("{text:?}: {what} missing"))
            } else {
                Ok(rest.to_string())
            }
        };
        if let Some(rest) = text.strip_prefix("unixgram://") {
            return Ok(Spec::Unixgram(nonempty(rest, "socket path")?.into()));
        }
        if let Some(rest) = text.strip_prefix("unix://") {
            return Ok(Spec::Unix(nonempty(rest, "socket path")?.into()));
        }
        if let Some(rest) = text.strip_prefix("tcp://") {
            return Ok(Spec::Tcp(nonempty(rest, "host:port")?));
        }
        if let Some(rest) = text.strip_prefix("udp://") {
            return Ok(Spec::Udp(nonempty(rest, "host:port")?));
        }
        if let Some(rest) = text.strip_prefix("journald:") {
            return Ok(Spec::Journald((!rest.is_empty()).then(|| rest.to_string())));
        }
        if let Some(rest) = text.strip_prefix("cmd:") {
            let (interval, command) = rest
                .split_once(':')
                .ok_or_else(|| format!("{text:?}: expected cmd:INTERVAL:COMMAND"))?;
            let ns = crate::check::duration::parse(interval)
                .map_err(|e| format!("{text:?}: interval: {e}"))?;
            if ns <= 0 {
                return Err(format!("{text:?}: the interval must be positive"));
            }
            return Ok(Spec::Command {
                interval: Duration::from_nanos(ns as u64),
                command: nonempty(command, "command")?,
            });
        }
        let path = text.strip_prefix("file://").unwrap_or(text);
        let abs = std::path::absolute(path).map_err(|e| format!("{text:?}: {e}"))?;
        use std::os::unix::fs::FileTypeExt;
        if std::fs::metadata(&abs).is_ok_and(|m| m.file_type().is_fifo()) {
            return Ok(Spec::Pipe(abs));
        }
        Ok(Spec::Files(abs.to_string_lossy().into_owned()))
    }
}

/// Resolves when logmill is stopping.
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Read a byte stream to its end (or until `stop`), sending its lines. A last line without a
/// newline is delivered when the stream ends or logmill stops.
pub async fn pump(
    mut reader: impl AsyncRead + Unpin,
    sink: &Sink,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; CHUNK];
    let mut splitter = LineSplitter::with_max(sink.source.max_line);
    loop {
        let n = tokio::select! {
            biased;
            r = reader.read(&mut buf) => match r {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    sink.source.errors.inc();
                    tracing::warn!(source = %sink.source.name_str(), "read error: {e}");
                    0
                }
            },
            _ = crate::tail::stopped(&mut stop) => 0,
        };
        let mut lines = Lines::with_capacity(n + splitter.pending());
        if n == 0 {
            splitter.finish_lines(&mut lines);
            sink.send(lines, None).await;
            return;
        }
        splitter.feed_lines(&buf[..n], &mut lines);
        sink.send(lines, None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(lines: &[&[u8]]) -> Lines {
        let mut b = Lines::new();
        for l in lines {
            b.push(l);
        }
        b
    }

    #[test]
    fn binary_lines_are_invalid_utf8_or_hold_a_nul() {
        assert_eq!(
            batch(&[b"plain", "caf\u{e9} \u{1f600}".as_bytes(), b""]).binary(),
            0
        );
        assert_eq!(
            batch(&[b"ok", b"a\xffb", b"x\0y", b"\xed\xa0\x80", b"ok"]).binary(),
            3
        );
        // "é" cut between two lines: the batch is valid UTF-8, neither line is.
        assert_eq!(batch(&[b"caf\xc3", b"\xa9"]).binary(), 2);
    }

    #[test]
    fn specs() {
        assert_eq!(Spec::parse("-").unwrap(), Spec::Stdin);
        assert_eq!(
            Spec::parse("unix:///run/x.sock").unwrap(),
            Spec::Unix("/run/x.sock".into())
        );
        assert_eq!(
            Spec::parse("unixgram:///run/x").unwrap(),
            Spec::Unixgram("/run/x".into())
        );
        assert_eq!(
            Spec::parse("tcp://127.0.0.1:9").unwrap(),
            Spec::Tcp("127.0.0.1:9".into())
        );
        assert_eq!(Spec::parse("journald:").unwrap(), Spec::Journald(None));
        assert_eq!(
            Spec::parse("journald:ssh.service").unwrap(),
            Spec::Journald(Some("ssh.service".into()))
        );
        assert_eq!(
            Spec::parse("cmd:1m30s:reaction show").unwrap(),
            Spec::Command {
                interval: Duration::from_secs(90),
                command: "reaction show".into()
            }
        );
        assert!(Spec::parse("cmd:0s:x").is_err());
        assert!(Spec::parse("cmd:5s").is_err());
        assert_eq!(
            Spec::parse("file:///var/log/*.log").unwrap(),
            Spec::Files("/var/log/*.log".into())
        );
    }

    #[test]
    fn lines_round_trip() {
        let mut l = Lines::new();
        for s in [&b"a"[..], b"", b"bcd"] {
            l.push(s);
        }
        let got: Vec<&[u8]> = l.iter().collect();
        assert_eq!(got, vec![&b"a"[..], b"", b"bcd"]);
        assert_eq!((l.len(), l.bytes()), (3, 4));
    }
}
