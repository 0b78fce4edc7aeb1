//! The command line, as mtail users know it (`--progs`, `--logs`, `--one_shot`, …; mtail's
//! spellings, Go's `-flag` and `--flag=false` forms), parsed into a validated [`Config`].

use crate::vm::strptime::Zone;
use clap::{ArgAction, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "logmill",
    version,
    about = "Runs mtail programs over logs and exports the metrics they compute.",
    args_conflicts_with_subcommands = true
)]
pub struct Flags {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// A program file, or a directory of programs (*.mtail, *.prog).
    #[arg(long = "progs", alias = "programs")]
    pub progs: Option<PathBuf>,

    /// Log files to read (repeatable; comma-separated lists allowed).
    #[arg(long = "logs", value_delimiter = ',')]
    pub logs: Vec<String>,

    /// Read every log from its start once, print the metrics and exit.
    #[arg(long = "one_shot", alias = "one-shot", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "false")]
    pub one_shot: bool,

    /// Output format of --one_shot: json or prometheus.
    #[arg(
        long = "one_shot_format",
        alias = "one-shot-format",
        default_value = "json"
    )]
    pub one_shot_format: String,

    /// Compile the programs, report errors and exit.
    #[arg(long = "compile_only", alias = "compile-only", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "false")]
    pub compile_only: bool,

    /// Print each program's syntax tree.
    #[arg(long = "dump_ast", alias = "dump-ast", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "false")]
    pub dump_ast: bool,

    /// Print each program's checked tree, with types.
    #[arg(long = "dump_ast_types", alias = "dump-ast-types", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "false")]
    pub dump_ast_types: bool,

    /// Print each program's bytecode.
    #[arg(long = "dump_bytecode", alias = "dump-bytecode", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "false")]
    pub dump_bytecode: bool,

    /// Add a prog="…" label to every exported series.
    #[arg(long = "emit_prog_label", alias = "emit-prog-label", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "true")]
    pub emit_prog_label: bool,

    /// Give yearless dates (syslog) the current year instead of year 0.
    #[arg(long = "syslog_use_current_year", alias = "syslog-use-current-year", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "true")]
    pub syslog_use_current_year: bool,

    /// Time zone for times parsed without an offset (IANA name, e.g. Europe/Berlin); default UTC.
    #[arg(long = "override_timezone", alias = "override-timezone")]
    pub override_timezone: Option<String>,
    /// Daemon: read files that exist at startup from their start (default: from their end, like mtail).
    #[arg(long = "logs_from_start", alias = "logs-from-start", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "false")]
    pub logs_from_start: bool,

    /// Daemon: how often followed files are checked for new lines, rotation and truncation.
    #[arg(
        long = "poll_interval",
        alias = "poll-interval",
        default_value = "250ms"
    )]
    pub poll_interval: String,

    /// Daemon: how often log patterns are expanded again to find new files.
    #[arg(
        long = "poll_log_interval",
        alias = "poll-log-interval",
        default_value = "250ms"
    )]
    pub poll_log_interval: String,

    /// Lines longer than this many bytes are cut: the programs see the first bytes, the rest up
    /// to the newline is dropped and counted (`logmill_log_long_lines_total`).
    #[arg(long = "max_line_length", alias = "max-line-length", default_value_t = crate::tail::lines::DEFAULT_MAX_LINE, value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u64).range(1..), |n| n as usize))]
    pub max_line_length: usize,

    /// Daemon: most series one program holds in metrics without `limit`; past it, updates of
    /// new label sets are dropped and counted (`logmill_series_dropped_total`). 0: no cap.
    #[arg(long = "max_series", alias = "max-series", default_value_t = DEFAULT_MAX_SERIES)]
    pub max_series: usize,

    /// Daemon: the periodic store sweep; `del … after` series also go the instant they expire
    /// (0: no sweep and no expiry).
    #[arg(
        long = "expired_metrics_gc_interval",
        alias = "expired-metrics-gc-interval",
        default_value = "10s"
    )]
    pub expired_metrics_gc_interval: String,

    /// Daemon: a directory where file offsets and journald cursors are saved, to resume after a restart.
    #[arg(long = "checkpoint_dir", alias = "checkpoint-dir")]
    pub checkpoint_dir: Option<PathBuf>,

    /// Daemon: how often the checkpoint is saved (and when logmill stops).
    #[arg(
        long = "checkpoint_interval",
        alias = "checkpoint-interval",
        default_value = "5s"
    )]
    pub checkpoint_interval: String,

    /// Daemon: write the metrics to this file on SIGUSR1 and when logmill stops.
    #[arg(long = "metrics_file", alias = "metrics-file")]
    pub metrics_file: Option<PathBuf>,

    /// Format of --metrics_file: json (mtail's one-shot JSON) or prometheus (with logmill's own metrics).
    #[arg(
        long = "metrics_file_format",
        alias = "metrics-file-format",
        default_value = "json"
    )]
    pub metrics_file_format: String,

    /// Daemon: no file notifications: logs are found by polling alone, programs reload on SIGHUP only.
    #[arg(long = "disable_fsnotify", alias = "disable-fsnotify", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "false")]
    pub disable_fsnotify: bool,

    /// Daemon: log runtime errors of programs (at most one line per program every 10 s).
    #[arg(long = "vm_logs_runtime_errors", alias = "vm-logs-runtime-errors", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "true")]
    pub vm_logs_runtime_errors: bool,

    /// Append each datum's time (ms since the epoch) to Prometheus samples.
    #[arg(long = "emit_metric_timestamp", alias = "emit-metric-timestamp", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "false")]
    pub emit_metric_timestamp: bool,

    /// glog's flags, mapped onto logmill's log: `--log_dir` writes `logmill.log` there (stderr
    /// then gets only `--stderrthreshold` and above, unless `--alsologtostderr`);
    /// `--logtostderr` logs to stderr only; `-v=N` (N ≥ 1) shows debug, N ≥ 3 trace;
    /// `--vmodule=name=N,…` raises the level of logmill's module `name`. RUST_LOG overrides both.
    #[arg(long = "logtostderr", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, hide = true)]
    pub logtostderr: Option<bool>,
    #[arg(long = "alsologtostderr", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, hide = true)]
    pub alsologtostderr: Option<bool>,
    #[arg(short = 'v', long = "v", hide = true)]
    pub verbosity: Option<String>,
    #[arg(long = "log_dir", hide = true)]
    pub log_dir: Option<PathBuf>,
    #[arg(long = "stderrthreshold", hide = true)]
    pub stderrthreshold: Option<String>,
    #[arg(long = "vmodule", hide = true)]
    pub vmodule: Option<String>,

    /// Host or IP address to serve HTTP on (default: every interface).
    #[arg(long = "address")]
    pub address: Option<String>,

    /// TCP port to serve HTTP on [default: 3903].
    #[arg(long = "port")]
    pub port: Option<u16>,

    /// Serve HTTP on this Unix socket; alone, instead of TCP (add --port or --address for both).
    #[arg(long = "unix_socket", alias = "unix-socket")]
    pub unix_socket: Option<PathBuf>,

    /// File mode of the Unix socket, in octal.
    #[arg(
        long = "unix_socket_mode",
        alias = "unix-socket-mode",
        default_value = "0660"
    )]
    pub unix_socket_mode: String,

    /// Most HTTP connections open at once, TCP and socket together; one over the cap is closed
    /// at once and counted (`logmill_http_connections_rejected_total`).
    #[arg(long = "max_connections", alias = "max-connections", default_value_t = crate::serve::DEFAULT_MAX_CONNECTIONS, value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u64).range(1..), |n| n as usize))]
    pub max_connections: usize,
    /// Push: how often the metrics are pushed to graphite, statsd and collectd.
    #[arg(long = "metric_push_interval", default_value = "1m")]
    pub metric_push_interval: String,

    /// Accepted for mtail's command lines; has no effect (as in mtail).
    #[arg(long = "metric_push_interval_seconds", hide = true)]
    pub metric_push_interval_seconds: Option<String>,

    /// Push: one deadline for each whole push to one target.
    #[arg(long = "metric_push_write_deadline", default_value = "10s")]
    pub metric_push_write_deadline: String,

    /// Push to graphite (plaintext protocol over TCP) at HOST:PORT.
    #[arg(long = "graphite_host_port")]
    pub graphite_host_port: Option<String>,

    /// Prefix of every path pushed to graphite.
    #[arg(long = "graphite_prefix", default_value = "")]
    pub graphite_prefix: String,

    /// Push to statsd (UDP) at HOST:PORT.
    #[arg(long = "statsd_hostport")]
    pub statsd_hostport: Option<String>,

    /// Prefix of every name pushed to statsd.
    #[arg(long = "statsd_prefix", default_value = "")]
    pub statsd_prefix: String,

    /// Push to collectd's unixsock plugin at this socket path.
    #[arg(long = "collectd_socketpath")]
    pub collectd_socketpath: Option<PathBuf>,

    /// Prefix of every plugin name pushed to collectd.
    #[arg(long = "collectd_prefix", default_value = "")]
    pub collectd_prefix: String,

    /// Push: Prometheus remote write 1.0 to this URL (http://…/api/v1/write; repeatable).
    #[arg(long = "remote_write_url", alias = "remote-write-url")]
    pub remote_write_url: Vec<String>,

    /// Push: a NAME=VALUE label added to every series sent by remote write (repeatable).
    #[arg(long = "remote_write_label", alias = "remote-write-label")]
    pub remote_write_label: Vec<String>,

    /// What `/metrics` answers: `text` (0.0.4, as mtail, whatever the client prefers),
    /// `openmetrics`, or `negotiate` (by the Accept header); `?format=openmetrics|text` overrides.
    #[arg(
        long = "metrics_format",
        alias = "metrics-format",
        default_value = "text"
    )]
    pub metrics_format: String,

    /// Files whose name matches this regular expression are never followed.
    #[arg(
        long = "ignore_filename_regex_pattern",
        alias = "ignore-filename-regex-pattern"
    )]
    pub ignore_filename_regex_pattern: Option<String>,

    /// Accepted for mtail's command lines (a deprecated mtail flag); followed files are kept.
    #[arg(
        long = "stale_log_gc_interval",
        alias = "stale-log-gc-interval",
        default_value = "1h"
    )]
    pub stale_log_gc_interval: String,

    /// Longest regular expression of a program, in bytes.
    #[arg(long = "max_regexp_length", alias = "max-regexp-length", default_value_t = crate::syntax::limits::DEFAULT_MAX_REGEXP_LENGTH, value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u64).range(1..), |n| n as usize))]
    pub max_regexp_length: usize,

    /// Deepest nesting of blocks and expressions in a program (at most 1000).
    #[arg(long = "max_recursion_depth", alias = "max-recursion-depth", default_value_t = crate::syntax::limits::DEFAULT_MAX_RECURSION_DEPTH, value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u64).range(1..=crate::syntax::limits::MAX_RECURSION_DEPTH_CAP as u64), |n| n as usize))]
    pub max_recursion_depth: usize,

    /// Serve `/progz` and `/varz` (mtail's info endpoints).
    #[arg(long = "http_info_endpoint", alias = "http-info-endpoint", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "true")]
    pub http_info_endpoint: bool,

    /// mtail's profiling and tracing flags: accepted, no effect here (a notice says so).
    #[arg(long = "block_profile_rate", hide = true)]
    pub block_profile_rate: Option<String>,
    #[arg(long = "mutex_profile_fraction", hide = true)]
    pub mutex_profile_fraction: Option<String>,
    #[arg(long = "trace_sample_period", hide = true)]
    pub trace_sample_period: Option<String>,
    #[arg(long = "jaeger_endpoint", hide = true)]
    pub jaeger_endpoint: Option<String>,
    #[arg(long = "http_debugging_endpoint", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, hide = true)]
    pub http_debugging_endpoint: Option<bool>,
    #[arg(long = "experimental_enable_opentelemetry", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, hide = true)]
    pub experimental_enable_opentelemetry: Option<bool>,
    #[arg(long = "mtailDebug", hide = true)]
    pub mtail_debug: Option<String>,
    #[arg(long = "log_backtrace_at", hide = true)]
    pub log_backtrace_at: Option<String>,
    #[arg(long = "log_link", hide = true)]
    pub log_link: Option<String>,
    #[arg(long = "logbuflevel", hide = true)]
    pub logbuflevel: Option<String>,
}

