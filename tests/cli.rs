//! The command line as a user drives it: mtail's flags, exit codes, diagnostics, output formats,
//! and the same output as Debian's mtail on a generated log.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn logmill() -> Command {
    Command::cargo_bin("logmill").unwrap()
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shared() -> PathBuf {
    repo().join("../shared")
}

#[test]
fn readme_example_runs_and_counts() {
    let out = logmill()
        .current_dir(repo())
        .args([
            "--progs",
            "programs/examples/http.mtail",
            "--logs",
            "programs/examples/access.log",
        ])
        .args(["--one_shot", "--one_shot_format=prometheus"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",prog="http.mtail",status="200"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_unparsed_lines_total{prog="http.mtail"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_response_size_bytes_bucket{prog="http.mtail",le="1000"} 4"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_response_size_bytes_count{prog="http.mtail"} 6"#),
        "{text}"
    );
    assert!(text.contains(r#"http_response_bytes_total{method="GET",prog="http.mtail",status="200"} 7.34009135e+08"#), "{text}");
}

#[test]
fn compile_errors_are_all_reported_with_position_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("bad.mtail");
    std::fs::write(
        &prog,
        "counter a\ntext l\nl++\n/(x)/ {\n  $2 == 1 {\n  }\n}\n",
    )
    .unwrap();
    logmill()
        .args(["--progs", prog.to_str().unwrap(), "--compile_only"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.mtail:3:1"))
        .stderr(predicate::str::contains("expecting an Int for INC"))
        .stderr(predicate::str::contains("bad.mtail:5:3"))
        .stderr(predicate::str::contains("at least 2 pairs of parentheses"))
        .stderr(predicate::str::contains("bad.mtail:1:9"))
        .stderr(predicate::str::contains("never used"))
        .stderr(predicate::str::contains("^"));
}

#[test]
fn one_shot_with_a_broken_program_fails_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ok.mtail"),
        "counter lines\n/$/ {\n  lines++\n}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.mtail"), "/unterminated {\n").unwrap();
    let log = dir.path().join("log");
    std::fs::write(&log, "a\n").unwrap();
    logmill()
        .args([
            "--progs",
            dir.path().to_str().unwrap(),
            "--logs",
            log.to_str().unwrap(),
            "--one_shot",
        ])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("broken.mtail:1:"));
}

