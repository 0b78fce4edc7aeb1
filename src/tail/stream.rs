//! Stream sockets logmill listens on: `unix:///path` and `tcp://host:port`. Each connection is
//! its own stream of lines (a last line without a newline ends with the connection); all of a
//! listener's connections share its source name, which is what `getfilename()` returns.

use super::{pump, Sink};
use std::path::Path;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

/// Listen on a Unix socket path (a stale socket file there is replaced).
pub fn bind_unix(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(path)?;
    }
    UnixListener::bind(path)
}

pub async fn run_unix(listener: UnixListener, sink: Sink, mut stop: watch::Receiver<bool>) {
    let conn_stop = stop.clone();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((conn, _)) => {
                    let (sink, stop) = (sink.clone(), conn_stop.clone());
                    tokio::spawn(async move { pump(conn, &sink, stop).await });
                }
                Err(e) => accept_error(&sink, e).await,
            },
            _ = crate::tail::stopped(&mut stop) => return,
        }
    }
}

pub async fn run_tcp(listener: TcpListener, sink: Sink, mut stop: watch::Receiver<bool>) {
    let conn_stop = stop.clone();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((conn, _)) => {
                    let (sink, stop) = (sink.clone(), conn_stop.clone());
                    tokio::spawn(async move { pump(conn, &sink, stop).await });
                }
                Err(e) => accept_error(&sink, e).await,
            },
            _ = crate::tail::stopped(&mut stop) => return,
        }
    }
}

async fn accept_error(sink: &Sink, e: std::io::Error) {
    sink.source.errors.inc();
    tracing::warn!(source = %sink.source.name_str(), "accept: {e}");
    // Out of file descriptors and the like: do not spin.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
}
