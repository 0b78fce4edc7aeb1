//! Prometheus text exposition 0.0.4, byte for byte as mtail (client_golang) prints it:
//! families sorted by name, `# HELP name defined at prog:line:col-col`, `# TYPE`, labels sorted
//! by name with `prog` among them, series sorted by label values, values in Go's `%g` form,
//! histograms as cumulative `_bucket{le=…}` plus `_sum` and `_count`, text metrics left out.

use crate::store::{format::push_go_float, labels, Metric, Value};
use crate::syntax::ast::MetricKind;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Options of the exposition.
#[derive(Debug, Clone)]
pub struct Options {
    /// Add a `prog="file.mtail"` label to every series.
    pub emit_prog_label: bool,
    /// Append each datum's time (ms since the epoch) to its samples (0.0.4 only).
    pub emit_timestamp: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            emit_prog_label: true,
            emit_timestamp: false,
        }
    }
}

/// The exported name of a metric, or `None` when it cannot be a Prometheus name.
pub fn metric_name(name: &str) -> Option<String> {
    let n = name.replace('-', "_");
    let mut chars = n.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    (first_ok && rest_ok).then_some(n)
}

/// One series of a family: its labels and value, borrowed from the metrics.
pub(crate) struct Series<'a> {
    /// (label name, value), sorted by name.
    pub(crate) labels: Vec<(&'a str, Cow<'a, str>)>,
    pub(crate) value: SeriesValue<'a>,
    /// Milliseconds since the epoch, when timestamps are emitted.
    pub(crate) time_ms: Option<i64>,
}

pub(crate) enum SeriesValue<'a> {
    Number(f64),
    Histogram {
        /// (upper bound, cumulative count) of the finite buckets.
        bounds: Vec<(f64, u64)>,
        count: u64,
        sum: f64,
    },
    /// The value of a text metric (only when text metrics are asked for).
    Text(&'a str),
}

impl SeriesValue<'_> {
    /// Each sample of the series as `(suffix, le, value)`: one for a number, the buckets (with
    /// `+Inf`), `_sum` and `_count` for a histogram, none for a text.
    pub(crate) fn for_each_sample(&self, mut f: impl FnMut(&str, Option<f64>, f64)) {
        match self {
            SeriesValue::Number(v) => f("", None, *v),
            SeriesValue::Histogram { bounds, count, sum } => {
                for (le, c) in bounds {
                    f("_bucket", Some(*le), *c as f64);
                }
                f("_bucket", Some(f64::INFINITY), *count as f64);
                f("_sum", None, *sum);
                f("_count", None, *count as f64);
            }
            SeriesValue::Text(_) => {}
        }
    }
}

/// The metrics of one exported name, across programs.
pub(crate) struct Family<'a> {
    pub(crate) help: String,
    pub(crate) kind: MetricKind,
    /// Sorted by label values.
    pub(crate) series: Vec<Series<'a>>,
}