#[test]
fn progs_directory_json_output_and_getfilename() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.mtail"),
        "counter lines by file\n/$/ {\n  lines[getfilename()]++\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.prog"),
        "gauge last\n/(\\d+)$/ {\n  last = $1\n}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".hidden.mtail"), "this is not a program").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a program either").unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "x 1\r\ny 22\nz 333").unwrap();
    let out = logmill()
        .args([
            "-progs",
            dir.path().to_str().unwrap(),
            "-logs",
            log.to_str().unwrap(),
            "-one_shot",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let lines = &json["lines"][0];
    assert_eq!(lines["Program"], "a.mtail");
    assert_eq!(lines["Kind"], 1);
    assert_eq!(lines["Keys"][0], "file");
    assert_eq!(lines["LabelValues"][0]["Labels"][0], log.to_str().unwrap());
    assert_eq!(lines["LabelValues"][0]["Value"]["Value"], 3);
    let last = &json["last"][0];
    assert_eq!(last["Program"], "b.prog");
    assert_eq!(last["Kind"], 2);
    assert_eq!(last["LabelValues"][0]["Value"]["Value"], 333);
}

#[test]
fn bad_flags_are_usage_errors() {
    logmill()
        .args(["--progs", "x", "--one_shot"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--logs"));
    logmill()
        .args([
            "--progs",
            "x",
            "--logs",
            "y",
            "--one_shot",
            "--one_shot_format=xml",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("json or prometheus"));
    logmill()
        .args(["--logs", "y", "--one_shot"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--progs"));
}

#[test]
fn dump_bytecode_lists_the_ops() {
    logmill()
        .args([
            "--progs",
            shared()
                .join("conformance/mtail/examples_all/linecount.mtail")
                .to_str()
                .unwrap(),
        ])
        .arg("--dump_bytecode")
        .assert()
        .success()
        .stderr(predicate::str::contains("match line re0"))
        .stderr(predicate::str::contains("inc m0 keys=0"));
}

/// Both engines over the same generated Apache log, every example program that reads it: the
/// samples must agree. Debian's mtail is required in CI (.ci/run installs it).
#[test]
fn same_samples_as_debian_mtail_on_a_generated_log() {
    let Some(mtail) = mtail_or_skip("side-by-side comparison") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("apache.log");
    let status = std::process::Command::new("python3")
        .arg(shared().join("bench/gen_apache.py"))
        .arg("3000")
        .arg(&log)
        .status()
        .unwrap();
    assert!(status.success());
    let mut compared = 0;
    for name in ["linecount", "apache_combined", "apache_metrics"] {
        let prog = shared().join(format!("conformance/mtail/examples_all/{name}.mtail"));
        let args = [
            "--progs",
            prog.to_str().unwrap(),
            "--logs",
            log.to_str().unwrap(),
            "--one_shot",
            "--one_shot_format=prometheus",
        ];
        let theirs = std::process::Command::new(&mtail)
            .args(["--port", "0", "--logtostderr"])
            .args(args)
            .output()
            .unwrap();
        let ours = logmill().args(args).output().unwrap();
        assert!(
            ours.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        let (a, b) = (
            dir.path().join(format!("{name}.mtail.prom")),
            dir.path().join(format!("{name}.logmill.prom")),
        );
        std::fs::write(&a, &theirs.stdout).unwrap();
        std::fs::write(&b, &ours.stdout).unwrap();
        let diff = std::process::Command::new("python3")
            .arg(shared().join("bench/promdiff.py"))
            .arg(&a)
            .arg(&b)
            .output()
            .unwrap();
        assert!(
            diff.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&diff.stdout)
        );
        compared += 1;
    }
    println!("side by side with mtail: passed {compared}/3");
}

/// Debian's mtail on PATH; without it, say what is skipped (a failure under CI).
fn mtail_or_skip(what: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("mtail"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "mtail must be installed in CI"
        );
        eprintln!("mtail not installed: {what} skipped");
    }
    found
}

#[test]
fn check_reports_every_broken_program_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.mtail");
    let bad = dir.path().join("bad.mtail");
    std::fs::write(&good, "counter n\n/x/ {\n  n++\n}\n").unwrap();
    std::fs::write(&bad, "counter n by a\n/(x)/ {\n  n++\n  m++\n}\n").unwrap();
    logmill()
        .arg("check")
        .arg(&good)
        .assert()
        .success()
        .stderr(predicate::str::contains("1 program(s) compiled, 0 failed"));
    logmill()
        .arg("check")
        .arg(&good)
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--> bad.mtail:3:3"))
        .stderr(predicate::str::contains(
            "Not enough keys for indexed expression: expecting 1, received 0",
        ))
        .stderr(predicate::str::contains("--> bad.mtail:4:3"))
        .stderr(predicate::str::contains("Identifier `m' not declared."))
        .stderr(predicate::str::contains("1 program(s) compiled, 1 failed"));
    // A directory works too, like --progs.
    logmill().arg("check").arg(dir.path()).assert().code(1);
}

#[test]
fn test_passes_on_the_bundled_example() {
    logmill()
        .current_dir(repo())
        .args([
            "test",
            "programs/examples/http.mtail",
            "programs/examples/access.log",
            "programs/examples/http.prom",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "ok: programs/examples/http.mtail matches",
        ));
}

#[test]
fn test_shows_a_readable_diff_and_update_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("p.mtail");
    let log = dir.path().join("p.log");
    let expected = dir.path().join("p.prom");
    std::fs::write(
        &prog,
        "counter hits by path\n/GET (?P<path>\\S+)/ {\n  hits[$path]++\n}\n",
    )
    .unwrap();
    std::fs::write(&log, "GET /a\nGET /b\nGET /a\n").unwrap();
    std::fs::write(
        &expected,
        "hits{path=\"/a\",prog=\"p.mtail\"} 3\nhits{path=\"/c\",prog=\"p.mtail\"} 1\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut c = logmill();
        c.arg("test")
            .args(extra)
            .arg(&prog)
            .arg(&log)
            .arg(&expected);
        c
    };
    run(&[])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "~ hits{path=\"/a\",prog=\"p.mtail\"} expected 3, got 2",
        ))
        .stdout(predicate::str::contains(
            "- hits{path=\"/c\",prog=\"p.mtail\"} 1",
        ))
        .stdout(predicate::str::contains(
            "+ hits{path=\"/b\",prog=\"p.mtail\"} 1",
        ))
        .stderr(predicate::str::contains("FAILED"));
    run(&["--update"]).assert().success();
    run(&[]).assert().success();
    // JSON expectations are compared without datum times.
    let json = dir.path().join("p.json");
    let mut c = logmill();
    c.arg("test")
        .arg("--update")
        .arg(&prog)
        .arg(&log)
        .arg(&json)
        .assert()
        .success();
    let written = std::fs::read_to_string(&json).unwrap();
    assert!(written.contains("\"hits\""), "{written}");
    logmill()
        .arg("test")
        .arg(&prog)
        .arg(&log)
        .arg(&json)
        .assert()
        .success();
    std::fs::write(&log, "GET /a\n").unwrap();
    logmill()
        .arg("test")
        .arg(&prog)
        .arg(&log)
        .arg(&json)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "~ hits{path=\"/a\"}.Value expected 2, got 1",
        ))
        .stdout(predicate::str::contains("- hits{path=\"/b\"}.Value 1"));
}

