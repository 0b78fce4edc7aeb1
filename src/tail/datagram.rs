//! Datagram sockets logmill listens on: `unixgram:///path` and `udp://host:port`. Each datagram
//! is complete: its lines are cut on newlines, and a last line without one is a line too
//! (syslog over UDP sends one message per datagram, without a newline).

use super::{lines::LineSplitter, Lines, Sink};
use std::path::Path;
use tokio::net::{UdpSocket, UnixDatagram};
use tokio::sync::watch;

/// Largest datagram read.
const MAX_DATAGRAM: usize = 64 * 1024;

pub fn bind_unix(path: &Path) -> std::io::Result<UnixDatagram> {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(path)?;
    }
    UnixDatagram::bind(path)
}

/// Either kind of datagram socket.
pub enum Socket {
    Unix(UnixDatagram),
    Udp(UdpSocket),
}

impl Socket {
    async fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Socket::Unix(s) => s.recv(buf).await,
            Socket::Udp(s) => s.recv(buf).await,
        }
    }
}

pub async fn run(socket: Socket, sink: Sink, mut stop: watch::Receiver<bool>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let n = tokio::select! {
            r = socket.recv(&mut buf) => match r {
                Ok(n) => n,
                Err(e) => {
                    sink.source.errors.inc();
                    tracing::warn!(source = %sink.source.name_str(), "receive: {e}");
                    continue;
                }
            },
            _ = crate::tail::stopped(&mut stop) => return,
        };
        let mut lines = Lines::new();
        let mut splitter = LineSplitter::with_max(sink.source.max_line);
        splitter.feed_lines(&buf[..n], &mut lines);
        splitter.finish_lines(&mut lines);
        sink.send(lines, None).await;
    }
}
