//! Pushes end to end: the logmill binary as a daemon with mtail's push flags, pushing every
//! second to receivers in the test (graphite: a TCP listener, statsd: a UDP socket, collectd: a
//! Unix socket answering `0 Success` per line). Each push must equal Debian mtail's capture in
//! `../shared/push/reference/expected/` line by line (order aside), normalised as its
//! `pushes.py` does (times of this run → `NOW`, the host → `HOST`). Then the failures: no
//! receiver, a collectd that closes mid-push, a receiver that never reads.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{get, wait_for, Target};

fn reference() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/push/reference")
}

/// The reference corpus, or `None` (said once; a failure under `CI=true`).
fn corpus() -> Option<PathBuf> {
    let dir = reference();
    if dir.join("examples.txt").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing under CI",
        dir.display()
    );
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!(
            "SKIPPED: the push reference {} is missing (mtail's captures, ../shared/push)",
            dir.display()
        )
    });
    None
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname(2) writes at most buf.len() bytes into our buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(r, 0);
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// What the receivers got: per push (a connection, or a run of datagrams from one port), its
/// bytes, in arrival order.
#[derive(Default)]
struct Received {
    graphite: Vec<Vec<u8>>,
    statsd: Vec<(u16, Vec<Vec<u8>>)>,
    collectd: Vec<Vec<u8>>,
}

/// The three receivers, recording into `Received` until the test ends.
struct Receivers {
    graphite: u16,
    statsd: u16,
    collectd: PathBuf,
    got: Arc<Mutex<Received>>,
}

impl Receivers {
    fn start(dir: &Path) -> Receivers {
        let got = Arc::new(Mutex::new(Received::default()));
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let graphite = tcp.local_addr().unwrap().port();
        let g = Arc::clone(&got);
        std::thread::spawn(move || {
            for conn in tcp.incoming() {
                let Ok(mut conn) = conn else { return };
                let g = Arc::clone(&g);
                std::thread::spawn(move || {
                    let mut bytes = Vec::new();
                    let _ = conn.read_to_end(&mut bytes);
                    g.lock().unwrap().graphite.push(bytes);
                });
            }
        });
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let statsd = udp.local_addr().unwrap().port();
        let g = Arc::clone(&got);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                let mut r = g.lock().unwrap();
                match r.statsd.last_mut() {
                    Some((port, push)) if *port == from.port() => push.push(buf[..n].to_vec()),
                    _ => r.statsd.push((from.port(), vec![buf[..n].to_vec()])),
                }
            }
        });
        let collectd = dir.join("collectd.sock");
        let unix = std::os::unix::net::UnixListener::bind(&collectd).unwrap();
        let g = Arc::clone(&got);
        std::thread::spawn(move || {
            for conn in unix.incoming() {
                let Ok(mut conn) = conn else { return };
                let g = Arc::clone(&g);
                std::thread::spawn(move || {
                    let (mut bytes, mut buf) = (Vec::new(), [0u8; 4096]);
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        bytes.extend_from_slice(&buf[..n]);
                        let answers = buf[..n].iter().filter(|&&b| b == b'\n').count();
                        let ok = "0 Success: 1 value has been dispatched.\n".repeat(answers);
                        let _ = conn.write_all(ok.as_bytes());
                    }
                    g.lock().unwrap().collectd.push(bytes);
                });
            }
        });
        Receivers {
            graphite,
            statsd,
            collectd,
            got,
        }
    }

    fn flags(&self) -> Vec<String> {
        vec![
            format!("--graphite_host_port=127.0.0.1:{}", self.graphite),
            format!("--statsd_hostport=127.0.0.1:{}", self.statsd),
            format!("--collectd_socketpath={}", self.collectd.display()),
        ]
    }

    /// Every push received so far of one kind, as lines.
    fn pushes(&self, kind: &str) -> Vec<Vec<String>> {
        let r = self.got.lock().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match kind {
            "graphite" => r.graphite.iter().map(|b| split(&text(b))).collect(),
            "collectd" => r.collectd.iter().map(|b| split(&text(b))).collect(),
            _ => r
                .statsd
                .iter()
                .map(|(_, ds)| ds.iter().map(|d| text(d)).collect())
                .collect(),
        }
    }
}

fn split(text: &str) -> Vec<String> {
    text.split_terminator('\n').map(str::to_string).collect()
}

