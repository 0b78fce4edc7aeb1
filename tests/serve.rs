//! The HTTP server: every endpoint, content negotiation, both expositions through promtool and a
//! strict OpenMetrics parser, the Unix socket's cases (stale, live, not a socket, mode,
//! removal), TCP and socket at once, request limits, the cap on open connections, idle
//! connections, clients that stop reading an answer, and graceful shutdown.

mod support;

use logmill::serve::{ServeConfig, ServeError};
use logmill::state::State;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

fn tcp_only() -> ServeConfig {
    ServeConfig {
        tcp: Some(("127.0.0.1".into(), 0)),
        ..ServeConfig::default()
    }
}

fn socket_only(path: &Path) -> ServeConfig {
    ServeConfig {
        tcp: None,
        unix_socket: Some(path.to_path_buf()),
        ..ServeConfig::default()
    }
}

fn http_server() -> (Running, Target) {
    let state = state_with(&[("http.mtail", HTTP_PROG)], HTTP_LINES);
    own_metrics(&state.registry);
    let r = Running::start(tcp_only(), state).unwrap();
    let t = Target::Tcp(r.tcp.unwrap());
    (r, t)
}

/// Process metrics of the kinds the daemon registers: per-log counters, a histogram.
fn own_metrics(registry: &prometheus::Registry) {
    let lines = prometheus::IntCounterVec::new(
        prometheus::Opts::new("logmill_log_lines_total", "Lines read, per log."),
        &["logfile"],
    )
    .unwrap();
    lines.with_label_values(&["/var/log/a.log"]).inc_by(7);
    lines.with_label_values(&["/var/log/<b>.log"]).inc_by(2);
    registry.register(Box::new(lines)).unwrap();
    let seconds = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new(
            "logmill_vm_line_processing_duration_seconds",
            "Time to run a line, per program.",
        )
        .buckets(vec![0.00002, 0.00004]),
        &["prog"],
    )
    .unwrap();
    seconds.with_label_values(&["http.mtail"]).observe(0.00003);
    registry.register(Box::new(seconds)).unwrap();
}

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[test]
fn metrics_default_to_the_text_format() {
    let (_r, t) = http_server();
    let r = get(&t, "/metrics", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let b = &r.body;
    assert!(b.contains("# TYPE http_requests_total counter\n"), "{b}");
    assert!(
        b.contains("http_requests_total{method=\"GET\",prog=\"http.mtail\",status=\"200\"} 3\n"),
        "{b}"
    );
    assert!(b.contains("lines_total{prog=\"http.mtail\"} 5\n"), "{b}");
    assert!(
        b.contains("response_size_bucket{prog=\"http.mtail\",le=\"1000\"} 3\n"),
        "{b}"
    );
    assert!(
        !b.contains("last_path"),
        "text metrics stay out of 0.0.4: {b}"
    );
    assert!(b.contains("logmill_build_info{version=\""), "{b}");
    assert!(b.contains("process_resident_memory_bytes "), "{b}");
    assert!(!b.contains("# EOF"), "{b}");
}

/// Prometheus prefers OpenMetrics, but gets 0.0.4 text unless OpenMetrics is asked for
/// explicitly, so it stores the names it stores for mtail (`plain`, not `plain_total`).
#[test]
fn metrics_are_text_for_prometheus_unless_openmetrics_is_asked_for() {
    let (_r, t) = http_server();
    let r = get(&t, "/metrics", &[("Accept", PROMETHEUS_ACCEPT)]);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        r.body.contains("\nlines_total{prog=\"http.mtail\"} 5\n"),
        "{}",
        r.body
    );
    let r = get(&t, "/metrics?format=bogus", &[]);
    assert_eq!(r.status, 400, "{}", r.body);
    // --metrics_format=negotiate: by the Accept header.
    let state = state_with(&[("http.mtail", HTTP_PROG)], HTTP_LINES);
    let config = ServeConfig {
        exposition: logmill::serve::accept::Choice::Negotiate,
        ..tcp_only()
    };
    let r = Running::start(config, state).unwrap();
    let n = Target::Tcp(r.tcp.unwrap());
    let om = get(&n, "/metrics", &[("Accept", PROMETHEUS_ACCEPT)]);
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    let text = get(&n, "/metrics?format=text", &[("Accept", PROMETHEUS_ACCEPT)]);
    assert!(!text.body.contains("# EOF"), "{}", text.body);
}

