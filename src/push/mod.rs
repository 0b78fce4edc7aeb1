//! Pushes to other systems: graphite (plaintext over TCP), statsd (UDP) and collectd (its
//! unixsock plugin), with mtail's flags and lines; and Prometheus remote write 1.0 (HTTP POST
//! of a snappy protobuf `WriteRequest`, `remote_write`).
//!
//! The model: every `--metric_push_interval` (the first push one interval after the start, as
//! mtail) the push loop takes one snapshot of every program's store (each VM locked only while
//! its metrics are copied, the same copy a scrape takes), formats each target's lines from it
//! with no lock held (`crate::export::{graphite, statsd, collectd}`), and hands each target its
//! bytes in a task of its own. Each push opens a new connection (a new UDP socket for statsd),
//! writes everything, and for collectd reads one reply per line; the whole push — dial, write,
//! replies — has one deadline (`--metric_push_write_deadline`). Every push carries whole totals,
//! so nothing is queued: a push still running at the next tick is abandoned, and a target that
//! failed is dialled again at the next tick. A stuck or closed receiver therefore never holds a
//! lock that lines or scrapes need (mtail wedges there).
//!
//! Remote write differs where HTTP asks it to: one client per URL keeps its connection alive,
//! each attempt is bounded by the deadline, and an answer of 5xx or 429 (or no connection) is
//! retried with exponential back-off and jitter until the next tick; another 4xx drops the
//! push.
//!
//! Outcomes are counted per target (`logmill_push_…`: pushes, lines, errors by reason, the last
//! success) and failures logged at most once a minute per target. There is no push in one-shot
//! runs and none when the daemon stops, as in mtail.

pub mod remote_write;

use crate::export::{collectd, graphite, statsd};
use crate::state::State;
use crate::store::Metric;
use prometheus::{GaugeVec, IntCounterVec, Opts, Registry};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where a push goes, and how its lines look.
#[derive(Debug, Clone)]
pub enum Target {
    /// `--graphite_host_port`, `--graphite_prefix`.
    Graphite {
        addr: String,
        opts: graphite::Options,
    },
    /// `--statsd_hostport`, `--statsd_prefix`.
    Statsd { addr: String, opts: statsd::Options },
    /// `--collectd_socketpath`, `--collectd_prefix`.
    Collectd {
        path: PathBuf,
        opts: collectd::Options,
    },
    /// `--remote_write_url`, with `--remote_write_label`s.
    RemoteWrite(remote_write::Endpoint),
}

impl Target {
    /// The `target` label of the push metrics: the kind, or a remote write URL.
    pub fn name(&self) -> String {
        match self {
            Target::Graphite { .. } => "graphite".into(),
            Target::Statsd { .. } => "statsd".into(),
            Target::Collectd { .. } => "collectd".into(),
            Target::RemoteWrite(e) => e.url.to_string(),
        }
    }

    fn address(&self) -> String {
        match self {
            Target::Graphite { addr, .. } | Target::Statsd { addr, .. } => addr.clone(),
            Target::Collectd { path, .. } => path.display().to_string(),
            Target::RemoteWrite(e) => e.url.to_string(),
        }
    }

    /// This target's lines for a snapshot.
    fn payload(&self, metrics: &[&Metric]) -> Payload {
        match self {
            Target::Graphite { opts, .. } => {
                let (bytes, lines) = graphite::render(metrics, opts);
                Payload::Stream { bytes, lines }
            }
            Target::Statsd { opts, .. } => Payload::Datagrams(statsd::render(metrics, opts)),
            Target::Collectd { opts, .. } => {
                let (bytes, lines) = collectd::render(metrics, opts);
                Payload::Stream { bytes, lines }
            }
            Target::RemoteWrite(e) => {
                let (body, series) = e.body(metrics);
                Payload::Http { body, series }
            }
        }
    }
}

/// The push settings of a daemon.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--metric_push_interval`.
    pub interval: Duration,
    /// `--metric_push_write_deadline`: the bound of one whole push to one target.
    pub deadline: Duration,
    pub targets: Vec<Target>,
}

/// What one push sends.
enum Payload {
    /// Newline-terminated lines on one connection.
    Stream { bytes: Vec<u8>, lines: usize },
    /// One datagram per line.
    Datagrams(Vec<Vec<u8>>),
    /// A remote write body and how many series it holds.
    Http {
        body: hyper::body::Bytes,
        series: usize,
    },
}

/// Why a push failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// No connection (refused, no such socket, name not resolved).
    Dial,
    /// The connection broke while sending or reading replies.
    Write,
    /// The deadline passed, or the push was still running at the next tick.
    Timeout,
    /// collectd answered a line with an error (counted per line; the push itself went through).
    /// or a remote write answer was a 4xx other than 429 (the push is dropped).
    Rejected,
    /// Remote write: 5xx or 429 answers until the next tick.
    Unavailable,
}

