//! The feeder: one thread that runs every loaded program on every batch of lines, in the order
//! the batches arrive. Each VM is locked once per batch. Reloads are swapped in here, between two
//! batches, so no line is run on a program that is being replaced; the GC and checkpoints run
//! here too, so a checkpoint never names a line the programs have not seen.

use super::checkpoint::{self, Checkpoint};
use super::metrics::SelfMetrics;
use super::{reload, Msg};
use crate::state::{Loaded, State};
use crate::tail::{Lines, Source};
use prometheus::{Histogram, IntCounter, IntCounterVec};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// Runtime errors of a program are logged at most this often.
const ERROR_LOG_EVERY: Duration = Duration::from_secs(10);
/// Batches of at least this many lines run several programs on several threads at once.
const PARALLEL_LINES: usize = 256;

pub struct Feeder {
    pub state: Arc<State>,
    pub metrics: SelfMetrics,
    pub checkpoint_dir: Option<PathBuf>,
    pub checkpoint: Checkpoint,
    /// The last save failed (logged once until a save works again).
    pub checkpoint_failing: bool,
    pub log_runtime_errors: bool,
    /// Threads a batch may use to run the programs (the cores).
    pub workers: usize,
    /// The earliest `del … after` expiry over the programs, for the expiry timer.
    pub next_expiry: watch::Sender<Option<i64>>,
}

struct ProgHandles {
    line_seconds: Histogram,
    runtime_errors: IntCounter,
    last_logged: Option<Instant>,
    /// `logmill_metric_evictions_total`, labelled with this program's name and a metric's.
    evictions: IntCounterVec,
    series_dropped: IntCounter,
    /// The program's earliest expiry, as of its last batch or GC.
    next_expiry: Option<i64>,
}

/// Start the feeder thread; `done` fires when it has stopped (after saving the checkpoint).
pub fn spawn(feeder: Feeder, rx: mpsc::Receiver<Msg>) -> oneshot::Receiver<()> {
    let (done_tx, done_rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("feeder".into())
        .spawn(move || {
            feeder.run(rx);
            let _ = done_tx.send(());
        });
    if let Err(e) = spawned {
        tracing::error!("starting the feeder: {e}");
    }
    done_rx
}

impl Feeder {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut handles: HashMap<String, ProgHandles> = HashMap::new();
        // The checkpoint moved since the last successful save.
        let mut dirty = false;
        // The first save comes with the first lines counted, not an interval later: a process
        // killed before its first interval must not restart at the end of its files.
        let mut first_tried = false;
        while let Some(msg) = rx.blocking_recv() {
            match msg {
                Msg::Lines {
                    source,
                    lines,
                    mark,
                } => {
                    self.feed(&source, &lines, &mut handles);
                    self.publish_expiry(&handles, false);
                    if let Some(m) = mark {
                        dirty |= self.checkpoint.record(m);
                    }
                    if dirty && !first_tried && !lines.is_empty() {
                        first_tried = true;
                        dirty = !self.save_checkpoint();
                    }
                }
                Msg::Swap {
                    programs,
                    inherit,
                    done,
                } => {
                    for (new, old) in &inherit {
                        let old_vm = old.vm.lock().unwrap_or_else(PoisonError::into_inner);
                        let mut new_vm = new.vm.lock().unwrap_or_else(PoisonError::into_inner);
                        reload::inherit(&old_vm.store, &mut new_vm.store);
                    }
                    for p in &programs {
                        let mut vm = p.vm.lock().unwrap_or_else(PoisonError::into_inner);
                        vm.store.refresh_expiry();
                        handle(&mut handles, &self.metrics, p).next_expiry = vm.store.next_expiry();
                    }
                    self.state.programs.store(Arc::new(programs));
                    self.publish_expiry(&handles, false);
                    let _ = done.send(());
                }
                Msg::Gc => {
                    let now = jiff::Timestamp::now().as_nanosecond() as i64;
                    for p in self.state.programs.load().iter() {
                        let mut vm = p.vm.lock().unwrap_or_else(PoisonError::into_inner);
                        let removed = vm.store.gc(now);
                        handle(&mut handles, &self.metrics, p).next_expiry = vm.store.next_expiry();
                        drop(vm);
                        if removed > 0 {
                            tracing::debug!("{}: GC removed {removed} series", p.name);
                        }
                    }
                    self.publish_expiry(&handles, true);
                }
                Msg::Checkpoint => {
                    // A failed save stays dirty: retried at the next interval and at exit.
                    if dirty {
                        dirty = !self.save_checkpoint();
                    }
                }
                Msg::Stop => break,
            }
        }
        if dirty {
            self.save_checkpoint();
        }
    }

    /// Tell the expiry timer the earliest expiry over the running programs: when it changed,
    /// or `always` (after a GC, so the timer knows the GC ran).
    fn publish_expiry(&self, handles: &HashMap<String, ProgHandles>, always: bool) {
        let programs = self.state.programs.load();
        let next = programs
            .iter()
            .filter_map(|p| handles.get(&p.name)?.next_expiry)
            .min();
        self.next_expiry.send_if_modified(|cur| {
            let changed = *cur != next;
            *cur = next;
            changed || always
        });
    }

    /// Save the checkpoint; false (logged and counted) when it could not be written.
    /// Each failure is counted; the log says when saving starts failing and when it works again.
    fn save_checkpoint(&mut self) -> bool {
        let Some(dir) = &self.checkpoint_dir else {
            return true;
        };
        match checkpoint::save(dir, &self.checkpoint) {
            Ok(()) => {
                if std::mem::take(&mut self.checkpoint_failing) {
                    tracing::info!("saved the checkpoint in {} again", dir.display());
                }
                true
            }
            Err(e) => {
                self.metrics.checkpoint_errors.inc();
                if !std::mem::replace(&mut self.checkpoint_failing, true) {
                    tracing::error!(
                        "saving the checkpoint in {}: {e}; retrying every interval",
                        dir.display()
                    );
                }
                false
            }
        }
    }

    fn feed(&self, source: &Source, lines: &Lines, handles: &mut HashMap<String, ProgHandles>) {
        if lines.is_empty() {
            return;
        }
        let programs = self.state.programs.load();
        let workers = self.workers.min(programs.len());
        if workers > 1 && lines.len() >= PARALLEL_LINES {
            // Programs are independent: spread them over threads, this one included.
            for p in programs.iter() {
                handle(handles, &self.metrics, p);
            }
            let mut by_name: HashMap<&str, &mut ProgHandles> =
                handles.iter_mut().map(|(k, v)| (k.as_str(), v)).collect();
            let mut jobs: Vec<(&Arc<Loaded>, &mut ProgHandles)> = programs
                .iter()
                .filter_map(|p| Some((p, by_name.remove(p.name.as_str())?)))
                .collect();
            let per = jobs.len().div_ceil(workers);
            let log = self.log_runtime_errors;
            std::thread::scope(|scope| {
                let mut chunks = jobs.chunks_mut(per);
                let here = chunks.next();
                for chunk in chunks {
                    scope.spawn(move || {
                        for (p, h) in chunk.iter_mut() {
                            run_batch(p, source, lines, h, log);
                        }
                    });
                }
                for (p, h) in here.into_iter().flatten() {
                    run_batch(p, source, lines, h, log);
                }
            });
        } else {
            for p in programs.iter() {
                let h = handle(handles, &self.metrics, p);
                run_batch(p, source, lines, h, self.log_runtime_errors);
            }
        }
        let n = lines.len() as u64;
        self.metrics.lines.inc_by(n);
        source.lines.inc_by(n);
        source.bytes.inc_by(lines.bytes() as u64);
        if lines.long > 0 {
            source.long_lines.inc_by(lines.long);
        }
        let binary = lines.binary();
        if binary > 0 {
            source.binary_lines.inc_by(binary);
        }
    }
}

