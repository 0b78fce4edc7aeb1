//! Driving the built binary as a daemon: start it on a program and some logs, read its metrics
//! the way a user without HTTP would (`--metrics_file`, written on SIGUSR1 and at exit), stop it
//! with SIGTERM.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
    pub progs: PathBuf,
    metrics: PathBuf,
    stderr: Arc<Mutex<String>>,
}

/// Sum of every sample of a metric in Prometheus text (`name{…} v` and `name v`).
pub fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub fn counter(text: &str, name: &str) -> i64 {
    sum(text, name) as i64
}

/// The value of one series given as `name{labels}` exactly as printed.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a child we started.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

impl Daemon {
    /// A daemon with one program (`p.mtail`) in `dir/progs`.
    pub fn start(dir: &Path, program: &str, logs: &[&str], extra: &[&str]) -> Daemon {
        Daemon::start_with(dir, program, logs, extra, |_| {})
    }

    pub fn start_with(
        dir: &Path,
        program: &str,
        logs: &[&str],
        extra: &[&str],
        customize: impl FnOnce(&mut Command),
    ) -> Daemon {
        let progs = dir.join("progs");
        std::fs::create_dir_all(&progs).unwrap();
        if !program.is_empty() {
            std::fs::write(progs.join("p.mtail"), program).unwrap();
        }
        Daemon::start_progs(dir, &progs, logs, extra, customize)
    }

    pub fn start_progs(
        dir: &Path,
        progs: &Path,
        logs: &[&str],
        extra: &[&str],
        customize: impl FnOnce(&mut Command),
    ) -> Daemon {
        let metrics = dir.join("metrics.prom");
        let _ = std::fs::remove_file(&metrics);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmill"));
        cmd.arg("--progs").arg(progs);
        for l in logs {
            cmd.arg(format!("--logs={l}"));
        }
        // Serve on a free port (mtail's `--port 0`) so daemons can run side by side.
        cmd.arg("--port=0")
            .arg("--metrics_file")
            .arg(&metrics)
            .arg("--metrics_file_format=prometheus")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        customize(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let d = Daemon {
            child,
            dir: dir.to_path_buf(),
            progs: progs.to_path_buf(),
            metrics,
            stderr,
        };
        d.wait_log("logmill running");
        d
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait until the log says `what`.
    pub fn wait_log(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.stderr().contains(what) {
            assert!(
                Instant::now() < deadline,
                "no {what:?} in the log:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Ask for the metrics file (SIGUSR1) and read it.
    pub fn metrics(&self) -> String {
        let _ = std::fs::remove_file(&self.metrics);
        signal(self.pid(), libc::SIGUSR1);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(t) = std::fs::read_to_string(&self.metrics) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "no metrics file; log:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Read the metrics until `ok` holds (20 s at most).
    pub fn wait_for(&self, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let t = self.metrics();
            if ok(&t) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "condition not met; metrics:\n{t}\nlog:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM; logmill must exit 0. Returns the metrics file written at exit.
    pub fn stop_prometheus(mut self) -> String {
        let _ = std::fs::remove_file(&self.metrics);
        signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "logmill did not stop");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "exit {status}; log:\n{}", self.stderr());
        std::fs::read_to_string(&self.metrics).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