/// Tools for writing programs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile programs and report every error (exit 1 on any); the same as --compile_only.
    Check {
        /// Program files or directories of programs.
        #[arg(required = true)]
        progs: Vec<PathBuf>,
    },
    /// Run a program over a sample log and compare its metrics with an expected file
    /// (Prometheus text, or mtail's JSON when it ends in .json); exit 1 on any difference.
    Test {
        prog: PathBuf,
        log: PathBuf,
        expected: PathBuf,
        /// Write the metrics to EXPECTED instead of comparing.
        #[arg(long)]
        update: bool,
        /// Give yearless dates the current year (off here, so expected files stay valid).
        #[arg(long = "syslog_use_current_year", alias = "syslog-use-current-year", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set, default_value = "false")]
        syslog_use_current_year: bool,
        /// Time zone for times parsed without an offset.
        #[arg(long = "override_timezone", alias = "override-timezone")]
        override_timezone: Option<String>,
    },
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    CompileOnly,
    OneShot,
    /// Follow the logs until SIGTERM or SIGINT.
    Daemon,
    /// `logmill check PROG…`
    Check(Vec<PathBuf>),
    /// `logmill test PROG LOG EXPECTED`
    Test {
        prog: PathBuf,
        log: PathBuf,
        expected: PathBuf,
        update: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Prometheus,
}