fn handle<'a>(
    handles: &'a mut HashMap<String, ProgHandles>,
    metrics: &SelfMetrics,
    p: &Loaded,
) -> &'a mut ProgHandles {
    if !handles.contains_key(&p.name) {
        handles.insert(
            p.name.clone(),
            ProgHandles {
                line_seconds: metrics.line_seconds.with_label_values(&[&p.name]),
                runtime_errors: metrics.prog_runtime_errors.with_label_values(&[&p.name]),
                last_logged: None,
                evictions: metrics.metric_evictions.clone(),
                series_dropped: metrics.series_dropped.with_label_values(&[&p.name]),
                next_expiry: None,
            },
        );
    }
    handles.get_mut(&p.name).expect("inserted above")
}

fn run_batch(p: &Loaded, source: &Source, lines: &Lines, h: &mut ProgHandles, log_errors: bool) {
    if !p.program.reads(&source.name) {
        return;
    }
    let local = h.line_seconds.local();
    let mut vm = p.vm.lock().unwrap_or_else(PoisonError::into_inner);
    let before = vm.runtime_errors;
    let mut panics = 0u64;
    let mut t = Instant::now();
    for line in lines.iter() {
        let ok = std::panic::catch_unwind(AssertUnwindSafe(|| vm.run_line(line, &source.name)));
        if ok.is_err() {
            panics += 1;
            vm.last_error = Some("the program panicked on a line".into());
        }
        let t2 = Instant::now();
        local.observe(t2.duration_since(t).as_secs_f64());
        t = t2;
    }
    // The store's bounds at work: evictions per metric, updates refused by the series cap.
    for m in vm.store.metrics.iter_mut() {
        let n = m.take_evictions();
        if n > 0 {
            h.evictions
                .with_label_values(&[p.name.as_str(), m.def.name.as_str()])
                .inc_by(n);
        }
    }
    h.next_expiry = vm.store.next_expiry();
    let dropped = vm.store.take_dropped();
    if dropped > 0 {
        h.series_dropped.inc_by(dropped);
    }
    let errors = vm.runtime_errors - before + panics;
    let last = (errors > 0).then(|| vm.last_error.clone()).flatten();
    drop(vm);
    local.flush();
    if errors > 0 {
        h.runtime_errors.inc_by(errors);
        let due = h.last_logged.is_none_or(|t| t.elapsed() >= ERROR_LOG_EVERY);
        if log_errors && due {
            h.last_logged = Some(Instant::now());
            tracing::info!(
                "{}: Runtime error: {}",
                p.name,
                last.as_deref().unwrap_or("?")
            );
        }
    }
}