/// `pushes.py`'s normalisation: a time within the run → `NOW`, this host → `HOST`, sorted.
fn normalise(kind: &str, lines: &[String], t0: i64, t1: i64, host: &str) -> Vec<String> {
    let ts = |t: &str| match t.parse::<i64>() {
        Ok(v) if t0 - 1 <= v && v <= t1 + 1 => "NOW".to_string(),
        _ => t.to_string(),
    };
    let mut out: Vec<String> = lines
        .iter()
        .map(|l| match kind {
            "graphite" => match l.rsplit_once(' ') {
                Some((head, t)) => format!("{head} {}", ts(t)),
                None => l.clone(),
            },
            "collectd" => {
                let host_part = format!("PUTVAL \"{host}/");
                let l = match l.strip_prefix(&host_part) {
                    Some(rest) => format!("PUTVAL \"HOST/{rest}"),
                    None => l.clone(),
                };
                match l
                    .rsplit_once(' ')
                    .and_then(|(h, tv)| Some((h, tv.split_once(':')?)))
                {
                    Some((head, (t, v))) => format!("{head} {}:{v}", ts(t)),
                    None => l,
                }
            }
            _ => l.clone(),
        })
        .collect();
    out.sort();
    out
}

/// The logmill binary as a daemon; SIGTERM and reaped on drop.
struct Logmill {
    child: std::process::Child,
    http: PathBuf,
}

impl Logmill {
    fn start(dir: &Path, prog: &Path, log: &Path, flags: &[String]) -> Logmill {
        let http = dir.join("http.sock");
        let stderr = std::fs::File::create(dir.join("logmill.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_logmill"))
            .arg("--progs")
            .arg(prog)
            .arg("--logs")
            .arg(log)
            .arg("--logs_from_start")
            .arg("--unix_socket")
            .arg(&http)
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start logmill");
        Logmill { child, http }
    }

    fn metrics(&self) -> Option<String> {
        if !self.http.exists() {
            return None;
        }
        let r = get(&Target::Unix(self.http.clone()), "/metrics", &[]);
        (r.status == 200).then_some(r.body)
    }

