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
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// mtail's port.
pub const DEFAULT_PORT: u16 = 3903;

/// Most HTTP connections open at once unless `--max_connections` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

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
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) accepted.
    pub max_header_bytes: usize,
    /// How long in-flight requests may run on after shutdown is asked.
    pub shutdown_grace: Duration,
    /// Most connections open at once, TCP and socket together (at least 1).
    pub max_connections: usize,
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            tcp: Some((String::new(), DEFAULT_PORT)),
            unix_socket: None,
            unix_socket_mode: 0o660,
            emit_prog_label: true,
            emit_timestamp: false,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(30),
            max_connections: DEFAULT_MAX_CONNECTIONS,
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
            let (state, config2) = (Arc::clone(&state), Arc::clone(&config));
            let svc = service_fn(move |req| {
                routes::handle(Arc::clone(&state), Arc::clone(&config2), req)
            });
            macro_rules! serve {
                ($s:expr) => {{
                    let conn = graceful.watch(builder.serve_connection(TokioIo::new($s), svc));
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!("HTTP connection: {e}");
                        }
                        drop(slot);
                    });
                }};
            }
            match stream {
                Conn::Tcp(s) => serve!(s),
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
