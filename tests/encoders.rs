//! The exposition encoders' output parses back: a generated store (arbitrary label values,
//! integers, finite and non-finite floats, histograms) rendered as Prometheus text gives back
//! every sample with its value, and as JSON every series with its labels and value.

use logmill::export::{json, prometheus};
use logmill::store::format::go_float;
use logmill::store::{labels, Datum, Histogram, Metric, MetricDef, Value, ValueType};
use logmill::syntax::ast::MetricKind;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Label values: arbitrary strings, the characters the encoders escape, and invalid UTF-8.
fn label_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        "[\"\\\\\n\r\t {}=,a]{0,8}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..8),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(-0.0),
        Just(5e-324),
        (-1e7..1e7f64),
    ]
}

#[derive(Debug, Clone)]
enum Gen {
    Int(i64),
    Float(f64),
    Hist(Vec<u64>, f64),
}

/// One metric: kind, keys, bucket bounds and its series (label values, value).
#[derive(Debug, Clone)]
struct GenMetric {
    kind: MetricKind,
    value_type: ValueType,
    keys: usize,
    buckets: Vec<f64>,
    series: Vec<(Vec<Vec<u8>>, Gen)>,
}

fn metric() -> impl Strategy<Value = GenMetric> {
    let scalar = (
        prop_oneof![
            Just(MetricKind::Counter),
            Just(MetricKind::Gauge),
            Just(MetricKind::Timer)
        ],
        any::<bool>(),
        0..3usize,
    )
        .prop_flat_map(|(kind, int, keys)| {
            let value = if int {
                any::<i64>().prop_map(Gen::Int).boxed()
            } else {
                float().prop_map(Gen::Float).boxed()
            };
            let series = (prop::collection::vec(label_value(), keys), value);
            prop::collection::vec(series, 0..5).prop_map(move |series| GenMetric {
                kind,
                value_type: if int {
                    ValueType::Int
                } else {
                    ValueType::Float
                },
                keys,
                buckets: Vec::new(),
                series,
            })
        });
    let histogram = (
        0..3usize,
        // Distinct bounds, ascending (a set of integers, scaled to eighths).
        prop::collection::btree_set(-8_000_000..8_000_000i64, 0..4)
            .prop_map(|s| s.into_iter().map(|b| b as f64 / 8.0).collect::<Vec<f64>>()),
    )
        .prop_flat_map(|(keys, buckets)| {
            let n = buckets.len() + 1;
            let value = (prop::collection::vec(0..1u64 << 40, n), float())
                .prop_map(|(c, s)| Gen::Hist(c, s));
            let series = (prop::collection::vec(label_value(), keys), value);
            prop::collection::vec(series, 0..4).prop_map(move |series| GenMetric {
                kind: MetricKind::Histogram,
                value_type: ValueType::Buckets,
                keys,
                buckets: buckets.clone(),
                series,
            })
        });
    prop_oneof![3 => scalar, 1 => histogram]
}

/// The store: metric names are distinct and no sample name of one is another's.
fn build(gens: &[GenMetric], program: &str) -> Vec<Metric> {
    gens.iter()
        .enumerate()
        .map(|(i, g)| {
            let name = match g.kind {
                MetricKind::Histogram => format!("h{i}"),
                _ => format!("m{i}"),
            };
            let mut buckets = Vec::new();
            let mut min = 0.0;
            for &max in g.buckets.iter().chain([f64::INFINITY].iter()) {
                buckets.push((min, max));
                min = max;
            }
            let def = MetricDef {
                name,
                program: program.to_string(),
                kind: g.kind,
                value_type: g.value_type,
                keys: (0..g.keys).map(|k| format!("k{k}")).collect(),
                hidden: false,
                buckets,
                limit: 0,
                source: format!("{program}:1:1-2"),
            };
            let mut m = Metric::new(def);
            // Series whose labels print the same (invalid UTF-8) are kept once.
            let mut seen = BTreeSet::new();
            for (values, v) in &g.series {
                let printed: Vec<String> = values
                    .iter()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect();
                if !seen.insert(printed) {
                    continue;
                }
                let mut key = Vec::new();
                for v in values {
                    labels::push(&mut key, v);
                }
                let value = match v {
                    Gen::Int(i) => Value::Int(*i),
                    Gen::Float(f) => Value::Float(*f),
                    Gen::Hist(counts, sum) => Value::Hist(Histogram {
                        counts: counts.clone(),
                        count: counts.iter().sum(),
                        sum: *sum,
                    }),
                };
                m.series.insert(
                    key.into_boxed_slice(),
                    Datum {
                        value,
                        time_ns: 1,
                        expiry_ns: None,
                    },
                );
            }
            m
        })
        .collect()
}

type Key = (String, Vec<(String, String)>);

