//! Every flag Debian's `mtail --help` lists is accepted by logmill in mtail's spelling.

use std::process::Command;

/// The flags `mtail --help` lists, with whether each takes a value (Go prints a type name).
fn mtail_flags() -> Option<Vec<(String, bool)>> {
    let out = Command::new("mtail").arg("--help").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let flags: Vec<(String, bool)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  -"))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next().unwrap_or("").to_string();
            (name, parts.next().is_some())
        })
        .collect();
    (!flags.is_empty()).then_some(flags)
}

/// A value of the right kind for a flag that takes one.
fn value(name: &str) -> &'static str {
    match name {
        "port" => "3903",
        "one_shot_format" => "json",
        "v"
        | "block_profile_rate"
        | "mutex_profile_fraction"
        | "trace_sample_period"
        | "mtailDebug"
        | "metric_push_interval_seconds" => "2",
        "max_regexp_length" | "max_recursion_depth" => "200",
        "override_timezone" => "Europe/Berlin",
        "stderrthreshold" => "ERROR",
        "vmodule" => "tail=2",
        "log_backtrace_at" => "main.go:1",
        n if n.ends_with("interval") || n.ends_with("deadline") => "1m",
        _ => "x",
    }
}

#[test]
fn every_mtail_flag_is_accepted() {
    let Some(flags) = mtail_flags() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "mtail is missing under CI"
        );
        eprintln!("SKIPPED: mtail is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("p.mtail");
    std::fs::write(&prog, "counter lines\n/$/ {\n  lines++\n}\n").unwrap();
    let prog = prog.to_str().unwrap();
    let mut rejected = Vec::new();
    let mut passed = 0;
    for (name, takes_value) in &flags {
        if name == "version" || name == "compile_only" || name == "progs" {
            passed += 1; // run below
            continue;
        }
        for dash in ["-", "--"] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_logmill"));
            cmd.args(["-progs", prog, "--compile_only"]);
            if *takes_value {
                cmd.arg(format!("{dash}{name}={}", value(name)));
            } else {
                cmd.arg(format!("{dash}{name}"));
            }
            let out = cmd.output().unwrap();
            if !out.status.success() {
                rejected.push(format!(
                    "{dash}{name}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        passed += 1;
    }
    let version = Command::new(env!("CARGO_BIN_EXE_logmill"))
        .arg("-version")
        .output()
        .unwrap();
    assert!(version.status.success());
    println!(
        "passed {}/{}",
        passed - rejected.len().min(passed),
        flags.len()
    );
    assert!(rejected.is_empty(), "rejected:\n{}", rejected.join("\n"));
}

#[test]
fn the_limits_are_settable() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("p.mtail");
    let re = "a".repeat(1500);
    std::fs::write(&prog, format!("counter c\n/{re}/ {{\n  c++\n}}\n")).unwrap();
    let prog = prog.to_str().unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_logmill"))
            .args(["--progs", prog, "--compile_only"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("length of 1024 bytes"));
    assert!(run(&["--max_regexp_length=2000"]).status.success());
    let deep = dir.path().join("d.mtail");
    let n = 150;
    std::fs::write(
        &deep,
        format!(
            "gauge c\n/x/ {{\n  c = {}1{}\n}}\n",
            "(".repeat(n),
            ")".repeat(n)
        ),
    )
    .unwrap();
    let deep = deep.to_str().unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_logmill"))
            .args(["--progs", deep, "--compile_only"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("recursion depth of 100"));
    let out = run(&["-max_recursion_depth=400"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
