//! The daemon end to end through the built binary: each source kind (named pipe, Unix stream and
//! datagram sockets, TCP, UDP, stdin, journald through a stand-in `journalctl`, a command),
//! program reload (change, broken change, delete, SIGHUP), checkpoints across a restart, and the
//! self-metrics. Metrics are read from `--metrics_file` (SIGUSR1), as a user without HTTP would.

mod common;

use common::{counter, sample, signal, Daemon};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Counts lines by `getfilename()`.
const BY_FILE: &str = "counter lines by file\n/.*/ {\n  lines[getfilename()]++\n}\n";

fn lines_of(text: &str, file: &str) -> Option<f64> {
    sample(text, &format!("lines{{file=\"{file}\",prog=\"p.mtail\"}}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn named_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a path in our temp dir.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let d = Daemon::start(dir.path(), BY_FILE, &[fifo.to_str().unwrap()], &[]);
    for batch in ["a\nb\n", "c\n"] {
        // Writers come and go; the pipe stays open in logmill.
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        w.write_all(batch.as_bytes()).unwrap();
    }
    let name = fifo.to_str().unwrap();
    d.wait_for(|t| lines_of(t, name) == Some(3.0));
    d.stop_prometheus();
}

#[test]
fn unix_stream_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let spec = format!("unix://{}", sock.display());
    let d = Daemon::start(dir.path(), BY_FILE, &[&spec], &[]);
    for _ in 0..2 {
        let mut c = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        // The last line has no newline: it ends with the connection.
        c.write_all(b"a\nb\nc").unwrap();
    }
    d.wait_for(|t| lines_of(t, &spec) == Some(6.0));
    d.stop_prometheus();
    assert!(!sock.exists(), "the socket file is removed at exit");
}

#[test]
fn unix_datagram_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("g.sock");
    let spec = format!("unixgram://{}", sock.display());
    let d = Daemon::start(dir.path(), BY_FILE, &[&spec], &[]);
    let c = std::os::unix::net::UnixDatagram::unbound().unwrap();
    c.send_to(b"one message", &sock).unwrap();
    c.send_to(b"two\nthree\n", &sock).unwrap();
    d.wait_for(|t| lines_of(t, &spec) == Some(3.0));
    d.stop_prometheus();
}

#[test]
fn tcp_and_udp() {
    let dir = tempfile::tempdir().unwrap();
    let (tp, up) = (free_port(), free_port());
    let tcp = format!("tcp://127.0.0.1:{tp}");
    let udp = format!("udp://127.0.0.1:{up}");
    let d = Daemon::start(dir.path(), BY_FILE, &[&tcp, &udp], &[]);
    let mut c = std::net::TcpStream::connect(("127.0.0.1", tp)).unwrap();
    c.write_all(b"x\ny\n").unwrap();
    drop(c);
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    u.send_to(b"datagram", ("127.0.0.1", up)).unwrap();
    d.wait_for(|t| lines_of(t, &tcp) == Some(2.0) && lines_of(t, &udp) == Some(1.0));
    d.stop_prometheus();
}

#[test]
fn stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::start_with(dir.path(), BY_FILE, &["-"], &[], |c| {
        c.stdin(std::process::Stdio::piped());
    });
    let mut input = d.child.stdin.take().unwrap();
    input.write_all(b"1\n2\n3").unwrap();
    drop(input);
    d.wait_for(|t| lines_of(t, "-") == Some(3.0));
    d.stop_prometheus();
}

/// A stand-in `journalctl` on PATH: it records its arguments, prints two entries (one MESSAGE
/// as bytes) and exits, so logmill restarts it after the last cursor.
#[test]
fn journald_through_journalctl() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let args = dir.path().join("args");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {}\nprintf '%s\\n' '{{\"MESSAGE\":\"hello\",\"__CURSOR\":\"c1\"}}' '{{\"MESSAGE\":[104,105],\"__CURSOR\":\"c2\"}}'\n",
        args.display()
    );
    let jc = bin.join("journalctl");
    std::fs::write(&jc, script).unwrap();
    std::fs::set_permissions(&jc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let program = "counter hello\ncounter hi\n/^hello$/ {\n  hello++\n}\n/^hi$/ {\n  hi++\n}\n";
    let d = Daemon::start_with(dir.path(), program, &["journald:ssh.service"], &[], |c| {
        c.env("PATH", &path);
    });
    let t = d.wait_for(|t| counter(t, "hello") >= 2 && counter(t, "hi") >= 2);
    assert!(
        sample(
            &t,
            "logmill_journald_restarts_total{logfile=\"journald:ssh.service\"}"
        )
        .unwrap()
            >= 1.0
    );
    d.stop_prometheus();
    let calls = std::fs::read_to_string(&args).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert!(
        calls[0].contains("--follow --output=json --unit ssh.service --lines=0"),
        "{calls:?}"
    );
    assert!(calls[1].ends_with("--after-cursor=c2"), "{calls:?}");
}