    /// SIGTERM, then the exit status (killed after 10 s).
    fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Logmill {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const KINDS: [&str; 3] = ["graphite", "statsd", "collectd"];

/// Run one example; for each kind, `Ok` or what the last push looked like against the reference.
fn run_example(dir: &Path, reference: &Path, line: &str) -> Vec<(String, Result<(), String>)> {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap().to_string();
    let prog = reference.join(words.next().unwrap());
    let log = reference.join(words.next().unwrap());
    let extra: Vec<String> = words.map(str::to_string).collect();
    let dir = dir.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let receivers = Receivers::start(&dir);
    let mut flags = receivers.flags();
    // 1 s, as in the captures: collectd lines carry the interval in whole seconds.
    flags.push("--metric_push_interval=1s".into());
    flags.extend(extra);
    let t0 = now_secs();
    let mut logmill = Logmill::start(&dir, &prog, &log, &flags);
    let host = hostname();
    let expected: BTreeMap<&str, Vec<String>> = KINDS
        .iter()
        .map(|k| {
            let text = std::fs::read_to_string(reference.join(format!("expected/{name}.{k}")))
                .unwrap_or_else(|e| panic!("expected/{name}.{k}: {e}"));
            (*k, split(&text))
        })
        .collect();
    // Pushes come every second: wait until one of each kind equals the reference.
    let matches = |kind: &str| {
        let t1 = now_secs();
        receivers
            .pushes(kind)
            .iter()
            .any(|p| normalise(kind, p, t0, t1, &host) == expected[kind])
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !KINDS.iter().all(|k| matches(k)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = logmill.stop();
    let t1 = now_secs();
    KINDS
        .iter()
        .map(|&kind| {
            let result = if matches(kind) {
                Ok(())
            } else {
                let pushes = receivers.pushes(kind);
                let last = pushes.last().map(|p| normalise(kind, p, t0, t1, &host));
                Err(format!(
                    "{} pushes (logmill {status}); the last:\n  {}\nexpected:\n  {}",
                    pushes.len(),
                    last.unwrap_or_default().join("\n  "),
                    expected[kind].join("\n  ")
                ))
            };
            (format!("{name}.{kind}"), result)
        })
        .collect()
}

#[test]
fn pushes_equal_mtails_lines() {
    let Some(reference) = corpus() else { return };
    let examples = std::fs::read_to_string(reference.join("examples.txt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let results: Vec<(String, Result<(), String>)> = std::thread::scope(|s| {
        let runs: Vec<_> = examples
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (dir, reference) = (dir.path(), &reference);
                s.spawn(move || run_example(dir, reference, l))
            })
            .collect();
        runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
    });
    let passed = results.iter().filter(|(_, r)| r.is_ok()).count();
    for (name, r) in &results {
        match r {
            Ok(()) => println!("ok {name}"),
            Err(e) => println!("FAILED {name}: {e}"),
        }
    }
    println!("push: passed {passed}/{}", results.len());
    assert_eq!(passed, results.len(), "pushes differ from mtail's");
    assert_eq!(results.len(), 12, "4 examples × 3 receivers");
}

/// The value of the sample `series` (name and labels as printed) in a scrape.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn errors(body: &str, target: &str, reason: &str) -> f64 {
    let series = format!("logmill_push_errors_total{{reason=\"{reason}\",target=\"{target}\"}}");
    sample(body, &series).unwrap_or(0.0)
}

/// Counts lines, one series per distinct line: enough series to fill a socket buffer.
const BY_LINE: &str = "counter lines_total\ncounter seen by line\n/^(?P<l>.+)$/ {\n  lines_total++\n  seen[$l]++\n}\n";

fn write_prog(dir: &Path) -> PathBuf {
    let prog = dir.join("by_line.mtail");
    std::fs::write(&prog, BY_LINE).unwrap();
    prog
}

fn append(log: &Path, from: usize, to: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let text: String = (from..to)
        .map(|i| format!("a line long enough to make the pushed lines long {i}\n"))
        .collect();
    f.write_all(text.as_bytes()).unwrap();
}

fn lines_total(body: &str) -> Option<f64> {
    sample(body, "lines_total{prog=\"by_line.mtail\"}")
}

/// A scrape, timed.
fn timed_metrics(l: &Logmill) -> Option<(String, Duration)> {
    let t = Instant::now();
    let body = l.metrics()?;
    Some((body, t.elapsed()))
}

#[test]
fn without_receivers_errors_are_counted_and_lines_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    append(&log, 0, 10);
    let closed = support::free_port();
    let flags = [
        format!("--graphite_host_port=127.0.0.1:{closed}"),
        format!("--statsd_hostport=127.0.0.1:{closed}"),
        format!(
            "--collectd_socketpath={}",
            dir.path().join("none.sock").display()
        ),
        "--metric_push_interval=200ms".to_string(),
    ];
    let mut l = Logmill::start(dir.path(), &write_prog(dir.path()), &log, &flags);
    wait_for(Duration::from_secs(30), "dial errors counted", || {
        let body = l.metrics()?;
        (errors(&body, "graphite", "dial") >= 2.0 && errors(&body, "collectd", "dial") >= 2.0)
            .then_some(())
    });
    append(&log, 10, 30);
    let body = wait_for(Duration::from_secs(30), "the new lines counted", || {
        let body = l.metrics()?;
        (lines_total(&body) == Some(30.0)).then_some(body)
    });
    let pushes = sample(&body, "logmill_pushes_total{target=\"statsd\"}").unwrap();
    assert!(pushes >= 2.0, "statsd pushes go on: {pushes}");
    assert!(l.stop().success());
    let text = std::fs::read_to_string(dir.path().join("logmill.log")).unwrap();
    let logged = text.matches("push to graphite").count();
    assert_eq!(logged, 1, "one log line a minute per target:\n{text}");
}

#[test]
fn a_collectd_that_closes_mid_push_blocks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    // ~60 bytes a series, 20 000 series: a push far larger than a socket buffer.
    append(&log, 0, 20_000);
    let sock = dir.path().join("closer.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = [0u8; 100];
            let _ = conn.read(&mut buf);
            drop(conn);
        }
    });
    let flags = [
        format!("--collectd_socketpath={}", sock.display()),
        "--metric_push_interval=300ms".to_string(),
    ];
    let mut l = Logmill::start(dir.path(), &write_prog(dir.path()), &log, &flags);
    wait_for(Duration::from_secs(60), "write errors counted", || {
        let body = l.metrics()?;
        (errors(&body, "collectd", "write") >= 3.0).then_some(())
    });
    append(&log, 20_000, 20_010);
    wait_for(
        Duration::from_secs(30),
        "lines counted after failed pushes",
        || {
            let (body, took) = timed_metrics(&l)?;
            assert!(took < Duration::from_secs(1), "a scrape took {took:?}");
            (lines_total(&body) == Some(20_010.0)).then_some(())
        },
    );
    let status = l.stop();
    assert!(status.success(), "{status}");
}