/// The samples the Prometheus text must hold.
fn expected(metrics: &[Metric], prog_label: bool) -> BTreeMap<Key, f64> {
    let mut out = BTreeMap::new();
    for m in metrics {
        let name = &m.def.name;
        for (key, d) in &m.series {
            let mut lbls: Vec<(String, String)> = m
                .def
                .keys
                .iter()
                .cloned()
                .zip(labels::strings(key))
                .collect();
            if prog_label {
                lbls.push(("prog".into(), m.def.program.clone()));
            }
            let sorted = |mut l: Vec<(String, String)>| {
                l.sort();
                l
            };
            match &d.value {
                Value::Hist(h) => {
                    let mut cum = 0;
                    for (&(_, max), c) in m.def.buckets.iter().zip(&h.counts) {
                        cum += c;
                        if max.is_finite() {
                            let mut l = lbls.clone();
                            l.push(("le".into(), go_float(max)));
                            out.insert((format!("{name}_bucket"), sorted(l)), cum as f64);
                        }
                    }
                    let mut l = lbls.clone();
                    l.push(("le".into(), "+Inf".into()));
                    out.insert((format!("{name}_bucket"), sorted(l)), h.count as f64);
                    out.insert((format!("{name}_sum"), sorted(lbls.clone())), h.sum);
                    out.insert((format!("{name}_count"), sorted(lbls)), h.count as f64);
                }
                v => {
                    out.insert((name.clone(), sorted(lbls)), v.as_f64());
                }
            }
        }
    }
    out
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits() || (a == 0.0 && b == 0.0)
}

/// A JSON number as written for a float: `null` for NaN and the infinities, else the float's
/// shortest round-trip digits as Go spells them (found verbatim in `text`). serde_json's default parser (without
/// its `float_roundtrip` feature) may read those digits a few units in the last place off, so the
/// parsed number is compared with a relative tolerance.
fn json_float_matches(j: &serde_json::Value, v: f64, text: &str) -> bool {
    match j.as_f64() {
        Some(back) => {
            let digits = logmill::export::json::go_json_float(v);
            v.is_finite()
                && (back == v || (back - v).abs() <= 1e-15 * v.abs())
                && text.contains(&format!(": {digits}"))
        }
        None => j.is_null() && !v.is_finite(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn prometheus_text_parses_back(
        gens in prop::collection::vec(metric(), 1..5),
        program in any::<String>(),
        prog_label in any::<bool>(),
        timestamps in any::<bool>(),
    ) {
        let metrics = build(&gens, &program);
        let refs: Vec<&Metric> = metrics.iter().collect();
        let opts = prometheus::Options { emit_prog_label: prog_label, emit_timestamp: timestamps };
        let text = prometheus::render(&refs, &opts);
        let got = logmill::expect::samples(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let want = expected(&metrics, prog_label);
        prop_assert_eq!(got.len(), want.len(), "{}", text);
        for (key, v) in &want {
            let back = got.get(key);
            prop_assert!(back.is_some(), "{:?} missing from\n{}", key, text);
            let back = *back.unwrap();
            prop_assert!(same(*v, back), "{:?}: {} came back as {}\n{}", key, v, back, text);
        }
    }

    #[test]
    fn json_parses_back(
        gens in prop::collection::vec(metric(), 1..5),
        program in any::<String>(),
    ) {
        let metrics = build(&gens, &program);
        let refs: Vec<&Metric> = metrics.iter().collect();
        let text = json::render(&refs);
        let parsed: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        for m in &metrics {
            let objs = &parsed[&m.def.name];
            prop_assert_eq!(objs.as_array().map(Vec::len), Some(1));
            let obj = &objs[0];
            prop_assert_eq!(obj["Program"].as_str(), Some(program.as_str()));
            let series = obj["LabelValues"].as_array().cloned().unwrap_or_default();
            prop_assert_eq!(series.len(), m.series.len());
            for ((key, d), j) in m.series.iter().zip(&series) {
                let want: Vec<String> = labels::strings(key);
                let got: Vec<String> = j["Labels"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
                    .unwrap_or_default();
                prop_assert_eq!(&got, &want);
                let value = &j["Value"];
                match &d.value {
                    Value::Int(i) => prop_assert_eq!(value["Value"].as_i64(), Some(*i)),
                    Value::Float(f) => prop_assert!(
                        json_float_matches(&value["Value"], *f, &text),
                        "{} came back as {}", f, value["Value"]
                    ),
                    Value::Hist(h) => {
                        prop_assert_eq!(value["Count"].as_u64(), Some(h.count));
                        prop_assert!(json_float_matches(&value["Sum"], h.sum, &text));
                        let buckets = value["Buckets"].as_object().cloned().unwrap_or_default();
                        prop_assert_eq!(buckets.len(), h.counts.len());
                        for (&(_, max), c) in m.def.buckets.iter().zip(&h.counts) {
                            let k = if max.is_infinite() { "+Inf".to_string() } else { go_float(max) };
                            prop_assert_eq!(buckets.get(&k).and_then(|b| b.as_u64()), Some(*c));
                        }
                    }
                    Value::Str(_) => {}
                }
            }
        }
    }
}
