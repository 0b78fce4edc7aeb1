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

fn run_lines(vm: &mut Vm, lines: &[&str]) {
    for l in lines {
        vm.run_line(l.as_bytes(), b"/var/log/reaction.log");
    }
}

fn get(vm: &Vm, name: &str, labels: &[&str]) -> Option<f64> {
    samples(vm)
        .get(&(
            name.to_string(),
            labels.iter().map(|s| s.to_string()).collect(),
        ))
        .copied()
}

/// Dotted names: what is known decides the split; before anything is known, the first dot
/// ends the stream (and, for actions, the last dot starts the action).
#[test]
fn dotted_names_follow_what_reaction_reveals() {
    let mut vm = vm();
    run_lines(
        &mut vm,
        &[
            // Nothing known yet: stream `traefik`, filter `edge.bad.bots`.
            r#"INFO traefik.edge.bad.bots: match ["198.51.100.1"]"#,
            r#"INFO traefik.edge.bad.bots.ban: run ["sh" "-c" "echo '[ban] 198.51.100.1'"]"#,
            // The start line names the stream.
            r#"INFO traefik.edge: start ["docker", "logs", "-f", "traefik"]"#,
            r#"INFO traefik.edge.bad.bots: match ["198.51.100.2"]"#,
            r#"INFO traefik.edge.bad.bots.ban: run ["sh" "-c" "echo '[ban] 198.51.100.2'"]"#,
            // A dotted action of a filter seen in a match.
            r#"INFO ssh.failedlogin: match ["203.0.113.7"]"#,
            r#"INFO ssh.failedlogin.ban.v6: run ["ip6tables" "-A" "reaction"]"#,
            // Nothing known about `a`: the action is after the last dot.
            r#"INFO a.b.c.d: run ["true"]"#,
            // A failed action (if reaction logs one) is not one more action.
            r#"ERROR ssh.failedlogin.ban: run ["ip46tables" "-w"]: exit code: 1"#,
        ],
    );
    // `reaction show` names a stream and a dotted filter before any log line about them.
    feed(
        &mut vm,
        "nginx:\n  wp.login:\n    198.51.100.9:\n      matches: 1\n#logmill command-exit status=0\n",
        SHOW_SOURCE,
    );
    run_lines(
        &mut vm,
        &[
            r#"INFO nginx.wp.login.ban: run ["nft46" "add element inet reaction ipvXbans { 198.51.100.9 }"]"#,
        ],
    );
    assert_eq!(vm.runtime_errors, 0, "{:?}", vm.last_error);
    let m = "reaction_matches_total";
    assert_eq!(get(&vm, m, &["traefik", "edge.bad.bots"]), Some(1.0));
    assert_eq!(get(&vm, m, &["traefik.edge", "bad.bots"]), Some(1.0));
    assert_eq!(get(&vm, m, &["ssh", "failedlogin"]), Some(1.0));
    let a = "reaction_actions_total";
    assert_eq!(get(&vm, a, &["traefik", "edge.bad", "bots.ban"]), None);
    assert_eq!(get(&vm, a, &["traefik", "edge.bad.bots", "ban"]), Some(1.0));
    assert_eq!(get(&vm, a, &["traefik.edge", "bad.bots", "ban"]), Some(1.0));
    assert_eq!(get(&vm, a, &["ssh", "failedlogin", "ban.v6"]), Some(1.0));
    assert_eq!(get(&vm, a, &["a", "b.c", "d"]), Some(1.0));
    assert_eq!(get(&vm, a, &["nginx", "wp.login", "ban"]), Some(1.0));
    assert_eq!(
        get(
            &vm,
            "reaction_action_failures_total",
            &["ssh", "failedlogin", "ban"]
        ),
        Some(1.0)
    );
    assert_eq!(
        family(&samples(&vm), a).values().sum::<f64>(),
        5.0,
        "every INFO action line once"
    );
}