/// The default `--max_series`: a million series per program.
pub const DEFAULT_MAX_SERIES: usize = 1_000_000;

/// Validated settings.
#[derive(Debug)]
pub struct Config {
    pub progs: PathBuf,
    pub logs: Vec<String>,
    pub mode: Mode,
    pub format: Format,
    pub dump_ast: bool,
    pub dump_ast_types: bool,
    pub dump_bytecode: bool,
    pub emit_prog_label: bool,
    pub emit_metric_timestamp: bool,
    pub syslog_use_current_year: bool,
    pub zone: Zone,
    pub max_line_length: usize,
    /// Where and how to serve HTTP.
    pub serve: crate::serve::ServeConfig,
    pub daemon: Daemon,
    /// `--max_recursion_depth`, `--max_regexp_length`.
    pub limits: crate::syntax::limits::Limits,
    /// logmill's own log (glog's flags, RUST_LOG).
    pub logging: crate::logging::Logging,
}

/// Settings that only the daemon uses.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub logs_from_start: bool,
    pub poll_interval: Duration,
    pub poll_log_interval: Duration,
    pub gc_interval: Option<Duration>,
    pub checkpoint_dir: Option<PathBuf>,
    pub checkpoint_interval: Duration,
    pub metrics_file: Option<PathBuf>,
    pub metrics_file_format: Format,
    pub vm_logs_runtime_errors: bool,
    pub disable_fsnotify: bool,
    pub max_series: usize,
    /// Pushes to graphite, statsd and collectd; `None` when no target is set (or the interval
    /// is zero).
    pub push: Option<crate::push::Options>,
}

