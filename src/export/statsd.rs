//! statsd lines, byte for byte as mtail pushes them (its `metricToStatsd`): `prefix + program +
//! "." + name` with `.key.value` per label in key order (`.` replaced by `_`), `:value|type`
//! where the type is `c` (counter), `g` (gauge), `ms` (timer) or nothing (a histogram, whose
//! value is its sum). One datagram per line, no newline. Counters go as their running total,
//! as mtail sends them (statsd adds up what it receives per flush).

use super::{push_labelled_name, push_value, pushed};
use crate::store::Metric;
use crate::syntax::ast::MetricKind;

/// Settings of the statsd lines.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--statsd_prefix`, put before every name verbatim.
    pub prefix: String,
}

/// The datagrams of one push.
pub fn render(metrics: &[&Metric], opts: &Options) -> Vec<Vec<u8>> {
    pushed(metrics, false)
        .map(|(m, key, d)| {
            let mut out = Vec::with_capacity(64);
            out.extend_from_slice(opts.prefix.as_bytes());
            out.extend_from_slice(m.def.program.as_bytes());
            out.push(b'.');
            push_labelled_name(&mut out, m, key, b'.', b'.', b'_');
            out.push(b':');
            push_value(&mut out, &d.value);
            out.push(b'|');
            out.extend_from_slice(match m.def.kind {
                MetricKind::Counter => b"c".as_slice(),
                MetricKind::Gauge => b"g",
                MetricKind::Timer => b"ms",
                MetricKind::Histogram | MetricKind::Text => b"",
            });
            out
        })
        .collect()
}