#[test]
fn metrics_openmetrics_when_asked_for() {
    let (_r, t) = http_server();
    let r = get(
        &t,
        "/metrics?format=openmetrics",
        &[("Accept", PROMETHEUS_ACCEPT)],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let b = &r.body;
    assert!(b.contains("# TYPE http_requests counter\n"), "{b}");
    assert!(
        b.contains("http_requests_total{method=\"POST\",prog=\"http.mtail\",status=\"500\"} 1\n"),
        "{b}"
    );
    assert!(b.contains("# TYPE lines counter\n"), "{b}");
    assert!(b.contains("lines_total{prog=\"http.mtail\"} 5\n"), "{b}");
    assert!(b.contains("# TYPE last_path info\n"), "{b}");
    assert!(
        b.contains("last_path_info{prog=\"http.mtail\",value=\"/d\"} 1\n"),
        "{b}"
    );
    assert!(b.contains("# TYPE logmill_build_info gauge\n"), "{b}");
    assert!(b.contains("# TYPE process_cpu_seconds counter\n"), "{b}");
    assert!(b.contains("# TYPE logmill_log_lines counter\n"), "{b}");
    assert!(
        b.contains("logmill_log_lines_total{logfile=\"/var/log/a.log\"} 7\n"),
        "{b}"
    );
    assert!(
        b.contains("logmill_vm_line_processing_duration_seconds_bucket{prog=\"http.mtail\",le=\"+Inf\"} 1\n"),
        "{b}"
    );
    assert!(b.ends_with("# EOF\n"), "{b}");

    // Text without the parameter, whatever the client prefers.
    for accept in [
        PROMETHEUS_ACCEPT,
        "application/openmetrics-text",
        "application/json",
        "*/*",
    ] {
        let r = get(&t, "/metrics", &[("Accept", accept)]);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("text/plain; version=0.0.4"),
            "{accept}"
        );
    }
}

