//! A scrape of `/metrics`: a snapshot of every program's metrics (each VM locked only while its
//! store is copied), then the exposition rendered from the copy with no lock held, followed by
//! the process's own metrics from the registry.

use super::accept::Exposition;
use crate::export::{openmetrics, prometheus as text};
use crate::state::State;
use crate::store::Metric;
use std::collections::HashSet;

/// The content type of the 0.0.4 text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The body of a scrape and its content type.
pub fn render(state: &State, format: Exposition, opts: &text::Options) -> (Vec<u8>, &'static str) {
    // Own metrics first: the feeder applies a batch to the store before it counts it, so the
    // store copied afterwards holds at least every line these counters count.
    let own = state.registry.gather();
    let snapshot = state.snapshot();
    render_snapshot(&snapshot, &own, format, opts)
}

/// Render an already taken snapshot.
pub fn render_snapshot(
    snapshot: &[Metric],
    own: &[prometheus::proto::MetricFamily],
    format: Exposition,
    opts: &text::Options,
) -> (Vec<u8>, &'static str) {
    let metrics: Vec<&Metric> = snapshot.iter().collect();
    match format {
        Exposition::OpenMetrics => (
            openmetrics::render(&metrics, own, opts),
            openmetrics::CONTENT_TYPE,
        ),
        Exposition::Text => {
            let families = text::families(&metrics, opts, false);
            let mut out = Vec::with_capacity(256 + snapshot.len() * 64);
            text::write_families(&mut out, &families);
            // The process's own families, unless a program already exports that name.
            let taken: HashSet<&str> = families.keys().map(String::as_str).collect();
            let own: Vec<_> = own
                .iter()
                .filter(|mf| !taken.contains(mf.name()))
                .cloned()
                .collect();
            let mut tail = String::new();
            if let Err(e) = prometheus::TextEncoder::new().encode_utf8(&own, &mut tail) {
                tracing::warn!("encoding the process's own metrics: {e}");
            }
            out.extend_from_slice(tail.as_bytes());
            (out, TEXT_CONTENT_TYPE)
        }
    }
}