#[test]
fn test_reports_compile_errors_and_a_missing_expected_file() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("p.mtail");
    let log = dir.path().join("p.log");
    std::fs::write(&log, "x\n").unwrap();
    std::fs::write(&prog, "counter c\n/x/ {\n  c++\n}\n").unwrap();
    logmill()
        .arg("test")
        .arg(&prog)
        .arg(&log)
        .arg(dir.path().join("missing.prom"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--update"));
    std::fs::write(&prog, "counter c\n/x/ {\n  c++\n  d++\n}\n").unwrap();
    logmill()
        .arg("test")
        .arg(&prog)
        .arg(&log)
        .arg(dir.path().join("e.prom"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("p.mtail:"));
}

#[test]
fn dumps_are_readable() {
    let prog = repo().join("programs/examples/http.mtail");
    logmill()
        .arg("--progs")
        .arg(&prog)
        .arg("--dump_ast")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "counter http_requests_total by method, status  @3:1",
        ))
        .stderr(predicate::str::contains(
            "http_requests_total[$method, $status]++",
        ));
    logmill()
        .arg("--progs")
        .arg(&prog)
        .arg("--dump_ast_types")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "metric m1: counter http_response_bytes_total : Int",
        ))
        .stderr(predicate::str::contains("StrToInt("));
}

#[test]
fn logs_globs_expand_and_kinds_must_agree_across_programs() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("a.log", "x\nx\n"), ("b.log", "x\n"), ("c.txt", "x\n")] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let progs = dir.path().join("progs");
    std::fs::create_dir(&progs).unwrap();
    std::fs::write(progs.join("a.mtail"), "counter hits\n/x/ {\n  hits++\n}\n").unwrap();
    let glob = dir.path().join("*.log");
    logmill()
        .args([
            "--progs",
            progs.to_str().unwrap(),
            "--logs",
            glob.to_str().unwrap(),
            "--one_shot",
            "--one_shot_format=prometheus",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("hits{prog=\"a.mtail\"} 3"));
    std::fs::write(progs.join("b.mtail"), "gauge hits\n/x/ {\n  hits = 1\n}\n").unwrap();
    logmill()
        .args(["--progs", progs.to_str().unwrap(), "--compile_only"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "b.mtail: metric `hits' has different kind (gauge) than in a.mtail (counter)",
        ));
}

