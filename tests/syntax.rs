//! Parser against the mtail conformance corpus (read in place from `../shared/conformance/mtail`).
//!
//! Programs that mtail parses must parse; programs mtail's parser rejects must fail with a
//! diagnostic on the line mtail reports; inputs that once crashed mtail must not panic.

use logmill::syntax::parse::parse;
use logmill::syntax::span::line_col;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/mtail")
}

fn entries(file: &str) -> Vec<Value> {
    let path = corpus().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    match serde_json::from_str(&text) {
        Ok(Value::Array(v)) => v,
        other => panic!("{}: expected a JSON array, got {other:?}", path.display()),
    }
}

fn field<'a>(e: &'a Value, key: &str) -> &'a str {
    e.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Parse each (name, program); every one must parse.
fn all_parse(what: &str, programs: &[(String, String)]) {
    let mut failures = Vec::new();
    for (name, src) in programs {
        if let Err(diags) = parse(src) {
            let msgs: Vec<String> = diags.iter().map(|d| d.short(name, src)).collect();
            failures.push(format!("{name}:\n  {}", msgs.join("\n  ")));
        }
    }
    println!(
        "{what}: passed {}/{}",
        programs.len() - failures.len(),
        programs.len()
    );
    assert!(
        failures.is_empty(),
        "{what}: programs that failed to parse:\n{}",
        failures.join("\n")
    );
}

fn json_programs(file: &str) -> Vec<(String, String)> {
    entries(file)
        .iter()
        .map(|e| {
            (
                field(e, "name").to_string(),
                field(e, "program").to_string(),
            )
        })
        .collect()
}

#[test]
fn parse_ok_programs_parse() {
    all_parse("parse_ok.json", &json_programs("parse_ok.json"));
}

#[test]
fn compile_ok_programs_parse() {
    all_parse("compile_ok.json", &json_programs("compile_ok.json"));
}

#[test]
fn runtime_case_programs_parse() {
    all_parse("runtime_cases.json", &json_programs("runtime_cases.json"));
}

/// mtail's checker rejects these, so its parser accepted them.
#[test]
fn checker_error_programs_parse() {
    let programs: Vec<(String, String)> = entries("compile_errors.json")
        .iter()
        .filter(|e| field(e, "stage") == "checker")
        .map(|e| {
            (
                field(e, "name").to_string(),
                field(e, "program").to_string(),
            )
        })
        .collect();
    all_parse("compile_errors.json (checker stage)", &programs);
}

#[test]
fn example_programs_parse() {
    let dir = corpus().join("examples_all");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mtail"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no examples in {}", dir.display());
    let programs: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let src = std::fs::read_to_string(p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            (name, src)
        })
        .collect();
    all_parse("examples_all", &programs);
}

/// The line of mtail's first error, from `name:LINE:COL[-END]: message`.
fn expected_line(name: &str, full: &str) -> Option<usize> {
    let rest = full.strip_prefix(name)?.strip_prefix(':')?;
    rest.split(':').next()?.parse().ok()
}

#[test]
fn parser_error_programs_fail_on_the_right_line() {
    let cases: Vec<Value> = entries("compile_errors.json")
        .into_iter()
        .filter(|e| field(e, "stage") == "parser")
        .collect();
    let mut failures = Vec::new();
    let mut deferred = Vec::new();
    for e in &cases {
        let (name, src) = (field(e, "name"), field(e, "program"));
        let want = e
            .get("expected_errors_full")
            .and_then(Value::as_array)
            .and_then(|lines| {
                lines
                    .iter()
                    .filter_map(Value::as_str)
                    .find_map(|l| expected_line(name, l))
            });
        match parse(src) {
            // Without an expected line the entry is a whole-compile failure; mtail's parser
            // accepts a bare name as a statement (`asdfasdf`) and its checker rejects it.
            Ok(_) if want.is_none() => deferred.push(name),
            Ok(_) => failures.push(format!("{name}: parsed, but mtail's parser rejects it")),
            Err(diags) => {
                let lines: Vec<usize> = diags
                    .iter()
                    .map(|d| line_col(src, d.span.start).0)
                    .collect();
                let shown: Vec<String> = diags.iter().map(|d| d.short(name, src)).collect();
                println!("{name}: {}", shown.join(" | "));
                if let Some(line) = want {
                    if !lines.contains(&line) {
                        failures.push(format!(
                            "{name}: want an error on line {line}, got {}",
                            shown.join(" | ")
                        ));
                    }
                }
            }
        }
    }
    let note = if deferred.is_empty() {
        String::new()
    } else {
        format!(" ({}: parses, left to the checker)", deferred.join(", "))
    };
    println!(
        "compile_errors.json (parser stage): passed {}/{}{note}",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fuzz_regressions_do_not_panic() {
    let programs = json_programs("fuzz_regressions.json");
    let mut failures = Vec::new();
    for (name, src) in &programs {
        let result = std::panic::catch_unwind(|| parse(src).is_ok());
        match result {
            Ok(ok) => println!("{name}: {}", if ok { "parsed" } else { "rejected" }),
            Err(_) => failures.push(name.clone()),
        }
    }
    println!(
        "fuzz_regressions.json: passed {}/{}",
        programs.len() - failures.len(),
        programs.len()
    );
    assert!(failures.is_empty(), "parser panicked on: {failures:?}");
}