/// Run a checker on `input`; its status and output.
fn check_with(cmd: &mut Command, input: &str) -> (bool, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("checker starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn promtool_passes_the_text_format() {
    let Some(promtool) = tool("promtool", &["/usr/bin/promtool"]) else {
        return;
    };
    let (_r, t) = http_server();
    let body = get(&t, "/metrics", &[]).body;
    let (ok, out) = check_with(Command::new(promtool).args(["check", "metrics"]), &body);
    assert!(ok, "promtool check metrics: {out}\n{body}");
}

/// OpenMetrics through two parsers: Prometheus' own (promtool's OpenMetrics import, which
/// wants timestamps, so each sample gets one) and the strict reference parser of the
/// Prometheus Python client (checks suffixes per type, clashing names, `# EOF`).
#[test]
fn openmetrics_passes_strict_parsers() {
    let (_r, t) = http_server();
    let body = get(
        &t,
        "/metrics?format=openmetrics",
        &[("Accept", "application/openmetrics-text")],
    )
    .body;
    if let Some(promtool) = tool("promtool", &["/usr/bin/promtool"]) {
        let stamped: String = body
            .lines()
            .map(|l| {
                if l.starts_with('#') {
                    format!("{l}\n")
                } else {
                    format!("{l} 1700000000\n")
                }
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("om.txt");
        std::fs::write(&file, &stamped).unwrap();
        let out = Command::new(promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&file)
            .arg(dir.path().join("blocks"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool's OpenMetrics parser: {}\n{body}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let python_client = Path::new("/usr/lib/python3/dist-packages/prometheus_client/openmetrics");
    if !python_client.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3-prometheus-client is needed (apt-get install it; .ci/run does)"
        );
        eprintln!(
            "SKIPPED: the strict OpenMetrics parser (python3-prometheus-client) is not installed"
        );
        return;
    }
    let python = "/usr/bin/python3";
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\nfams = list(p(sys.stdin.read()))\nprint(len(fams), 'families')\n";
    let (ok, out) = check_with(Command::new(python).args(["-c", script]), &body);
    assert!(ok, "strict OpenMetrics parser: {out}\n{body}");
}

#[test]
fn json_is_the_store() {
    let (_r, t) = http_server();
    let r = get(&t, "/json", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let metrics = v.as_array().unwrap();
    let lines = metrics.iter().find(|m| m["Name"] == "lines_total").unwrap();
    assert_eq!(lines["Program"], "http.mtail");
    assert_eq!(lines["LabelValues"][0]["Value"]["Value"], 5);
    let text = metrics.iter().find(|m| m["Name"] == "last_path").unwrap();
    assert_eq!(text["LabelValues"][0]["Value"]["Value"], "/d");
}

#[test]
fn varz_is_mtail_s_plain_page() {
    let (_r, t) = http_server();
    let r = get(&t, "/varz", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let host = logmill::export::hostname();
    assert!(
        r.body
            .lines()
            .any(|l| l == format!("lines_total{{prog=http.mtail,instance={host}}} 5")),
        "{}",
        r.body
    );
    assert!(
        r.body
            .lines()
            .any(|l| l == format!("last_path{{prog=http.mtail,instance={host}}} /d")),
        "{}",
        r.body
    );
}

#[test]
fn status_page_shows_programs_and_errors() {
    let state = state_with(
        &[
            ("http.mtail", HTTP_PROG),
            (
                "conv.mtail",
                "counter n\n/(?P<x>\\S+)/ {\n  n += strtol($x, 10)\n}\n",
            ),
        ],
        &["GET /<b> 200 1", "zz"],
    );
    own_metrics(&state.registry);
    state.load_errors.lock().unwrap().insert(
        "broken.mtail".into(),
        "broken.mtail:1:1: syntax <error>".into(),
    );
    let r = Running::start(tcp_only(), state).unwrap();
    let t = Target::Tcp(r.tcp.unwrap());
    let page = get(&t, "/", &[]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let b = &page.body;
    for want in [
        "<a href=\"/progz?prog=http.mtail\">http.mtail</a>",
        "conv.mtail",
        "broken.mtail",
        "syntax &lt;error&gt;",
        "/etc/logmill/http.mtail",
        "href=\"/metrics\"",
        "href=\"/json\"",
        "version ",
        " · up ",
        "<h2>Sources</h2>",
        "<td>/var/log/a.log</td><td>7</td>",
        "/var/log/&lt;b&gt;.log",
    ] {
        assert!(b.contains(want), "{want:?} missing from\n{b}");
    }
    assert!(!b.contains("<b>"), "unescaped input: {b}");
}

#[test]
fn progz_shows_bytecode_and_last_error() {
    let state = state_with(
        &[
            ("http.mtail", HTTP_PROG),
            (
                "conv.mtail",
                "counter n\n/(?P<x>\\S+)/ {\n  n += strtol($x, 10)\n}\n",
            ),
        ],
        &["zz"],
    );
    let r = Running::start(tcp_only(), state).unwrap();
    let t = Target::Tcp(r.tcp.unwrap());
    let p = get(&t, "/progz?prog=conv.mtail", &[]);
    assert_eq!(p.status, 200);
    assert!(p.body.contains("program conv.mtail"), "{}", p.body);
    assert!(!p.body.contains("program http.mtail"), "{}", p.body);
    assert!(p.body.contains("runtime errors: 1"), "{}", p.body);
    assert!(!p.body.contains("last error: none"), "{}", p.body);
    let all = get(&t, "/progz", &[]);
    assert!(all.body.contains("program conv.mtail") && all.body.contains("program http.mtail"));
    assert_eq!(get(&t, "/progz?prog=nope.mtail", &[]).status, 404);
}

#[test]
fn healthz_unknown_paths_methods_and_bodies() {
    let (_r, t) = http_server();
    let h = get(&t, "/healthz", &[]);
    assert_eq!((h.status, h.body.as_str()), (200, "ok\n"));
    assert_eq!(get(&t, "/nope", &[]).status, 404);
    let post = parse(
        &raw(
            &t,
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
        )
        .unwrap(),
    );
    assert_eq!(post.status, 405);
    let body = parse(
        &raw(
            &t,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
        )
        .unwrap(),
    );
    assert_eq!(body.status, 413);
    let head = raw(
        &t,
        b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
}

#[test]
fn oversized_request_heads_are_refused() {
    let (_r, t) = http_server();
    let big = "x".repeat(64 * 1024);
    let req =
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nConnection: close\r\n\r\n");
    // hyper answers 431 or just closes; either way no 200.
    let out = raw(&t, req.as_bytes()).unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    assert!(!text.starts_with("HTTP/1.1 200"), "{text}");
}

#[test]
fn slow_request_heads_time_out() {
    let state = state_with(&[("http.mtail", HTTP_PROG)], &[]);
    let config = ServeConfig {
        header_read_timeout: std::time::Duration::from_millis(300),
        ..tcp_only()
    };
    let r = Running::start(config, state).unwrap();
    let mut s = std::net::TcpStream::connect(r.tcp.unwrap()).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut out);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "the connection was not closed by the header timeout"
    );
    assert!(!String::from_utf8_lossy(&out).contains("200 OK"));
}

#[test]
fn socket_serves_with_its_mode_and_is_removed_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.sock");
    let state = state_with(&[("http.mtail", HTTP_PROG)], HTTP_LINES);
    let mut r = Running::start(socket_only(&path), state.clone()).unwrap();
    assert!(
        r.tcp.is_none(),
        "a socket alone means nothing on the network"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o660);
    let m = get(&Target::Unix(path.clone()), "/metrics", &[]);
    assert!(
        m.body.contains("lines_total{prog=\"http.mtail\"} 5"),
        "{}",
        m.body
    );
    assert!(r.stop().unwrap().is_ok());
    assert!(!path.exists(), "the socket is removed on shutdown");

    let config = ServeConfig {
        unix_socket_mode: 0o600,
        ..socket_only(&path)
    };
    let _r = Running::start(config, state).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);
}

#[test]
fn tcp_and_socket_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sock");
    let state = state_with(&[("http.mtail", HTTP_PROG)], HTTP_LINES);
    let config = ServeConfig {
        unix_socket: Some(path.clone()),
        ..tcp_only()
    };
    let r = Running::start(config, state).unwrap();
    for t in [Target::Tcp(r.tcp.unwrap()), Target::Unix(path)] {
        assert_eq!(get(&t, "/healthz", &[]).status, 200, "{t:?}");
    }
}

#[test]
fn stale_socket_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sock");
    // A socket file nobody listens on: bound, then the listener dropped (the file stays).
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let state = state_with(&[("http.mtail", HTTP_PROG)], &[]);
    let r = Running::start(socket_only(&path), state).unwrap();
    assert_eq!(get(&Target::Unix(path), "/healthz", &[]).status, 200);
    drop(r);
}

#[test]
fn live_socket_is_an_error_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sock");
    let state = state_with(&[("http.mtail", HTTP_PROG)], &[]);
    let first = Running::start(socket_only(&path), state.clone()).unwrap();
    let err = Running::start(socket_only(&path), state)
        .err()
        .expect("second server fails");
    assert!(matches!(err, ServeError::SocketInUse(_)), "{err:?}");
    assert!(
        err.to_string().contains("another process is listening"),
        "{err}"
    );
    // The first server still answers.
    assert_eq!(get(&Target::Unix(path), "/healthz", &[]).status, 200);
    drop(first);
}

#[test]
fn a_file_that_is_not_a_socket_is_an_error_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sock");
    std::fs::write(&path, "precious").unwrap();
    let state = state_with(&[("http.mtail", HTTP_PROG)], &[]);
    let err = Running::start(socket_only(&path), state)
        .err()
        .expect("fails");
    assert!(matches!(err, ServeError::NotASocket(_)), "{err:?}");
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
}

