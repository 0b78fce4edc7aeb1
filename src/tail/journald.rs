//! journald: a child `journalctl --follow --output=json [-u UNIT]`, restarted with back-off when
//! it dies. Each entry's MESSAGE (a string, or an array of bytes when it is not UTF-8) is a line;
//! the entry's `__CURSOR` is the checkpoint mark, and a restart (of the child or of logmill)
//! resumes after it. Without a cursor the journal is followed from now on (`--lines=0`), or
//! whole with `--logs_from_start`.

use super::{Lines, Mark, Sink};
use prometheus::IntCounter;
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A child that ran this long had no trouble starting: the back-off starts over.
const HEALTHY: Duration = Duration::from_secs(30);
/// Send a batch when this many bytes of messages are waiting.
const BATCH_BYTES: usize = 64 * 1024;

pub struct Options {
    /// The `--logs` entry: the checkpoint key and `getfilename()`.
    pub spec: String,
    pub unit: Option<String>,
    pub from_start: bool,
    pub cursor: Option<String>,
}

/// The text of an entry's MESSAGE: a JSON string, or an array of byte values.
pub fn message(entry: &Value, out: &mut Vec<u8>) -> bool {
    match entry.get("MESSAGE") {
        Some(Value::String(s)) => out.extend_from_slice(s.as_bytes()),
        Some(Value::Array(bytes)) => {
            out.extend(bytes.iter().map(|b| b.as_u64().unwrap_or(0xfffd) as u8));
        }
        _ => return false,
    }
    true
}

/// `journalctl` printing the whole journal (or a unit's) as JSON and ending: one-shot runs.
pub fn whole_journal(unit: Option<&str>) -> std::process::Command {
    let mut cmd = std::process::Command::new("journalctl");
    cmd.args(["--output=json", "--no-pager"]);
    if let Some(unit) = unit {
        cmd.args(["--unit", unit]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

pub async fn run(opts: Options, sink: Sink, restarts: IntCounter, mut stop: watch::Receiver<bool>) {
    let mut cursor = opts.cursor;
    let mut backoff = FIRST_BACKOFF;
    let mut started_once = false;
    loop {
        let mut cmd = Command::new("journalctl");
        cmd.args(["--follow", "--output=json"]);
        if let Some(unit) = &opts.unit {
            cmd.args(["--unit", unit]);
        }
        match &cursor {
            Some(c) => {
                cmd.arg(format!("--after-cursor={c}"));
            }
            None if opts.from_start && !started_once => {
                cmd.arg("--no-tail");
            }
            None => {
                cmd.arg("--lines=0");
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let began = Instant::now();
        started_once = true;
        match cmd.spawn() {
            Ok(mut child) => {
                if let Some(err) = child.stderr.take() {
                    let spec = opts.spec.clone();
                    tokio::spawn(async move {
                        let mut r = BufReader::new(err).lines();
                        while let Ok(Some(l)) = r.next_line().await {
                            tracing::warn!("{spec}: journalctl: {l}");
                        }
                    });
                }
                if let Some(out) = child.stdout.take() {
                    if read_entries(out, &sink, &opts.spec, &mut cursor, &mut stop).await {
                        return;
                    }
                }
                match child.wait().await {
                    Ok(status) => tracing::warn!("{}: journalctl ended ({status})", opts.spec),
                    Err(e) => tracing::warn!("{}: journalctl: {e}", opts.spec),
                }
            }
            Err(e) => {
                sink.source.errors.inc();
                tracing::error!("{}: starting journalctl: {e}", opts.spec);
            }
        }
        if began.elapsed() >= HEALTHY {
            backoff = FIRST_BACKOFF;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = crate::tail::stopped(&mut stop) => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
        restarts.inc();
    }
}

/// Read entries until the child's output ends (false) or logmill stops (true).
async fn read_entries(
    out: tokio::process::ChildStdout,
    sink: &Sink,
    spec: &str,
    cursor: &mut Option<String>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let mut reader = BufReader::new(out);
    let mut raw = Vec::new();
    let mut msg = Vec::new();
    let mut lines = Lines::new();
    let mut mark = None;
    loop {
        raw.clear();
        let n = tokio::select! {
            r = reader.read_until(b'\n', &mut raw) => r.unwrap_or_else(|e| {
                sink.source.errors.inc();
                tracing::warn!("{spec}: reading journalctl: {e}");
                0
            }),
            _ = crate::tail::stopped(stop) => {
                sink.send(std::mem::take(&mut lines), mark.take()).await;
                return true;
            }
        };
        if n == 0 {
            sink.send(std::mem::take(&mut lines), mark.take()).await;
            return false;
        }
        match serde_json::from_slice::<Value>(&raw) {
            Ok(entry) => {
                msg.clear();
                if message(&entry, &mut msg) {
                    lines.push(&msg);
                }
                if let Some(c) = entry.get("__CURSOR").and_then(Value::as_str) {
                    *cursor = Some(c.to_string());
                    mark = Some(Mark::Journal {
                        source: spec.to_string(),
                        cursor: c.to_string(),
                    });
                }
            }
            Err(e) => {
                sink.source.errors.inc();
                tracing::warn!("{spec}: an entry that is not JSON: {e}");
            }
        }
        if reader.buffer().is_empty() || lines.bytes() >= BATCH_BYTES {
            sink.send(std::mem::take(&mut lines), mark.take()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_a_string_or_bytes() {
        let mut out = Vec::new();
        let e: Value = serde_json::from_str(r#"{"MESSAGE":"hé"}"#).unwrap();
        assert!(message(&e, &mut out));
        assert_eq!(out, "hé".as_bytes());
        out.clear();
        let e: Value = serde_json::from_str(r#"{"MESSAGE":[104,255,105]}"#).unwrap();
        assert!(message(&e, &mut out));
        assert_eq!(out, b"h\xffi");
        let e: Value = serde_json::from_str(r#"{"MESSAGE":null}"#).unwrap();
        assert!(!message(&e, &mut out));
    }
}
