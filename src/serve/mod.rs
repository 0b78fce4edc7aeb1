//! HTTP serving: `/metrics`, `/json`, `/`, `/progz`, `/healthz` over HTTP/1 on TCP
//! (`--address`/`--port`, mtail's 3903 by default) and/or a Unix socket (`--unix_socket`).
//!
//! The model: [`Server::bind`] binds every listener up front, so a port in use, a live or
//! foreign file at the socket path, or a bad address fails at startup with a clear error.
//! [`Server::run`] then accepts connections until the shutdown future completes; each
//! connection is served by hyper with a header-read timeout and a bounded header size (a
//! request may not carry a body). On shutdown the listeners close, the socket file is removed,
//! and connections get [`ServeConfig::shutdown_grace`] to finish their in-flight requests.
//!
//! Open connections are capped, across TCP and the socket together, at
//! [`ServeConfig::max_connections`] (`--max_connections`): each connection holds a slot until
//! it closes. One accepted over the cap is closed at once, unanswered, and counted in
//! `logmill_http_connections_rejected_total` (a warning is logged at most every 10 s); the
//! server goes on accepting, so the kernel's backlog never fills with waiting clients.
//! `logmill_http_connections` is the number open now. A client cannot keep a slot by sending
//! nothing: hyper's header-read timeout runs from the moment a connection waits for a request,
//! its first or the next one on a kept-alive connection, and closes it when no head has
//! arrived in time.
//!
//! Nor can a client keep a slot by asking and never reading the answer (a `/metrics` body
//! larger than the socket buffers then never finishes). hyper has no write timeout, so each
//! connection's stream is wrapped in `tokio_io_timeout::TimeoutStream` with
//! [`ServeConfig::write_stall_timeout`]: when a write (or flush, or shutdown) has waited that
//! long for room in the socket, it fails with `TimedOut`, the connection is closed,
//! its slot freed, and it is counted in `logmill_http_connections_stalled_total`. The clock runs
//! per pending write and starts over whenever one makes progress: a slow reader that keeps
//! reading is not cut, however long the whole answer takes. Progress is what the kernel
//! reports, room in the socket's send buffer, and it wakes a waiting writer only once a good
//! part of the buffer is free: on TCP, whose buffer grows to 4 MB by default, a reader would
//! have to take over a MB per timeout to be seen progressing. So TCP connections get a small
//! `TCP_NOTSENT_LOWAT` (Linux): at most [`UNSENT_LOW_WATER`] bytes wait unsent in the kernel,
//! and any reading the client does soon shows. A Unix socket's buffer is small already
//! (about 200 KB by default): a writer there waits for the client to take about three quarters
//! of it, so a client must read some 150 KB per timeout, 5 KB/s at the default 30 s.
//!
//! Handlers read [`State`]: a scrape copies each program's store under that program's lock,
//! one at a time, and renders with no lock held (see [`scrape`]).
//!
//! ```no_run
//! # async fn f(state: std::sync::Arc<logmill::state::State>) -> Result<(), logmill::serve::ServeError> {
//! let config = logmill::serve::ServeConfig::default();
//! logmill::serve::run(config, state, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

pub mod accept;
pub mod routes;
pub mod scrape;
pub mod self_metrics;
pub mod socket;
pub mod status;

use crate::state::State;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use prometheus::IntGauge;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;

/// mtail's port.
pub const DEFAULT_PORT: u16 = 3903;

/// Most HTTP connections open at once unless `--max_connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// How long a write may wait on a client that takes nothing, unless the config says otherwise.
pub const DEFAULT_WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Most bytes of an answer left unsent in a TCP socket's kernel buffer (`TCP_NOTSENT_LOWAT`),
/// so a writer waiting on a slow client is woken, and its stall clock started over, by a
/// little reading rather than by the client draining megabytes.
pub const UNSENT_LOW_WATER: u32 = 128 * 1024;

/// At most one warning about refused connections in this long.
const REFUSAL_WARNING_EVERY: Duration = Duration::from_secs(10);

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Listen on TCP at (host, port); an empty host means every interface.
    pub tcp: Option<(String, u16)>,
    /// Listen on a Unix socket at this path.
    pub unix_socket: Option<PathBuf>,
    /// File mode of the socket.
    pub unix_socket_mode: u32,
    /// Add `prog="…"` to exported series.
    pub emit_prog_label: bool,
    /// Append datum times to 0.0.4 samples (`--emit_metric_timestamp`).
    pub emit_timestamp: bool,
    /// What `/metrics` answers with unless its URL says (`--metrics_format`).
    pub exposition: accept::Choice,
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) accepted.
    pub max_header_bytes: usize,
    /// How long in-flight requests may run on after shutdown is asked.
    pub shutdown_grace: Duration,
    /// Most connections open at once, TCP and socket together (at least 1).
    pub max_connections: usize,
    /// How long a write to a client may make no progress before the connection is closed.
    /// The clock starts when a write has to wait and starts over when it goes through, so
    /// this bounds a stall, not the time to send a whole answer: a slow reader that keeps
    /// reading is not cut. Progress is room in the kernel's send buffer (see the module
    /// doc): on a Unix socket a reader must take about 150 KB per timeout to be seen.
    pub write_stall_timeout: Duration,
    /// `instance=` on `/varz`: this machine's host name.
    pub hostname: String,
    /// `--graphite_prefix`, for `/graphite`.
    pub graphite_prefix: String,
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            tcp: Some((String::new(), DEFAULT_PORT)),
            unix_socket: None,
            unix_socket_mode: 0o660,
            emit_prog_label: true,
            emit_timestamp: false,
            exposition: accept::Choice::Text,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(30),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            write_stall_timeout: DEFAULT_WRITE_STALL_TIMEOUT,
            hostname: crate::export::hostname(),
            graphite_prefix: String::new(),
        }
    }
}

