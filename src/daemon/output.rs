//! The metrics file (`--metrics_file PATH`): the store written on SIGUSR1 and when logmill
//! stops, for users without HTTP. JSON (mtail's one-shot form) or Prometheus text, which also
//! carries logmill's own metrics. Written atomically: a reader sees a whole file.

use super::checkpoint::write_atomic;
use crate::export;
use crate::state::State;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Prometheus,
}

/// The text of the metrics file.
pub fn render(state: &State, format: Format, emit_prog_label: bool) -> String {
    // Own metrics first: the feeder applies a batch to the store before it counts it, so the
    // store copied afterwards holds at least every line these counters count.
    let own = state.registry.gather();
    let snapshot = state.snapshot();
    let metrics: Vec<_> = snapshot.iter().collect();
    match format {
        Format::Json => export::json::render(&metrics),
        Format::Prometheus => {
            let opts = export::prometheus::Options {
                emit_prog_label,
                ..Default::default()
            };
            let mut text = export::prometheus::render(&metrics, &opts);
            let own = prometheus::TextEncoder::new()
                .encode_to_string(&own)
                .unwrap_or_default();
            text.push_str(&own);
            text
        }
    }
}

/// Write the metrics file; a failure is logged, counted in `errors`, and the next write tries
/// again.
pub fn write(
    path: &Path,
    state: &State,
    format: Format,
    emit_prog_label: bool,
    errors: &prometheus::IntCounter,
) {
    let text = render(state, format, emit_prog_label);
    if let Err(e) = write_atomic(path, text.as_bytes()) {
        errors.inc();
        tracing::error!("writing the metrics file {}: {e}", path.display());
    }
}
