//! The run matcher (logmill's fast capture engine for literal-and-class-run regexes) finds the
//! same match and the same captures as the regex crate: on every line of the shared logs for
//! every regex of the shipped example programs, and on generated patterns and subjects. It
//! answers "don't know" (never a wrong answer) past its step budget and on non-ASCII subjects.

use logmill::compile::runs::{Frame, RunMatcher};
use proptest::prelude::*;
use regex_automata::util::primitives::NonMaxUsize;
use std::path::PathBuf;

fn conformance() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/mtail")
}

/// The span of each group of a match (`None`: the group took no part).
type Groups = Vec<Option<(usize, usize)>>;

/// The regex crate's groups of `pattern` on `s` (`None`: no match).
fn reference(re: &regex::bytes::Regex, s: &[u8]) -> Option<Groups> {
    let mut locs = re.capture_locations();
    re.captures_read(&mut locs, s)?;
    Some((0..locs.len()).map(|i| locs.get(i)).collect())
}

/// The run matcher's groups; `Err(())` when it cannot tell.
fn runs(m: &RunMatcher, groups: usize, s: &[u8]) -> Result<Option<Groups>, ()> {
    let mut slots: Vec<Option<NonMaxUsize>> = vec![None; 2 * groups];
    let mut stack: Vec<Frame> = Vec::new();
    match m.search(s, &mut slots, &mut stack) {
        None => Err(()),
        Some(false) => Ok(None),
        Some(true) => Ok(Some(
            (0..groups)
                .map(|g| Some((slots[2 * g]?.get(), slots[2 * g + 1]?.get())))
                .collect(),
        )),
    }
}

#[test]
fn agrees_with_the_regex_crate_on_the_example_programs_and_logs() {
    let mut logs: Vec<Vec<u8>> = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(conformance().join("testdata"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    for p in &names {
        let text = std::fs::read(p).unwrap();
        logs.extend(text.split(|&b| b == b'\n').map(<[u8]>::to_vec));
    }
    let mut programs: Vec<PathBuf> = std::fs::read_dir(conformance().join("examples_all"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    programs.sort();
    let (mut regexes, mut searches, mut matches, mut unknown) = (0, 0, 0, 0);
    let mut fast_apache = false;
    for p in &programs {
        let prog = logmill::programs::compile_file(p).unwrap().unwrap();
        for r in &prog.regexes {
            let Some(m) = r.captures.as_ref().and_then(|c| c.runs.as_ref()) else {
                continue;
            };
            regexes += 1;
            if p.ends_with("apache_combined.mtail") {
                fast_apache = true;
            }
            for line in &logs {
                searches += 1;
                let want = reference(&r.re, line);
                match runs(m, r.re.captures_len(), line) {
                    Err(()) => unknown += 1,
                    Ok(got) => {
                        matches += usize::from(got.is_some());
                        assert_eq!(
                            got,
                            want,
                            "/{}/ on {:?}",
                            r.source,
                            String::from_utf8_lossy(line)
                        );
                    }
                }
            }
        }
    }
    println!(
        "run matcher: {regexes} regexes × {} lines: {searches} searches agree \
         ({matches} matches, {unknown} left to the regex crate)",
        logs.len()
    );
    assert!(
        fast_apache,
        "apache_combined's regex should use the run matcher"
    );
    assert!(
        regexes >= 5 && matches >= 100,
        "{regexes} regexes, {matches} matches"
    );
}

#[test]
fn gives_up_instead_of_backtracking_without_end() {
    let m = RunMatcher::new("^(.*)(.*)(.*)(.*)(.*)x$").unwrap();
    let s = vec![b'a'; 2000];
    assert_eq!(runs(&m, 6, &s), Err(()), "the budget ends the search");
    assert_eq!(
        runs(&m, 6, b"aax").unwrap().unwrap()[1],
        Some((0, 2)),
        "a short subject is within budget"
    );
    let m = RunMatcher::new(r"^(\S+) x$").unwrap();
    assert_eq!(
        runs(&m, 2, "é x".as_bytes()),
        Err(()),
        "non-ASCII: not this matcher"
    );
}

#[test]
fn only_start_anchored_patterns_of_runs_and_literals_get_a_run_matcher() {
    for p in [
        r"^a+b",
        r"^(?P<x>\d{3}) (\S+|-)?$",
        r"^x{2,5}?y",
        r"^(ab){1,3}",
        r"\Ax\b",
    ] {
        assert!(RunMatcher::new(p).is_some(), "{p}");
    }
    // 16^5 copies when written out: too big.
    let nested = (0..5).fold("ab".to_string(), |x, _| format!("({x}){{2,16}}"));
    let nested = format!("^{nested}");
    for p in [
        r"a+b",
        r"^(ab)+",
        r"^(?m)a$",
        r"^(a|b)*c",
        "^x{1,40}(ab){20}",
        &nested,
    ] {
        assert!(RunMatcher::new(p).is_none(), "{p}");
    }
}

/// Pattern pieces over a small alphabet, so that generated subjects often match.
fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just(" ".to_string()),
        Just("\"".to_string()),
        Just("ab".to_string()),
        Just("[ab]".to_string()),
        Just("[^a]".to_string()),
        Just(r"\S".to_string()),
        Just(r"\d".to_string()),
        Just(r"\w".to_string()),
        Just(".".to_string()),
        Just("[[:print:]]".to_string()),
        Just("(?i)A".to_string()),
    ]
}

fn quantified() -> impl Strategy<Value = String> {
    let quant = prop_oneof![
        Just(""),
        Just("+"),
        Just("*"),
        Just("?"),
        Just("+?"),
        Just("*?"),
        Just("??"),
        Just("{2}"),
        Just("{1,3}"),
        Just("{0,2}?"),
        Just("{2,}"),
    ];
    (atom(), quant).prop_map(|(a, q)| format!("{a}{q}"))
}

fn piece() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => quantified(),
        1 => Just("$".to_string()),
        1 => Just(r"\b".to_string()),
        1 => Just(r"\B".to_string()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| format!("({})", v.concat())),
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|v| format!("(?P<n>{})", v.concat())),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| format!("({})", v.join("|"))),
            (
                prop::collection::vec(inner, 1..3),
                prop_oneof![Just("?"), Just("??"), Just("{0,2}"), Just("{2}")]
            )
                .prop_map(|(v, q)| format!("({}){q}", v.concat())),
        ]
    })
}

fn pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 1..6).prop_map(|v| {
        // Named groups must have distinct names.
        let mut n = 0;
        let body = v.concat();
        let mut out = String::from("^");
        let mut rest = body.as_str();
        while let Some(i) = rest.find("(?P<n>") {
            out.push_str(&rest[..i]);
            n += 1;
            out.push_str(&format!("(?P<n{n}>"));
            rest = &rest[i + 6..];
        }
        out.push_str(rest);
        out
    })
}

fn subject() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => "[ab \"1A_-]{0,24}".prop_map(String::into_bytes),
        1 => "[ab é]{0,8}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn agrees_with_the_regex_crate_on_generated_patterns(
        p in pattern(),
        subjects in prop::collection::vec(subject(), 1..8),
    ) {
        let re = regex::bytes::Regex::new(&p).unwrap();
        if let Some(m) = RunMatcher::new(&p) {
            for s in &subjects {
                match runs(&m, re.captures_len(), s) {
                    // Past its budget the caller asks the regex crate: never a wrong answer.
                    Err(()) => {}
                    Ok(got) => prop_assert_eq!(got, reference(&re, s), "/{}/ on {:?}", p, String::from_utf8_lossy(s)),
                }
            }
        }
    }
}
