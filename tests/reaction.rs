//! programs/reaction.prog against the ground truth of the reaction log generator
//! (../shared/reaction/gen_reaction_log.py): file and journald styles, several seeds, the edge
//! cases; `reaction show` output fed like logmill's command source does; expiry of pending
//! counts through the store GC; the same program on Debian's mtail; the Grafana dashboard's
//! PromQL through promtool.

use logmill::compile::compile;
use logmill::store::{labels, Value};
use logmill::vm::{Vm, VmOptions};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// (metric, label values in declaration order) → value.
type Samples = BTreeMap<(String, Vec<String>), f64>;

const SHOW_SOURCE: &[u8] = b"cmd:30s:reaction show";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn program_path() -> PathBuf {
    root().join("programs/reaction.prog")
}

fn shared() -> PathBuf {
    root().join("../shared/reaction")
}

fn vm() -> Vm {
    let src = std::fs::read_to_string(program_path()).unwrap();
    let prog = compile("reaction.prog", &src).unwrap_or_else(|e| panic!("{e}"));
    Vm::new(Arc::new(prog), VmOptions::default())
}

fn feed(vm: &mut Vm, text: &str, source: &[u8]) {
    for line in text.lines() {
        vm.run_line(line.as_bytes(), source);
    }
}

fn samples(vm: &Vm) -> Samples {
    let mut out = Samples::new();
    for m in &vm.store.metrics {
        if m.def.hidden {
            continue;
        }
        for (k, d) in &m.series {
            let v = match &d.value {
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                other => panic!("{}: unexpected {other:?}", m.def.name),
            };
            out.insert((m.def.name.clone(), labels::strings(k)), v);
        }
    }
    out
}

/// Generate a log and its truth into `dir`; returns (log text, truth).
fn generate(dir: &Path, name: &str, args: &[&str]) -> (String, Json) {
    let log = dir.join(format!("{name}.log"));
    let truth = dir.join(format!("{name}.truth.json"));
    let out = Command::new("python3")
        .arg(shared().join("gen_reaction_log.py"))
        .args(args)
        .arg("--out")
        .arg(&log)
        .arg("--truth")
        .arg(&truth)
        .output()
        .expect("python3 runs the generator");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read_to_string(&log).unwrap(),
        serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).unwrap(),
    )
}