#[test]
fn a_receiver_that_never_reads_ends_the_push_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    append(&log, 0, 20_000);
    let sock = dir.path().join("mute.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = Arc::clone(&held);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            h.lock().unwrap().push(conn);
        }
    });
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let tcp_held = Arc::new(Mutex::new(Vec::new()));
    let th = Arc::clone(&tcp_held);
    std::thread::spawn(move || {
        for conn in tcp.incoming().flatten() {
            th.lock().unwrap().push(conn);
        }
    });
    let flags = [
        format!("--collectd_socketpath={}", sock.display()),
        format!("--graphite_host_port=127.0.0.1:{port}"),
        "--metric_push_interval=1s".to_string(),
        "--metric_push_write_deadline=300ms".to_string(),
    ];
    let mut l = Logmill::start(dir.path(), &write_prog(dir.path()), &log, &flags);
    let body = wait_for(Duration::from_secs(60), "timeouts counted", || {
        let (body, took) = timed_metrics(&l)?;
        assert!(took < Duration::from_secs(1), "a scrape took {took:?}");
        (errors(&body, "collectd", "timeout") >= 2.0).then_some(body)
    });
    // Nothing piles up: one push at a time, each abandoned at its deadline.
    let pushes = sample(&body, "logmill_pushes_total{target=\"collectd\"}").unwrap();
    let timeouts = errors(&body, "collectd", "timeout");
    assert!(
        pushes - timeouts <= 1.0,
        "{pushes} pushes, {timeouts} timeouts"
    );
    assert!(held.lock().unwrap().len() >= 2, "a new connection per push");
    let t = Instant::now();
    assert!(l.stop().success());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        t.elapsed()
    );
}

#[test]
fn no_push_at_shutdown_nor_in_one_shot() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    append(&log, 0, 5);
    let receivers = Receivers::start(dir.path());
    let mut flags = receivers.flags();
    flags.push("--metric_push_interval=1h".into());
    let prog = write_prog(dir.path());
    let mut l = Logmill::start(dir.path(), &prog, &log, &flags);
    wait_for(Duration::from_secs(30), "the lines counted", || {
        (lines_total(&l.metrics()?) == Some(5.0)).then_some(())
    });
    assert!(l.stop().success());
    let out = Command::new(env!("CARGO_BIN_EXE_logmill"))
        .arg("--progs")
        .arg(&prog)
        .arg("--logs")
        .arg(&log)
        .arg("--one_shot")
        .args(&flags)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::thread::sleep(Duration::from_millis(300));
    for kind in KINDS {
        assert_eq!(receivers.pushes(kind).len(), 0, "{kind} got a push");
    }
}

// Real receivers: carbon (graphite-carbon), etsy statsd (npm) and collectd (unixsock), each
// fed by logmill pushing `kinds` every second; what they stored is read back with their tools.

/// logmill running `kinds` from the reference with push `flags` (1 s interval).
fn kinds_daemon(dir: &Path, reference: &Path, flags: &[String]) -> Logmill {
    let mut flags = flags.to_vec();
    flags.push("--metric_push_interval=1s".into());
    Logmill::start(
        dir,
        &reference.join("progs/kinds.mtail"),
        &reference.join("logs/kinds.log"),
        &flags,
    )
}

/// A child process with its output in `dir/<name>.out`, killed on drop.
fn spawn(dir: &Path, name: &str, cmd: &mut Command) -> support::Child {
    let out = std::fs::File::create(dir.join(format!("{name}.out"))).unwrap();
    let err = out.try_clone().unwrap();
    support::Child(
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}")),
    )
}

