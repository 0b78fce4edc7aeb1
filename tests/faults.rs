//! The daemon under faults (issue 14): each case drives the built binary with real files,
//! signals and sockets, and fails on the behaviour the issue describes.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{counter, signal, Daemon};

fn logmill() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logmill"))
}

/// Run `cmd` to its end, killing it after `limit` (a daemon that should have exited).
fn output_within(mut cmd: Command, limit: Duration) -> std::process::Output {
    use std::process::Stdio;
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if rx.recv_timeout(limit).is_err() {
            signal(pid, libc::SIGKILL);
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = tx.send(());
    out
}

/// Append `lines` to `path` in one write.
fn append(path: &Path, lines: impl IntoIterator<Item = String>) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut buf = String::new();
    for l in lines {
        buf.push_str(&l);
        buf.push('\n');
    }
    f.write_all(buf.as_bytes()).unwrap();
}

fn numbered(from: usize, n: usize) -> impl Iterator<Item = String> {
    (from..from + n).map(|i| format!("line {i}"))
}

/// Case 11: a duration past i64::MAX nanoseconds is Go's error, as mtail rejects it; the largest
/// one that fits is accepted.
#[test]
fn case11_duration_overflow_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let prog = |after: &str| {
        format!("counter c by x\n/(\\w+)/ {{\n  c[$1]++\n}}\n/del (\\w+)/ {{\n  del c[$1] after {after}\n}}\n")
    };
    let bad = dir.path().join("bad.mtail");
    std::fs::write(&bad, prog("9223372036854775808ns")).unwrap();
    let out = logmill().arg("check").arg(&bad).output().unwrap();
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("time: invalid duration \"9223372036854775808ns\""),
        "{err}"
    );
    for ok in ["9223372036854775807ns", "2562047h47m16s854775807ns", "1.5h"] {
        let good = dir.path().join("good.mtail");
        std::fs::write(&good, prog(ok)).unwrap();
        let out = logmill().arg("check").arg(&good).output().unwrap();
        assert!(out.status.success(), "{ok}: {out:?}");
    }
    let over = dir.path().join("over.mtail");
    std::fs::write(&over, prog("2562047h47m16s854775808ns")).unwrap();
    let out = logmill().arg("check").arg(&over).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// Case 9: `--progs` missing at startup is an exit 1 naming the path, before anything serves.
#[test]
fn case9_missing_progs_at_startup_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexistent");
    let mut cmd = logmill();
    cmd.arg("--progs")
        .arg(&missing)
        .arg("--logs")
        .arg(dir.path().join("app.log"))
        .arg("--port=0")
        .stdin(std::process::Stdio::null());
    let out = output_within(cmd, Duration::from_secs(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(!err.contains("logmill running"), "{err}");
}

/// Case 9: a `--progs` directory that vanishes while logmill runs: the loaded program keeps
/// counting, the failure is logged once and counted on every scan; when it is back, so is the log.
#[test]
fn case9_progs_vanishing_later_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let prog = "counter lines\n/line/ {\n  lines++\n}\n";
    let d = Daemon::start(dir.path(), prog, &[log.to_str().unwrap()], &[]);
    let gone = dir.path().join("progs.moved");
    std::fs::rename(&d.progs, &gone).unwrap();
    for _ in 0..3 {
        signal(d.pid(), libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(150));
    }
    d.wait_for(|t| counter(t, "logmill_prog_scan_errors_total") >= 3);
    append(&log, numbered(0, 10));
    let t = d.wait_for(|t| counter(t, "lines") == 10);
    assert_eq!(counter(&t, "logmill_prog_unloads_total"), 0, "{t}");
    let warnings = d.stderr().matches("scanning the programs").count();
    assert_eq!(warnings, 1, "{}", d.stderr());
    std::fs::rename(&gone, &d.progs).unwrap();
    signal(d.pid(), libc::SIGHUP);
    d.wait_log("readable again");
    append(&log, numbered(10, 5));
    d.wait_for(|t| counter(t, "lines") == 15);
    let t = d.stop_prometheus();
    assert_eq!(counter(&t, "lines"), 15);
}

const LINES: &str = "counter lines\n/line/ {\n  lines++\n}\n";

fn checkpoint_file(dir: &Path) -> std::path::PathBuf {
    dir.join("ckpt").join("logmill.checkpoint.json")
}

