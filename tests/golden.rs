//! Golden (insta) snapshots of what users read: the diagnostics of every compile-error case of
//! `../shared/conformance/mtail/compile_errors.json`, and the bytecode dump of every example
//! program of `examples_all/`. Review changes with `cargo insta review`.

use logmill::compile::compile;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/mtail")
}

fn snapshot_name(case: &str) -> String {
    case.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[test]
fn diagnostics_of_every_compile_error_case() {
    let cases: Vec<Json> = serde_json::from_str(
        &std::fs::read_to_string(corpus().join("compile_errors.json")).unwrap(),
    )
    .unwrap();
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let err =
            compile(&format!("{name}.mtail"), c["program"].as_str().unwrap()).expect_err(name);
        insta::assert_snapshot!(
            format!("diagnostics__{}", snapshot_name(name)),
            err.to_string()
        );
    }
    println!(
        "diagnostics snapshots: passed {}/{}",
        cases.len(),
        cases.len()
    );
}

#[test]
fn bytecode_of_every_example_program() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus().join("examples_all"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let prog = compile(&name, &std::fs::read_to_string(f).unwrap()).unwrap();
        insta::assert_snapshot!(format!("bytecode__{}", snapshot_name(&name)), prog.dump());
    }
    println!("bytecode snapshots: passed {}/{}", files.len(), files.len());
}

/// The diagnostics of the language of mtail 3.4 (`log_filter`, `defined()`, chained matches) and
/// of a scalar counter holding a string: programs written here, no corpus needed.
#[test]
fn diagnostics_of_the_language_of_mtail_3_4() {
    let cases = [
        (
            "named group declared twice",
            "counter c by x\nconst B /(?P<x>b)/\n/(?P<x>a)/ && B {\n  c[$x]++\n}\n",
        ),
        (
            "defined of a non capture",
            "counter c\n/(a)?/ {\n  defined(1) {\n    c++\n  }\n}\n",
        ),
        (
            "defined with two arguments",
            "counter c\n/(a)?(b)?/ {\n  defined($1, $2) {\n    c++\n  }\n}\n",
        ),
        (
            "log_filter without a name",
            "log_filter\ncounter c\n/x/ {\n  c++\n}\n",
        ),
        (
            "log_filter with a number",
            "log_filter 42\ncounter c\n/x/ {\n  c++\n}\n",
        ),
        (
            "scalar counter holding a string",
            "counter a\n/(\\S+)/ {\n  a = $1\n}\n",
        ),
    ];
    for (name, program) in cases {
        let err = compile(&format!("{name}.mtail"), program).expect_err(name);
        insta::assert_snapshot!(
            format!("diagnostics_3_4__{}", snapshot_name(name)),
            err.to_string()
        );
    }
    println!(
        "3.4 diagnostics snapshots: passed {}/{}",
        cases.len(),
        cases.len()
    );
}