#[test]
fn port_in_use_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let state = state_with(&[("http.mtail", HTTP_PROG)], &[]);
    let config = ServeConfig {
        tcp: Some(("127.0.0.1".into(), port)),
        ..ServeConfig::default()
    };
    let err = Running::start(config, state).err().expect("fails");
    assert!(matches!(err, ServeError::Bind { .. }), "{err:?}");
}

/// A scrape that is in flight when shutdown is asked still gets its whole answer.
#[test]
fn shutdown_lets_in_flight_scrapes_finish() {
    // A store big enough that rendering takes a moment.
    let lines: Vec<String> = (0..100_000)
        .map(|i| format!("GET /p{i} {} 1", 200 + i % 300))
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let prog = "counter hits by path\n/^GET (?P<path>\\S+) / {\n  hits[$path]++\n}\n";
    let state = state_with(&[("big.mtail", prog)], &refs);
    let mut r = Running::start(tcp_only(), state).unwrap();
    let addr = r.tcp.unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Let the request reach the server, then ask for shutdown while it renders.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let stopper = std::thread::spawn(move || r.stop());
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut out).unwrap();
    let resp = parse(&out);
    assert_eq!(resp.status, 200);
    assert!(resp
        .body
        .contains("hits{path=\"/p99999\",prog=\"big.mtail\"} 1\n"));
    assert!(stopper.join().unwrap().unwrap().is_ok());
    // And nothing listens any more.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

