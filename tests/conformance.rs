//! mtail's example triples (program, log, golden) from `../shared/conformance/mtail`:
//! the binary's one-shot Prometheus output must agree with Debian mtail's `.prom` sample by
//! sample, and the store must equal the golden file (values, label order, timestamps).

use logmill::store::{labels, Metric, Value, ValueType};
use logmill::syntax::ast::MetricKind;
use logmill::vm::VmOptions;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/mtail")
}

fn triples() -> Vec<Json> {
    let text = std::fs::read_to_string(corpus().join("examples.json"))
        .expect("examples.json in ../shared");
    let all: Vec<Json> = serde_json::from_str(&text).expect("examples.json parses");
    all.into_iter()
        .filter(|t| t["log_available"] == Json::Bool(true))
        .collect()
}

/// Samples of a Prometheus text exposition: (name, sorted labels) → value. promdiff.py's rules.
/// A sample's identity: metric name and sorted label pairs.
type SampleKey = (String, Vec<(String, String)>);

fn samples(text: &str) -> Result<BTreeMap<SampleKey, f64>, String> {
    let sample =
        regex::Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?\s*$"#)
            .unwrap();
    let label =
        regex::Regex::new(r#"^\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?"#).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let m = sample
            .captures(line)
            .ok_or_else(|| format!("cannot parse: {line}"))?;
        let mut rest = m.get(3).map_or("", |x| x.as_str());
        let mut lbls = Vec::new();
        while !rest.is_empty() {
            let l = label
                .captures(rest)
                .ok_or_else(|| format!("bad labels: {rest}"))?;
            lbls.push((l[1].to_string(), l[2].to_string()));
            rest = &rest[l.get(0).unwrap().end()..];
        }
        lbls.sort();
        let v = m[4].replace("+Inf", "inf").replace("-Inf", "-inf");
        let v: f64 = v.parse().map_err(|_| format!("bad value: {line}"))?;
        out.insert((m[1].to_string(), lbls), v);
    }
    Ok(out)
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * 1f64.max(a.abs()).max(b.abs())
}

/// Differences between two expositions, one line each (empty when they agree).
fn promdiff(expected: &str, actual: &str) -> Vec<String> {
    let (e, a) = match (samples(expected), samples(actual)) {
        (Ok(e), Ok(a)) => (e, a),
        (Err(x), _) | (_, Err(x)) => return vec![x],
    };
    let mut diffs = Vec::new();
    for (k, v) in &e {
        match a.get(k) {
            None => diffs.push(format!("missing: {k:?} {v}")),
            Some(w) if !same(*v, *w) => diffs.push(format!("value: {k:?} expected {v} got {w}")),
            _ => {}
        }
    }
    for k in a.keys().filter(|k| !e.contains_key(*k)) {
        diffs.push(format!("unexpected: {k:?}"));
    }
    diffs
}

