//! Standard input (`-`): read on a thread of its own until it ends; a last line without a
//! newline is delivered at the end. logmill keeps running after stdin ends.

use super::{lines::LineSplitter, Lines, Sink, CHUNK};
use std::io::Read;

/// Start the reader; it is not joined (a read of a quiet stdin cannot be interrupted).
pub fn spawn(sink: Sink) {
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; CHUNK];
            let mut splitter = LineSplitter::with_max(sink.source.max_line);
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        sink.source.errors.inc();
                        tracing::warn!("stdin: {e}");
                        0
                    }
                };
                let mut lines = Lines::new();
                if n == 0 {
                    splitter.finish_lines(&mut lines);
                    sink.blocking_send(lines, None);
                    return;
                }
                splitter.feed_lines(&buf[..n], &mut lines);
                sink.blocking_send(lines, None);
            }
        });
    if let Err(e) = spawned {
        tracing::error!("stdin: {e}");
    }
}