#[test]
fn command_source_counts_lines_and_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "cmd:100ms:seq 3; exit 3";
    // Output lines by source; the line closing each run by its status.
    let prog = "counter lines by file\ncounter ends by status\n/^#logmill command-exit status=(?P<s>\\S+)$/ {\n  ends[$s]++\n  stop\n}\n/.*/ {\n  lines[getfilename()]++\n}\n";
    let d = Daemon::start(dir.path(), prog, &[spec], &[]);
    let runs = format!("logmill_command_runs_total{{logfile=\"{spec}\",status=\"3\"}}");
    let ends = "ends{prog=\"p.mtail\",status=\"3\"}";
    let t = d.wait_for(|t| sample(t, ends).is_some_and(|n| n >= 2.0));
    let n = sample(&t, ends).unwrap();
    let lines = lines_of(&t, spec).unwrap();
    assert!(
        lines >= 3.0 * n && lines <= 3.0 * (n + 1.0),
        "{lines} lines, {n} runs"
    );
    let counted = sample(&t, &runs).unwrap();
    assert!(
        counted >= n,
        "{counted} runs counted, {n} seen by the program"
    );
    d.stop_prometheus();
}

fn write_prog(dir: &Path, text: &str) {
    // Write beside, then rename: a reload never sees half a program.
    let tmp = dir.join(".p.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, dir.join("p.mtail")).unwrap();
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

const V1: &str = "counter a\n/x/ {\n  a++\n}\n";
const V2: &str = "counter a\ncounter b\n/x/ {\n  a++\n  b++\n}\n";

#[test]
fn reload_on_change_keeps_counting_and_inherits_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    std::fs::write(&log, "").unwrap();
    let d = Daemon::start(dir.path(), V1, &[log.to_str().unwrap()], &[]);
    append(&log, "x\nx\n");
    d.wait_for(|t| counter(t, "a") == 2);
    write_prog(&d.progs, V2);
    d.wait_for(|t| t.contains("\nb{"));
    append(&log, "x\n");
    let t = d.wait_for(|t| counter(t, "b") == 1);
    assert_eq!(counter(&t, "a"), 3, "a kept its count across the reload");
    assert_eq!(
        sample(&t, "logmill_prog_loads_total{prog=\"p.mtail\"}"),
        Some(2.0)
    );
    d.stop_prometheus();
}

#[test]
fn broken_change_keeps_the_old_program_running() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    std::fs::write(&log, "").unwrap();
    let d = Daemon::start(dir.path(), V1, &[log.to_str().unwrap()], &[]);
    write_prog(&d.progs, "counter a\n/x/ {\n  nosuch++\n}\n");
    d.wait_for(|t| sample(t, "logmill_prog_load_errors_total{prog=\"p.mtail\"}") == Some(1.0));
    assert!(d.stderr().contains("compile failed for p.mtail"));
    append(&log, "x\n");
    d.wait_for(|t| counter(t, "a") == 1);
    d.stop_prometheus();
}

#[test]
fn a_program_exporting_a_metric_with_another_kind_is_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    std::fs::write(&log, "").unwrap();
    let d = Daemon::start(dir.path(), V1, &[log.to_str().unwrap()], &[]);
    std::fs::write(d.progs.join("q.mtail"), "gauge a\n/x/ {\n  a = 5\n}\n").unwrap();
    d.wait_for(|t| sample(t, "logmill_prog_load_errors_total{prog=\"q.mtail\"}") == Some(1.0));
    assert!(d
        .stderr()
        .contains("metric `a' has different kind (gauge) than in p.mtail (counter)"));
    append(&log, "x\n");
    d.wait_for(|t| counter(t, "a") == 1);
    d.stop_prometheus();
}