/// Values and arguments with `]`, quotes, escapes, spaces, control characters, non-ASCII.
#[test]
fn values_and_arguments_are_parsed_whole() {
    let mut vm = vm();
    run_lines(
        &mut vm,
        &[
            r#"INFO ssh.invaliduser: match ["203.0.113.7", "x]y"]"#,
            r#"INFO ssh.invaliduser: match ["203.0.113.7", "o\"brien"]"#,
            r#"INFO ssh.invaliduser: match ["203.0.113.7", "\u{1b}[31mroot"]"#,
            r#"INFO ssh.invaliduser: match ["203.0.113.7", "пользователь"]"#,
            r#"INFO ssh.invaliduser: match ["203.0.113.7", "back\\slash", "tab\tuser"]"#,
            r#"INFO ssh.invaliduser: match ["ad min", "\"], [\""]"#,
            r#"INFO start command: run ["logger", "-t", "reaction", "[start] firewall ready"]"#,
            r#"ERROR stop command: run ["ip46tables", "-w", "-X", "reaction"]: exit code: 1"#,
            r#"ERROR start command: run ["ipset", "create", "a]b"]: No such file or directory (os error 2)"#,
            r#"ERROR start command: run ["ipset"]: exit code: 99999999999999999999"#,
        ],
    );
    assert_eq!(vm.runtime_errors, 0, "{:?}", vm.last_error);
    let v = "reaction_match_values_total";
    for label in [
        "203.0.113.7 x]y",
        r#"203.0.113.7 o\"brien"#,
        r#"203.0.113.7 \u{1b}[31mroot"#,
        "203.0.113.7 пользователь",
        r#"203.0.113.7 back\\slash tab\tuser"#,
        r#"ad min \"], [\""#,
    ] {
        assert_eq!(
            get(&vm, v, &["ssh", "invaliduser", label]),
            Some(1.0),
            "{label}"
        );
    }
    assert_eq!(
        get(&vm, "reaction_matches_total", &["ssh", "invaliduser"]),
        Some(6.0)
    );
    let c = "reaction_commands_total";
    assert_eq!(get(&vm, c, &["start", "logger", "ok", "0"]), Some(1.0));
    assert_eq!(
        get(&vm, c, &["stop", "ip46tables", "failed", "1"]),
        Some(1.0)
    );
    assert_eq!(
        get(&vm, c, &["start", "ipset", "failed", "spawn"]),
        Some(2.0)
    );
}

/// Everything else, in a log or from a command, is ignored without a runtime error.
#[test]
fn other_lines_are_ignored_without_errors() {
    let mut vm = vm();
    run_lines(
        &mut vm,
        &[
            "",
            " ",
            "garbage",
            "WARN plugin ipset: connection to peer lost, retrying",
            "ERROR plugin virtual: slow consumer, 12 lines buffered",
            "INFO plugin ipset: starting worker",
            "DEBUG ssh.failedlogin: match [\"1.2.3.4\"]",
            "INFO ssh.failedlogin: match [\"unterminated",
            "INFO ssh.failedlogin: match [1.2.3.4]",
            "INFO nodot: match [\"1.2.3.4\"]",
            "INFO start command: run [\"a\"",
            "Feb 30 06:20:30 srv1 reaction[1]: INFO ssh.failedlogin: match [\"1.2.3.4\"]",
            "Mar  2 25:20:30 srv1 reaction[1]: INFO ssh.failedlogin: match [\"1.2.3.4\"]",
            "Mar  2 06:20:30 srv1 sshd[1]: INFO ssh.failedlogin: match [\"1.2.3.4\"]",
            "Mar  2 06:20:30 srv1 reaction[1]: hello",
            "INFO something:",
            "ssh:",
            "  failedlogin:",
            "        - 2026-03-02 07:14:35",
            "#logmill command-exit",
            "\u{1b}[31m\u{0}\u{7f}",
        ],
    );
    assert_eq!(vm.runtime_errors, 0, "{:?}", vm.last_error);
    let got = samples(&vm);
    let visible: Vec<_> = got
        .iter()
        .filter(|((n, _), v)| n != "reaction_shutdowns_total" || **v != 0.0)
        .collect();
    assert!(visible.is_empty(), "{visible:?}");
}