impl Default for Daemon {
    /// The flags' defaults.
    fn default() -> Daemon {
        Daemon {
            logs_from_start: false,
            poll_interval: Duration::from_millis(250),
            poll_log_interval: Duration::from_millis(250),
            gc_interval: Some(Duration::from_secs(10)),
            checkpoint_dir: None,
            checkpoint_interval: Duration::from_secs(5),
            metrics_file: None,
            metrics_file_format: Format::Json,
            vm_logs_runtime_errors: true,
            disable_fsnotify: false,
            max_series: DEFAULT_MAX_SERIES,
            push: None,
        }
    }
}

/// A Go duration flag (`250ms`, `1h`); `None` when zero or negative.
fn duration(flag: &str, text: &str) -> Result<Option<Duration>, String> {
    let ns = crate::check::duration::parse(text).map_err(|e| format!("--{flag}: {e}"))?;
    Ok((ns > 0).then(|| Duration::from_nanos(ns as u64)))
}

fn positive(flag: &str, text: &str) -> Result<Duration, String> {
    duration(flag, text)?.ok_or_else(|| format!("--{flag} must be positive"))
}

fn format(flag: &str, text: &str) -> Result<Format, String> {
    match text {
        "json" => Ok(Format::Json),
        "prometheus" => Ok(Format::Prometheus),
        other => Err(format!(
            "--{flag} must be json or prometheus, not {other:?}"
        )),
    }
}