fn wait_tcp(port: u16, what: &str) {
    wait_for(Duration::from_secs(60), what, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
}

#[test]
fn carbon_stores_what_logmill_pushes() {
    let Some(reference) = corpus() else { return };
    let Some(carbon) = support::tool("carbon-cache (graphite-carbon)", &["/usr/bin/carbon-cache"])
    else {
        return;
    };
    let Some(fetch) = support::tool(
        "whisper-fetch (python3-whisper)",
        &["/usr/bin/whisper-fetch"],
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (line, pickle, query) = (
        support::free_port(),
        support::free_port(),
        support::free_port(),
    );
    let conf = format!(
        "[cache]\nSTORAGE_DIR = {d}/storage/\nLOCAL_DATA_DIR = {d}/storage/whisper/\n\
         CONF_DIR = {d}/\nLOG_DIR = {d}/log/\nPID_DIR = {d}/\nDATABASE = whisper\n\
         ENABLE_LOGROTATION = False\nUSER =\nENABLE_TAGS = False\nMAX_CACHE_SIZE = inf\n\
         MAX_UPDATES_PER_SECOND = 10000\nMAX_CREATES_PER_MINUTE = 10000\n\
         LINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = {line}\n\
         ENABLE_UDP_LISTENER = False\nPICKLE_RECEIVER_INTERFACE = 127.0.0.1\n\
         PICKLE_RECEIVER_PORT = {pickle}\nCACHE_QUERY_INTERFACE = 127.0.0.1\n\
         CACHE_QUERY_PORT = {query}\nWHISPER_AUTOFLUSH = True\n",
        d = d.display()
    );
    std::fs::create_dir_all(d.join("storage/whisper")).unwrap();
    std::fs::create_dir_all(d.join("log")).unwrap();
    std::fs::write(d.join("carbon.conf"), conf).unwrap();
    std::fs::write(
        d.join("storage-schemas.conf"),
        "[default]\npattern = .*\nretentions = 1s:2h\n",
    )
    .unwrap();
    let _carbon = spawn(
        d,
        "carbon",
        Command::new(carbon)
            .arg("--nodaemon")
            .arg(format!("--config={}/carbon.conf", d.display()))
            .arg(format!("--pidfile={}/carbon.pid", d.display()))
            .arg(format!("--logdir={}/log", d.display()))
            .arg("start"),
    );
    wait_tcp(line, "carbon's line receiver");
    let t0 = now_secs();
    let mut l = kinds_daemon(
        d,
        &reference,
        &[format!("--graphite_host_port=127.0.0.1:{line}")],
    );
    let whisper = d.join("storage/whisper/kinds/mtail");
    // A series' stored values since the start (whisper-fetch prints `time value`).
    let stored = |path: &str| -> Vec<String> {
        let file = whisper.join(format!("{path}.wsp"));
        if !file.exists() {
            return Vec::new();
        }
        let out = Command::new(&fetch)
            .arg(format!("--from={}", t0 - 5))
            .arg(&file)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|v| *v != "None")
            .map(str::to_string)
            .collect()
    };
    // Each label set its own buckets: code 500 saw one value, above the last bound (mtail
    // stores code 200's 2 here).
    let want = [
        ("plain", "4.000000"),
        ("ratio", "0.250000"),
        ("bigint", "12345678901.000000"),
        ("temperature/sensor/s-1_a", "0.100000"),
        ("requests_total/method/POST/path/api/v1/a-b", "1.000000"),
        ("resp_size/code/200", "7.250000"),
        ("resp_size/code/200/bin_0/5", "1.000000"),
        ("resp_size/code/200/count", "2.000000"),
        ("resp_size/code/500/count", "1.000000"),
        ("resp_size/code/500/bin_inf", "1.000000"),
        ("resp_size/code/404/bin_1000", "1.000000"),
    ];
    wait_for(
        Duration::from_secs(60),
        "carbon to store the pushes",
        || {
            want.iter()
                .all(|(path, v)| stored(path).iter().any(|s| s == v))
                .then_some(())
        },
    );
    for (path, v) in want {
        let got = stored(path);
        assert!(got.iter().all(|s| s == v), "{path}: {got:?}, want {v}");
    }
    assert!(l.stop().success());
    let body = std::fs::read_to_string(d.join("logmill.log")).unwrap();
    assert!(
        !body.contains("push to graphite"),
        "no push failed:\n{body}"
    );
}

/// A management command to statsd (`gauges`, `counters`, `timers`), its answer up to `END`.
fn statsd_admin(port: u16, command: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("{command}\n").as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while !String::from_utf8_lossy(&out).contains("END") {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `'name': value` from statsd's printed object.
fn statsd_value(text: &str, name: &str) -> Option<String> {
    let at = text.find(&format!("'{name}': "))? + name.len() + 4;
    let rest = &text[at..];
    let end = rest.find([',', '\n', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_string())
}

#[test]
fn statsd_takes_what_logmill_pushes() {
    let Some(reference) = corpus() else { return };
    let Some(statsd) = support::tool(
        "statsd (npm install -g statsd)",
        &["/usr/bin/statsd", "/usr/local/bin/statsd"],
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let admin = support::free_port();
    // No flush during the test: counters add up every push.
    let conf = format!(
        "{{ port: {udp}, address: \"127.0.0.1\", mgmt_port: {admin}, mgmt_address: \"127.0.0.1\", \
         backends: [\"./backends/console\"], flushInterval: 3600000 }}\n"
    );
    std::fs::write(d.join("config.js"), conf).unwrap();
    let _statsd = spawn(d, "statsd", Command::new(statsd).arg(d.join("config.js")));
    wait_tcp(admin, "statsd's management port");
    let mut l = kinds_daemon(
        d,
        &reference,
        &[format!("--statsd_hostport=127.0.0.1:{udp}")],
    );
    let counters = wait_for(Duration::from_secs(60), "two pushes in statsd", || {
        let c = statsd_admin(admin, "counters");
        let plain: f64 = statsd_value(&c, "kinds.mtail.plain")?.parse().ok()?;
        (plain >= 8.0).then_some(c)
    });
    // Counters go as running totals, so statsd adds them up: a multiple of mtail's 4.
    let plain: f64 = statsd_value(&counters, "kinds.mtail.plain")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(plain % 4.0, 0.0, "{counters}");
    let pushes = plain / 4.0;
    for (name, per_push) in [
        (
            "kinds.mtail.requests_total.method.GET.path.-index_html",
            2.0,
        ),
        ("kinds.mtail.notes_total.note.hello_world", 1.0),
        ("kinds.mtail.resp_size.code.500", 1500.0),
        ("kinds.mtail.never_seen", 0.0),
    ] {
        let v: f64 = statsd_value(&counters, name)
            .unwrap_or_else(|| panic!("{name} in {counters}"))
            .parse()
            .unwrap();
        assert_eq!(v, per_push * pushes, "{name}: {counters}");
    }
    assert_eq!(
        statsd_value(&counters, "statsd.bad_lines_seen").as_deref(),
        Some("0")
    );
    let gauges = statsd_admin(admin, "gauges");
    for (name, v) in [
        ("kinds.mtail.ratio", "0.25"),
        ("kinds.mtail.big", "1000000"),
        ("kinds.mtail.tiny", "0.00001"),
        ("kinds.mtail.bigint", "12345678901"),
        ("kinds.mtail.temperature.sensor.s-1_a", "0.1"),
    ] {
        assert_eq!(statsd_value(&gauges, name).as_deref(), Some(v), "{gauges}");
    }
    let timers = statsd_admin(admin, "timers");
    assert!(
        timers.contains("'kinds.mtail.latency_ms.host.web_example-1': [ 12.5"),
        "{timers}"
    );
    assert!(l.stop().success());
}

#[test]
fn collectd_takes_what_logmill_pushes_and_its_refusals_are_counted() {
    let Some(reference) = corpus() else { return };
    let Some(collectd) = support::tool("collectd (collectd-core)", &["/usr/sbin/collectd"]) else {
        return;
    };
    let Some(ctl) = support::tool("collectdctl (collectd-utils)", &["/usr/bin/collectdctl"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sock = d.join("collectd.sock");
    let conf = format!(
        "Hostname \"logmill-test\"\nFQDNLookup false\nBaseDir \"{d}\"\nPIDFile \"{d}/collectd.pid\"\n\
         Interval 1\nTypesDB \"/usr/share/collectd/types.db\"\nLoadPlugin unixsock\n\
         <Plugin unixsock>\n  SocketFile \"{s}\"\n  SocketPerms \"0600\"\n</Plugin>\n",
        d = d.display(),
        s = sock.display()
    );
    std::fs::write(d.join("collectd.conf"), conf).unwrap();
    let _collectd = spawn(
        d,
        "collectd",
        Command::new(collectd)
            .arg("-f")
            .arg("-C")
            .arg(d.join("collectd.conf")),
    );
    wait_for(Duration::from_secs(60), "collectd's socket", || {
        std::os::unix::net::UnixStream::connect(&sock).ok()
    });
    let mut l = kinds_daemon(
        d,
        &reference,
        &[format!("--collectd_socketpath={}", sock.display())],
    );
    let host = hostname();
    let getval = |id: &str| {
        let out = Command::new(&ctl)
            .arg("-s")
            .arg(&sock)
            .arg("getval")
            .arg(format!("{host}/mtail-kinds.mtail/{id}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    wait_for(
        Duration::from_secs(60),
        "collectd to hold the gauges",
        || (getval("gauge-ratio") == "value=2.500000e-01").then_some(()),
    );
    for (id, v) in [
        ("gauge-big", "value=1.000000e+06"),
        ("gauge-tiny", "value=1.000000e-05"),
        ("gauge-temperature-sensor-s_1.a", "value=1.000000e-01"),
        ("gauge-latency_ms-host-web.example_1", "value=1.250000e+01"),
    ] {
        assert_eq!(getval(id), v, "{id}");
    }
    let out = Command::new(&ctl)
        .arg("-s")
        .arg(&sock)
        .arg("listval")
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    // collectd itself turns `/` in an identifier part into `_`.
    for id in [
        "counter-plain",
        "counter-requests_total-method-GET-path-_index.html",
        "counter-notes_total-note-hello world",
    ] {
        assert!(
            list.contains(&format!("{host}/mtail-kinds.mtail/{id}")),
            "{id}:\n{list}"
        );
    }
    // Per push collectd refuses the 3 histograms (no such type) and the never-updated `0:0`.
    let body = wait_for(Duration::from_secs(30), "refusals counted", || {
        let body = l.metrics()?;
        (errors(&body, "collectd", "rejected") >= 8.0).then_some(body)
    });
    assert_eq!(errors(&body, "collectd", "rejected") % 4.0, 0.0, "{body}");
    for reason in ["dial", "write", "timeout"] {
        assert_eq!(errors(&body, "collectd", reason), 0.0, "{reason}");
    }
    assert!(l.stop().success());
}

#[test]
fn the_graphite_page_has_the_pushed_lines_and_text_metrics() {
    let Some(reference) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    let t0 = now_secs();
    let mut l = Logmill::start(
        dir.path(),
        &reference.join("progs/kinds.mtail"),
        &reference.join("logs/kinds.log"),
        &["--graphite_prefix=pre.".to_string()],
    );
    let expected = std::fs::read_to_string(reference.join("expected/kinds.graphite")).unwrap();
    let mut want: Vec<String> = split(&expected)
        .into_iter()
        .map(|l| format!("pre.{l}"))
        .chain(["pre.kinds.mtail.last_user dave NOW".to_string()])
        .collect();
    want.sort();
    wait_for(Duration::from_secs(30), "/graphite to show the log", || {
        if !l.http.exists() {
            return None;
        }
        let r = get(&Target::Unix(l.http.clone()), "/graphite", &[]);
        let got = normalise("graphite", &split(&r.body), t0, now_secs(), "");
        (r.status == 200 && got == want).then_some(())
    });
    assert!(l.stop().success());
}

// Prometheus remote write: into a real Prometheus (its remote-write receiver), and against
// stand-ins answering 500, 429 and 400.

fn value_of(api: &Target, promql: &str) -> Option<f64> {
    let r = support::prometheus_query(api, promql)?;
    r.first()?["value"][1].as_str()?.parse().ok()
}

#[test]
fn remote_write_into_prometheus() {
    let Some(reference) = corpus() else { return };
    let Some(prometheus) = support::tool("prometheus", &["/usr/bin/prometheus"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = support::free_port();
    std::fs::write(d.join("prometheus.yml"), "global:\n  scrape_interval: 1h\n").unwrap();
    let _prom = spawn(
        d,
        "prometheus",
        Command::new(prometheus)
            .arg(format!("--config.file={}/prometheus.yml", d.display()))
            .arg(format!("--storage.tsdb.path={}/tsdb", d.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver"),
    );
    let api = Target::Tcp(format!("127.0.0.1:{port}").parse().unwrap());
    wait_for(Duration::from_secs(60), "prometheus ready", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        (get(&api, "/-/ready", &[]).status == 200).then_some(())
    });
    let mut l = kinds_daemon(
        d,
        &reference,
        &[
            format!("--remote_write_url=http://127.0.0.1:{port}/api/v1/write"),
            "--remote_write_label=host=web-1".to_string(),
        ],
    );
    let sel = "host=\"web-1\",prog=\"kinds.mtail\"";
    wait_for(
        Duration::from_secs(60),
        "the pushed series in prometheus",
        || (value_of(&api, &format!("plain{{{sel}}}"))? == 4.0).then_some(()),
    );
    for (q, want) in [
        (
            format!("requests_total{{{sel},method=\"GET\",path=\"/index.html\"}}"),
            2.0,
        ),
        (format!("ratio{{{sel}}}"), 0.25),
        (format!("never_seen{{{sel}}}"), 0.0),
        (
            format!("resp_size_bucket{{{sel},code=\"500\",le=\"1000\"}}"),
            0.0,
        ),
        (
            format!("resp_size_bucket{{{sel},code=\"500\",le=\"+Inf\"}}"),
            1.0,
        ),
        (
            format!("resp_size_bucket{{{sel},code=\"200\",le=\"10\"}}"),
            2.0,
        ),
        (format!("resp_size_sum{{{sel},code=\"200\"}}"), 7.25),
        (format!("resp_size_count{{{sel},code=\"404\"}}"), 1.0),
    ] {
        assert_eq!(value_of(&api, &q), Some(want), "{q}");
    }
    // Text and hidden metrics are not sent.
    assert_eq!(
        support::prometheus_query(&api, "last_user").map(|r| r.len()),
        Some(0)
    );
    assert_eq!(
        support::prometheus_query(&api, "scratch").map(|r| r.len()),
        Some(0)
    );
    let body = l.metrics().unwrap();
    let target = format!("http://127.0.0.1:{port}/api/v1/write");
    for reason in ["dial", "write", "timeout", "rejected", "unavailable"] {
        assert_eq!(errors(&body, &target, reason), 0.0, "{reason}");
    }
    assert!(l.stop().success());
}

/// A stand-in remote write receiver answering each request with the next status of `answers`
/// (the last one repeated); records each request's decoded body.
fn http_stand_in(answers: &'static [u16]) -> (u16, Arc<Mutex<Vec<Vec<u8>>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for (n, conn) in l.incoming().enumerate() {
            let Ok(mut conn) = conn else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            if conn.read_exact(&mut body).is_err() {
                continue;
            }
            b.lock().unwrap().push(body);
            let status = answers[n.min(answers.len() - 1)];
            let _ = conn.write_all(
                format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
                )
                .as_bytes(),
            );
        }
    });
    (port, bodies)
}

#[test]
fn remote_write_retries_5xx_and_429_and_drops_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    append(&log, 0, 3);
    let (flaky, flaky_bodies) = http_stand_in(&[500, 429, 503, 204]);
    let (refusing, refused_bodies) = http_stand_in(&[400]);
    let flaky_url = format!("http://127.0.0.1:{flaky}/api/v1/write");
    let refusing_url = format!("http://127.0.0.1:{refusing}/api/v1/write");
    let flags = [
        format!("--remote_write_url={flaky_url}"),
        format!("--remote_write_url={refusing_url}"),
        "--remote_write_label=dc=x".to_string(),
        "--metric_push_interval=3s".to_string(),
        "--metric_push_write_deadline=1s".to_string(),
    ];
    let mut l = Logmill::start(dir.path(), &write_prog(dir.path()), &log, &flags);
    let body = wait_for(
        Duration::from_secs(60),
        "the flaky receiver to take a push",
        || {
            let body = l.metrics()?;
            let ok = sample(
                &body,
                &format!("logmill_push_last_success_timestamp_seconds{{target=\"{flaky_url}\"}}"),
            )?;
            (ok > 0.0 && errors(&body, &refusing_url, "rejected") >= 1.0).then_some(body)
        },
    );
    let retries = |url: &str| {
        sample(
            &body,
            &format!("logmill_push_retries_total{{target=\"{url}\"}}"),
        )
        .unwrap()
    };
    assert_eq!(
        retries(&flaky_url),
        3.0,
        "500, 429 and 503 retried within one push"
    );
    assert_eq!(retries(&refusing_url), 0.0, "a 400 is not retried");
    assert_eq!(errors(&body, &flaky_url, "unavailable"), 0.0);
    assert_eq!(refused_bodies.lock().unwrap().len(), 1);
    // What was sent: snappy protobuf with the series of the program and the external label.
    let sent = flaky_bodies.lock().unwrap().last().cloned().unwrap();
    let proto = snap::raw::Decoder::new().decompress_vec(&sent).unwrap();
    let req: logmill::export::remote_write::WriteRequest =
        prost::Message::decode(&proto[..]).unwrap();
    let lines = req
        .timeseries
        .iter()
        .find(|t| {
            t.labels
                .iter()
                .any(|l| l.name == "__name__" && l.value == "lines_total")
        })
        .expect("lines_total sent");
    let names: Vec<String> = lines
        .labels
        .iter()
        .map(|l| format!("{}={}", l.name, l.value))
        .collect();
    assert_eq!(
        names,
        ["__name__=lines_total", "dc=x", "prog=by_line.mtail"]
    );
    assert_eq!(lines.samples[0].value, 3.0);
    let age = now_secs() * 1000 - lines.samples[0].timestamp;
    assert!(
        (0..60_000).contains(&age),
        "stamped with the push time: {age} ms ago"
    );
    assert!(l.stop().success());
}
