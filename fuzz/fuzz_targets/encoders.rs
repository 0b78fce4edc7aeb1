//! The exposition encoders over a store made from the input: Prometheus text, OpenMetrics and
//! JSON render, and the Prometheus text parses back to the same samples.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logmill::export::{json, openmetrics, prometheus};
use logmill::store::format::go_float;
use logmill::store::{labels, Datum, Histogram, Metric, MetricDef, Value, ValueType};
use logmill::syntax::ast::MetricKind;
use std::collections::BTreeMap;

/// The input, read front to back; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = (usize::from(self.byte()) % (max + 1)).min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        u64::from_le_bytes(b)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()]
    }
}

const NAMES: &[&str] = &[
    "a", "b_c", "b-c", "x", "x_total", "x_sum", "x_count", "x_bucket", "x_info", "1bad", "a.b", "",
    "prog", ":colon", "_",
];
const KEYS: &[&str] = &["k", "k2", "prog", "le", "value", "_x", "a_b"];
const PIECES: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\n",
    b"\\n",
    b"\xff",
    b"\xc3",
    b"}",
    b",",
    b"=",
    b" ",
    b"\r",
    b"",
    b"GET",
    b"\xe2\x80\xa8",
    b"\0",
    b"\\\"",
    b"\t",
];

fn text(inp: &mut Input) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..inp.byte() % 4 {
        if inp.byte() % 2 == 0 {
            out.extend_from_slice(inp.pick(PIECES));
        } else {
            out.extend_from_slice(inp.bytes(12));
        }
    }
    out
}

fn float(inp: &mut Input) -> f64 {
    match inp.byte() % 12 {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => f64::MAX,
        4 => f64::MIN_POSITIVE,
        5 => -0.0,
        6 => 5e-324,
        7 => 1e21,
        8 => f64::from(inp.byte()) / 8.0,
        _ => f64::from_bits(inp.u64()),
    }
}

fn int(inp: &mut Input) -> i64 {
    match inp.byte() % 5 {
        0 => i64::MIN,
        1 => i64::MAX,
        2 => i64::from(inp.byte()),
        _ => inp.u64() as i64,
    }
}

fn metric(inp: &mut Input) -> Metric {
    let kind = inp.pick(&[
        MetricKind::Counter,
        MetricKind::Gauge,
        MetricKind::Timer,
        MetricKind::Text,
        MetricKind::Histogram,
    ]);
    let value_type = match kind {
        MetricKind::Histogram => ValueType::Buckets,
        MetricKind::Text => ValueType::String,
        _ => inp.pick(&[ValueType::Int, ValueType::Float]),
    };
    let name = match inp.byte() % 8 {
        0 => String::from_utf8_lossy(&text(inp)).into_owned(),
        _ => inp.pick(NAMES).to_string(),
    };
    let keys: Vec<String> = (0..inp.byte() % 4)
        .map(|_| inp.pick(KEYS).to_string())
        .collect();
    let mut buckets = Vec::new();
    if kind == MetricKind::Histogram {
        let mut maxes: Vec<f64> = (0..inp.byte() % 4)
            .map(|_| float(inp))
            .filter(|f| f.is_finite())
            .collect();
        maxes.sort_by(f64::total_cmp);
        let mut min = 0.0;
        for max in maxes {
            buckets.push((min, max));
            min = max;
        }
        buckets.push((min, f64::INFINITY));
    }
    let def = MetricDef {
        name,
        program: String::from_utf8_lossy(&text(inp)).into_owned(),
        kind,
        value_type,
        keys,
        hidden: inp.byte() % 8 == 0,
        buckets,
        limit: 0,
        source: String::from_utf8_lossy(&text(inp)).into_owned(),
    };
    let mut m = Metric::new(def);
    for _ in 0..inp.byte() % 5 {
        // Usually one value per key; sometimes fewer or more.
        let n = match inp.byte() % 8 {
            0 => usize::from(inp.byte() % 4),
            _ => m.def.keys.len(),
        };
        let mut key = Vec::new();
        for _ in 0..n {
            labels::push(&mut key, &text(inp));
        }
        let value = match m.def.value_type {
            ValueType::Int => Value::Int(int(inp)),
            ValueType::Float => Value::Float(float(inp)),
            ValueType::String => Value::Str(String::from_utf8_lossy(&text(inp)).into_owned()),
            ValueType::Buckets => {
                // Counts stay far below u64::MAX: a store never counts that many lines.
                let counts: Vec<u64> = m.def.buckets.iter().map(|_| inp.u64() >> 24).collect();
                let count = counts.iter().sum::<u64>() + u64::from(inp.byte() % 2);
                Value::Hist(Histogram {
                    counts,
                    count,
                    sum: float(inp),
                })
            }
        };
        let time_ns = int(inp);
        let expiry_ns = (inp.byte() % 4 == 0).then(|| int(inp));
        m.series.insert(
            key.into_boxed_slice(),
            Datum {
                value,
                time_ns,
                expiry_ns,
            },
        );
    }
    m
}