impl Reason {
    const ALL: [Reason; 5] = [
        Reason::Dial,
        Reason::Write,
        Reason::Timeout,
        Reason::Rejected,
        Reason::Unavailable,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Reason::Dial => "dial",
            Reason::Write => "write",
            Reason::Timeout => "timeout",
            Reason::Rejected => "rejected",
            Reason::Unavailable => "unavailable",
        }
    }
}

/// How often a target's failures are logged.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// logmill's own push metrics, labelled by target.
#[derive(Clone)]
pub struct PushMetrics {
    pushes: IntCounterVec,
    lines: IntCounterVec,
    errors: IntCounterVec,
    retries: IntCounterVec,
    last_success: GaugeVec,
}

impl PushMetrics {
    pub fn register(reg: &Registry) -> PushMetrics {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let v = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            // Registering twice in one registry is the only failure; each is registered once.
            let _ = reg.register(Box::new(v.clone()));
            v
        };
        let last_success = GaugeVec::new(
            Opts::new(
                "logmill_push_last_success_timestamp_seconds",
                "When the last push to a target went through (Unix seconds).",
            ),
            &["target"],
        )
        .expect("valid metric");
        let _ = reg.register(Box::new(last_success.clone()));
        PushMetrics {
            pushes: counter(
                "logmill_pushes_total",
                "Pushes started, per target (graphite, statsd, collectd).",
                &["target"],
            ),
            lines: counter(
                "logmill_push_lines_total",
                "Lines sent, per target (remote write: series).",
                &["target"],
            ),
            errors: counter(
                "logmill_push_errors_total",
                "Failed pushes by reason (dial, write, timeout; remote write: rejected by a 4xx, \
                 unavailable: 5xx or 429 until the next push), and lines collectd rejected \
                 (rejected).",
                &["target", "reason"],
            ),
            retries: counter(
                "logmill_push_retries_total",
                "Remote write attempts retried after a 5xx, a 429 or no connection.",
                &["target"],
            ),
            last_success,
        }
    }
}

/// One target with its counters and its log limit.
struct Pusher {
    target: Target,
    /// The `target` label.
    name: String,
    deadline: Duration,
    /// The push interval: remote write retries until the next push.
    interval: Duration,
    metrics: PushMetrics,
    /// Remote write's HTTP client (keeps its connection between pushes).
    client: Option<remote_write::Client>,
    /// When a failure was last logged, and how many went unlogged since.
    logged: Mutex<(Option<Instant>, u64)>,
}

impl Pusher {
    fn new(target: Target, opts: &Options, metrics: PushMetrics) -> Pusher {
        let name = target.name();
        let n = name.as_str();
        metrics.pushes.with_label_values(&[n]);
        metrics.lines.with_label_values(&[n]);
        for r in Reason::ALL {
            metrics.errors.with_label_values(&[n, r.as_str()]);
        }
        let client = match &target {
            Target::RemoteWrite(_) => {
                metrics.retries.with_label_values(&[n]);
                Some(remote_write::client())
            }
            _ => None,
        };
        Pusher {
            target,
            name,
            deadline: opts.deadline,
            interval: opts.interval,
            metrics,
            client,
            logged: Mutex::new((None, 0)),
        }
    }

    /// Count a failure (`n` of them) and log it unless one was logged in the last minute.
    fn fail(&self, reason: Reason, n: u64, what: &str) {
        let name = self.name.as_str();
        self.metrics
            .errors
            .with_label_values(&[name, reason.as_str()])
            .inc_by(n);
        let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
        let due = logged.0.is_none_or(|t| t.elapsed() >= LOG_EVERY);
        if !due {
            logged.1 += n;
            return;
        }
        let unlogged = std::mem::take(&mut logged.1);
        logged.0 = Some(Instant::now());
        drop(logged);
        let more = if unlogged > 0 {
            format!(" ({unlogged} more since the last report)")
        } else {
            String::new()
        };
        tracing::warn!(
            "push to {name} at {}: {what}{more}; counted in logmill_push_errors_total{{reason=\"{}\"}}, \
             logged at most once a minute",
            self.target.address(),
            reason.as_str()
        );
    }