/// The value of one of the process's own metrics (no labels), read from the registry.
fn own(state: &State, name: &str) -> f64 {
    let families = state.registry.gather();
    let Some(f) = families.iter().find(|f| f.name() == name) else {
        panic!("{name} is not registered");
    };
    let m = &f.get_metric()[0];
    match f.get_field_type() {
        prometheus::proto::MetricType::COUNTER => m.get_counter().get_value(),
        _ => m.get_gauge().get_value(),
    }
}

/// Wait until `n` connections are open at the server.
fn wait_open(state: &State, n: f64) {
    wait_for(
        Duration::from_secs(60),
        &format!("{n} open connections"),
        || (own(state, "logmill_http_connections") == n).then_some(()),
    );
}

/// The value of an unlabelled series in a scraped body.
fn scraped(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// What became of a request.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// An answer with this status.
    Answered(u16),
    /// The server closed the connection (end of file or reset) without a byte of answer.
    Closed,
    /// Nothing came within the (generous) read timeout.
    Hung,
    /// Part of an answer, then an error.
    Broken(String),
}

const GET_METRICS: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// Send `request` on an open connection and read until the server closes it.
fn request_on(mut s: Stream, request: &[u8]) -> Outcome {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // A connection the server already closed may refuse the write; the read tells.
    let _ = s.write_all(request);
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) if out.is_empty() => Outcome::Closed,
        Ok(_) => Outcome::Answered(parse(&out).status),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Outcome::Hung,
        Err(_) if out.is_empty() => Outcome::Closed,
        Err(e) => Outcome::Broken(format!("{e} after {out:?}")),
    }
}

/// Open connections are capped across TCP and the socket together: one over the cap, on either
/// listener, is closed unanswered and counted; a freed slot serves again.
#[test]
fn connections_over_the_cap_are_closed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sock");
    let state = state_with(&[("http.mtail", HTTP_PROG)], HTTP_LINES);
    let config = ServeConfig {
        unix_socket: Some(path.clone()),
        max_connections: 4,
        // The idle clients below keep their slots for the whole test.
        header_read_timeout: Duration::from_secs(600),
        ..tcp_only()
    };
    let r = Running::start(config, state.clone()).unwrap();
    let (tcp, unix) = (Target::Tcp(r.tcp.unwrap()), Target::Unix(path));

    // Four clients that connect and send nothing: two on TCP, two on the socket.
    let mut idle: Vec<Stream> = [&tcp, &tcp, &unix, &unix]
        .into_iter()
        .map(|t| Stream::open(t).unwrap())
        .collect();
    wait_open(&state, 4.0);
    assert_eq!(own(&state, "logmill_http_connections_rejected_total"), 0.0);

    // A fifth, on either listener, is closed without an answer.
    for t in [&tcp, &unix] {
        let outcome = request_on(Stream::open(t).unwrap(), GET_METRICS);
        assert_eq!(outcome, Outcome::Closed, "{t:?}");
    }

    // One idle client leaves: its slot serves a scrape, which shows the count.
    drop(idle.pop());
    wait_open(&state, 3.0);
    let m = get(&tcp, "/metrics", &[]);
    assert_eq!(m.status, 200);
    assert_eq!(
        scraped(&m.body, "logmill_http_connections_rejected_total"),
        Some(2.0),
        "{}",
        m.body
    );
    assert_eq!(scraped(&m.body, "logmill_http_connections"), Some(4.0));

    // All gone: a normal scrape on either listener.
    drop(idle);
    for t in [&unix, &tcp] {
        wait_open(&state, 0.0);
        let m = get(t, "/metrics", &[]);
        assert_eq!(m.status, 200, "{t:?}");
        assert_eq!(scraped(&m.body, "logmill_http_connections"), Some(1.0));
        assert!(m.body.contains("lines_total{prog=\"http.mtail\"} 5\n"));
    }
    assert_eq!(own(&state, "logmill_http_connections_rejected_total"), 2.0);
}