/// `reaction show` through logmill's command source: each run replaces the counts of the
/// previous one; a label set that left expires at the store GC (del … after 45s);
/// reaction_up follows the exit status. Per-match-value series expire after 24h and are
/// capped at 10000 (at all times).
#[test]
fn pending_counts_follow_reaction_show_and_expire() {
    let mut vm = vm();
    let run1 = "ssh:\n  failedlogin:\n    203.0.113.7:\n      actions:\n        unban:\n        - 2026-03-02 07:14:35\n    198.51.100.23:\n      actions:\n        unban:\n        - 2026-03-02 07:15:35\n        notify:\n        - 2026-03-02 07:15:36\n  'invalid user':\n    \"a b\":\n      matches: 2\n      actions:\n        unban:\n        - '2026-03-02 07:16:00'\n#logmill command-exit status=0\n";
    feed(&mut vm, run1, SHOW_SOURCE);
    let p = "reaction_pending_actions";
    assert_eq!(get(&vm, p, &["ssh", "failedlogin", "unban"]), Some(2.0));
    assert_eq!(get(&vm, p, &["ssh", "failedlogin", "notify"]), Some(1.0));
    assert_eq!(get(&vm, p, &["ssh", "invalid user", "unban"]), Some(1.0));
    assert_eq!(get(&vm, "reaction_up", &[]), Some(1.0));
    // 60 seconds later (the datums are a minute old), a run where notify has run and one
    // unban is left; then reaction is down.
    let minute = 60_000_000_000;
    for m in &mut vm.store.metrics {
        for d in m.series.values_mut() {
            d.time_ns -= minute;
        }
    }
    let run2 = "ssh:\n  failedlogin:\n    198.51.100.23:\n      actions:\n        unban:\n        - 2026-03-02 07:15:35\n#logmill command-exit status=0\n";
    feed(&mut vm, run2, SHOW_SOURCE);
    assert_eq!(get(&vm, p, &["ssh", "failedlogin", "unban"]), Some(1.0));
    let now = vm
        .store
        .metrics
        .iter()
        .flat_map(|m| m.series.values())
        .map(|d| d.time_ns)
        .max()
        .unwrap();
    vm.store.gc(now);
    assert_eq!(get(&vm, p, &["ssh", "failedlogin", "unban"]), Some(1.0));
    assert_eq!(get(&vm, p, &["ssh", "failedlogin", "notify"]), None);
    assert_eq!(get(&vm, p, &["ssh", "invalid user", "unban"]), None);
    feed(&mut vm, "#logmill command-exit status=1\n", SHOW_SOURCE);
    assert_eq!(get(&vm, "reaction_up", &[]), Some(0.0));
    feed(&mut vm, "#logmill command-exit status=spawn\n", SHOW_SOURCE);
    assert_eq!(get(&vm, "reaction_up", &[]), Some(0.0));

    // Per-match-value series: capped at 10000 (oldest first), gone after 24h.
    let mut vm = vm_with_values(10_005);
    let v = "reaction_match_values_total";
    // The limit holds as series are created: the 5 oldest made room for the last 5.
    assert_eq!(family(&samples(&vm), v).len(), 10_000);
    // Times are the lines' (Mar 2 of this year, one second apart).
    let last = vm
        .store
        .metrics
        .iter()
        .flat_map(|m| m.series.values())
        .map(|d| d.time_ns)
        .max()
        .unwrap();
    vm.store.gc(last);
    assert_eq!(family(&samples(&vm), v).len(), 10_000);
    assert_eq!(get(&vm, v, &["ssh", "failedlogin", "10.0.0.0"]), None);
    assert_eq!(
        get(&vm, v, &["ssh", "failedlogin", "10.0.39.20"]),
        Some(1.0)
    );
    // A day and a second after the last match, all gone; the counter of matches stays.
    let day = 24 * 3600 * 1_000_000_000i64;
    vm.store.gc(last + day + 1_000_000_000);
    assert_eq!(family(&samples(&vm), v).len(), 0);
    assert_eq!(
        get(&vm, "reaction_matches_total", &["ssh", "failedlogin"]),
        Some(10_005.0)
    );
}