#[test]
fn several_programs_share_large_batches_across_cores_and_count_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    std::fs::write(&log, "").unwrap();
    let d = Daemon::start(
        dir.path(),
        "counter a\n/x/ {\n  a++\n}\n",
        &[log.to_str().unwrap()],
        &[],
    );
    for name in ["q", "r"] {
        let prog = format!("counter {name}\n/x (?P<n>\\d+)/ {{\n  {name} += $n - $n + 1\n}}\n");
        std::fs::write(d.progs.join(format!("{name}.mtail")), prog).unwrap();
    }
    d.wait_for(|t| t.contains("\nq{") && t.contains("\nr{"));
    let body: String = (0..30_000).map(|i| format!("x {i}\n")).collect();
    append(&log, &body);
    d.wait_for(|t| {
        counter(t, "a") == 30_000 && counter(t, "q") == 30_000 && counter(t, "r") == 30_000
    });
    d.stop_prometheus();
}

#[test]
fn deleted_program_is_unloaded() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    std::fs::write(&log, "").unwrap();
    let d = Daemon::start(dir.path(), V1, &[log.to_str().unwrap()], &[]);
    std::fs::write(d.progs.join("other.mtail"), "counter o\n/x/ {\n  o++\n}\n").unwrap();
    d.wait_for(|t| t.contains("\no{"));
    std::fs::remove_file(d.progs.join("p.mtail")).unwrap();
    let t = d.wait_for(|t| sample(t, "logmill_prog_unloads_total{prog=\"p.mtail\"}") == Some(1.0));
    assert!(!t.contains("\na{"), "{t}");
    append(&log, "x\n");
    d.wait_for(|t| counter(t, "o") == 1);
    d.stop_prometheus();
}

#[test]
fn sighup_reloads_without_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    std::fs::write(&log, "").unwrap();
    let d = Daemon::start(
        dir.path(),
        V1,
        &[log.to_str().unwrap()],
        &["--disable_fsnotify"],
    );
    write_prog(&d.progs, V2);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!d.metrics().contains("\nb{"), "reloaded without SIGHUP");
    signal(d.pid(), libc::SIGHUP);
    d.wait_for(|t| t.contains("\nb{"));
    d.stop_prometheus();
}

#[test]
fn checkpoint_resumes_without_loss_or_double_count() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    let ckpt = dir.path().join("ckpt");
    std::fs::write(&log, "x\nx\nx\n").unwrap();
    let logs = [log.to_str().unwrap()];
    let flags = [
        "--logs_from_start",
        "--checkpoint_dir",
        ckpt.to_str().unwrap(),
    ];
    let d = Daemon::start(dir.path(), V1, &logs, &flags);
    d.wait_for(|t| counter(t, "a") == 3);
    let t = d.stop_prometheus();
    assert_eq!(counter(&t, "a"), 3);
    // Written while logmill is down, with a half line that is finished later.
    append(&log, "x\nx\nx");
    let d = Daemon::start(dir.path(), V1, &logs, &flags);
    d.wait_for(|t| counter(t, "a") == 2);
    append(&log, "\n");
    d.wait_for(|t| counter(t, "a") == 3);
    let saved = std::fs::read_to_string(ckpt.join("logmill.checkpoint.json")).unwrap();
    assert!(saved.contains(log.to_str().unwrap()), "{saved}");
    d.stop_prometheus();
}

#[test]
fn self_metrics_count_lines_bytes_runtime_errors_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    std::fs::write(&log, "").unwrap();
    let program = "counter n\n/^(?P<v>.*)$/ {\n  n += strtol($v, 10)\n}\n";
    let d = Daemon::start(dir.path(), program, &[log.to_str().unwrap()], &[]);
    append(&log, "12\njunk\n");
    let file = log.to_str().unwrap();
    // One write gathers the own metrics one collector after the other while the feeder runs
    // (the histogram may be read before a batch, the line counter after): wait for them all.
    let t = d.wait_for(|t| {
        sample(t, &format!("logmill_log_lines_total{{logfile=\"{file}\"}}")) == Some(2.0)
            && sample(t, &format!("logmill_log_bytes_total{{logfile=\"{file}\"}}")) == Some(6.0)
            && sample(t, "logmill_prog_runtime_errors_total{prog=\"p.mtail\"}") == Some(1.0)
            && sample(
                t,
                "logmill_vm_line_processing_duration_seconds_count{prog=\"p.mtail\"}",
            ) == Some(2.0)
            && counter(t, "n") == 12
    });
    assert_eq!(
        sample(
            &t,
            &format!("logmill_log_bytes_total{{logfile=\"{file}\"}}")
        ),
        Some(6.0)
    );
    assert_eq!(sample(&t, "logmill_lines_total"), Some(2.0));
    assert_eq!(
        sample(&t, "logmill_prog_runtime_errors_total{prog=\"p.mtail\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &t,
            "logmill_vm_line_processing_duration_seconds_count{prog=\"p.mtail\"}"
        ),
        Some(2.0)
    );
    assert_eq!(counter(&t, "n"), 12);
    d.stop_prometheus();
}

