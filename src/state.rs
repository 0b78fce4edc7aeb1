//! What a running logmill shares between its parts: the loaded programs (each VM behind its own
//! lock, the whole set swapped atomically on reload), the last load error of each program, and
//! the process's own metrics. The daemon writes it; the HTTP server reads it.

use crate::compile::Program;
use crate::store::Metric;
use crate::vm::{Vm, VmOptions};
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// A program that is running.
pub struct Loaded {
    /// The file name: the `prog` label.
    pub name: String,
    pub path: PathBuf,
    /// The compiled program (also inside the VM), readable without the VM's lock.
    pub program: Arc<Program>,
    /// The program's VM and store. Feeders hold the lock for a batch of lines; readers only
    /// long enough to copy the store.
    pub vm: Mutex<Vm>,
}

impl Loaded {
    pub fn new(path: PathBuf, program: Program, opts: VmOptions) -> Loaded {
        let program = Arc::new(program);
        Loaded {
            name: program.name.clone(),
            path,
            program: Arc::clone(&program),
            vm: Mutex::new(Vm::new(program, opts)),
        }
    }
}

/// The shared state of a running logmill.
pub struct State {
    pub programs: ArcSwap<Vec<Arc<Loaded>>>,
    /// Program name → the error of its last failed compile (cleared when it compiles again).
    pub load_errors: Mutex<BTreeMap<String, String>>,
    /// The process's own metrics (`logmill_…`).
    pub registry: prometheus::Registry,
    /// The HTTP servers' connection counts (registered in `registry` by the server).
    pub connections: crate::serve::self_metrics::Connections,
    pub started: Instant,
}

impl Default for State {
    fn default() -> State {
        State::new()
    }
}

impl State {
    pub fn new() -> State {
        State {
            programs: ArcSwap::from_pointee(Vec::new()),
            load_errors: Mutex::new(BTreeMap::new()),
            registry: prometheus::Registry::new(),
            connections: crate::serve::self_metrics::Connections::new(),
            started: Instant::now(),
        }
    }

    /// A copy of every program's metrics, taking one VM's lock at a time.
    pub fn snapshot(&self) -> Vec<Metric> {
        let programs = self.programs.load();
        let mut out = Vec::new();
        for p in programs.iter() {
            let vm = p.vm.lock().unwrap_or_else(PoisonError::into_inner);
            out.extend(vm.store.metrics.iter().cloned());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_copies_every_programs_metrics() {
        let state = State::new();
        let a = crate::compile::compile("a.mtail", "counter a\n/x/ {\n  a++\n}\n").unwrap();
        let b = crate::compile::compile("b.mtail", "counter b\n/y/ {\n  b++\n}\n").unwrap();
        let loaded: Vec<Arc<Loaded>> = [a, b]
            .into_iter()
            .map(|p| Arc::new(Loaded::new(PathBuf::from(&p.name), p, VmOptions::default())))
            .collect();
        loaded[0].vm.lock().unwrap().run_line(b"x", b"f");
        state.programs.store(Arc::new(loaded));
        let snap = state.snapshot();
        let names: Vec<&str> = snap.iter().map(|m| m.def.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b"]);
        assert_eq!(snap[0].series[0].value, crate::store::Value::Int(1));
    }
}