/// Turn Go-style `-flag` into `--flag` so mtail command lines work unchanged.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let single_dash_long =
                i > 0 && a.len() > 2 && a.starts_with('-') && !a.starts_with("--");
            if single_dash_long {
                format!("-{a}")
            } else {
                a
            }
        })
        .collect()
}

/// A message about the flags with each flag spelled as the user typed it: `-port` stays
/// `-port` where [`normalize_args`] made it `--port`.
pub fn as_typed(message: &str, typed: &[String]) -> String {
    let mut out = message.to_string();
    for a in typed.iter().skip(1) {
        let single_dash_long = a.len() > 2 && a.starts_with('-') && !a.starts_with("--");
        if !single_dash_long {
            continue;
        }
        let name = a[1..].split('=').next().unwrap_or("");
        if let Ok(re) = regex::Regex::new(&format!(r"--{}\b", regex::escape(name))) {
            out = re.replace_all(&out, format!("-{name}")).into_owned();
        }
    }
    out
}

impl Config {
    /// mtail's defaults for everything but the programs and the mode.
    pub fn new(progs: PathBuf, mode: Mode) -> Config {
        Config {
            progs,
            logs: Vec::new(),
            mode,
            format: Format::Json,
            dump_ast: false,
            dump_ast_types: false,
            dump_bytecode: false,
            emit_prog_label: true,
            emit_metric_timestamp: false,
            syslog_use_current_year: true,
            zone: Zone::utc(),
            max_line_length: crate::tail::lines::DEFAULT_MAX_LINE,
            serve: crate::serve::ServeConfig::default(),
            daemon: Daemon::default(),
            limits: crate::syntax::limits::Limits::default(),
            logging: crate::logging::Logging::default(),
        }
    }
}