impl ServeConfig {
    /// The listeners as mtail's flags say: `--unix_socket` alone serves only on the socket
    /// (nothing listens on the network); with `--address` or `--port` as well, on both.
    pub fn from_flags(
        address: Option<&str>,
        port: Option<u16>,
        unix_socket: Option<PathBuf>,
        unix_socket_mode: &str,
    ) -> Result<ServeConfig, String> {
        let tcp = (unix_socket.is_none() || address.is_some() || port.is_some()).then(|| {
            (
                address.unwrap_or("").to_string(),
                port.unwrap_or(DEFAULT_PORT),
            )
        });
        Ok(ServeConfig {
            tcp,
            unix_socket,
            unix_socket_mode: socket::parse_mode(unix_socket_mode)?,
            ..ServeConfig::default()
        })
    }
}

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("Unix socket {}: {source}", path.display())]
    Socket {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Unix socket {}: another process is listening on it", .0.display())]
    SocketInUse(PathBuf),
    #[error("Unix socket {}: the path exists and is not a socket; refusing to replace it", .0.display())]
    NotASocket(PathBuf),
    #[error("nothing to listen on: give --port/--address or --unix_socket")]
    NoListener,
    #[error("registering the process's own metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// A server whose listeners are bound.
pub struct Server {
    config: Arc<ServeConfig>,
    state: Arc<State>,
    tcp: Option<TcpListener>,
    unix: Option<(UnixListener, socket::SocketFile)>,
}

fn bind_tcp(host: &str, port: u16) -> Result<std::net::TcpListener, ServeError> {
    let err = |source| ServeError::Bind {
        addr: format!("{host}:{port}"),
        source,
    };
    if host.is_empty() {
        // Every interface: IPv6 and IPv4 where the system has IPv6, else IPv4.
        return std::net::TcpListener::bind(("::", port))
            .or_else(|_| std::net::TcpListener::bind(("0.0.0.0", port)))
            .map_err(err);
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    std::net::TcpListener::bind((host, port)).map_err(err)
}

impl Server {
    /// Bind the listeners (inside a tokio runtime) and register the process's own metrics.
    pub fn bind(config: ServeConfig, state: Arc<State>) -> Result<Server, ServeError> {
        if config.tcp.is_none() && config.unix_socket.is_none() {
            return Err(ServeError::NoListener);
        }
        self_metrics::register(&state.registry)?;
        state.connections.register(&state.registry)?;
        let tcp = match &config.tcp {
            Some((host, port)) => {
                let l = bind_tcp(host, *port)?;
                let addr = format!("{host}:{port}");
                l.set_nonblocking(true)
                    .and_then(|()| TcpListener::from_std(l))
                    .map(Some)
                    .map_err(|source| ServeError::Bind { addr, source })?
            }
            None => None,
        };
        let unix = match &config.unix_socket {
            Some(path) => {
                let (l, file) = socket::bind(path, config.unix_socket_mode)?;
                let l = UnixListener::from_std(l).map_err(|source| ServeError::Socket {
                    path: path.clone(),
                    source,
                })?;
                Some((l, file))
            }
            None => None,
        };
        if let Some(l) = &tcp {
            if let Ok(a) = l.local_addr() {
                tracing::info!("serving HTTP on {a}");
            }
        }
        if let Some((_, f)) = &unix {
            tracing::info!("serving HTTP on unix:{}", f.path().display());
        }
        Ok(Server {
            config: Arc::new(config),
            state,
            tcp,
            unix,
        })
    }

    /// The bound TCP address (useful with port 0).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The socket's path.
    pub fn unix_path(&self) -> Option<&Path> {
        self.unix.as_ref().map(|(_, f)| f.path())
    }

    /// Serve until `shutdown` completes, then let in-flight requests finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Server {
            config,
            state,
            tcp,
            unix,
        } = self;
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_buf_size(config.max_header_bytes.max(8192));
        let graceful = GracefulShutdown::new();
        let max = config.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        let slots = Arc::new(Semaphore::new(max));
        let mut last_warning: Option<Instant> = None;
        let (unix, socket_file) = match unix {
            Some((l, f)) => (Some(l), Some(f)),
            None => (None, None),
        };
        tokio::pin!(shutdown);
        loop {
            let stream: Conn = tokio::select! {
                r = accept_tcp(&tcp) => match r {
                    Ok(s) => Conn::Tcp(s),
                    Err(e) => { accept_failed(e).await; continue; }
                },
                r = accept_unix(&unix) => match r {
                    Ok(s) => Conn::Unix(s),
                    Err(e) => { accept_failed(e).await; continue; }
                },
                () = &mut shutdown => break,
            };
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                state.connections.rejected.inc();
                drop(stream);
                if last_warning.is_none_or(|t| t.elapsed() >= REFUSAL_WARNING_EVERY) {
                    last_warning = Some(Instant::now());
                    tracing::warn!(
                        "{max} HTTP connections open, as many as --max_connections allows; \
                         closing new ones ({} so far)",
                        state.connections.rejected.get()
                    );
                }
                continue;
            };
            let slot = Slot::take(permit, &state.connections.open);
            let (state2, config2) = (Arc::clone(&state), Arc::clone(&config));
            let svc = service_fn(move |req| {
                routes::handle(Arc::clone(&state2), Arc::clone(&config2), req)
            });
            let stalled = state.connections.stalled.clone();
            macro_rules! serve {
                ($s:expr) => {{
                    let io = stall_guarded($s, config.write_stall_timeout);
                    let conn = graceful.watch(builder.serve_connection(io, svc));
                    tokio::spawn(async move {
                        match conn.await {
                            Ok(()) => {}
                            Err(e) if is_write_stall(&e) => {
                                stalled.inc();
                                tracing::debug!(
                                    "HTTP connection: a write made no progress; closed"
                                );
                            }
                            Err(e) => tracing::debug!("HTTP connection: {e}"),
                        }
                        drop(slot);
                    });
                }};
            }
            match stream {
                Conn::Tcp(s) => {
                    limit_unsent(&s);
                    serve!(s)
                }
                Conn::Unix(s) => serve!(s),
            }
        }
        // Stop accepting and take the socket file away first, then drain.
        drop(tcp);
        drop(unix);
        drop(socket_file);
        if tokio::time::timeout(config.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                "HTTP connections still open {:?} after shutdown; closing them",
                config.shutdown_grace
            );
        }
        Ok(())
    }
}

