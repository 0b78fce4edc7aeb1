//! Loading programs and reloading them while logmill runs: on SIGHUP, when notify sees a change
//! under `--progs`, and on a slow poll. A program whose text changed is recompiled; if it
//! compiles, the new version replaces the old one atomically and inherits the series of every
//! metric declared the same way (name, kind, type, keys, buckets), so counters keep counting;
//! if it does not, the old version keeps running and the error goes to the log,
//! `State.load_errors` and `logmill_prog_load_errors_total`. Programs whose file is gone are
//! unloaded; unchanged programs keep their VM.

use super::metrics::SelfMetrics;
use super::Msg;
use crate::compile;
use crate::programs::{self, LoadError};
use crate::state::{Loaded, State};
use crate::store::ProgramStore;
use crate::vm::VmOptions;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// The slow poll of `--progs`, for file systems without notifications.
const POLL: Duration = Duration::from_secs(5);
/// Changes arriving together are one reload.
const SETTLE: Duration = Duration::from_millis(100);

pub struct Reloader {
    progs: PathBuf,
    opts: VmOptions,
    state: Arc<State>,
    metrics: SelfMetrics,
    /// The text of each loaded program, by path.
    texts: HashMap<PathBuf, String>,
    /// The text that last failed to compile, by path (not reported again).
    failed: HashMap<PathBuf, String>,
    /// The last scan of `--progs` failed (logged once until a scan succeeds again).
    scan_failing: bool,
}

/// Copy the series of `old`'s metrics into `new`'s metrics declared the same way.
pub fn inherit(old: &ProgramStore, new: &mut ProgramStore) -> usize {
    let mut n = 0;
    for m in new.metrics.iter_mut() {
        let same = old.metrics.iter().find(|o| {
            o.def.name == m.def.name
                && o.def.kind == m.def.kind
                && o.def.value_type == m.def.value_type
                && o.def.keys == m.def.keys
                && o.def.buckets == m.def.buckets
        });
        if let Some(o) = same {
            m.set_series(o.series.clone());
            n += 1;
        }
    }
    n
}

/// What one scan decided.
pub struct Plan {
    pub programs: Vec<Arc<Loaded>>,
    /// (new, old) pairs whose metrics carry over.
    pub inherit: Vec<(Arc<Loaded>, Arc<Loaded>)>,
    pub changed: bool,
}

impl Reloader {
    pub fn new(progs: PathBuf, opts: VmOptions, state: Arc<State>, metrics: SelfMetrics) -> Self {
        Reloader {
            progs,
            opts,
            state,
            metrics,
            texts: HashMap::new(),
            failed: HashMap::new(),
            scan_failing: false,
        }
    }

