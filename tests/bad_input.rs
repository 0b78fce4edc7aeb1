//! Bad log input through the built daemon: a line far past `--max_line_length`, invalid UTF-8
//! and NUL bytes, a binary file, a followed file replaced by a directory, a named pipe whose
//! writer goes away and comes back. Each is data or a counted error; reading goes on.

mod common;

use common::{counter, sample, Daemon};
use std::io::Write;
use std::time::{Duration, Instant};

/// Counts lines by `getfilename()`.
const BY_FILE: &str = "counter lines by file\n/.*/ {\n  lines[getfilename()]++\n}\n";

fn lines_of(text: &str, file: &str) -> Option<f64> {
    sample(text, &format!("lines{{file=\"{file}\",prog=\"p.mtail\"}}"))
}

fn of(text: &str, metric: &str, file: &str) -> i64 {
    sample(text, &format!("{metric}{{logfile=\"{file}\"}}")).unwrap_or(0.0) as i64
}

fn append(path: &std::path::Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// A field of /proc/PID/status in kB (VmHWM, VmRSS).
fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap()
}

/// CPU time (user + system) of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of stat(5), counted from the state (field 3).
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn a_10_mb_line_is_cut_at_the_cap_counted_and_never_buffered_whole() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("big.log");
    std::fs::write(&log, b"").unwrap();
    let prog = "counter lines\ncounter cut\n/.*/ {\n  lines++\n}\n/^x{100}$/ {\n  cut++\n}\n";
    let name = log.to_str().unwrap();
    let d = Daemon::start(dir.path(), prog, &[name], &["--max_line_length=100"]);
    append(&log, b"short\n");
    d.wait_for(|t| counter(t, "lines") == 1);
    let before = status_kb(d.pid(), "VmRSS:");
    // 10 MB without a newline, written in pieces, then its newline and a short line.
    let piece = vec![b'x'; 1 << 20];
    for _ in 0..10 {
        append(&log, &piece);
    }
    std::thread::sleep(Duration::from_millis(600));
    append(&log, b"xx\nafter\n");
    // One write shows the store and the own counters at nearly the same moment: wait for both.
    let t = d
        .wait_for(|t| counter(t, "lines") == 3 && of(t, "logmill_log_long_lines_total", name) == 1);
    assert_eq!(counter(&t, "cut"), 1, "the program saw the first 100 bytes");
    assert_eq!(of(&t, "logmill_log_long_lines_total", name), 1);
    assert_eq!(of(&t, "logmill_log_errors_total", name), 0);
    let peak = status_kb(d.pid(), "VmHWM:");
    assert!(
        peak < before + 8 * 1024,
        "peak RSS {peak} kB, {before} kB before the 10 MB line"
    );
    d.stop_prometheus();
}

#[test]
fn one_shot_cuts_lines_at_the_same_cap() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("big.log");
    let mut text = vec![b'x'; 5000];
    text.extend_from_slice(b"\nok\n");
    std::fs::write(&log, text).unwrap();
    let prog = dir.path().join("p.mtail");
    std::fs::write(
        &prog,
        "counter lines\ncounter cut\n/.*/ {\n  lines++\n}\n/^x{100}$/ {\n  cut++\n}\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmill"))
        .arg("--progs")
        .arg(&prog)
        .arg(format!("--logs={}", log.display()))
        .args([
            "--one_shot",
            "--one_shot_format=prometheus",
            "--max_line_length=100",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(counter(&text, "lines"), 2, "{text}");
    assert_eq!(counter(&text, "cut"), 1, "{text}");
}

#[test]
fn invalid_utf8_and_nul_bytes_are_data() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("odd.log");
    std::fs::write(&log, b"").unwrap();
    let prog = "counter lines\ncounter ends_c\n/.*/ {\n  lines++\n}\n/c$/ {\n  ends_c++\n}\n";
    let name = log.to_str().unwrap();
    let d = Daemon::start(dir.path(), prog, &[name], &[]);
    append(
        &log,
        "a\u{e9}c \u{1f600}\n"
            .as_bytes()
            .iter()
            .chain(b"a\xff\xfe\xc3c\nb\0c\n\0\0\0\n\xed\xa0\x80\r\n")
            .copied()
            .collect::<Vec<u8>>()
            .as_slice(),
    );
    let t = d.wait_for(|t| {
        counter(t, "lines") == 5
            && of(t, "logmill_log_lines_total", name) == 5
            && of(t, "logmill_log_binary_lines_total", name) == 4
    });
    assert_eq!(counter(&t, "ends_c"), 2);
    assert_eq!(of(&t, "logmill_log_lines_total", name), 5);
    assert_eq!(
        of(&t, "logmill_log_binary_lines_total", name),
        4,
        "every line but the first is not text"
    );
    assert_eq!(of(&t, "logmill_log_errors_total", name), 0);
    d.stop_prometheus();
}