#[test]
fn emit_metric_timestamp_appends_the_datum_time_in_ms() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("t.mtail");
    let log = dir.path().join("t.log");
    std::fs::write(
        &prog,
        "counter c\n/(?P<s>\\d+)/ {\n  settime($s)\n  c++\n}\n",
    )
    .unwrap();
    std::fs::write(&log, "1300000000\n").unwrap();
    logmill()
        .args([
            "--progs",
            prog.to_str().unwrap(),
            "--logs",
            log.to_str().unwrap(),
        ])
        .args([
            "--one_shot",
            "--one_shot_format=prometheus",
            "--emit_metric_timestamp",
            "--logtostderr",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "c{prog=\"t.mtail\"} 1 1300000000000\n",
        ));
}

/// mtail's one-shot JSON for every example triple, byte for byte (times included).
#[test]
fn json_is_byte_identical_to_debian_mtail() {
    let Some(mtail) = mtail_or_skip("side-by-side comparison") else {
        return;
    };
    let dir = shared().join("conformance/mtail");
    let triples: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("examples.json")).unwrap()).unwrap();
    let mut same = 0;
    for t in &triples {
        let args = [
            "--progs",
            t["program"].as_str().unwrap(),
            "--logs",
            t["log"].as_str().unwrap(),
            "--one_shot",
            "--one_shot_format=json",
            "--syslog_use_current_year=false",
        ];
        let theirs = std::process::Command::new(&mtail)
            .current_dir(&dir)
            .args(["--port", "0", "--logtostderr"])
            .args(args)
            .output()
            .unwrap();
        let ours = logmill().current_dir(&dir).args(args).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{}",
            t["name"]
        );
        same += 1;
    }
    println!(
        "json side by side with mtail: passed {same}/{}",
        triples.len()
    );
}