/// A connection's place under the cap: its permit and its count in `logmill_http_connections`,
/// both given back when it is dropped (with the connection's task, however that ends).
struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    open: IntGauge,
}

impl Slot {
    fn take(permit: OwnedSemaphorePermit, open: &IntGauge) -> Slot {
        open.inc();
        Slot {
            permit: Some(permit),
            open: open.clone(),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The permit first: once the gauge shows a connection gone, its slot is free.
        drop(self.permit.take());
        self.open.dec();
    }
}

/// `stream` with its writes bounded by `stall`, ready for hyper. `TimeoutStream` holds a
/// timer and so must stay pinned: it is boxed.
fn stall_guarded<S>(stream: S, stall: Duration) -> TokioIo<Pin<Box<TimeoutStream<S>>>>
where
    S: AsyncRead + AsyncWrite,
{
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(stall));
    TokioIo::new(Box::pin(stream))
}

/// Keep at most [`UNSENT_LOW_WATER`] bytes unsent in the kernel for `s` (where the system has
/// `TCP_NOTSENT_LOWAT`); failing that, the kernel's default buffering stays.
fn limit_unsent(s: &tokio::net::TcpStream) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = socket2::SockRef::from(s).set_tcp_notsent_lowat(UNSENT_LOW_WATER) {
        tracing::debug!("TCP_NOTSENT_LOWAT: {e}");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = s;
}

/// Whether a connection ended because a write stalled: `TimeoutStream`'s error is a bare
/// `TimedOut` (no OS error code, no payload), which tells it apart from a socket's own
/// `ETIMEDOUT` and from hyper's header timeout (an error of hyper's, with no I/O source).
fn is_write_stall(e: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::TimedOut
                && io.raw_os_error().is_none()
                && io.get_ref().is_none();
        }
        source = s.source();
    }
    false
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept_tcp(l: &Option<TcpListener>) -> std::io::Result<tokio::net::TcpStream> {
    match l {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

async fn accept_unix(l: &Option<UnixListener>) -> std::io::Result<tokio::net::UnixStream> {
    match l {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

/// An accept error (out of file descriptors, …): log it and pause instead of spinning.
async fn accept_failed(e: std::io::Error) {
    tracing::warn!("accepting a connection: {e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Bind as `config` says and serve `state` until `shutdown` completes.
pub async fn run(
    config: ServeConfig,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    Server::bind(config, state)?.run(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_follow_mtails_flags() {
        let c = ServeConfig::from_flags(None, None, None, "0660").unwrap();
        assert_eq!(c.tcp, Some((String::new(), 3903)));
        let c = ServeConfig::from_flags(None, None, Some("/s".into()), "0600").unwrap();
        assert_eq!(c.tcp, None);
        assert_eq!(c.unix_socket_mode, 0o600);
        let c = ServeConfig::from_flags(None, Some(9), Some("/s".into()), "0660").unwrap();
        assert_eq!(c.tcp, Some((String::new(), 9)));
        assert!(ServeConfig::from_flags(None, None, None, "rw").is_err());
    }
}