    /// Scan `--progs` and compile what changed.
    pub fn plan(&mut self) -> Plan {
        let current = self.state.programs.load_full();
        let by_path: HashMap<&Path, &Arc<Loaded>> =
            current.iter().map(|l| (l.path.as_path(), l)).collect();
        let files = match programs::find(&self.progs) {
            Ok(f) => f,
            Err(LoadError::Empty(_)) => Vec::new(),
            Err(e) => {
                // A directory that vanished (or became unreadable): what runs keeps running;
                // every failed scan is counted, the change of state logged once.
                self.metrics.prog_scan_errors.inc();
                if !self.scan_failing {
                    self.scan_failing = true;
                    tracing::warn!("scanning the programs: {e}; the loaded programs keep running");
                }
                return Plan {
                    programs: current.to_vec(),
                    inherit: Vec::new(),
                    changed: false,
                };
            }
        };
        if std::mem::take(&mut self.scan_failing) {
            tracing::info!(
                "scanning the programs: {} is readable again",
                self.progs.display()
            );
        }
        let mut out = Vec::new();
        let mut inherit_pairs = Vec::new();
        let mut changed = false;
        for path in &files {
            let old = by_path.get(path.as_path()).copied();
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!("reading {}: {e}", path.display());
                    out.extend(old.cloned());
                    continue;
                }
            };
            let unchanged = old.is_some() && self.texts.get(path) == Some(&text);
            if unchanged && self.failed.remove(path).is_some() {
                // Restored to the text that runs: its last compile error is stale, and the
                // same broken text coming back is a new failure, logged and counted.
                if let Some(l) = old {
                    tracing::info!("{}: restored to the running version", l.name);
                    self.state
                        .load_errors
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&l.name);
                }
            }
            if unchanged || self.failed.get(path) == Some(&text) {
                out.extend(old.cloned());
                continue;
            }
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            let others: Vec<Arc<crate::compile::Program>> = out
                .iter()
                .chain(current.iter().filter(|l| l.path != *path))
                .map(|l| {
                    Arc::clone(
                        l.vm.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .program(),
                    )
                })
                .collect();
            let compiled = compile::compile(&name, &text)
                .map_err(|e| e.to_string())
                .and_then(
                    |p| match others.iter().find_map(|o| programs::kind_conflict(&p, o)) {
                        Some(conflict) => Err(conflict),
                        None => Ok(p),
                    },
                );
            match compiled {
                Ok(program) => {
                    let new = Arc::new(Loaded::new(path.clone(), program, self.opts.clone()));
                    if let Some(old) = old {
                        inherit_pairs.push((Arc::clone(&new), Arc::clone(old)));
                    }
                    tracing::info!("loaded program {name}");
                    self.metrics.prog_loads.with_label_values(&[&name]).inc();
                    self.state
                        .load_errors
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&name);
                    self.failed.remove(path);
                    self.texts.insert(path.clone(), text);
                    out.push(new);
                    changed = true;
                }
                Err(msg) => {
                    if old.is_some() {
                        tracing::error!(
                            "compile failed for {name}; the loaded version keeps running:\n{msg}"
                        );
                    } else {
                        tracing::error!("compile failed for {name}:\n{msg}");
                    }
                    self.metrics
                        .prog_load_errors
                        .with_label_values(&[&name])
                        .inc();
                    self.state
                        .load_errors
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(name, msg);
                    self.failed.insert(path.clone(), text);
                    out.extend(old.cloned());
                }
            }
        }
        for l in current.iter() {
            if !files.contains(&l.path) {
                tracing::info!("unloaded program {} (its file is gone)", l.name);
                self.metrics
                    .prog_unloads
                    .with_label_values(&[&l.name])
                    .inc();
                self.texts.remove(&l.path);
                changed = true;
            }
        }
        self.failed.retain(|p, _| files.contains(p));
        let mut errors = self
            .state
            .load_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let names: Vec<String> = files
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        errors.retain(|n, _| names.contains(n));
        Plan {
            programs: out,
            inherit: inherit_pairs,
            changed,
        }
    }

    /// The first load, before any line is read.
    pub fn load_initial(&mut self) {
        let plan = self.plan();
        self.state.programs.store(Arc::new(plan.programs));
    }

    /// Scan, and have the feeder swap in the result; returns once it is live.
    pub async fn reload(&mut self, tx: &mpsc::Sender<Msg>) {
        let plan = self.plan();
        if !plan.changed {
            return;
        }
        let (done, wait) = oneshot::channel();
        let msg = Msg::Swap {
            programs: plan.programs,
            inherit: plan.inherit,
            done,
        };
        if tx.send(msg).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Reload on SIGHUP, and (with `notify`) on notify events under `--progs` and every few
    /// seconds, until `stop`.
    pub async fn run(
        mut self,
        tx: mpsc::Sender<Msg>,
        mut stop: watch::Receiver<bool>,
        notify: bool,
    ) {
        use notify::Watcher;
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
        let watcher = if !notify {
            Err(notify::Error::generic("--disable_fsnotify"))
        } else {
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if res.is_ok() {
                    let _ = ev_tx.send(());
                }
            })
        };
        let _watcher = match watcher {
            Ok(mut w) => {
                let dir = if self.progs.is_dir() {
                    self.progs.clone()
                } else {
                    self.progs
                        .parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| PathBuf::from("."))
                };
                if let Err(e) = w.watch(&dir, notify::RecursiveMode::NonRecursive) {
                    tracing::info!(
                        "not watching {} ({e}); reloading on SIGHUP and every {POLL:?}",
                        dir.display()
                    );
                }
                Some(w)
            }
            Err(e) => {
                tracing::info!(
                    "no file notifications ({e}); reloading on SIGHUP and every {POLL:?}"
                );
                None
            }
        };
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("no SIGHUP handler: {e}");
                None
            }
        };
        // With notifications off, mtail's behaviour: SIGHUP only.
        let mut poll = tokio::time::interval(if notify {
            POLL
        } else {
            Duration::from_secs(86400 * 365)
        });
        poll.tick().await;
        loop {
            tokio::select! {
                _ = crate::tail::stopped(&mut stop) => return,
                _ = async { match hup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending().await } } => {
                    tracing::info!("SIGHUP: reloading programs");
                }
                Some(()) = ev_rx.recv() => {
                    tokio::time::sleep(SETTLE).await;
                    while ev_rx.try_recv().is_ok() {}
                }
                _ = poll.tick() => {}
            }
            self.reload(&tx).await;
        }
    }
}
