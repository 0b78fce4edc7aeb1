//! OpenMetrics 1.0 text exposition: the same families as the 0.0.4 text format, named as the
//! OpenMetrics spec wants them, with text metrics as info metrics and a closing `# EOF`.
//!
//! - A counter's family is named without `_total`, its samples with it (`# TYPE reqs counter`,
//!   `reqs_total{…} 3`), whether or not the program's name ends in `_total`.
//! - A text metric (which no 0.0.4 exposition can carry) becomes an info family: `# TYPE build
//!   info`, `build_info{…,value="v1.2"} 1`. If the metric has its own `value` key, the text goes
//!   in `text_value` instead.
//! - Gauges and timers are gauges; histograms give `_bucket{le=…}` (cumulative, `+Inf` last),
//!   `_count` and `_sum`.
//! - The process's own metrics (families from a `prometheus::Registry`) follow in the same form.
//! - Two families whose OpenMetrics names would clash (a counter `x` and a gauge `x_total`) are
//!   not both exposed: the first one by name wins, the other is left out and logged.

use super::prometheus::{escape, families, Family, Options, SeriesValue};
use crate::store::{format::push_go_float, Metric};
use crate::syntax::ast::MetricKind;
use prometheus::proto::{self, MetricType};
use std::collections::HashSet;

/// The content type of this exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Render the program metrics, then the process's own families, then `# EOF`.
pub fn render(metrics: &[&Metric], own: &[proto::MetricFamily], opts: &Options) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + metrics.len() * 64);
    let mut used = HashSet::new();
    for (name, fam) in &families(metrics, opts, true) {
        write_family(&mut out, &mut used, name, fam);
    }
    for mf in own {
        write_own_family(&mut out, &mut used, mf);
    }
    out.extend_from_slice(b"# EOF\n");
    out
}

