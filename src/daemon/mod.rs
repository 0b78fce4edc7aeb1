//! The daemon: follow the logs, run the programs on every line, reload them when they change,
//! until SIGTERM or SIGINT.
//!
//! Sources (`crate::tail`) send batches of lines over a bounded channel to the feeder thread
//! (`feeder`), which runs every program on them; the bounded channel makes fast sources wait
//! for the programs instead of piling up memory. Control messages travel on the same channel,
//! so a reload, a GC pass or a checkpoint happens between two batches; the GC runs when the
//! first `del … after` series expires (`expiry`) and at least every `gc_interval`. Stopping: the sources
//! stop reading, the feeder runs what was read, saves the checkpoint, and the metrics file is
//! written.

pub mod checkpoint;
pub mod expiry;
pub mod feeder;
pub mod metrics;
pub mod output;
pub mod reload;

use crate::state::{Loaded, State};
use crate::tail::{self, Lines, Mark, Sink, Source, Spec};
use crate::vm::VmOptions;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

/// What travels to the feeder.
pub enum Msg {
    /// Lines from a source, and where a restart would resume after them.
    Lines {
        source: Arc<Source>,
        lines: Lines,
        mark: Option<Mark>,
    },
    /// Replace the running programs; `inherit` pairs (new, old) whose metrics carry over.
    Swap {
        programs: Vec<Arc<Loaded>>,
        inherit: Vec<(Arc<Loaded>, Arc<Loaded>)>,
        done: oneshot::Sender<()>,
    },
    /// Run the store GC (limits and `del … after` expiry).
    Gc,
    /// Save the checkpoint if it moved.
    Checkpoint,
    Stop,
}

/// Settings of a daemon run.
#[derive(Debug, Clone)]
pub struct Options {
    pub progs: PathBuf,
    pub logs: Vec<String>,
    pub vm: VmOptions,
    pub logs_from_start: bool,
    pub poll_interval: Duration,
    pub poll_log_interval: Duration,
    /// `None`: no GC.
    pub gc_interval: Option<Duration>,
    pub checkpoint_dir: Option<PathBuf>,
    pub checkpoint_interval: Duration,
    pub metrics_file: Option<PathBuf>,
    pub metrics_file_format: output::Format,
    pub emit_prog_label: bool,
    pub log_runtime_errors: bool,
    /// Use file notifications as wake-ups (logs) and reload triggers (programs).
    pub notify: bool,
    /// Serve the metrics over HTTP (TCP and/or a Unix socket).
    pub serve: Option<crate::serve::ServeConfig>,
    /// Push the metrics to graphite, statsd and collectd.
    pub push: Option<crate::push::Options>,
}

/// Batches waiting for the feeder before sources wait.
const QUEUE: usize = 64;
/// How long stopping waits for sources to hand over what they read.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Run until SIGTERM or SIGINT.
pub fn run(opts: Options) -> Result<(), String> {
    let state = Arc::new(State::new());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    rt.block_on(serve(opts, state))
}

/// Spawn a task that sends `msg()` every `every` until `stop`.
fn ticker(
    tasks: &mut JoinSet<()>,
    every: Duration,
    tx: mpsc::Sender<Msg>,
    mut stop: watch::Receiver<bool>,
    msg: fn() -> Msg,
) {
    tasks.spawn(async move {
        let mut t = tokio::time::interval(every);
        t.tick().await;
        loop {
            tokio::select! {
                _ = t.tick() => if tx.send(msg()).await.is_err() { return },
                _ = crate::tail::stopped(&mut stop) => return,
            }
        }
    });
}