impl Flags {
    pub fn into_config(self) -> Result<Config, String> {
        match self.command {
            Some(Command::Check { progs }) => {
                let first = progs.first().cloned().unwrap_or_default();
                return Ok(Config::new(first, Mode::Check(progs)));
            }
            Some(Command::Test {
                prog,
                log,
                expected,
                update,
                syslog_use_current_year,
                override_timezone,
            }) => {
                let mut c = Config::new(
                    prog.clone(),
                    Mode::Test {
                        prog,
                        log,
                        expected,
                        update,
                    },
                );
                c.syslog_use_current_year = syslog_use_current_year;
                c.zone = zone(override_timezone.as_deref())?;
                return Ok(c);
            }
            None => {}
        }
        let push = self.push()?;
        let progs = self
            .progs
            .ok_or("--progs is required: a program file or a directory of programs")?;
        let dumping = self.dump_ast || self.dump_ast_types || self.dump_bytecode;
        let mode = if self.compile_only || (dumping && self.logs.is_empty()) {
            Mode::CompileOnly
        } else if self.one_shot {
            Mode::OneShot
        } else {
            Mode::Daemon
        };
        if mode == Mode::OneShot && self.logs.is_empty() {
            return Err("--logs is required with --one_shot".into());
        }
        if mode == Mode::Daemon && self.logs.is_empty() {
            return Err("--logs is required: the logs to follow".into());
        }
        let one_shot_format = format("one_shot_format", &self.one_shot_format)?;
        let daemon = Daemon {
            logs_from_start: self.logs_from_start,
            poll_interval: positive("poll_interval", &self.poll_interval)?,
            poll_log_interval: positive("poll_log_interval", &self.poll_log_interval)?,
            gc_interval: duration(
                "expired_metrics_gc_interval",
                &self.expired_metrics_gc_interval,
            )?,
            checkpoint_dir: self.checkpoint_dir,
            checkpoint_interval: positive("checkpoint_interval", &self.checkpoint_interval)?,
            metrics_file: self.metrics_file,
            metrics_file_format: format("metrics_file_format", &self.metrics_file_format)?,
            vm_logs_runtime_errors: self.vm_logs_runtime_errors,
            disable_fsnotify: self.disable_fsnotify,
            max_series: self.max_series,
            push,
        };
        let zone = zone(self.override_timezone.as_deref())?;
        let mut serve = crate::serve::ServeConfig::from_flags(
            self.address.as_deref(),
            self.port,
            self.unix_socket,
            &self.unix_socket_mode,
        )?;
        serve.emit_prog_label = self.emit_prog_label;
        serve.emit_timestamp = self.emit_metric_timestamp;
        serve.max_connections = self.max_connections;
        serve.graphite_prefix = self.graphite_prefix.clone();
        serve.exposition =
            crate::serve::accept::Choice::parse(&self.metrics_format).ok_or_else(|| {
                format!(
                    "--metrics_format must be text, openmetrics or negotiate, not {:?}",
                    self.metrics_format
                )
            })?;
        let profiling = [
            ("block_profile_rate", self.block_profile_rate.is_some()),
            (
                "mutex_profile_fraction",
                self.mutex_profile_fraction.is_some(),
            ),
            ("trace_sample_period", self.trace_sample_period.is_some()),
            ("jaeger_endpoint", self.jaeger_endpoint.is_some()),
            (
                "http_debugging_endpoint",
                self.http_debugging_endpoint.is_some(),
            ),
            (
                "experimental_enable_opentelemetry",
                self.experimental_enable_opentelemetry.is_some(),
            ),
            ("mtailDebug", self.mtail_debug.is_some()),
            ("log_backtrace_at", self.log_backtrace_at.is_some()),
            ("log_link", self.log_link.is_some()),
            ("logbuflevel", self.logbuflevel.is_some()),
        ];
        for (flag, _) in profiling.iter().filter(|(_, set)| *set) {
            eprintln!(
                "logmill: --{flag} is accepted for mtail's command lines and has no effect here"
            );
        }
        let logging = crate::logging::Logging::from_flags(
            self.verbosity.as_deref(),
            self.vmodule.as_deref(),
            self.log_dir.clone(),
            self.logtostderr,
            self.alsologtostderr,
            self.stderrthreshold.as_deref(),
        )?;
        Ok(Config {
            progs,
            logs: self.logs.into_iter().filter(|l| !l.is_empty()).collect(),
            mode,
            format: one_shot_format,
            dump_ast: self.dump_ast,
            dump_ast_types: self.dump_ast_types,
            dump_bytecode: self.dump_bytecode,
            emit_prog_label: self.emit_prog_label,
            emit_metric_timestamp: self.emit_metric_timestamp,
            syslog_use_current_year: self.syslog_use_current_year,
            zone,
            max_line_length: self.max_line_length,
            serve,
            daemon,
            limits: crate::syntax::limits::Limits {
                max_recursion_depth: self.max_recursion_depth,
                max_regexp_length: self.max_regexp_length,
            },
            logging,
        })
    }
}