fn s(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Rust's `{:?}` of a string without its quotes, as reaction logs match values.
fn rust_debug_inner(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// The series of one metric in `got`.
fn family(got: &Samples, name: &str) -> Samples {
    got.iter()
        .filter(|((n, _), _)| n == name)
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn expect(name: &str, rows: impl IntoIterator<Item = (Vec<String>, f64)>) -> Samples {
    let mut out = Samples::new();
    for (labels, v) in rows {
        *out.entry((name.to_string(), labels)).or_insert(0.0) += v;
    }
    out
}

/// The expected value of every metric the truth determines, from the log alone.
fn expected_from_log(truth: &Json) -> Vec<(&'static str, Samples)> {
    let rows = |key: &str| truth[key].as_array().unwrap().clone();
    let matches = expect(
        "reaction_matches_total",
        rows("matches_by_filter").iter().map(|r| {
            (
                vec![s(&r["stream"]), s(&r["filter"])],
                r["count"].as_f64().unwrap(),
            )
        }),
    );
    let values = expect(
        "reaction_match_values_total",
        rows("matches").iter().map(|r| {
            // Values in pattern-name order (the truth's order), joined by a space.
            let joined: Vec<String> = r["patterns"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| rust_debug_inner(v.as_str().unwrap()))
                .collect();
            (
                vec![s(&r["stream"]), s(&r["filter"]), joined.join(" ")],
                r["count"].as_f64().unwrap(),
            )
        }),
    );
    let actions = expect(
        "reaction_actions_total",
        rows("actions_by_action").iter().map(|r| {
            (
                vec![s(&r["stream"]), s(&r["filter"]), s(&r["action"])],
                r["count"].as_f64().unwrap(),
            )
        }),
    );
    // Line-based: every `run` line is ok/0, every `exit code: N` line failed/N; a spawn
    // error line (only in command_executions, code null) is failed/spawn.
    let mut commands: Vec<(Vec<String>, f64)> = rows("commands")
        .iter()
        .map(|r| {
            let status = if r["status"] == Json::Bool(true) {
                "ok"
            } else {
                "failed"
            };
            (
                vec![
                    s(&r["state"]),
                    s(&r["command"]),
                    status.to_string(),
                    s(&r["code"]),
                ],
                r["count"].as_f64().unwrap(),
            )
        })
        .collect();
    commands.extend(
        rows("command_executions")
            .iter()
            .filter(|r| r["code"].is_null())
            .map(|r| {
                (
                    vec![
                        s(&r["state"]),
                        s(&r["command"]),
                        "failed".into(),
                        "spawn".into(),
                    ],
                    r["count"].as_f64().unwrap(),
                )
            }),
    );
    let commands = expect("reaction_commands_total", commands);
    let events = expect(
        "reaction_stream_events_total",
        rows("stream_events").iter().map(|r| {
            (
                vec![s(&r["stream"]), s(&r["type"])],
                r["count"].as_f64().unwrap(),
            )
        }),
    );
    let shutdowns = expect(
        "reaction_shutdowns_total",
        [(vec![], truth["exits"].as_f64().unwrap())],
    );
    vec![
        ("reaction_matches_total", matches),
        ("reaction_match_values_total", values),
        ("reaction_actions_total", actions),
        ("reaction_commands_total", commands),
        ("reaction_stream_events_total", events),
        ("reaction_shutdowns_total", shutdowns),
    ]
}

fn yaml_key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars().all(|c| !c.is_control())
        && !k.starts_with(|c: char| " '\"#{[&*!|>%@`?-".contains(c))
        && !k.contains(": ")
        && !k.ends_with([' ', ':']);
    if plain {
        k.to_string()
    } else {
        serde_json::to_string(k).unwrap()
    }
}

/// `reaction show` YAML of the truth's `show_at_end` (2-space indentation, sequences at the
/// level of their key, like serde_yaml), keeping only the actions `keep` accepts.
fn show_yaml(truth: &Json, mut keep: impl FnMut(&str, &str, &str, usize) -> bool) -> String {
    let mut y = String::new();
    let Some(show) = truth["show_at_end"].as_object() else {
        return y;
    };
    let mut n = 0;
    for (stream, filters) in show {
        y += &format!("{}:\n", yaml_key(stream));
        for (filter, entries) in filters.as_object().unwrap() {
            y += &format!("  {}:\n", yaml_key(filter));
            for (values, entry) in entries.as_object().unwrap() {
                y += &format!("    {}:\n", yaml_key(values));
                if let Some(m) = entry.get("matches") {
                    y += &format!("      matches: {m}\n");
                }
                if let Some(actions) = entry.get("actions").and_then(Json::as_object) {
                    let mut lines = String::new();
                    for (action, dues) in actions {
                        let dues: Vec<&Json> = dues
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter(|_| {
                                n += 1;
                                keep(stream, filter, action, n)
                            })
                            .collect();
                        if dues.is_empty() {
                            continue;
                        }
                        lines += &format!("        {}:\n", yaml_key(action));
                        for due in dues {
                            let due = due.as_str().unwrap();
                            lines += &format!("        - {} {}\n", &due[..10], &due[11..19]);
                        }
                    }
                    if !lines.is_empty() {
                        y += "      actions:\n";
                        y += &lines;
                    }
                }
            }
        }
    }
    y
}

fn pending_expected(truth: &Json) -> Samples {
    expect(
        "reaction_pending_actions",
        truth["pending_count"].as_array().unwrap().iter().map(|r| {
            (
                vec![s(&r["stream"]), s(&r["filter"]), s(&r["action"])],
                r["count"].as_f64().unwrap(),
            )
        }),
    )
}

/// Compare one family; a readable difference when it fails.
fn compare(case: &str, name: &str, want: &Samples, got: &Samples) -> Result<(), String> {
    let got = family(got, name);
    if &got == want {
        return Ok(());
    }
    let mut diff = format!("{case}: {name} differs\n");
    for (k, v) in want {
        match got.get(k) {
            None => diff += &format!("  - {k:?} {v}\n"),
            Some(g) if g != v => diff += &format!("  ~ {k:?} want {v} got {g}\n"),
            _ => {}
        }
    }
    for (k, v) in &got {
        if !want.contains_key(k) {
            diff += &format!("  + {k:?} {v}\n");
        }
    }
    Err(diff)
}

/// Every generated case: the log's metrics, then a `reaction show` of the end state, then a
/// second run where some entries left (present ones are recounted, not added up).
#[test]
fn metrics_equal_the_generators_truth() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(String, Vec<String>)> = Vec::new();
    for seed in ["1", "7", "42"] {
        for journald in [false, true] {
            for edge in [false, true] {
                let mut args = vec![
                    "--lines".to_string(),
                    "20000".into(),
                    "--seed".into(),
                    seed.into(),
                    "--chaos".into(),
                    "5".into(),
                    "--restart-every-lines".into(),
                    "3000".into(),
                    "--noise-rate".into(),
                    "0.01".into(),
                    "--flush-rate".into(),
                    "0.002".into(),
                ];
                if journald {
                    args.push("--journald".into());
                }
                if edge {
                    args.push("--edge".into());
                }
                let name = format!(
                    "seed{seed}{}{}",
                    if journald { "-journald" } else { "" },
                    if edge { "-edge" } else { "" }
                );
                cases.push((name, args));
            }
        }
    }
    // The generator's own samples, and a long mean gap so that triggers pile up as pending.
    cases.push((
        "sample-gap".into(),
        [
            "--lines",
            "5000",
            "--seed",
            "127",
            "--mean-gap",
            "15",
            "--chaos",
            "10",
            "--edge",
        ]
        .map(String::from)
        .to_vec(),
    ));
    let (mut passed, mut total, mut failures) = (0, 0, Vec::new());
    let mut check = |r: Result<(), String>| {
        total += 1;
        match r {
            Ok(()) => passed += 1,
            Err(e) => failures.push(e),
        }
    };
    for (name, args) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (log, truth) = generate(dir.path(), name, &args);
        let mut vm = vm();
        feed(&mut vm, &log, b"/var/log/reaction.log");
        check(if vm.runtime_errors == 0 {
            Ok(())
        } else {
            Err(format!("{name}: runtime errors: {:?}", vm.last_error))
        });
        let got = samples(&vm);
        for (family_name, want) in expected_from_log(&truth) {
            check(compare(name, family_name, &want, &got));
        }
        // `reaction show` of the end state, then the marker logmill adds after the run.
        feed(&mut vm, &show_yaml(&truth, |_, _, _, _| true), SHOW_SOURCE);
        feed(&mut vm, "#logmill command-exit status=0", SHOW_SOURCE);
        let got = samples(&vm);
        check(compare(
            name,
            "reaction_pending_actions",
            &pending_expected(&truth),
            &got,
        ));
        check(compare(
            name,
            "reaction_up",
            &expect("reaction_up", [(vec![], 1.0)]),
            &got,
        ));
        // A second run: every third pending execution has run meanwhile.
        let mut want = Samples::new();
        let second = show_yaml(&truth, |s, f, a, n| {
            let keep = n % 3 != 0;
            if keep {
                *want
                    .entry((
                        "reaction_pending_actions".to_string(),
                        vec![s.to_string(), f.to_string(), a.to_string()],
                    ))
                    .or_insert(0.0) += 1.0;
            }
            keep
        });
        feed(&mut vm, &second, SHOW_SOURCE);
        feed(&mut vm, "#logmill command-exit status=0", SHOW_SOURCE);
        let got = family(&samples(&vm), "reaction_pending_actions");
        // Label sets still listed are recounted; those that left wait for the GC (below).
        let present: Samples = got
            .into_iter()
            .filter(|(k, _)| want.contains_key(k))
            .collect();
        check(compare(
            &format!("{name} (second run)"),
            "reaction_pending_actions",
            &want,
            &present,
        ));
        check(if vm.runtime_errors == 0 {
            Ok(())
        } else {
            Err(format!("{name}: runtime errors: {:?}", vm.last_error))
        });
    }
    println!("reaction.prog against the truth: passed {passed}/{total}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The shipped samples, through the binary (one-shot, JSON), a `reaction show` file included.
#[test]
fn one_shot_over_the_shared_samples() {
    let dir = tempfile::tempdir().unwrap();
    let (mut passed, mut total) = (0, 0);
    for sample in ["sample.log", "sample.journald.log"] {
        let log = shared().join(sample);
        let truth: Json = serde_json::from_str(
            &std::fs::read_to_string(shared().join(format!("{sample}.truth.json"))).unwrap(),
        )
        .unwrap();
        let show = dir.path().join("show.txt");
        std::fs::write(
            &show,
            show_yaml(&truth, |_, _, _, _| true) + "#logmill command-exit status=0\n",
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_logmill"))
            .arg("--progs")
            .arg(program_path())
            .arg("--logs")
            .arg(&log)
            .arg("--logs")
            .arg(&show)
            .args(["--one_shot", "--one_shot_format=json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Json = serde_json::from_slice(&out.stdout).unwrap();
        let mut got = Samples::new();
        for (name, metrics) in json.as_object().unwrap() {
            for m in metrics.as_array().unwrap() {
                for lv in m["LabelValues"].as_array().into_iter().flatten() {
                    let labels = lv["Labels"]
                        .as_array()
                        .map(|l| l.iter().map(s).collect())
                        .unwrap_or_default();
                    got.insert(
                        (name.clone(), labels),
                        lv["Value"]["Value"].as_f64().unwrap(),
                    );
                }
            }
        }
        let mut families = expected_from_log(&truth);
        families.push(("reaction_pending_actions", pending_expected(&truth)));
        families.push(("reaction_up", expect("reaction_up", [(vec![], 1.0)])));
        for (name, want) in families {
            total += 1;
            compare(sample, name, &want, &got).unwrap();
            passed += 1;
        }
    }
    println!("one-shot over the shared samples: passed {passed}/{total}");
}
