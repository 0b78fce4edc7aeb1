//! The language, case by case, from `../shared/conformance/mtail`: runtime cases (program +
//! lines → the exact store and runtime error count), programs that must compile or parse,
//! programs that must fail with an error on the right line, and capture-type inference.

use logmill::compile::compile;
use logmill::store::{labels, Metric, Value};
use logmill::vm::{Vm, VmOptions};
use serde_json::{json, Value as Json};
use std::path::Path;
use std::sync::Arc;

fn cases(file: &str) -> Vec<Json> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/conformance/mtail")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A metric of the store in the corpus' shape.
fn as_json(m: &Metric) -> Json {
    let d = &m.def;
    let label_values: Vec<Json> = m
        .series
        .iter()
        .map(|(k, datum)| {
            let value = match &datum.value {
                Value::Int(i) => json!({ "int": i }),
                Value::Float(f) => json!({ "float": f }),
                Value::Str(s) => json!({ "string": s }),
                Value::Hist(h) => {
                    let buckets: Vec<Json> = d
                        .buckets
                        .iter()
                        .zip(&h.counts)
                        .map(|(&(min, max), c)| json!({ "min": num(min), "max": num(max), "count": c }))
                        .collect();
                    json!({ "histogram": { "buckets": buckets, "count": h.count, "sum": h.sum } })
                }
            };
            json!({ "labels": labels::strings(k), "value": value })
        })
        .collect();
    let mut out = json!({
        "name": d.name,
        "program": d.program,
        "kind": format!("{:?}", d.kind),
        "type": d.value_type.as_str(),
        "hidden": d.hidden,
        "keys": d.keys,
        "label_values": label_values,
    });
    if !d.buckets.is_empty() {
        out["buckets"] = json!(d
            .buckets
            .iter()
            .map(|&(a, b)| json!([num(a), num(b)]))
            .collect::<Vec<_>>());
    }
    out
}

fn num(v: f64) -> Json {
    if v.is_infinite() {
        json!("+Inf")
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// Normalise numbers so 1 and 1.0 compare equal, and drop fields the store does not model.
fn normal(v: &Json) -> Json {
    match v {
        Json::Number(n) => json!(n.as_f64().unwrap_or(f64::NAN)),
        Json::Array(a) => Json::Array(a.iter().map(normal).collect()),
        Json::Object(o) => Json::Object(o.iter().map(|(k, v)| (k.clone(), normal(v))).collect()),
        other => other.clone(),
    }
}

#[test]
fn runtime_cases() {
    let all = cases("runtime_cases.json");
    let mut failures = Vec::new();
    for c in &all {
        let name = c["name"].as_str().unwrap();
        let expected = &c["expected"];
        let prog_name = expected["metrics"]
            .as_array()
            .and_then(|m| m.first())
            .and_then(|m| m["program"].as_str())
            .unwrap_or(name);
        let prog = match compile(prog_name, c["program"].as_str().unwrap()) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{name}: does not compile:\n{e}"));
                continue;
            }
        };
        let mut vm = Vm::new(
            Arc::new(prog),
            VmOptions {
                syslog_use_current_year: false,
                ..VmOptions::default()
            },
        );
        let file = c["input_filename"].as_str().unwrap_or(name);
        for l in c["log_lines"].as_array().unwrap() {
            vm.run_line(l.as_str().unwrap().as_bytes(), file.as_bytes());
        }
        let mut got: Vec<Json> = vm
            .store
            .metrics
            .iter()
            .filter(|m| !m.def.hidden)
            .map(as_json)
            .collect();
        let mut want: Vec<Json> = expected["metrics"].as_array().unwrap().clone();
        for w in want.iter_mut() {
            if let Some(o) = w.as_object_mut() {
                o.retain(|k, _| {
                    [
                        "name",
                        "program",
                        "kind",
                        "type",
                        "hidden",
                        "keys",
                        "label_values",
                        "buckets",
                    ]
                    .contains(&k.as_str())
                });
            }
        }
        let key = |m: &Json| m["name"].as_str().unwrap_or_default().to_string();
        got.sort_by_key(key);
        want.sort_by_key(key);
        let (got, want) = (normal(&Json::Array(got)), normal(&Json::Array(want)));
        let errors_ok = expected["runtime_errors"].as_u64() == Some(vm.runtime_errors);
        if got != want || !errors_ok {
            failures.push(format!(
                "{name}: runtime errors {} (want {}), last {:?}\n  want {want}\n  got  {got}",
                vm.runtime_errors, expected["runtime_errors"], vm.last_error
            ));
        }
    }
    println!(
        "runtime_cases: passed {}/{}",
        all.len() - failures.len(),
        all.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compile_ok_cases_compile() {
    let all = cases("compile_ok.json");
    let failures: Vec<String> = all
        .iter()
        .filter_map(|c| {
            let src = c["program"].as_str().unwrap();
            // Cases that upstream runs through the parser and checker only (mtail's code
            // generation refuses some of them: a scalar counter holding a string) must check.
            let checker_only = c["verified_by_go_test"]
                .as_str()
                .is_some_and(|v| v.contains("checker only"));
            if checker_only {
                let ast = logmill::syntax::parse::parse(src);
                return match ast.map(|a| logmill::check::check(&a, "ok.mtail", src).map(|_| ())) {
                    Ok(Ok(())) => None,
                    Err(d) | Ok(Err(d)) => Some(format!("{}: does not check: {d:?}", c["name"])),
                };
            }
            compile("ok.mtail", src)
                .err()
                .map(|e| format!("{}:\n{e}", c["name"]))
        })
        .collect();
    println!(
        "compile_ok: passed {}/{}",
        all.len() - failures.len(),
        all.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn compile_error_cases_fail_on_the_right_line() {
    let all = cases("compile_errors.json");
    let mut failures = Vec::new();
    for c in &all {
        let name = c["name"].as_str().unwrap();
        let src = c["program"].as_str().unwrap();
        match compile(name, src) {
            Ok(_) => failures.push(format!("{name}: compiled, but must fail")),
            Err(e) => {
                // mtail's first error line: "<name>:<line>:<col>…: message"
                let want_line = c["expected_errors_full"]
                    .as_array()
                    .and_then(|l| l.first())
                    .and_then(|l| l.as_str())
                    .and_then(|l| l.strip_prefix(&format!("{name}:")))
                    .and_then(|l| l.split(':').next())
                    .and_then(|n| n.parse::<usize>().ok());
                let lines: Vec<usize> = e
                    .diagnostics
                    .iter()
                    .map(|d| logmill::syntax::span::line_col(src, d.span.start).0)
                    .collect();
                if let Some(want) = want_line {
                    if !lines.contains(&want) {
                        failures.push(format!(
                            "{name}: error on lines {lines:?}, want line {want}:\n{e}"
                        ));
                    }
                }
            }
        }
    }
    println!(
        "compile_errors: passed {}/{}",
        all.len() - failures.len(),
        all.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
