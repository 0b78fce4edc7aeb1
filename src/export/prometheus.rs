//! Prometheus text exposition 0.0.4, byte for byte as mtail (client_golang) prints it:
//! families sorted by name, `# HELP name defined at prog:line:col-col`, `# TYPE`, labels sorted
//! by name with `prog` among them, series sorted by label values, values in Go's `%g` form,
//! histograms as cumulative `_bucket{le=…}` plus `_sum` and `_count`, text metrics left out.

use crate::store::{format::push_go_float, labels, Metric, Value};
use crate::syntax::ast::MetricKind;
use std::collections::BTreeMap;

/// Options of the exposition.
#[derive(Debug, Clone)]
pub struct Options {
    /// Add a `prog="file.mtail"` label to every series.
    pub emit_prog_label: bool,
    /// Append each datum's time (ms since the epoch) to its samples.
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

struct Series {
    /// (label name, value), sorted by name.
    labels: Vec<(String, String)>,
    value: SeriesValue,
    /// Milliseconds since the epoch, when timestamps are emitted.
    time_ms: Option<i64>,
}

enum SeriesValue {
    Number(f64),
    Histogram {
        bounds: Vec<(f64, u64)>,
        count: u64,
        sum: f64,
    },
}

struct Family {
    help: String,
    kind: &'static str,
    series: Vec<Series>,
}

/// Render the metrics.
pub fn render(metrics: &[&Metric], opts: &Options) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for m in metrics {
        let def = &m.def;
        if def.hidden || def.kind == MetricKind::Text || m.series.is_empty() {
            continue;
        }
        let Some(name) = metric_name(&def.name) else {
            continue;
        };
        let kind = match def.kind {
            MetricKind::Counter => "counter",
            MetricKind::Histogram => "histogram",
            _ => "gauge",
        };
        let fam = families.entry(name).or_insert_with(|| Family {
            help: format!("defined at {}", def.source),
            kind,
            series: Vec::new(),
        });
        for (key, datum) in &m.series {
            let mut lbls: Vec<(String, String)> =
                def.keys.iter().cloned().zip(labels::strings(key)).collect();
            if opts.emit_prog_label {
                lbls.push(("prog".to_string(), def.program.clone()));
            }
            lbls.sort();
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
    let mut out = Vec::new();
    for (name, mut fam) in families {
        fam.series.sort_by(|a, b| {
            let av = a.labels.iter().map(|(_, v)| v);
            let bv = b.labels.iter().map(|(_, v)| v);
            av.cmp(bv)
        });
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        escape(&mut out, &fam.help, false);
        out.extend_from_slice(b"\n# TYPE ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(fam.kind.as_bytes());
        out.push(b'\n');
        for s in &fam.series {
            let t = s.time_ms;
            match &s.value {
                SeriesValue::Number(v) => sample(&mut out, &name, "", &s.labels, None, *v, t),
                SeriesValue::Histogram { bounds, count, sum } => {
                    for (le, c) in bounds {
                        sample(
                            &mut out,
                            &name,
                            "_bucket",
                            &s.labels,
                            Some(*le),
                            *c as f64,
                            t,
                        );
                    }
                    let inf = Some(f64::INFINITY);
                    sample(&mut out, &name, "_bucket", &s.labels, inf, *count as f64, t);
                    sample(&mut out, &name, "_sum", &s.labels, None, *sum, t);
                    sample(&mut out, &name, "_count", &s.labels, None, *count as f64, t);
                }
            }
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

fn sample(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    lbls: &[(String, String)],
    le: Option<f64>,
    v: f64,
    time_ms: Option<i64>,
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
            escape(out, val, true);
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
    if let Some(t) = time_ms {
        out.push(b' ');
        crate::store::format::push_i64(out, t);
    }
    out.push(b'\n');
}

/// Escape `\` and newline (and `"` in label values).
fn escape(out: &mut Vec<u8>, s: &str, quote: bool) {
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