/// The offset the checkpoint holds for `log`, if it names it.
fn checkpoint_offset(dir: &Path, log: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(checkpoint_file(dir)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["files"][log.to_str()?]["offset"].as_u64()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !ok() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Case 2: the first checkpoint is saved with the first batch counted, not an interval later;
/// a kill -9 before the first interval resumes where the programs got to.
#[test]
fn case2_first_checkpoint_with_the_first_batch() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let ckpt = dir.path().join("ckpt");
    let ckpt_flag = format!("--checkpoint_dir={}", ckpt.display());
    let extra = [ckpt_flag.as_str(), "--checkpoint_interval=1h"];
    let mut d = Daemon::start(dir.path(), LINES, &[log.to_str().unwrap()], &extra);
    append(&log, numbered(0, 100));
    d.wait_for(|t| counter(t, "lines") == 100);
    let len = std::fs::metadata(&log).unwrap().len();
    wait_until(
        "a checkpoint at the end of the file",
        Duration::from_secs(3),
        || checkpoint_offset(dir.path(), &log) == Some(len),
    );
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    append(&log, numbered(100, 50));
    let d = Daemon::start(dir.path(), LINES, &[log.to_str().unwrap()], &extra);
    d.wait_for(|t| counter(t, "lines") == 50);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(&d.stop_prometheus(), "lines"), 50);
}

/// Case 3: a checkpoint save that fails stays due: it is counted, retried, and what it would
/// have saved is not read again after a clean stop and restart.
#[test]
fn case3_failed_checkpoint_save_is_retried_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let ckpt = dir.path().join("ckpt");
    let ckpt_flag = format!("--checkpoint_dir={}", ckpt.display());
    let extra = [ckpt_flag.as_str(), "--checkpoint_interval=200ms"];
    let d = Daemon::start(dir.path(), LINES, &[log.to_str().unwrap()], &extra);
    append(&log, numbered(0, 100));
    let len = std::fs::metadata(&log).unwrap().len();
    wait_until("the first checkpoint", Duration::from_secs(3), || {
        checkpoint_offset(dir.path(), &log) == Some(len)
    });
    // A directory where the save writes its temporary file: every save fails (even as root).
    let block = ckpt.join(format!("logmill.checkpoint.json.tmp{}", d.pid()));
    std::fs::create_dir(&block).unwrap();
    append(&log, numbered(100, 100));
    d.wait_for(|t| {
        counter(t, "lines") == 200 && counter(t, "logmill_checkpoint_errors_total") >= 2
    });
    assert_eq!(checkpoint_offset(dir.path(), &log), Some(len));
    std::fs::remove_dir(&block).unwrap();
    let len = std::fs::metadata(&log).unwrap().len();
    wait_until("the retried checkpoint", Duration::from_secs(3), || {
        checkpoint_offset(dir.path(), &log) == Some(len)
    });
    assert_eq!(
        d.stderr().matches("saving the checkpoint").count(),
        1,
        "{}",
        d.stderr()
    );
    d.stop_prometheus();
    let d = Daemon::start(dir.path(), LINES, &[log.to_str().unwrap()], &extra);
    append(&log, numbered(200, 10));
    d.wait_for(|t| counter(t, "lines") == 10);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(&d.stop_prometheus(), "lines"), 10);
}

/// Case 3: a metrics-file write that fails is counted.
#[test]
fn case3_failed_metrics_file_write_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let d = Daemon::start(dir.path(), LINES, &[log.to_str().unwrap()], &[]);
    let block = dir.path().join(format!("metrics.prom.tmp{}", d.pid()));
    std::fs::create_dir(&block).unwrap();
    signal(d.pid(), libc::SIGUSR1);
    d.wait_log("writing the metrics file");
    std::fs::remove_dir(&block).unwrap();
    d.wait_for(|t| counter(t, "logmill_metrics_file_errors_total") == 1);
}

