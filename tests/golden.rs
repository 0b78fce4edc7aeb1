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
