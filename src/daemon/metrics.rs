//! logmill's own metrics (`logmill_…`), registered in [`State::registry`](crate::state::State):
//! per source lines, bytes, rotations, truncations, read errors; per program loads, load errors,
//! unloads, runtime errors, and the scans of `--progs` that failed; failed checkpoint saves and
//! metrics-file writes and a histogram of the time each line takes (mtail's 20µs·2^k
//! buckets); command runs by exit status and journald restarts; the limits at work: lines cut at
//! `--max_line_length`, series evicted by a metric's `limit`, new series refused past
//! `--max_series`.

use crate::tail::Source;
use prometheus::{
    exponential_buckets, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};
use std::sync::Arc;

#[derive(Clone)]
pub struct SelfMetrics {
    pub lines: IntCounter,
    pub log_lines: IntCounterVec,
    pub log_bytes: IntCounterVec,
    pub log_rotations: IntCounterVec,
    pub log_truncates: IntCounterVec,
    pub log_errors: IntCounterVec,
    pub log_long_lines: IntCounterVec,
    pub log_binary_lines: IntCounterVec,
    pub prog_loads: IntCounterVec,
    pub prog_load_errors: IntCounterVec,
    pub prog_unloads: IntCounterVec,
    pub prog_scan_errors: IntCounter,
    pub checkpoint_errors: IntCounter,
    pub metrics_file_errors: IntCounter,
    pub prog_runtime_errors: IntCounterVec,
    pub line_seconds: HistogramVec,
    pub command_runs: IntCounterVec,
    pub journald_restarts: IntCounterVec,
    pub metric_evictions: IntCounterVec,
    pub series_dropped: IntCounterVec,
    /// `--max_line_length`, handed to every source.
    pub max_line: usize,
}

fn counter_vec(reg: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let v = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    // Registering twice in one registry is the only failure; each metric is registered once.
    let _ = reg.register(Box::new(v.clone()));
    v
}

impl SelfMetrics {
    pub fn register(reg: &Registry) -> SelfMetrics {
        let lines = IntCounter::new("logmill_lines_total", "Lines handed to the programs.")
            .expect("valid metric");
        let _ = reg.register(Box::new(lines.clone()));
        let line_seconds = HistogramVec::new(
            HistogramOpts::new(
                "logmill_vm_line_processing_duration_seconds",
                "Time a program takes on one line.",
            )
            .buckets(exponential_buckets(20e-6, 2.0, 10).expect("valid buckets")),
            &["prog"],
        )
        .expect("valid metric");
        let _ = reg.register(Box::new(line_seconds.clone()));
        let prog_scan_errors = IntCounter::new(
            "logmill_prog_scan_errors_total",
            "Scans of --progs that could not read it (the programs loaded keep running).",
        )
        .expect("valid metric");
        let _ = reg.register(Box::new(prog_scan_errors.clone()));
        let checkpoint_errors = IntCounter::new(
            "logmill_checkpoint_errors_total",
            "Checkpoint saves that failed (retried at the next interval and at exit).",
        )
        .expect("valid metric");
        let _ = reg.register(Box::new(checkpoint_errors.clone()));
        let metrics_file_errors = IntCounter::new(
            "logmill_metrics_file_errors_total",
            "Writes of --metrics_file that failed.",
        )
        .expect("valid metric");
        let _ = reg.register(Box::new(metrics_file_errors.clone()));
        SelfMetrics {
            prog_scan_errors,
            checkpoint_errors,
            metrics_file_errors,
            lines,
            log_lines: counter_vec(
                reg,
                "logmill_log_lines_total",
                "Lines read, per source.",
                &["logfile"],
            ),
            log_bytes: counter_vec(
                reg,
                "logmill_log_bytes_total",
                "Bytes of line content read, per source.",
                &["logfile"],
            ),
            log_rotations: counter_vec(
                reg,
                "logmill_log_rotations_total",
                "Files replaced at a followed path (rename + create, delete + create).",
                &["logfile"],
            ),
            log_truncates: counter_vec(
                reg,
                "logmill_log_truncates_total",
                "Followed files found shorter than what was read (copytruncate).",
                &["logfile"],
            ),
            log_errors: counter_vec(
                reg,
                "logmill_log_errors_total",
                "Read errors, per source.",
                &["logfile"],
            ),
            prog_loads: counter_vec(
                reg,
                "logmill_prog_loads_total",
                "Programs compiled and loaded.",
                &["prog"],
            ),
            prog_load_errors: counter_vec(
                reg,
                "logmill_prog_load_errors_total",
                "Programs that failed to compile (the previous version, if any, keeps running).",
                &["prog"],
            ),
            prog_unloads: counter_vec(
                reg,
                "logmill_prog_unloads_total",
                "Programs unloaded because their file was removed.",
                &["prog"],
            ),
            prog_runtime_errors: counter_vec(
                reg,
                "logmill_prog_runtime_errors_total",
                "Lines a program stopped on with a runtime error.",
                &["prog"],
            ),
            log_long_lines: counter_vec(
                reg,
                "logmill_log_long_lines_total",
                "Lines longer than --max_line_length, cut at it (the rest of the line dropped).",
                &["logfile"],
            ),
            log_binary_lines: counter_vec(
                reg,
                "logmill_log_binary_lines_total",
                "Lines that are not text (invalid UTF-8 or a NUL byte); they are run like any line.",
                &["logfile"],
            ),
            metric_evictions: counter_vec(
                reg,
                "logmill_metric_evictions_total",
                "Series removed to keep a metric within its `limit` (least recently updated first).",
                &["prog", "metric"],
            ),
            series_dropped: counter_vec(
                reg,
                "logmill_series_dropped_total",
                "Updates of new series refused because the program holds --max_series series.",
                &["prog"],
            ),
            max_line: crate::tail::lines::DEFAULT_MAX_LINE,
            line_seconds,
            command_runs: counter_vec(
                reg,
                "logmill_command_runs_total",
                "Runs of a command source, by exit status (a number, \"signal\" or \"error\").",
                &["logfile", "status"],
            ),
            journald_restarts: counter_vec(
                reg,
                "logmill_journald_restarts_total",
                "Restarts of a journalctl child.",
                &["logfile"],
            ),
        }
    }

    /// The metrics of a source whose lines `getfilename()` names `name`.
    pub fn source(&self, name: &str) -> Arc<Source> {
        Arc::new(Source {
            name: name.as_bytes().into(),
            lines: self.log_lines.with_label_values(&[name]),
            bytes: self.log_bytes.with_label_values(&[name]),
            errors: self.log_errors.with_label_values(&[name]),
            rotations: self.log_rotations.with_label_values(&[name]),
            truncations: self.log_truncates.with_label_values(&[name]),
            long_lines: self.log_long_lines.with_label_values(&[name]),
            binary_lines: self.log_binary_lines.with_label_values(&[name]),
            max_line: self.max_line,
        })
    }
}