/// The family name and the sample suffixes of a metric of this type.
fn om_names<'a>(name: &'a str, kind: &str) -> (&'a str, &'static [&'static str]) {
    match kind {
        "counter" => (name.strip_suffix("_total").unwrap_or(name), &["_total"]),
        "info" => (name.strip_suffix("_info").unwrap_or(name), &["_info"]),
        "histogram" => (name, &["_bucket", "_count", "_sum"]),
        "summary" => (name, &["", "_count", "_sum"]),
        _ => (name, &[""]),
    }
}

/// Claim the family's name and sample names; false (and a log line) if one is taken.
fn claim(used: &mut HashSet<String>, family: &str, suffixes: &[&str]) -> bool {
    let names: Vec<String> = std::iter::once(family.to_string())
        .chain(suffixes.iter().map(|s| format!("{family}{s}")))
        .collect();
    if names.iter().any(|n| used.contains(n)) {
        tracing::warn!(
            family,
            "left out of the OpenMetrics exposition: its name clashes with another family"
        );
        return false;
    }
    used.extend(names);
    true
}

fn header(out: &mut Vec<u8>, family: &str, kind: &str, help: &str) {
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(family.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
    if !help.is_empty() {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(family.as_bytes());
        out.push(b' ');
        escape(out, help, true);
        out.push(b'\n');
    }
}

fn write_family(out: &mut Vec<u8>, used: &mut HashSet<String>, name: &str, fam: &Family) {
    let kind = match fam.kind {
        MetricKind::Counter => "counter",
        MetricKind::Histogram => "histogram",
        MetricKind::Text => "info",
        MetricKind::Gauge | MetricKind::Timer => "gauge",
    };
    let (family, suffixes) = om_names(name, kind);
    if !claim(used, family, suffixes) {
        return;
    }
    header(out, family, kind, &fam.help);
    let value_label = if fam
        .series
        .first()
        .is_some_and(|s| s.labels.iter().any(|(k, _)| *k == "value"))
    {
        "text_value"
    } else {
        "value"
    };
    let mut lbls: Vec<(&str, &str)> = Vec::new();
    for s in &fam.series {
        lbls.clear();
        lbls.extend(s.labels.iter().map(|(k, v)| (*k, v.as_ref())));
        match &s.value {
            SeriesValue::Number(v) => sample(out, family, suffixes[0], &lbls, None, *v),
            SeriesValue::Text(text) => {
                lbls.push((value_label, text));
                sample(out, family, "_info", &lbls, None, 1.0);
            }
            SeriesValue::Histogram { bounds, count, sum } => {
                for (le, c) in bounds {
                    sample(out, family, "_bucket", &lbls, Some(*le), *c as f64);
                }
                let inf = Some(f64::INFINITY);
                sample(out, family, "_bucket", &lbls, inf, *count as f64);
                sample(out, family, "_count", &lbls, None, *count as f64);
                sample(out, family, "_sum", &lbls, None, *sum);
            }
        }
    }
}

fn write_own_family(out: &mut Vec<u8>, used: &mut HashSet<String>, mf: &proto::MetricFamily) {
    let kind = match mf.get_field_type() {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::HISTOGRAM => "histogram",
        MetricType::SUMMARY => "summary",
        MetricType::UNTYPED => "unknown",
    };
    let (family, suffixes) = om_names(mf.name(), kind);
    if mf.get_metric().is_empty() || !claim(used, family, suffixes) {
        return;
    }
    header(out, family, kind, mf.help());
    for m in mf.get_metric() {
        let lbls: Vec<(&str, &str)> = m
            .get_label()
            .iter()
            .map(|l| (l.name(), l.value()))
            .collect();
        match mf.get_field_type() {
            MetricType::COUNTER => sample(
                out,
                family,
                "_total",
                &lbls,
                None,
                m.get_counter().get_value(),
            ),
            MetricType::GAUGE => sample(out, family, "", &lbls, None, m.get_gauge().get_value()),
            #[allow(deprecated)] // the crate keeps untyped values only in its protobuf view
            MetricType::UNTYPED => {
                sample(out, family, "", &lbls, None, m.get_untyped().get_value())
            }
            MetricType::HISTOGRAM => {
                let h = m.get_histogram();
                for b in h.get_bucket() {
                    let (le, c) = (b.upper_bound(), b.cumulative_count());
                    if le.is_finite() {
                        sample(out, family, "_bucket", &lbls, Some(le), c as f64);
                    }
                }
                let count = h.get_sample_count() as f64;
                sample(out, family, "_bucket", &lbls, Some(f64::INFINITY), count);
                sample(out, family, "_count", &lbls, None, count);
                sample(out, family, "_sum", &lbls, None, h.get_sample_sum());
            }
            MetricType::SUMMARY => {
                let s = m.get_summary();
                for q in s.get_quantile() {
                    let mut with_q = lbls.clone();
                    let mut qv = Vec::new();
                    push_go_float(&mut qv, q.quantile());
                    let qv = String::from_utf8(qv).unwrap_or_default();
                    with_q.push(("quantile", &qv));
                    sample(out, family, "", &with_q, None, q.value());
                }
                sample(out, family, "_count", &lbls, None, s.sample_count() as f64);
                sample(out, family, "_sum", &lbls, None, s.sample_sum());
            }
        }
    }
}

fn sample(
    out: &mut Vec<u8>,
    family: &str,
    suffix: &str,
    lbls: &[(&str, &str)],
    le: Option<f64>,
    v: f64,
) {
    super::prometheus::sample_value(out, family, suffix, lbls, le, v);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program_metrics(src: &str, lines: &[&str]) -> Vec<Metric> {
        let p = crate::compile::compile("t.mtail", src).unwrap();
        let mut vm = crate::vm::Vm::new(std::sync::Arc::new(p), Default::default());
        for l in lines {
            vm.run_line(l.as_bytes(), b"f");
        }
        vm.store.metrics
    }

    fn om(src: &str, lines: &[&str]) -> String {
        let ms = program_metrics(src, lines);
        let refs: Vec<&Metric> = ms.iter().collect();
        String::from_utf8(render(&refs, &[], &Options::default())).unwrap()
    }

    #[test]
    fn counters_are_named_per_the_spec() {
        let text = om(
            "counter reqs_total\ncounter errors\n/x/ {\n  reqs_total++\n  errors++\n}\n",
            &["x", "x"],
        );
        assert!(text.contains("# TYPE reqs counter\n"), "{text}");
        assert!(text.contains("reqs_total{prog=\"t.mtail\"} 2\n"), "{text}");
        assert!(text.contains("# TYPE errors counter\n"), "{text}");
        assert!(
            text.contains("errors_total{prog=\"t.mtail\"} 2\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn text_metrics_are_info_metrics() {
        let text = om(
            "text version\n/v=(?P<v>\\S+)/ {\n  version = $v\n}\n",
            &["v=1.2\"x"],
        );
        assert!(text.contains("# TYPE version info\n"), "{text}");
        assert!(
            text.contains("version_info{prog=\"t.mtail\",value=\"1.2\\\"x\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn clashing_names_keep_the_first_family() {
        let text = om(
            "counter a\ngauge a_total\n/x/ {\n  a++\n  a_total = 5\n}\n",
            &["x"],
        );
        assert_eq!(text.matches("a_total").count(), 1, "{text}");
    }
}