/// The metrics grouped into families by exported name (sorted), hidden and empty ones left out,
/// text metrics only when `with_text`.
pub(crate) fn families<'a>(
    metrics: &[&'a Metric],
    opts: &Options,
    with_text: bool,
) -> BTreeMap<String, Family<'a>> {
    let mut families: BTreeMap<String, Family<'a>> = BTreeMap::new();
    for &m in metrics {
        let def = &m.def;
        if def.hidden || (def.kind == MetricKind::Text && !with_text) || m.series.is_empty() {
            continue;
        }
        let Some(name) = metric_name(&def.name) else {
            continue;
        };
        let fam = families.entry(name).or_insert_with(|| Family {
            help: format!("defined at {}", def.source),
            kind: def.kind,
            series: Vec::new(),
        });
        // The label names in exported order, found once per metric: (position in the
        // series' labels, name), sorted by name. Equal names (a key called `prog`) are left to
        // a sort per series, by name then value.
        let mut names: Vec<(usize, &'a str)> =
            def.keys.iter().map(String::as_str).enumerate().collect();
        if opts.emit_prog_label {
            names.push((names.len(), "prog"));
        }
        names.sort_by_key(|&(_, n)| n);
        let unique = names.windows(2).all(|w| w[0].1 != w[1].1);
        let mut values: Vec<Cow<'a, str>> = Vec::with_capacity(names.len());
        fam.series.reserve(m.series.len());
        for (key, datum) in &m.series {
            values.clear();
            values.extend(
                labels::values(key)
                    .take(def.keys.len())
                    .map(String::from_utf8_lossy),
            );
            // As many keys as values (`zip` semantics), then the program.
            let n_keys = values.len();
            if opts.emit_prog_label {
                values.push(Cow::Borrowed(def.program.as_str()));
            }
            let mut lbls: Vec<(&'a str, Cow<'a, str>)> = Vec::with_capacity(values.len());
            for &(i, name) in &names {
                let i = if opts.emit_prog_label && i == def.keys.len() {
                    n_keys
                } else if i < n_keys {
                    i
                } else {
                    continue;
                };
                lbls.push((name, std::mem::take(&mut values[i])));
            }
            if !unique {
                lbls.sort();
            }
            let value = match &datum.value {
                Value::Hist(h) => {
                    let mut cum = 0;
                    let mut bounds = Vec::new();
                    for (i, &(_, max)) in def.buckets.iter().enumerate() {
                        cum += h.counts.get(i).copied().unwrap_or(0);
                        if max.is_finite() {
                            bounds.push((max, cum));
                        }
                    }
                    SeriesValue::Histogram {
                        bounds,
                        count: h.count,
                        sum: h.sum,
                    }
                }
                Value::Str(s) if fam.kind == MetricKind::Text => SeriesValue::Text(s),
                v => SeriesValue::Number(v.as_f64()),
            };
            let time_ms = opts
                .emit_timestamp
                .then(|| datum.time_ns.div_euclid(1_000_000));
            fam.series.push(Series {
                labels: lbls,
                value,
                time_ms,
            });
        }
    }
    for fam in families.values_mut() {
        fam.series.sort_by(|a, b| {
            let av = a.labels.iter().map(|(_, v)| v);
            let bv = b.labels.iter().map(|(_, v)| v);
            av.cmp(bv)
        });
    }
    families
}

/// Render the metrics.
pub fn render(metrics: &[&Metric], opts: &Options) -> String {
    let mut out = Vec::new();
    write_families(&mut out, &families(metrics, opts, false));
    String::from_utf8(out).unwrap_or_default()
}

/// Append families (as made by [`families`] without text) in the 0.0.4 text format.
pub(crate) fn write_families(out: &mut Vec<u8>, families: &BTreeMap<String, Family>) {
    for (name, fam) in families {
        let kind = match fam.kind {
            MetricKind::Counter => "counter",
            MetricKind::Histogram => "histogram",
            MetricKind::Text => continue,
            _ => "gauge",
        };
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        escape(out, &fam.help, false);
        out.extend_from_slice(b"\n# TYPE ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(kind.as_bytes());
        out.push(b'\n');
        for s in &fam.series {
            let mut emit = |suffix: &str, le: Option<f64>, v: f64| {
                sample_value(out, name, suffix, &s.labels, le, v);
                if let Some(t) = s.time_ms {
                    out.push(b' ');
                    crate::store::format::push_i64(out, t);
                }
                out.push(b'\n');
            };
            s.value.for_each_sample(&mut emit);
        }
    }
}

/// A sample without its line end: `name{labels} value` (shared with OpenMetrics).
pub(crate) fn sample_value<V: AsRef<str>>(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    lbls: &[(&str, V)],
    le: Option<f64>,
    v: f64,
) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(suffix.as_bytes());
    if !lbls.is_empty() || le.is_some() {
        out.push(b'{');
        let mut first = true;
        for (k, val) in lbls {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"=\"");
            escape(out, val.as_ref(), true);
            out.push(b'"');
        }
        if let Some(le) = le {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(b"le=\"");
            push_go_float(out, le);
            out.push(b'"');
        }
        out.push(b'}');
    }
    out.push(b' ');
    push_go_float(out, v);
}

/// Escape `\` and newline (and `"` in label values).
pub(crate) fn escape(out: &mut Vec<u8>, s: &str, quote: bool) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' if quote => out.extend_from_slice(b"\\\""),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_replace_dashes_and_reject_others() {
        assert_eq!(
            metric_name("connection-time_total").as_deref(),
            Some("connection_time_total")
        );
        assert_eq!(metric_name("a.b"), None);
        assert_eq!(metric_name("1a"), None);
    }
}
