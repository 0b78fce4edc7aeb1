//! Named pipes: opened for reading and writing (so the pipe never reports end of file when a
//! writer closes it: writers may come and go), read from the start, lines as they come.

use super::{pump, Sink};
use std::path::Path;
use tokio::sync::watch;

pub async fn run(path: &Path, sink: Sink, stop: watch::Receiver<bool>) {
    let rx = tokio::net::unix::pipe::OpenOptions::new()
        .read_write(true)
        .open_receiver(path);
    match rx {
        Ok(rx) => pump(rx, &sink, stop).await,
        Err(e) => {
            sink.source.errors.inc();
            tracing::error!("{}: opening the pipe: {e}", path.display());
        }
    }
}