#[test]
fn log_filter_in_one_shot_reads_only_the_logs_named() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    std::fs::write(&a, "x\nx\n").unwrap();
    std::fs::write(&b, "x\nx\nx\n").unwrap();
    let progs = dir.path().join("progs");
    std::fs::create_dir(&progs).unwrap();
    // Names may be strings or bare names; several statements add up.
    let only_a = format!(
        "log_filter {:?}, elsewhere\nlog_filter nothing\ncounter lines_total\n/$/ {{\n  lines_total++\n}}\n",
        a.to_str().unwrap()
    );
    std::fs::write(progs.join("only_a.mtail"), only_a).unwrap();
    std::fs::write(
        progs.join("all.mtail"),
        "counter lines_total\n/$/ {\n  lines_total++\n}\n",
    )
    .unwrap();
    let out = logmill()
        .arg("--progs")
        .arg(&progs)
        .arg("--logs")
        .arg(format!("{},{}", a.display(), b.display()))
        .args(["--one_shot", "--one_shot_format=prometheus"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("lines_total{prog=\"only_a.mtail\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains("lines_total{prog=\"all.mtail\"} 5\n"),
        "{text}"
    );
}

/// `logmill test` against the JSON that Debian's mtail writes for the same program and log:
/// it passes, the one-shot JSON is the same bytes, and a changed value is named field by field.
#[test]
fn logmill_test_accepts_the_json_that_mtail_writes() {
    let Some(mtail) = mtail_or_skip("logmill test against mtail's JSON") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("shapes.mtail");
    // One-letter names (Source without an end column), floats that are whole, a histogram with
    // fractional bounds, a text with characters Go escapes, times from the log.
    std::fs::write(
        &prog,
        "histogram h buckets 1, 2.5, 1000000\n\
         counter c by code\n\
         gauge g\n\
         gauge ratio\n\
         text t\n\
         /^(?P<ts>\\S+) (?P<n>\\d+) (?P<code>\\S+)/ {\n\
         \x20 strptime($ts, \"2006-01-02T15:04:05\")\n\
         \x20 h = $n\n\
         \x20 c[$code]++\n\
         \x20 g = float($n) * 2.0\n\
         \x20 ratio = float($n) / 3.0\n\
         \x20 t = \"a<b&c>\"\n\
         }\n",
    )
    .unwrap();
    let log = dir.path().join("in.log");
    std::fs::write(
        &log,
        "2026-01-02T03:04:05 1 x\n2026-01-02T03:04:06 3 y\n2026-01-02T03:04:07 2000000 x\n",
    )
    .unwrap();
    let theirs = std::process::Command::new(&mtail)
        .current_dir(dir.path())
        .args([
            "--port",
            "0",
            "--logtostderr",
            "--one_shot",
            "--one_shot_format=json",
        ])
        .args(["--progs", "shapes.mtail", "--logs", "in.log"])
        .output()
        .unwrap();
    assert!(theirs.status.success());
    let expected = dir.path().join("expected.json");
    std::fs::write(&expected, &theirs.stdout).unwrap();

    let ours = logmill()
        .current_dir(dir.path())
        .args(["--one_shot", "--progs", "shapes.mtail", "--logs", "in.log"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    logmill()
        .arg("test")
        .args([&prog, &log, &expected])
        .assert()
        .success();

    let changed =
        String::from_utf8(theirs.stdout)
            .unwrap()
            .replacen("\"Value\": 2,", "\"Value\": 5,", 1);
    std::fs::write(&expected, changed).unwrap();
    logmill()
        .arg("test")
        .args([&prog, &log, &expected])
        .assert()
        .failure()
        .stdout("~ c{code=\"x\"}.Value expected 5, got 2\n");
}

/// One-shot reads `-` (standard input) and `journald:` as the daemon does, and refuses the
/// sources that have no end.
#[test]
fn one_shot_reads_stdin_and_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("p.mtail");
    std::fs::write(
        &prog,
        "counter lines_total by file\n/^/ {\n  lines_total[getfilename()]++\n}\n",
    )
    .unwrap();
    let run = |logs: &[&str], path: Option<&str>, stdin: &str| {
        let mut c = logmill();
        c.arg("--one_shot")
            .arg("--one_shot_format=prometheus")
            .arg("--progs")
            .arg(&prog);
        for l in logs {
            c.args(["--logs", l]);
        }
        if let Some(p) = path {
            c.env("PATH", p);
        }
        c.write_stdin(stdin).output().unwrap()
    };
    let out = run(&["-"], None, "a\nb\nlast without newline");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("lines_total{file=\"-\",prog=\"p.mtail\"} 3"),
        "{out:?}"
    );

    // A stand-in journalctl: it records its arguments and prints the journal as JSON, one entry
    // with a MESSAGE in bytes, one with a newline inside (still one line), one that is not JSON.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let args = dir.path().join("args");
    let script = format!(
        "#!/bin/sh\necho \"$@\" > {}\nprintf '%s\\n' '{{\"MESSAGE\":\"hello\"}}' '{{\"MESSAGE\":[104,105]}}' '{{\"MESSAGE\":\"two\\nparts\"}}' 'not json' '{{\"OTHER\":1}}'\n",
        args.display()
    );
    let jc = bin.join("journalctl");
    std::fs::write(&jc, script).unwrap();
    std::fs::set_permissions(&jc, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = run(&["journald:ssh.service"], Some(&path), "");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("lines_total{file=\"journald:ssh.service\",prog=\"p.mtail\"} 3"),
        "{out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 journal entries that are not JSON"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&args).unwrap().trim(),
        "--output=json --no-pager --unit ssh.service"
    );

    for endless in ["unix:///tmp/x.sock", "udp://127.0.0.1:0", "cmd:1s:true"] {
        let out = run(&[endless], None, "");
        assert_eq!(out.status.code(), Some(1), "{endless}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("has no end"),
            "{endless}: {out:?}"
        );
    }
}

/// Errors name a flag as it was typed: Go's `-flag` stays `-flag`.
#[test]
fn errors_quote_flags_as_typed() {
    let out = logmill()
        .args(["-port=abc", "-progs", "p"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'-port <PORT>'"), "{err}");
    let out = logmill().arg("-bogus_flag").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("'-bogus_flag'"));
    let out = logmill()
        .args(["-progs", "p", "-logs", "l", "-metrics_format=zz"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-metrics_format must be") && !err.contains("--metrics_format"),
        "{err}"
    );
    // Typed with two dashes, two dashes.
    let out = logmill()
        .args(["--port=abc", "--progs", "p"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("'--port <PORT>'"));
}