    /// One push of `payload`, within the deadline.
    async fn push(self: Arc<Self>, payload: Payload) {
        let name = self.name.as_str();
        self.metrics.pushes.with_label_values(&[name]).inc();
        // Remote write bounds each attempt by the deadline and retries until the next push.
        let bound = match self.target {
            Target::RemoteWrite(_) => self.interval,
            _ => self.deadline,
        };
        match tokio::time::timeout(bound, self.send(payload)).await {
            Err(_) => self.fail(Reason::Timeout, 1, &format!("not done within {bound:?}")),
            Ok(Err((reason, e))) => self.fail(reason, 1, &e),
            Ok(Ok(())) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                self.metrics
                    .last_success
                    .with_label_values(&[name])
                    .set(now);
            }
        }
    }

    async fn send(&self, payload: Payload) -> Result<(), (Reason, String)> {
        let lines = self.metrics.lines.with_label_values(&[self.name.as_str()]);
        let dial = |e: std::io::Error| (Reason::Dial, format!("connecting: {e}"));
        let write = |e: std::io::Error| (Reason::Write, format!("sending: {e}"));
        match (&self.target, payload) {
            (Target::Graphite { addr, .. }, Payload::Stream { bytes, lines: n }) => {
                let mut conn = tokio::net::TcpStream::connect(addr.as_str())
                    .await
                    .map_err(dial)?;
                conn.write_all(&bytes).await.map_err(write)?;
                conn.shutdown().await.map_err(write)?;
                lines.inc_by(n as u64);
                Ok(())
            }
            (Target::Statsd { addr, .. }, Payload::Datagrams(datagrams)) => {
                let to = tokio::net::lookup_host(addr.as_str())
                    .await
                    .map_err(dial)?
                    .next()
                    .ok_or_else(|| (Reason::Dial, format!("{addr} has no address")))?;
                let local = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                let sock = tokio::net::UdpSocket::bind(local).await.map_err(dial)?;
                sock.connect(to).await.map_err(dial)?;
                for d in &datagrams {
                    sock.send(d).await.map_err(write)?;
                    lines.inc();
                }
                Ok(())
            }
            (Target::Collectd { path, .. }, Payload::Stream { bytes, lines: n }) => {
                let conn = tokio::net::UnixStream::connect(path).await.map_err(dial)?;
                let (mut rx, mut tx) = conn.into_split();
                let send = async {
                    tx.write_all(&bytes).await.map_err(write)?;
                    tx.shutdown().await.map_err(write)?;
                    lines.inc_by(n as u64);
                    Ok::<(), (Reason, String)>(())
                };
                let (_, replies) = tokio::try_join!(send, read_replies(&mut rx, n))?;
                if replies.rejected > 0 {
                    self.fail(
                        Reason::Rejected,
                        replies.rejected,
                        &format!(
                            "collectd refused {} of {n} lines, the first with {:?}",
                            replies.rejected, replies.first_rejection
                        ),
                    );
                }
                Ok(())
            }
            (Target::RemoteWrite(e), Payload::Http { body, series }) => {
                let Some(client) = &self.client else {
                    return Ok(());
                };
                let retries = self
                    .metrics
                    .retries
                    .with_label_values(&[self.name.as_str()]);
                let until = Instant::now() + self.interval;
                remote_write::send(client, e, body, self.deadline, until, &retries).await?;
                lines.inc_by(series as u64);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// collectd's answers to one push.
#[derive(Debug, Default)]
struct Replies {
    /// Lines answered with an error (`-1 …`).
    rejected: u64,
    /// The first error answer (at most 200 bytes).
    first_rejection: String,
}

/// Read collectd's reply lines (one per line sent) until `expected` came or it closed.
async fn read_replies(
    rx: &mut tokio::net::unix::OwnedReadHalf,
    expected: usize,
) -> Result<Replies, (Reason, String)> {
    let mut out = Replies::default();
    let mut buf = [0u8; 4096];
    let (mut seen, mut at_start, mut in_rejection) = (0usize, true, false);
    while seen < expected {
        let n = rx
            .read(&mut buf)
            .await
            .map_err(|e| (Reason::Write, format!("reading collectd's replies: {e}")))?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            if at_start && b == b'-' {
                out.rejected += 1;
                in_rejection = out.rejected == 1;
            }
            at_start = b == b'\n';
            if at_start {
                seen += 1;
                in_rejection = false;
            } else if in_rejection && out.first_rejection.len() < 200 {
                out.first_rejection.push(b as char);
            }
        }
    }
    Ok(out)
}

/// Push to every target each interval until `stop`; returns at once when there is no target.
pub async fn run(
    mut opts: Options,
    state: Arc<State>,
    metrics: PushMetrics,
    mut stop: watch::Receiver<bool>,
) {
    if opts.targets.is_empty() {
        return;
    }
    let targets = std::mem::take(&mut opts.targets);
    let pushers: Vec<Arc<Pusher>> = targets
        .into_iter()
        .map(|t| Arc::new(Pusher::new(t, &opts, metrics.clone())))
        .collect();
    let mut running: Vec<Option<JoinHandle<()>>> = pushers.iter().map(|_| None).collect();
    let start = tokio::time::Instant::now() + opts.interval;
    let mut tick = tokio::time::interval_at(start, opts.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = crate::tail::stopped(&mut stop) => break,
        }
        let (st, ps) = (Arc::clone(&state), pushers.clone());
        let payloads = tokio::task::spawn_blocking(move || {
            let snapshot = st.snapshot();
            let refs: Vec<&Metric> = snapshot.iter().collect();
            ps.iter()
                .map(|p| p.target.payload(&refs))
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(payloads) = payloads else { continue };
        for ((p, slot), payload) in pushers.iter().zip(&mut running).zip(payloads) {
            if let Some(h) = slot.take() {
                if !h.is_finished() {
                    h.abort();
                    p.fail(
                        Reason::Timeout,
                        1,
                        "still running at the next push: abandoned",
                    );
                }
            }
            *slot = Some(tokio::spawn(Arc::clone(p).push(payload)));
        }
    }
    for h in running.into_iter().flatten() {
        h.abort();
    }
}
