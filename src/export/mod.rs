//! Export: the store as Prometheus text (0.0.4, as mtail prints it), as OpenMetrics 1.0, as
//! mtail's JSON, as mtail's `/varz` page, and as the lines mtail pushes to graphite, statsd and
//! collectd (and as a Prometheus remote-write request).

pub mod collectd;
pub mod graphite;
pub mod json;
pub mod openmetrics;
pub mod prometheus;
pub mod remote_write;
pub mod statsd;
pub mod varz;

use crate::store::{format, labels, Datum, Metric, Value};
use crate::syntax::ast::MetricKind;

/// Every metric of every program, in load order.
pub type Snapshot<'a> = Vec<&'a Metric>;

/// The series the push formats send, in snapshot order: every series of every metric that is
/// not hidden, and not text unless `with_text` (mtail's `writeSocketMetrics` skips text; its
/// `/graphite` page does not), with its encoded label set.
pub(crate) fn pushed<'a>(
    metrics: &'a [&'a Metric],
    with_text: bool,
) -> impl Iterator<Item = (&'a Metric, &'a [u8], &'a Datum)> + 'a {
    metrics
        .iter()
        .filter(move |m| !m.def.hidden && (with_text || m.def.kind != MetricKind::Text))
        .flat_map(|m| m.series.iter().map(move |(k, d)| (*m, &k[..], d)))
}

/// mtail's `formatLabels(name, labels, ksep, sep, rep)`: the name, then for each label in key
/// order `sep key ksep value`, with `ksep` and `sep` inside keys and values replaced by `rep`.
pub(crate) fn push_labelled_name(
    out: &mut Vec<u8>,
    m: &Metric,
    key: &[u8],
    ksep: u8,
    sep: u8,
    rep: u8,
) {
    out.extend_from_slice(m.def.name.as_bytes());
    let mut pairs: Vec<(&[u8], &[u8])> = m
        .def
        .keys
        .iter()
        .map(|k| k.as_bytes())
        .zip(labels::values(key))
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let clean = |out: &mut Vec<u8>, s: &[u8]| {
        out.extend(
            s.iter()
                .map(|&b| if b == ksep || b == sep { rep } else { b }),
        );
    };
    for (k, v) in pairs {
        out.push(sep);
        clean(out, k);
        out.push(ksep);
        clean(out, v);
    }
}

/// mtail's `Datum.ValueString()`: integers `%d`, floats Go's `%g`, a histogram its sum (`%g`).
pub(crate) fn push_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Int(i) => format::push_i64(out, *i),
        Value::Float(f) => format::push_go_float(out, *f),
        Value::Hist(h) => format::push_go_float(out, h.sum),
        Value::Str(s) => out.extend_from_slice(s.as_bytes()),
    }
}

/// mtail's `Datum.TimeString()`: the last update in whole seconds since the epoch (0 if never
/// updated), Go's integer division of the nanoseconds.
pub(crate) fn push_time(out: &mut Vec<u8>, d: &Datum) {
    format::push_i64(out, d.time_ns / 1_000_000_000);
}

/// This machine's host name, as Go's `os.Hostname` gives it: `instance=` on `/varz`, the host
/// part of collectd's identifiers.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}
