//! The daemon under faults (issue 14): each case drives the built binary with real files,
//! signals and sockets, and fails on the behaviour the issue describes.

use std::process::Command;

fn logmill() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logmill"))
}

/// Case 11: a duration past i64::MAX nanoseconds is Go's error, as mtail rejects it; the largest
/// one that fits is accepted.
#[test]
fn case11_duration_overflow_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let prog = |after: &str| {
        format!("counter c by x\n/(\\w+)/ {{\n  c[$1]++\n}}\n/del (\\w+)/ {{\n  del c[$1] after {after}\n}}\n")
    };
    let bad = dir.path().join("bad.mtail");
    std::fs::write(&bad, prog("9223372036854775808ns")).unwrap();
    let out = logmill().arg("check").arg(&bad).output().unwrap();
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("time: invalid duration \"9223372036854775808ns\""),
        "{err}"
    );
    for ok in ["9223372036854775807ns", "2562047h47m16s854775807ns", "1.5h"] {
        let good = dir.path().join("good.mtail");
        std::fs::write(&good, prog(ok)).unwrap();
        let out = logmill().arg("check").arg(&good).output().unwrap();
        assert!(out.status.success(), "{ok}: {out:?}");
    }
    let over = dir.path().join("over.mtail");
    std::fs::write(&over, prog("2562047h47m16s854775808ns")).unwrap();
    let out = logmill().arg("check").arg(&over).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