#[test]
fn prometheus_output_agrees_with_mtail() {
    let dir = corpus();
    let (mut passed, mut exact, mut failures) = (0, 0, Vec::new());
    let all = triples();
    for t in &all {
        let name = t["name"].as_str().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_logmill"))
            .current_dir(&dir)
            .args([
                "--progs",
                t["program"].as_str().unwrap(),
                "--logs",
                t["log"].as_str().unwrap(),
            ])
            .args([
                "--one_shot",
                "--one_shot_format=prometheus",
                "--syslog_use_current_year=false",
            ])
            .output()
            .expect("run logmill");
        let expected =
            std::fs::read_to_string(dir.join(t["prometheus_output"].as_str().unwrap())).unwrap();
        let actual = String::from_utf8_lossy(&out.stdout);
        let diffs = promdiff(&expected, &actual);
        if out.status.success() && diffs.is_empty() {
            passed += 1;
            if actual == expected {
                exact += 1;
            }
        } else {
            failures.push(format!(
                "{name}: exit {:?}\n  {}\n  stderr: {}",
                out.status.code(),
                diffs.join("\n  "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    println!(
        "prometheus: passed {passed}/{} (byte-identical: {exact})",
        all.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        exact,
        all.len(),
        "every exposition should be byte-identical to mtail's"
    );
}

/// A golden datum: labels, value, time in ns.
#[derive(Debug, PartialEq)]
struct GoldenDatum {
    labels: Vec<String>,
    value: GoldenValue,
    time_ns: i64,
}

#[derive(Debug, PartialEq)]
enum GoldenValue {
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Debug, PartialEq)]
struct GoldenMetric {
    kind: MetricKind,
    typ: ValueType,
    keys: Vec<String>,
    datums: Vec<GoldenDatum>,
}

fn golden_time(s: &str) -> Option<i64> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(
            ts.as_second()
                .wrapping_mul(1_000_000_000)
                .wrapping_add(ts.subsec_nanosecond() as i64),
        );
    }
    s.parse().ok()
}

/// mtail's golden reader (GOLDEN_FORMAT.md).
fn read_golden(text: &str) -> BTreeMap<String, GoldenMetric> {
    let line_re = regex::Regex::new(
        r"^(counter|gauge|timer|text|histogram) ([^ ]+)(?: \{([^}]+)\})?(?: (\S+))?(?: (.+))?",
    )
    .unwrap();
    let mut out: BTreeMap<String, GoldenMetric> = BTreeMap::new();
    for line in text.lines() {
        let Some(m) = line_re.captures(line) else {
            continue;
        };
        let kind = match &m[1] {
            "counter" => MetricKind::Counter,
            "gauge" => MetricKind::Gauge,
            "timer" => MetricKind::Timer,
            "text" => MetricKind::Text,
            _ => MetricKind::Histogram,
        };
        let (mut keys, mut vals) = (Vec::new(), Vec::new());
        if let Some(l) = m.get(3) {
            for pair in l.as_str().split(',') {
                let kv: Vec<&str> = pair.splitn(2, '=').collect();
                keys.push(kv[0].to_string());
                if kv.len() > 1 && !kv[1].is_empty() {
                    vals.push(kv[1].trim_matches('"').to_string());
                }
            }
        }
        let value = m.get(4).map(|v| {
            let v = v.as_str();
            if let Ok(i) = v.parse::<i64>() {
                GoldenValue::Int(i)
            } else if let Some(f) = v.parse::<f64>().ok().filter(|f| *f != 0.0) {
                GoldenValue::Float(f)
            } else {
                GoldenValue::Str(v.to_string())
            }
        });
        let typ = match &value {
            Some(GoldenValue::Float(_)) => ValueType::Float,
            Some(GoldenValue::Str(_)) => ValueType::String,
            _ => ValueType::Int,
        };
        let name = m[2].to_string();
        let metric = out.entry(name).or_insert_with(|| {
            let mut g = GoldenMetric {
                kind,
                typ,
                keys: keys.clone(),
                datums: Vec::new(),
            };
            if kind == MetricKind::Counter && keys.is_empty() {
                g.datums.push(GoldenDatum {
                    labels: vec![],
                    value: GoldenValue::Int(0),
                    time_ns: 0,
                });
            }
            g
        });
        if metric.typ != typ {
            continue;
        }
        let (Some(value), Some(t)) = (value, m.get(5).and_then(|t| golden_time(t.as_str()))) else {
            continue;
        };
        if vals.len() != metric.keys.len() {
            continue;
        }
        match metric.datums.iter_mut().find(|d| d.labels == vals) {
            Some(d) => {
                d.value = value;
                d.time_ns = t;
            }
            None => metric.datums.push(GoldenDatum {
                labels: vals,
                value,
                time_ns: t,
            }),
        }
    }
    out
}

fn store_view(m: &Metric) -> GoldenMetric {
    GoldenMetric {
        kind: m.def.kind,
        typ: m.def.value_type,
        keys: m.def.keys.clone(),
        datums: m
            .series
            .iter()
            .map(|(k, d)| GoldenDatum {
                labels: labels::strings(k),
                value: match &d.value {
                    Value::Int(i) => GoldenValue::Int(*i),
                    Value::Float(f) => GoldenValue::Float(*f),
                    Value::Str(s) => GoldenValue::Str(s.clone()),
                    Value::Hist(_) => GoldenValue::Str("histogram".into()),
                },
                time_ns: d.time_ns,
            })
            .collect(),
    }
}

#[test]
fn store_equals_golden_files() {
    let dir = corpus();
    let all = triples();
    let (mut passed, mut failures) = (0, Vec::new());
    for t in &all {
        let name = t["name"].as_str().unwrap();
        let prog = logmill::programs::compile_file(&dir.join(t["program"].as_str().unwrap()))
            .unwrap()
            .unwrap();
        let opts = VmOptions {
            syslog_use_current_year: false,
            ..VmOptions::default()
        };
        let run = logmill::oneshot::run(vec![prog], &[dir.join(t["log"].as_str().unwrap())], &opts)
            .unwrap();
        let golden =
            read_golden(&std::fs::read_to_string(dir.join(t["golden"].as_str().unwrap())).unwrap());
        let got: BTreeMap<String, GoldenMetric> = run.vms[0]
            .store
            .metrics
            .iter()
            .filter(|m| !m.def.hidden)
            .map(|m| (m.def.name.clone(), store_view(m)))
            .collect();
        if got == golden {
            passed += 1;
        } else {
            failures.push(format!("{name}:\n  golden: {golden:?}\n  logmill: {got:?}"));
        }
    }
    println!("golden: passed {passed}/{}", all.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_shipped_example_program_compiles() {
    let dir = corpus().join("examples_all");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = logmill::programs::compile_file(f).unwrap() {
            failures.push(e.to_string());
        }
    }
    println!(
        "examples_all: passed {}/{}",
        files.len() - failures.len(),
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(files.len(), 17);
}

#[test]
fn fuzz_regressions_neither_panic_nor_hang() {
    let text = std::fs::read_to_string(corpus().join("fuzz_regressions.json")).unwrap();
    let cases: Vec<Json> = serde_json::from_str(&text).unwrap();
    let mut ran = 0;
    for c in &cases {
        let src = c["program"].as_str().unwrap_or_default();
        let started = std::time::Instant::now();
        if let Ok(prog) = logmill::compile::compile("fuzz.mtail", src) {
            let mut vm = logmill::vm::Vm::new(std::sync::Arc::new(prog), VmOptions::default());
            for l in c["log_lines"].as_array().into_iter().flatten() {
                vm.run_line(l.as_str().unwrap_or_default().as_bytes(), b"fuzz.log");
            }
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "{} took too long",
            c["name"]
        );
        ran += 1;
    }
    println!("fuzz regressions: passed {ran}/{}", cases.len());
}