/// Run the daemon on `state` (shared with whoever serves it) until SIGTERM or SIGINT.
pub async fn serve(opts: Options, state: Arc<State>) -> Result<(), String> {
    let mut metrics = metrics::SelfMetrics::register(&state.registry);
    metrics.max_line = opts.vm.max_line_length;
    // `--progs` must exist at startup (as in mtail); one that vanishes later is only logged.
    std::fs::metadata(&opts.progs).map_err(|e| format!("--progs {}: {e}", opts.progs.display()))?;
    // Bind first: a socket in use or a busy port is a startup error, before any work.
    let server = match &opts.serve {
        Some(config) => Some(
            crate::serve::Server::bind(config.clone(), Arc::clone(&state))
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let resume = match &opts.checkpoint_dir {
        Some(dir) => checkpoint::load(dir)?,
        None => checkpoint::Checkpoint::default(),
    };
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut sigusr1 = signal(SignalKind::user_defined1()).map_err(|e| e.to_string())?;

    let mut reloader = reload::Reloader::new(
        opts.progs.clone(),
        opts.vm.clone(),
        Arc::clone(&state),
        metrics.clone(),
    );
    reloader.load_initial();

    let (tx, rx) = mpsc::channel(QUEUE);
    let (stop_tx, stop) = watch::channel(false);
    let (expiry_tx, expiry_rx) = watch::channel(None);
    let feeder_done = feeder::spawn(
        feeder::Feeder {
            state: Arc::clone(&state),
            metrics: metrics.clone(),
            checkpoint_dir: opts.checkpoint_dir.clone(),
            checkpoint: resume.clone(),
            checkpoint_failing: false,
            log_runtime_errors: opts.log_runtime_errors,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            next_expiry: expiry_tx,
        },
        rx,
    );

    let mut tasks = JoinSet::new();
    let mut patterns = Vec::new();
    let mut socket_files = Vec::new();
    let sink = |name: &str| Sink {
        tx: tx.clone(),
        source: metrics.source(name),
    };
    for entry in &opts.logs {
        let spec = Spec::parse(entry).map_err(|e| format!("--logs {e}"))?;
        let stop = stop.clone();
        match spec {
            Spec::Files(p) => patterns.push(p),
            Spec::Pipe(path) => {
                let s = sink(&path.to_string_lossy());
                tasks.spawn(async move { tail::pipe::run(&path, s, stop).await });
            }
            Spec::Unix(path) => {
                let l = tail::stream::bind_unix(&path)
                    .map_err(|e| format!("{entry}: listening: {e}"))?;
                socket_files.push(path);
                tasks.spawn(tail::stream::run_unix(l, sink(entry), stop));
            }
            Spec::Unixgram(path) => {
                let s = tail::datagram::bind_unix(&path)
                    .map_err(|e| format!("{entry}: listening: {e}"))?;
                socket_files.push(path);
                let sock = tail::datagram::Socket::Unix(s);
                tasks.spawn(tail::datagram::run(sock, sink(entry), stop));
            }
            Spec::Tcp(addr) => {
                let l = tokio::net::TcpListener::bind(&addr)
                    .await
                    .map_err(|e| format!("{entry}: listening: {e}"))?;
                tasks.spawn(tail::stream::run_tcp(l, sink(entry), stop));
            }
            Spec::Udp(addr) => {
                let s = tokio::net::UdpSocket::bind(&addr)
                    .await
                    .map_err(|e| format!("{entry}: listening: {e}"))?;
                let sock = tail::datagram::Socket::Udp(s);
                tasks.spawn(tail::datagram::run(sock, sink(entry), stop));
            }
            Spec::Stdin => tail::stdin::spawn(sink(entry)),
            Spec::Journald(unit) => {
                let o = tail::journald::Options {
                    spec: entry.clone(),
                    unit,
                    from_start: opts.logs_from_start,
                    cursor: resume.journald.get(entry.as_str()).cloned(),
                };
                let restarts = metrics.journald_restarts.with_label_values(&[entry]);
                tasks.spawn(tail::journald::run(o, sink(entry), restarts, stop));
            }
            Spec::Command { interval, command } => {
                let runs = metrics.command_runs.clone();
                tasks.spawn(tail::command::run(
                    interval,
                    command,
                    sink(entry),
                    runs,
                    stop,
                ));
            }
        }
    }
    let files = (!patterns.is_empty()).then(|| {
        tail::glob::spawn(
            tail::glob::Options {
                patterns,
                from_start: opts.logs_from_start,
                poll: opts.poll_interval,
                glob_every: opts.poll_log_interval,
                resume: resume.files.clone(),
                notify: opts.notify,
                max_line: opts.vm.max_line_length,
            },
            tx.clone(),
            metrics.clone(),
        )
    });
    tasks.spawn(reloader.run(tx.clone(), stop.clone(), opts.notify));
    if let Some(sweep) = opts.gc_interval {
        tasks.spawn(expiry::run(sweep, expiry_rx, tx.clone(), stop.clone()));
    }
    if opts.checkpoint_dir.is_some() {
        let every = opts.checkpoint_interval;
        ticker(&mut tasks, every, tx.clone(), stop.clone(), || {
            Msg::Checkpoint
        });
    }
    if let Some(push) = opts.push.clone() {
        let m = crate::push::PushMetrics::register(&state.registry);
        tasks.spawn(crate::push::run(push, Arc::clone(&state), m, stop.clone()));
    }
    let (http_stop, mut http_stopped) = watch::channel(false);
    let http = server.map(|server| {
        tokio::spawn(server.run(async move {
            let _ = http_stopped.wait_for(|stopped| *stopped).await;
        }))
    });
    tracing::info!(
        "logmill running: {} program(s), {} log source(s)",
        state.programs.load().len(),
        opts.logs.len()
    );

    loop {
        tokio::select! {
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sigusr1.recv() => write_metrics_file(&opts, &state, &metrics.metrics_file_errors).await,
        }
    }
    tracing::info!("stopping: finishing the lines read");
    let _ = stop_tx.send(true);
    if let Some(files) = files {
        let _ = tokio::task::spawn_blocking(move || files.stop()).await;
    }
    let _ = tokio::time::timeout(STOP_WAIT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    // Sources that could not stop (a read of a quiet stdin) still hold a sender: the feeder
    // gets an explicit stop after everything sent before it.
    let _ = tx.send(Msg::Stop).await;
    drop(tx);
    let _ = feeder_done.await;
    write_metrics_file(&opts, &state, &metrics.metrics_file_errors).await;
    // Scrapes in flight finish; the socket file is removed.
    let _ = http_stop.send(true);
    if let Some(http) = http {
        match http.await {
            Ok(Err(e)) => tracing::warn!("serving: {e}"),
            Err(e) => tracing::warn!("serving: {e}"),
            Ok(Ok(())) => {}
        }
    }
    for p in socket_files {
        let _ = std::fs::remove_file(p);
    }
    tracing::info!("stopped");
    Ok(())
}

async fn write_metrics_file(opts: &Options, state: &Arc<State>, errors: &prometheus::IntCounter) {
    if let Some(path) = opts.metrics_file.clone() {
        let state = Arc::clone(state);
        let (format, label) = (opts.metrics_file_format, opts.emit_prog_label);
        let errors = errors.clone();
        let _ = tokio::task::spawn_blocking(move || {
            output::write(&path, &state, format, label, &errors)
        })
        .await;
    }
}