/// A VM that read `n` matches of distinct addresses, one second apart (syslog times).
fn vm_with_values(n: u32) -> Vm {
    let src = std::fs::read_to_string(program_path()).unwrap();
    let prog = compile("reaction.prog", &src).unwrap();
    let mut vm = Vm::new(Arc::new(prog), VmOptions::default());
    for i in 0..n {
        let (h, m, s) = (i / 3600, i / 60 % 60, i % 60);
        let line = format!(
            "Mar  2 {h:02}:{m:02}:{s:02} srv1 reaction[1]: INFO ssh.failedlogin: match [\"10.0.{}.{}\"]",
            i / 256,
            i % 256
        );
        vm.run_line(line.as_bytes(), b"journald");
    }
    assert_eq!(vm.runtime_errors, 0, "{:?}", vm.last_error);
    vm
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// `logmill check` accepts the program, and so does Debian's mtail (which only loads
/// `*.mtail` files: it gets a copy under that name).
#[test]
fn the_program_compiles_here_and_on_mtail() {
    let out = Command::new(env!("CARGO_BIN_EXE_logmill"))
        .arg("check")
        .arg(program_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let Some(mtail) = which("mtail") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "mtail must be installed in CI"
        );
        eprintln!("mtail not installed: its compile check skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(program_path(), dir.path().join("reaction.mtail")).unwrap();
    let out = Command::new(mtail)
        .args(["--compile_only", "--logtostderr", "--progs"])
        .arg(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Loaded program reaction.mtail"), "{err}");
}

/// The same samples as Debian's mtail on a generated edge-case log plus a `reaction show`.
#[test]
fn same_samples_as_debian_mtail() {
    let Some(mtail) = which("mtail") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "mtail must be installed in CI"
        );
        eprintln!("mtail not installed: side-by-side comparison skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, truth) = generate(
        dir.path(),
        "edge",
        &[
            "--lines",
            "20000",
            "--seed",
            "3",
            "--chaos",
            "5",
            "--edge",
            "--journald",
        ],
    );
    let show = dir.path().join("show.txt");
    std::fs::write(
        &show,
        show_yaml(&truth, |_, _, _, _| true) + "#logmill command-exit status=0\n",
    )
    .unwrap();
    std::fs::copy(program_path(), dir.path().join("reaction.mtail")).unwrap();
    let logs = format!(
        "{},{}",
        dir.path().join("edge.log").display(),
        show.display()
    );
    let theirs = Command::new(mtail)
        .args(["--port", "0", "--logtostderr", "--emit_prog_label=false"])
        .arg("--progs")
        .arg(dir.path().join("reaction.mtail"))
        .args([
            "--logs",
            &logs,
            "--one_shot",
            "--one_shot_format=prometheus",
        ])
        .output()
        .unwrap();
    assert!(theirs.status.success());
    let ours = Command::new(env!("CARGO_BIN_EXE_logmill"))
        .arg("--emit_prog_label=false")
        .arg("--progs")
        .arg(program_path())
        .args([
            "--logs",
            &logs,
            "--one_shot",
            "--one_shot_format=prometheus",
        ])
        .output()
        .unwrap();
    assert!(ours.status.success());
    let strip = |b: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(b)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(String::from)
            .collect()
    };
    let (theirs, ours) = (strip(&theirs.stdout), strip(&ours.stdout));
    assert!(ours.len() > 1000, "{} samples", ours.len());
    assert_eq!(theirs, ours);
    println!("same samples as mtail: {}", ours.len());
}

/// Deleting the marked parts switches the per-match-value series off and changes nothing else.
#[test]
fn per_value_series_switch_off() {
    let src = std::fs::read_to_string(program_path()).unwrap();
    let mut off = String::new();
    let mut inside = false;
    for line in src.lines() {
        if line.contains("# >>> per-match-value series") {
            inside = true;
        }
        if !inside {
            off += line;
            off += "\n";
        }
        if line.contains("# <<< per-match-value series") {
            inside = false;
        }
    }
    assert!(off.len() < src.len() && !off.contains("reaction_match_values_total"));
    let prog = compile("reaction.prog", &off).unwrap_or_else(|e| panic!("{e}"));
    let mut without = Vm::new(Arc::new(prog), VmOptions::default());
    let mut with = vm();
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(
        dir.path(),
        "edge",
        &["--lines", "5000", "--seed", "5", "--edge"],
    );
    feed(&mut with, &log, b"log");
    feed(&mut without, &log, b"log");
    let mut want = samples(&with);
    want.retain(|(n, _), _| n != "reaction_match_values_total");
    assert_eq!(samples(&without), want);
}

/// Every query of the Grafana dashboard is valid PromQL (promtool, with Grafana's variables
/// replaced) and only reads metrics that reaction.prog declares.
#[test]
fn dashboard_queries_parse_and_use_our_metrics() {
    let dash: Json = serde_json::from_str(
        &std::fs::read_to_string(root().join("contrib/grafana/reaction.json")).unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 10, "{} queries", exprs.len());
    let program = std::fs::read_to_string(program_path()).unwrap();
    let metric = regex::Regex::new(r"reaction_[a-z_]+").unwrap();
    for e in &exprs {
        for m in metric.find_iter(e) {
            let declared = program.lines().any(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.len() >= 2
                    && matches!(words[0], "counter" | "gauge")
                    && words[1] == m.as_str()
            });
            assert!(declared, "{e}: {} is not declared", m.as_str());
        }
    }
    let Some(promtool) = which("promtool") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool must be installed in CI (Debian package prometheus)"
        );
        eprintln!("promtool not installed: dashboard PromQL check skipped");
        return;
    };
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let e = e
            .replace("$__rate_interval", "2m")
            .replace("$__interval", "1m")
            .replace("$__range", "1d")
            .replace("$instance", ".*")
            .replace("$stream", ".*");
        assert!(!e.contains('$'), "a Grafana variable left in {e}");
        rules += &format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::to_string(&e).unwrap()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard.rules.yml");
    std::fs::write(&file, rules).unwrap();
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("dashboard queries valid: {}/{}", exprs.len(), exprs.len());
}