#[test]
fn del_after_expires_each_series_when_it_is_due_not_at_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("l.log");
    std::fs::write(&log, "").unwrap();
    // The line's time (`settime`) is the series' time, so each expiry is known in advance.
    let program = "counter seen by k\n\
                   /^(?P<t>\\d+) (?P<k>\\S+)$/ {\n  settime($t)\n  seen[$k]++\n  del seen[$k] after 10s\n}\n";
    // The periodic sweep is an hour away: only the expiry timer can remove anything.
    let flags = ["--expired_metrics_gc_interval=1h"];
    let d = Daemon::start(dir.path(), program, &[log.to_str().unwrap()], &flags);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // `soon` expires 10 s after now - 4, `later` 10 s after now + 6.
    let (soon_due, later_due) = (now + 6, now + 16);
    append(&log, &format!("{} soon\n{} later\n", now - 4, now + 6));
    let present = |t: &str, k: &str| sample(t, &format!("seen{{k=\"{k}\",prog=\"p.mtail\"}}"));
    d.wait_for(|t| present(t, "soon").is_some() && present(t, "later").is_some());
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let t = d.wait_for(|t| present(t, "soon").is_none());
    assert!(unix_now() >= soon_due as f64, "removed before its expiry");
    assert_eq!(present(&t, "later"), Some(1.0), "not due yet:\n{t}");
    d.wait_for(|t| present(t, "later").is_none());
    assert!(unix_now() >= later_due as f64, "removed before its expiry");
    d.stop_prometheus();
}

#[test]
fn log_filter_restricts_a_program_to_the_logs_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    std::fs::write(&a, "").unwrap();
    std::fs::write(&b, "").unwrap();
    let prog = format!("log_filter {:?}\n{BY_FILE}", a.to_str().unwrap());
    let d = Daemon::start(
        dir.path(),
        &prog,
        &[a.to_str().unwrap(), b.to_str().unwrap()],
        &[],
    );
    append(&b, "1\n2\n3\n");
    append(&a, "1\n2\n");
    // Every line of b was read (logmill counts it) but the program saw none of them.
    let t = d.wait_for(|t| {
        lines_of(t, a.to_str().unwrap()) == Some(2.0)
            && sample(t, "logmill_lines_total") == Some(5.0)
    });
    assert_eq!(lines_of(&t, b.to_str().unwrap()), None, "{t}");
    d.stop_prometheus();
}

/// glog's destination flags: `--log_dir` writes logmill.log there and stderr keeps only
/// errors; `--alsologtostderr` keeps everything on stderr too.
#[test]
fn log_dir_takes_the_log_and_stderr_keeps_only_errors() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("glog");
    std::fs::create_dir(&logs).unwrap();
    let log_dir = format!("--log_dir={}", logs.display());
    let prog = "counter n\n/x/ {\n  n++\n}\n";
    // With --alsologtostderr both get every event.
    let applog = dir.path().join("app.log");
    std::fs::write(&applog, "x\n").unwrap();
    let applog = applog.to_str().unwrap();
    let d = Daemon::start(
        dir.path(),
        prog,
        &[applog],
        &[&log_dir, "--alsologtostderr"],
    );
    d.stop_prometheus();
    let file = std::fs::read_to_string(logs.join("logmill.log")).unwrap();
    assert!(file.contains("logmill running"), "{file}");
    assert!(!file.contains("\x1b["), "no colours in a file: {file}");

    // Alone, --log_dir leaves stderr to errors.
    std::fs::remove_file(logs.join("logmill.log")).unwrap();
    let progs = dir.path().join("progs");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_logmill"))
        .arg("--progs")
        .arg(&progs)
        .args(["--port=0", "--logs", applog, &log_dir])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !std::fs::read_to_string(logs.join("logmill.log"))
        .unwrap_or_default()
        .contains("logmill running")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing in logmill.log"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    common::signal(child.id(), libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("INFO"), "{stderr}");
}