#[test]
fn a_binary_file_is_read_as_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bin.log");
    std::fs::write(&log, b"").unwrap();
    let name = log.to_str().unwrap();
    let d = Daemon::start(dir.path(), BY_FILE, &[name], &["--max_line_length=4096"]);
    let mut x = 0x9e3779b97f4a7c15u64;
    let bytes: Vec<u8> = (0..2 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    append(&log, &bytes);
    append(&log, b"\n");
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count() as f64 + 1.0;
    // Lines as logmill sees them: cut at the 4096-byte cap (the rest dropped).
    let binary = bytes
        .split(|&b| b == b'\n')
        .map(|l| &l[..l.len().min(4096)])
        .filter(|l| l.contains(&0) || std::str::from_utf8(l).is_err())
        .count() as i64;
    assert!(binary > 1000, "random bytes are mostly not text: {binary}");
    let t = d.wait_for(|t| {
        lines_of(t, name) == Some(newlines)
            && of(t, "logmill_log_lines_total", name) as f64 == newlines
            && of(t, "logmill_log_binary_lines_total", name) == binary
    });
    assert_eq!(of(&t, "logmill_log_lines_total", name) as f64, newlines);
    assert_eq!(of(&t, "logmill_log_binary_lines_total", name), binary);
    assert_eq!(of(&t, "logmill_log_errors_total", name), 0);
    d.stop_prometheus();
}

#[test]
fn a_file_replaced_by_a_directory_is_one_counted_error_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    std::fs::write(&a, b"").unwrap();
    std::fs::write(&b, b"").unwrap();
    let (an, bn) = (a.to_str().unwrap(), b.to_str().unwrap());
    let d = Daemon::start(dir.path(), BY_FILE, &[an, bn], &["--poll_interval=50ms"]);
    append(&a, b"1\n");
    d.wait_for(|t| lines_of(t, an) == Some(1.0));
    std::fs::remove_file(&a).unwrap();
    std::fs::create_dir(&a).unwrap();
    // Many polls go by with the directory in place.
    std::thread::sleep(Duration::from_millis(800));
    append(&b, b"1\n2\n");
    let t =
        d.wait_for(|t| lines_of(t, bn) == Some(2.0) && of(t, "logmill_log_errors_total", an) == 1);
    assert_eq!(of(&t, "logmill_log_errors_total", an), 1, "{t}");
    assert_eq!(of(&t, "logmill_log_errors_total", bn), 0);
    assert_eq!(d.stderr().matches("the path is a directory").count(), 1);
    // A file again at the path: read from its start.
    std::fs::remove_dir(&a).unwrap();
    append(&a, b"2\n3\n");
    d.wait_for(|t| lines_of(t, an) == Some(3.0));
    d.stop_prometheus();
}

#[test]
fn a_pipe_writer_that_goes_away_and_comes_back_loses_nothing_and_spins_not() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a path in our temp dir.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let name = fifo.to_str().unwrap();
    let d = Daemon::start(dir.path(), BY_FILE, &[name], &[]);
    {
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        w.write_all(b"a\nb\nhalf").unwrap();
    }
    d.wait_for(|t| lines_of(t, name) == Some(2.0));
    // No writer: logmill waits without spinning.
    let (t0, c0) = (Instant::now(), cpu_ticks(d.pid()));
    std::thread::sleep(Duration::from_secs(2));
    let ticks = cpu_ticks(d.pid()) - c0;
    let hz = 100.0;
    let share = ticks as f64 / hz / t0.elapsed().as_secs_f64();
    assert!(
        share < 0.1,
        "{share:.2} of a core used while the pipe has no writer"
    );
    // The writer comes back and finishes its half line.
    {
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        w.write_all(b" line\nc\n").unwrap();
    }
    let t = d.wait_for(|t| {
        lines_of(t, name) == Some(4.0) && of(t, "logmill_log_lines_total", name) == 4
    });
    assert_eq!(of(&t, "logmill_log_lines_total", name), 4);
    assert_eq!(of(&t, "logmill_log_errors_total", name), 0);
    d.stop_prometheus();
}
