//! Shared pieces of the server tests: a state whose programs were fed known lines, a server
//! running in the background (stopped on drop), a blocking HTTP client over TCP or a Unix
//! socket, and child processes that are killed on drop.
#![allow(dead_code)]

use logmill::serve::{ServeConfig, Server};
use logmill::state::{Loaded, State};
use logmill::vm::VmOptions;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A state running `programs` (name, source), each fed `lines`.
pub fn state_with(programs: &[(&str, &str)], lines: &[&str]) -> Arc<State> {
    let state = State::new();
    let loaded: Vec<Arc<Loaded>> = programs
        .iter()
        .map(|(name, src)| {
            let p = logmill::compile::compile(name, src).unwrap();
            let l = Loaded::new(
                PathBuf::from(format!("/etc/logmill/{name}")),
                p,
                VmOptions::default(),
            );
            {
                let mut vm = l.vm.lock().unwrap();
                for line in lines {
                    vm.run_line(line.as_bytes(), b"/var/log/test.log");
                }
            }
            Arc::new(l)
        })
        .collect();
    state.programs.store(Arc::new(loaded));
    Arc::new(state)
}

/// The example program the tests count with.
pub const HTTP_PROG: &str = r#"counter http_requests_total by method, status
counter lines_total
text last_path
gauge last_size
histogram response_size buckets 100, 1000
/^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d+) (?P<size>\d+)$/ {
  http_requests_total[$method][$status]++
  last_path = $path
  last_size = $size
  response_size = $size
}
/.*/ {
  lines_total++
}
"#;

pub const HTTP_LINES: &[&str] = &[
    "GET /a 200 120",
    "GET /b 200 1500",
    "POST /c 500 20",
    "GET /d 200 999",
    "junk",
];

/// A server running on its own runtime until dropped.
pub struct Running {
    pub tcp: Option<SocketAddr>,
    pub unix: Option<PathBuf>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<std::sync::mpsc::Receiver<Result<(), logmill::serve::ServeError>>>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Running {
    pub fn start(
        config: ServeConfig,
        state: Arc<State>,
    ) -> Result<Running, logmill::serve::ServeError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(async { Server::bind(config, state) })?;
        let tcp = server.tcp_addr();
        let unix = server.unix_path().map(Path::to_path_buf);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let r = server
                .run(async {
                    let _ = stopped.await;
                })
                .await;
            let _ = done_tx.send(r);
        });
        Ok(Running {
            tcp,
            unix,
            stop: Some(stop),
            done: Some(done),
            rt: Some(rt),
        })
    }

    /// Ask for shutdown and wait (bounded) for the server to finish.
    pub fn stop(&mut self) -> Option<Result<(), logmill::serve::ServeError>> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let r = self
            .done
            .take()
            .and_then(|d| d.recv_timeout(Duration::from_secs(30)).ok());
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        r
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where to send a request.
#[derive(Debug, Clone)]
pub enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An open connection to a target.
pub enum Stream {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Stream {
    pub fn open(target: &Target) -> std::io::Result<Stream> {
        Ok(match target {
            Target::Tcp(a) => Stream::Tcp(std::net::TcpStream::connect_timeout(
                a,
                Duration::from_secs(60),
            )?),
            Target::Unix(p) => Stream::Unix(std::os::unix::net::UnixStream::connect(p)?),
        })
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// Send raw request bytes, read the whole answer (the request should say `Connection: close`).
pub fn raw(target: &Target, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let timeout = Some(Duration::from_secs(60));
    match target {
        Target::Tcp(a) => {
            let mut s = std::net::TcpStream::connect_timeout(a, Duration::from_secs(10))?;
            s.set_read_timeout(timeout)?;
            s.write_all(request)?;
            s.read_to_end(&mut out)?;
        }
        Target::Unix(p) => {
            let mut s = std::os::unix::net::UnixStream::connect(p)?;
            s.set_read_timeout(timeout)?;
            s.write_all(request)?;
            s.read_to_end(&mut out)?;
        }
    }
    Ok(out)
}

/// GET `path` with extra header lines.
pub fn get(target: &Target, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    parse(&raw(target, req.as_bytes()).expect("request"))
}

/// Parse an HTTP/1.1 answer (Content-Length or chunked body).
pub fn parse(bytes: &[u8]) -> Response {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    Response {
        status,
        headers,
        body,
    }
}

/// Poll `f` until it gives `Some`, or panic with `what` after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process killed (and reaped) on drop.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The path of an external tool, or `None` (a failure when `CI` is set: nothing is skipped
/// silently there).
pub fn tool(name: &str, candidates: &[&str]) -> Option<PathBuf> {
    let found = candidates.iter().map(PathBuf::from).find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is needed by this test and is missing (apt-get install it; .ci/run does)"
        );
        eprintln!("SKIPPED: {name} is not installed ({candidates:?}); install it to run this test");
    }
    found
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The result vector of an instant PromQL query to a Prometheus server, or `None` unless it
/// answered `success`.
pub fn prometheus_query(api: &Target, promql: &str) -> Option<Vec<serde_json::Value>> {
    let mut q = String::new();
    for b in promql.bytes() {
        if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
            q.push(b as char);
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    let r = get(api, &format!("/api/v1/query?query={q}"), &[]);
    if r.status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    (v["status"] == "success").then(|| v["data"]["result"].as_array().cloned().unwrap_or_default())
}
