//! Command sources, `cmd:INTERVAL:COMMAND`: run `sh -c COMMAND` every INTERVAL (a Go duration:
//! `30s`, `5m`) and feed each line it prints to the programs; `getfilename()` is the whole
//! `cmd:…` entry. Runs are counted by exit status in `logmill_command_runs_total`; what the
//! command prints on stderr is logged. A run that outlasts the interval delays the next one.
//!
//! After each run the programs get one more line, `#logmill command-exit status=S` (S: the exit
//! code, `signal`, `error`, or `spawn` when the command could not be started), so a program can
//! tell one run from the next and whether it worked (e.g. an `up` gauge).

use super::{pump, Sink};
use prometheus::IntCounterVec;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::watch;

pub async fn run(
    interval: Duration,
    command: String,
    sink: Sink,
    runs: IntCounterVec,
    mut stop: watch::Receiver<bool>,
) {
    let name = sink.source.name_str().into_owned();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = crate::tail::stopped(&mut stop) => return,
        }
        let child = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                runs.with_label_values(&[&name, "error"]).inc();
                sink.source.errors.inc();
                tracing::error!("{name}: starting the command: {e}");
                end_of_run(&sink, "spawn").await;
                continue;
            }
        };
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let out = async {
            if let Some(o) = stdout {
                pump(o, &sink, stop.clone()).await;
            }
        };
        let err = async {
            let mut text = Vec::new();
            if let Some(mut e) = stderr {
                let _ = e.read_to_end(&mut text).await;
            }
            text
        };
        let ((), err_text) = tokio::join!(out, err);
        if !err_text.is_empty() {
            let text = String::from_utf8_lossy(&err_text);
            tracing::warn!("{name}: stderr: {}", text.trim_end());
        }
        let status = tokio::select! {
            s = child.wait() => s,
            _ = crate::tail::stopped(&mut stop) => return,
        };
        let label = match status {
            Ok(s) => match s.code() {
                Some(c) => c.to_string(),
                None => "signal".to_string(),
            },
            Err(e) => {
                tracing::warn!("{name}: {e}");
                "error".to_string()
            }
        };
        if label != "0" {
            sink.source.errors.inc();
            tracing::warn!("{name}: exit status {label}");
        }
        runs.with_label_values(&[&name, &label]).inc();
        end_of_run(&sink, &label).await;
    }
}

/// The line that closes a run: `#logmill command-exit status=S`.
pub fn end_line(status: &str) -> String {
    format!("#logmill command-exit status={status}")
}

async fn end_of_run(sink: &Sink, status: &str) {
    let mut lines = super::Lines::new();
    lines.push(end_line(status).as_bytes());
    sink.send(lines, None).await;
}