/// Many clients at once against a small cap, while a scraper keeps scraping and a program is
/// fed lines: every request is answered 200 or closed, none hangs, every closed one is counted,
/// no slot is left taken, the server answers afterwards and every fed line is counted.
#[test]
fn a_flood_of_connections_is_answered_or_closed_and_the_vm_goes_on() {
    const FLOOD: usize = 200;
    const CAP: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sock");
    let state = state_with(&[("http.mtail", HTTP_PROG)], HTTP_LINES);
    let config = ServeConfig {
        unix_socket: Some(path.clone()),
        max_connections: CAP,
        // Only the cap closes connections here, not a client slow to send its request.
        header_read_timeout: Duration::from_secs(600),
        ..tcp_only()
    };
    let r = Running::start(config, state.clone()).unwrap();
    let targets = [Target::Tcp(r.tcp.unwrap()), Target::Unix(path)];

    let stop = Arc::new(AtomicBool::new(false));
    // A feeder, as the daemon's tailer would be: one line at a time under the VM's lock.
    let feeder = {
        let (state, stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            let program = state.programs.load()[0].clone();
            let mut fed = 0u64;
            while !stop.load(Ordering::Relaxed) {
                program
                    .vm
                    .lock()
                    .unwrap()
                    .run_line(b"GET /fed 200 1", b"/var/log/x");
                fed += 1;
            }
            fed
        })
    };
    // A scraper, as Prometheus would be, on TCP and the socket in turn.
    let scrapes_answered = Arc::new(AtomicUsize::new(0));
    let scraper = {
        let (targets, stop) = (targets.clone(), stop.clone());
        let scrapes_answered = scrapes_answered.clone();
        std::thread::spawn(move || {
            let mut closed = 0usize;
            for t in targets.iter().cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match request_on(Stream::open(t).unwrap(), GET_METRICS) {
                    Outcome::Answered(200) => {
                        scrapes_answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Outcome::Closed => closed += 1,
                    other => panic!("a scrape on {t:?}: {other:?}"),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            closed
        })
    };

    // The flood: every client connects first, so the slots fill with clients yet to send.
    let clients: Vec<Stream> = (0..FLOOD)
        .map(|i| Stream::open(&targets[i % 2]).expect("connect"))
        .collect();
    wait_for(
        Duration::from_secs(60),
        "the server to take every connection",
        || {
            (own(&state, "logmill_http_connections_rejected_total") >= (FLOOD - CAP) as f64)
                .then_some(())
        },
    );
    let outcomes: Vec<Outcome> = clients
        .into_iter()
        .map(|mut s| {
            let _ = s.write_all(GET_METRICS);
            s
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|s| request_on(s, b""))
        .collect();
    let answered = outcomes
        .iter()
        .filter(|o| **o == Outcome::Answered(200))
        .count();
    let closed = outcomes.iter().filter(|o| **o == Outcome::Closed).count();
    assert_eq!(
        answered + closed,
        FLOOD,
        "neither 200 nor closed: {:?}",
        outcomes
            .iter()
            .filter(|o| !matches!(o, Outcome::Answered(200) | Outcome::Closed))
            .collect::<Vec<_>>()
    );
    assert!(
        answered > 0 && closed > 0,
        "{answered} answered, {closed} closed"
    );

    // The scraper is answered again while the feeder goes on.
    let before = scrapes_answered.load(Ordering::Relaxed);
    wait_for(Duration::from_secs(60), "a scrape after the flood", || {
        (scrapes_answered.load(Ordering::Relaxed) > before).then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    let fed = feeder.join().unwrap();
    let scrapes_closed = scraper.join().unwrap();
    eprintln!(
        "flood: {answered} answered, {closed} closed; scrapes: {} answered, {scrapes_closed} \
         closed; {fed} lines fed",
        scrapes_answered.load(Ordering::Relaxed)
    );
    assert!(fed > 0);

    // No slot is left taken, and each connection closed unanswered was counted.
    wait_open(&state, 0.0);
    assert_eq!(
        own(&state, "logmill_http_connections_rejected_total"),
        (closed + scrapes_closed) as f64
    );
    for t in &targets {
        let m = get(t, "/metrics", &[]);
        assert_eq!(m.status, 200, "{t:?}");
        assert_eq!(
            scraped(&m.body, "lines_total{prog=\"http.mtail\"}"),
            Some((HTTP_LINES.len() as u64 + fed) as f64),
            "every fed line is counted"
        );
    }
}

/// Read until what was read ends with `end`.
fn read_until(s: &mut Stream, end: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(end) {
        let n = s.read(&mut buf).expect("an answer");
        assert!(
            n > 0,
            "closed early after {:?}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// A client cannot hold a slot by saying nothing: the header timeout closes a connection that
/// never sends a byte, and a kept-alive one idle between requests; the slot then serves again.
#[test]
fn idle_connections_are_closed_by_the_header_timeout() {
    let state = state_with(&[("http.mtail", HTTP_PROG)], HTTP_LINES);
    let config = ServeConfig {
        header_read_timeout: Duration::from_secs(3),
        max_connections: 1,
        ..tcp_only()
    };
    let r = Running::start(config, state.clone()).unwrap();
    let t = Target::Tcp(r.tcp.unwrap());

    // Connects and sends nothing.
    let s = Stream::open(&t).unwrap();
    wait_open(&state, 1.0);
    assert_eq!(request_on(s, b""), Outcome::Closed);
    wait_open(&state, 0.0);

    // Two requests on one kept-alive connection, then nothing.
    let mut s = Stream::open(&t).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    for _ in 0..2 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let answer = read_until(&mut s, b"\r\n\r\nok\n");
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    }
    assert_eq!(request_on(s, b""), Outcome::Closed);
    wait_open(&state, 0.0);

    // The one slot serves again, and nothing was refused on the way.
    assert_eq!(get(&t, "/healthz", &[]).status, 200);
    assert_eq!(own(&state, "logmill_http_connections_rejected_total"), 0.0);
}

/// Series in [`big_state`].
const BIG_SERIES: usize = 64_000;

/// A store whose `/metrics` answer is about 7 MB: more than the kernel holds between the server
/// and a client that reads nothing (a TCP send buffer grows to 4 MB at most by default; a Unix
/// socket's holds about 200 KB), so writing it waits on the client.
fn big_state() -> Arc<State> {
    let lines: Vec<String> = (0..BIG_SERIES)
        .map(|i| {
            format!("GET /tenants/{i:06}/objects/items/with/a/rather/long/path/to/make/it/big")
        })
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let prog = "counter hits by path\n/^GET (?P<path>\\S+)/ {\n  hits[$path]++\n}\n";
    state_with(&[("big.mtail", prog)], &refs)
}

/// A connection whose client-side receive buffer is small (on TCP; loopback's would otherwise
/// grow to tens of MB and take the whole answer), so the server's writes wait on its reads.
fn open_small(target: &Target) -> Stream {
    let s = Stream::open(target).unwrap();
    if let Stream::Tcp(t) = &s {
        socket2::SockRef::from(t)
            .set_recv_buffer_size(16 * 1024)
            .unwrap();
    }
    s
}

/// A client that asks for `/metrics` and never reads cannot keep its slot: once the server's
/// write has made no progress for `write_stall_timeout` the connection is closed, counted as
/// stalled, and its slot serves again, on TCP and on the socket, while the stalled clients
/// still hold their ends open.
#[test]
fn clients_that_stop_reading_are_closed_and_their_slots_freed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sock");
    let state = big_state();
    let config = ServeConfig {
        unix_socket: Some(path.clone()),
        max_connections: 2,
        write_stall_timeout: Duration::from_secs(1),
        // Only a stalled write closes connections here.
        header_read_timeout: Duration::from_secs(600),
        ..tcp_only()
    };
    let r = Running::start(config, state.clone()).unwrap();
    let (tcp, unix) = (Target::Tcp(r.tcp.unwrap()), Target::Unix(path));

    // Two clients take both slots, one per listener: each asks for the big answer, reads nothing.
    let stalled: Vec<Stream> = [&tcp, &unix]
        .into_iter()
        .map(|t| {
            let mut s = open_small(t);
            s.write_all(GET_METRICS).unwrap();
            s
        })
        .collect();
    wait_for(
        Duration::from_secs(120),
        "both stalled connections to be closed",
        || (own(&state, "logmill_http_connections_stalled_total") == 2.0).then_some(()),
    );
    wait_open(&state, 0.0);

    // Their clients still hold their ends, yet the two slots serve on either listener.
    for t in [&tcp, &unix] {
        let m = get(t, "/metrics", &[]);
        assert_eq!(m.status, 200, "{t:?}");
        assert_eq!(m.body.matches("\nhits{").count(), BIG_SERIES);
        assert_eq!(
            scraped(&m.body, "logmill_http_connections_stalled_total"),
            Some(2.0)
        );
    }
    assert_eq!(own(&state, "logmill_http_connections_rejected_total"), 0.0);
    assert_eq!(own(&state, "logmill_http_connections_stalled_total"), 2.0);

    // What a stalled client can still read is the start of the answer, then the end: the
    // server gave up on the rest.
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut out = Vec::new();
        let end = s.read_to_end(&mut out);
        assert!(
            !matches!(&end, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
            "still open: {end:?}"
        );
        assert!(
            out.starts_with(b"HTTP/1.1 200"),
            "{:?}",
            &out[..out.len().min(100)]
        );
        let answer = parse(&out);
        let length: usize = answer.header("content-length").unwrap().parse().unwrap();
        assert!(
            answer.body.len() < length,
            "a whole answer ({length} bytes) reached a client that read nothing"
        );
    }
}

/// The stall timeout bounds a write that makes no progress, not an answer's time: a client that
/// reads slowly but steadily (64 KiB every 100 ms, an answer of several seconds, against a
/// timeout of 1 s) gets the whole answer, on TCP and on the socket, and nothing is counted
/// as stalled. (On TCP this needs the server's small `TCP_NOTSENT_LOWAT`: without it the
/// kernel wakes the writer only after MBs are read. The socket wakes it after about 150 KB.)
#[test]
fn a_slow_reader_that_keeps_reading_gets_the_whole_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sock");
    let state = big_state();
    let config = ServeConfig {
        unix_socket: Some(path.clone()),
        write_stall_timeout: Duration::from_secs(1),
        ..tcp_only()
    };
    let r = Running::start(config, state.clone()).unwrap();
    let readers: Vec<_> = [Target::Tcp(r.tcp.unwrap()), Target::Unix(path)]
        .into_iter()
        .map(|t| {
            std::thread::spawn(move || {
                let mut s = open_small(&t);
                s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                s.write_all(GET_METRICS).unwrap();
                let mut out = Vec::new();
                let mut buf = vec![0u8; 64 * 1024];
                'reading: loop {
                    let mut got = 0;
                    while got < buf.len() {
                        match s.read(&mut buf[got..]) {
                            Ok(0) => {
                                out.extend_from_slice(&buf[..got]);
                                break 'reading;
                            }
                            Ok(n) => got += n,
                            Err(e) => panic!("{t:?}: {e} after {} bytes", out.len() + got),
                        }
                    }
                    out.extend_from_slice(&buf[..got]);
                    std::thread::sleep(Duration::from_millis(100));
                }
                (t, out)
            })
        })
        .collect();
    for reader in readers {
        let (t, out) = reader.join().unwrap();
        let answer = parse(&out);
        assert_eq!(answer.status, 200, "{t:?}");
        let length: usize = answer.header("content-length").unwrap().parse().unwrap();
        assert_eq!(answer.body.len(), length, "{t:?}");
        let series: Vec<&str> = answer
            .body
            .lines()
            .filter(|l| l.starts_with("hits{"))
            .collect();
        assert_eq!(series.len(), BIG_SERIES, "{t:?}");
        assert!(
            series.iter().all(|l| l.ends_with(",prog=\"big.mtail\"} 1")),
            "{t:?}"
        );
        assert!(
            answer.body.contains("hits{path=\"/tenants/063999/"),
            "{t:?}: the last series"
        );
    }
    assert_eq!(own(&state, "logmill_http_connections_stalled_total"), 0.0);
}