impl Flags {
    /// The push targets and their timing, as mtail reads its push flags: an empty address is
    /// no target; a zero interval pushes nothing.
    fn push(&self) -> Result<Option<crate::push::Options>, String> {
        use crate::export::{collectd, graphite, statsd};
        use crate::push::Target;
        let interval = duration("metric_push_interval", &self.metric_push_interval)?;
        let deadline = positive(
            "metric_push_write_deadline",
            &self.metric_push_write_deadline,
        )?;
        let mut targets = Vec::new();
        let set = |o: &Option<String>| o.clone().filter(|a| !a.is_empty());
        if let Some(path) = self
            .collectd_socketpath
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
        {
            targets.push(Target::Collectd {
                path,
                opts: collectd::Options {
                    hostname: crate::export::hostname(),
                    prefix: self.collectd_prefix.clone(),
                    interval_secs: interval.map_or(0, |i| i.as_secs()),
                },
            });
        }
        if let Some(addr) = set(&self.graphite_host_port) {
            targets.push(Target::Graphite {
                addr,
                opts: graphite::Options {
                    prefix: self.graphite_prefix.clone(),
                    with_text: false,
                },
            });
        }
        for url in &self.remote_write_url {
            targets.push(Target::RemoteWrite(
                crate::push::remote_write::Endpoint::parse(
                    url,
                    &self.remote_write_label,
                    self.emit_prog_label,
                )?,
            ));
        }
        if let Some(addr) = set(&self.statsd_hostport) {
            targets.push(Target::Statsd {
                addr,
                opts: statsd::Options {
                    prefix: self.statsd_prefix.clone(),
                },
            });
        }
        Ok(match interval {
            Some(interval) if !targets.is_empty() => Some(crate::push::Options {
                interval,
                deadline,
                targets,
            }),
            _ => None,
        })
    }
}

