//! collectd's plain text protocol, byte for byte as mtail pushes it (its `metricToCollectd`):
//! `PUTVAL "host/<prefix>mtail-<program>/<type>-<name>" interval=<s> <time>:<value>\n`, the
//! type `counter`, `gauge` (gauges and timers) or `histogram` (the value is its sum), the name
//! followed by `-key-value` per label in key order with `-` replaced by `_`, the time the
//! datum's last update in seconds (0 if never updated) and the interval the push interval in
//! whole seconds.

use super::{push_labelled_name, push_time, push_value, pushed};
use crate::store::Metric;
use crate::syntax::ast::MetricKind;

/// Settings of the PUTVAL lines.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The host part of every identifier (mtail: the machine's host name).
    pub hostname: String,
    /// `--collectd_prefix`, put before `mtail-` verbatim.
    pub prefix: String,
    /// `--metric_push_interval` in whole seconds.
    pub interval_secs: u64,
}

/// The lines of one push, and how many there are.
pub fn render(metrics: &[&Metric], opts: &Options) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(96 * metrics.len());
    let mut lines = 0;
    for (m, key, d) in pushed(metrics, false) {
        out.extend_from_slice(b"PUTVAL \"");
        out.extend_from_slice(opts.hostname.as_bytes());
        out.push(b'/');
        out.extend_from_slice(opts.prefix.as_bytes());
        out.extend_from_slice(b"mtail-");
        out.extend_from_slice(m.def.program.as_bytes());
        out.push(b'/');
        out.extend_from_slice(match m.def.kind {
            MetricKind::Counter => b"counter".as_slice(),
            MetricKind::Gauge | MetricKind::Timer => b"gauge",
            MetricKind::Histogram => b"histogram",
            MetricKind::Text => b"text",
        });
        out.push(b'-');
        push_labelled_name(&mut out, m, key, b'-', b'-', b'_');
        out.extend_from_slice(b"\" interval=");
        out.extend_from_slice(opts.interval_secs.to_string().as_bytes());
        out.push(b' ');
        push_time(&mut out, d);
        out.push(b':');
        push_value(&mut out, &d.value);
        out.push(b'\n');
        lines += 1;
    }
    (out, lines)
}