/// As root, run the daemon as `nobody` so file modes bind it; `dir` is opened up for it.
fn unprivileged(dir: &Path) -> impl FnOnce(&mut Command) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    move |cmd: &mut Command| {
        if root {
            use std::os::unix::process::CommandExt;
            cmd.uid(65534).gid(65534);
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Case 4: a file that cannot be opened is an error logged once, not a rotation at each poll;
/// when it can be opened again, reading resumes at the checkpoint's position.
#[test]
fn case4_unopenable_file_is_an_error_and_keeps_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let ckpt = format!("--checkpoint_dir={}", dir.path().join("ckpt").display());
    let extra = [ckpt.as_str(), "--poll_interval=50ms"];
    let logs = [log.to_str().unwrap()];
    let d = Daemon::start_with(dir.path(), LINES, &logs, &extra, unprivileged(dir.path()));
    append(&log, numbered(0, 100));
    d.wait_for(|t| counter(t, "lines") == 100);
    d.stop_prometheus();
    append(&log, numbered(100, 50));
    chmod(&log, 0o000);
    let d = Daemon::start_with(dir.path(), LINES, &logs, &extra, unprivileged(dir.path()));
    let errors = format!("logmill_log_errors_total{{logfile=\"{}\"}}", log.display());
    d.wait_for(|t| common::sample(t, &errors).unwrap_or(0.0) >= 5.0);
    chmod(&log, 0o644);
    let t = d.wait_for(|t| counter(t, "lines") == 50);
    std::thread::sleep(Duration::from_millis(300));
    let t2 = d.metrics();
    assert_eq!(counter(&t2, "lines"), 50, "{t}");
    assert_eq!(counter(&t2, "logmill_log_rotations_total"), 0, "{t2}");
    let log_text = d.stderr();
    assert_eq!(
        log_text.matches("Permission denied").count(),
        1,
        "{log_text}"
    );
    assert!(!log_text.contains("rotated"), "{log_text}");
    // A rotation to a file that cannot be opened yet: one rotation, once it opens.
    let old = dir.path().join("app.log.1");
    // The new file appears already unreadable: made aside, then renamed into place.
    let new = dir.path().join("app.log.new");
    std::fs::write(&new, "").unwrap();
    chmod(&new, 0o000);
    append(&new, numbered(150, 20));
    std::fs::rename(&log, &old).unwrap();
    std::fs::rename(&new, &log).unwrap();
    d.wait_for(|t| common::sample(t, &errors).unwrap_or(0.0) >= 10.0);
    chmod(&log, 0o644);
    let t = d.wait_for(|t| counter(t, "lines") == 70);
    assert_eq!(counter(&t, "logmill_log_rotations_total"), 1, "{t}");
    assert_eq!(counter(&d.stop_prometheus(), "lines"), 70);
}

/// Case 5: a symlinked directory gives a file many names under a glob; each line counts once.
#[test]
fn case5_symlinked_directories_read_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("a")).unwrap();
    std::os::unix::fs::symlink(".", logs.join("sub")).unwrap();
    std::os::unix::fs::symlink("a", logs.join("b")).unwrap();
    let app = logs.join("app.log");
    let inner = logs.join("a").join("x.log");
    std::fs::write(&app, "").unwrap();
    std::fs::write(&inner, "").unwrap();
    let deep = format!("{}/**/*.log", logs.display());
    let one = format!("{}/*/*.log", logs.display());
    let extra = ["--poll_interval=50ms", "--poll_log_interval=100ms"];
    let d = Daemon::start(dir.path(), LINES, &[&deep, &one], &extra);
    append(&app, numbered(0, 10));
    append(&inner, numbered(10, 7));
    d.wait_for(|t| counter(t, "lines") >= 17);
    std::thread::sleep(Duration::from_millis(400));
    // A file created later through the symlink is one file too.
    let late = logs.join("sub").join("late.log");
    append(&late, numbered(17, 3));
    std::thread::sleep(Duration::from_millis(400));
    append(&app, numbered(20, 5));
    d.wait_for(|t| counter(t, "lines") >= 25);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(counter(&d.stop_prometheus(), "lines"), 25);
}

/// Case 6: numbered rotations (logrotate without dateext) under `app.log*`: a rotated file
/// moving to the next number is not read again.
#[test]
fn case6_numbered_rotations_under_a_glob_read_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.log");
    std::fs::write(&app, "").unwrap();
    let pattern = format!("{}*", app.display());
    let extra = ["--poll_interval=50ms", "--poll_log_interval=100ms"];
    let d = Daemon::start(dir.path(), LINES, &[&pattern], &extra);
    let name = |n: usize| dir.path().join(format!("app.log.{n}"));
    let mut written = 0;
    for round in 0..4 {
        append(&app, numbered(written, 4 + round));
        written += 4 + round;
        d.wait_for(|t| counter(t, "lines") >= written as i64);
        for n in (1..=round).rev() {
            std::fs::rename(name(n), name(n + 1)).unwrap();
        }
        std::fs::rename(&app, name(1)).unwrap();
        std::fs::write(&app, "").unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    append(&app, numbered(written, 3));
    written += 3;
    d.wait_for(|t| counter(t, "lines") >= written as i64);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(counter(&d.stop_prometheus(), "lines"), written as i64);
}

/// Case 10: a broken program restored to the running text drops its stale error; the same
/// broken text coming back again is a new failure, logged and counted.
#[test]
fn case10_restored_program_clears_its_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let d = Daemon::start(dir.path(), LINES, &[log.to_str().unwrap()], &[]);
    let prog = d.progs.join("p.mtail");
    let errors = "logmill_prog_load_errors_total{prog=\"p.mtail\"}";
    for round in 1..=2 {
        std::fs::write(&prog, "counter lines\n/line/ {\n  lines++\n").unwrap();
        signal(d.pid(), libc::SIGHUP);
        d.wait_for(|t| common::sample(t, errors) == Some(f64::from(round)));
        std::fs::write(&prog, LINES).unwrap();
        signal(d.pid(), libc::SIGHUP);
        d.wait_log("restored to the running version");
    }
    append(&log, numbered(0, 5));
    d.wait_for(|t| counter(t, "lines") == 5);
}