fn zone(name: Option<&str>) -> Result<Zone, String> {
    match name {
        None | Some("") | Some("UTC") => Ok(Zone::utc()),
        Some(name) => Zone::from_name(name).map_err(|e| format!("--override_timezone: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Flags {
        let args = normalize_args(args.iter().map(|s| s.to_string()));
        Flags::try_parse_from(args).unwrap()
    }

    #[test]
    fn mtail_spellings_work() {
        let f = parse(&[
            "logmill",
            "-progs",
            "p",
            "--logs",
            "a,b",
            "--logs=c",
            "--one_shot",
            "--one_shot_format=prometheus",
            "--emit_prog_label=false",
        ]);
        assert_eq!(f.logs, vec!["a", "b", "c"]);
        assert!(f.one_shot);
        assert!(!f.emit_prog_label);
        let c = f.into_config().unwrap();
        assert_eq!(c.format, Format::Prometheus);
        assert_eq!(c.mode, Mode::OneShot);
    }

    #[test]
    fn defaults_are_mtails() {
        let f = parse(&["logmill", "--progs", "p", "--compile_only"]);
        assert!(f.syslog_use_current_year && f.emit_prog_label);
        assert_eq!(f.one_shot_format, "json");
        assert_eq!(f.into_config().unwrap().mode, Mode::CompileOnly);
    }

    #[test]
    fn serving_flags() {
        let c = parse(&["logmill", "--progs", "p", "--compile_only"])
            .into_config()
            .unwrap();
        assert_eq!(c.serve.tcp, Some((String::new(), 3903)));
        assert_eq!(c.serve.unix_socket_mode, 0o660);
        assert_eq!(c.serve.max_connections, 256);
        let c = parse(&[
            "logmill",
            "-progs",
            "p",
            "--compile_only",
            "-unix_socket",
            "/run/logmill/metrics.sock",
            "--unix_socket_mode=0600",
        ])
        .into_config()
        .unwrap();
        assert_eq!(c.serve.tcp, None);
        assert_eq!(c.serve.unix_socket_mode, 0o600);
        let c = parse(&[
            "logmill",
            "--progs",
            "p",
            "--compile_only",
            "--unix_socket=/s",
            "--address=127.0.0.1",
        ])
        .into_config()
        .unwrap();
        assert_eq!(c.serve.tcp, Some(("127.0.0.1".to_string(), 3903)));
        for flag in ["--max_connections=16", "-max-connections=16"] {
            let c = parse(&["logmill", "--progs", "p", "--compile_only", flag])
                .into_config()
                .unwrap();
            assert_eq!(c.serve.max_connections, 16, "{flag}");
        }
        let zero = ["logmill", "--progs", "p", "--max_connections=0"];
        assert!(Flags::try_parse_from(normalize_args(zero.map(String::from))).is_err());
        let bad = parse(&[
            "logmill",
            "--progs",
            "p",
            "--compile_only",
            "--unix_socket_mode=9",
        ])
        .into_config();
        assert!(bad.is_err());
    }

    #[test]
    fn push_flags_make_targets() {
        let base = ["logmill", "--progs", "p", "--logs", "/x"];
        let c = parse(&base).into_config().unwrap();
        assert!(c.daemon.push.is_none(), "no target, no push");
        let mut args = base.to_vec();
        args.extend([
            "-graphite_host_port=h:2003",
            "--graphite_prefix=g.",
            "--statsd_hostport=h:8125",
            "--collectd_socketpath=/run/c.sock",
            "--metric_push_interval=30s",
            "--remote_write_url=http://h:9090/api/v1/write",
            "--remote_write_label=host=a",
        ]);
        let push = parse(&args).into_config().unwrap().daemon.push.unwrap();
        assert_eq!(push.interval, Duration::from_secs(30));
        assert_eq!(push.deadline, Duration::from_secs(10));
        let names: Vec<String> = push.targets.iter().map(|t| t.name()).collect();
        assert_eq!(
            names,
            [
                "collectd",
                "graphite",
                "http://h:9090/api/v1/write",
                "statsd"
            ]
        );
        match &push.targets[0] {
            crate::push::Target::Collectd { opts, .. } => assert_eq!(opts.interval_secs, 30),
            t => panic!("{t:?}"),
        }
        let i = args
            .iter()
            .position(|a| a.starts_with("--metric_push_interval"))
            .unwrap();
        args[i] = "--metric_push_interval=0";
        assert!(parse(&args).into_config().unwrap().daemon.push.is_none());
        for bad in [
            "--remote_write_url=https://h/api/v1/write",
            "--remote_write_label=nolabel",
            "--metric_push_write_deadline=0",
        ] {
            let mut a = base.to_vec();
            a.extend([
                "--graphite_host_port=h:1",
                "--remote_write_url=http://h/w",
                bad,
            ]);
            assert!(parse(&a).into_config().is_err(), "{bad}");
        }
    }

    #[test]
    fn without_one_shot_it_is_a_daemon() {
        let f = parse(&[
            "logmill",
            "--progs",
            "p",
            "--logs",
            "/x",
            "--poll_interval=50ms",
        ]);
        let c = f.into_config().unwrap();
        assert_eq!(c.mode, Mode::Daemon);
        assert_eq!(c.daemon.poll_interval, Duration::from_millis(50));
        assert_eq!(c.daemon.gc_interval, Some(Duration::from_secs(10)));
        let f = parse(&["logmill", "--progs", "p"]);
        assert!(f.into_config().unwrap_err().contains("--logs is required"));
    }
}