type Key = (String, Vec<(String, String)>);

/// The samples the Prometheus text must hold; `None` where two series print the same sample.
fn expected(metrics: &[Metric], opts: &prometheus::Options) -> BTreeMap<Key, Option<f64>> {
    let mut out: BTreeMap<Key, Option<f64>> = BTreeMap::new();
    let mut add = |name: String, labels: Vec<(String, String)>, v: f64| {
        out.entry((name, labels))
            .and_modify(|e| *e = None)
            .or_insert(Some(v));
    };
    for m in metrics {
        let def = &m.def;
        if def.hidden || def.kind == MetricKind::Text {
            continue;
        }
        let Some(name) = prometheus::metric_name(&def.name) else {
            continue;
        };
        for (key, d) in &m.series {
            let mut lbls: Vec<(String, String)> = def
                .keys
                .iter()
                .zip(labels::strings(key))
                .map(|(k, v)| (k.clone(), v))
                .collect();
            if opts.emit_prog_label {
                lbls.push(("prog".into(), def.program.clone()));
            }
            let sorted = |mut l: Vec<(String, String)>| {
                l.sort();
                l
            };
            match &d.value {
                Value::Hist(h) => {
                    let mut cum = 0;
                    for (i, &(_, max)) in def.buckets.iter().enumerate() {
                        cum += h.counts.get(i).copied().unwrap_or(0);
                        if max.is_finite() {
                            let mut l = lbls.clone();
                            l.push(("le".into(), go_float(max)));
                            add(format!("{name}_bucket"), sorted(l), cum as f64);
                        }
                    }
                    let mut l = lbls.clone();
                    l.push(("le".into(), "+Inf".into()));
                    add(format!("{name}_bucket"), sorted(l), h.count as f64);
                    add(format!("{name}_sum"), sorted(lbls.clone()), h.sum);
                    add(format!("{name}_count"), sorted(lbls), h.count as f64);
                }
                v => add(name.clone(), sorted(lbls), v.as_f64()),
            }
        }
    }
    out
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let opts = prometheus::Options {
        emit_prog_label: inp.byte() % 4 != 0,
        emit_timestamp: inp.byte() % 2 == 0,
    };
    let metrics: Vec<Metric> = (0..1 + inp.byte() % 4).map(|_| metric(&mut inp)).collect();
    let refs: Vec<&Metric> = metrics.iter().collect();

    let text = prometheus::render(&refs, &opts);
    let om = openmetrics::render(&refs, &[], &opts);
    let om = String::from_utf8(om).expect("OpenMetrics output is UTF-8");
    assert!(om.ends_with("# EOF\n"));
    logmill::expect::samples(&om).unwrap_or_else(|e| panic!("OpenMetrics: {e}\n{om}"));
    for j in [json::render(&refs), json::render_store(&refs)] {
        serde_json::from_str::<serde_json::Value>(&j).expect("JSON parses");
    }

    let got = logmill::expect::samples(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let want = expected(&metrics, &opts);
    for (key, v) in &want {
        let Some(v) = v else { continue };
        let back = got
            .get(key)
            .unwrap_or_else(|| panic!("{key:?} missing from\n{text}"));
        assert!(same(*v, *back), "{key:?}: {v} came back as {back}\n{text}");
    }
    assert_eq!(got.len(), want.len(), "samples:\n{text}");
});
