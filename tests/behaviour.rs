//! mtail's subtle rules (../shared/mtail/LANGUAGE.md), one small program each:
//! program + lines → the metrics, or the compile error.

use logmill::compile::compile;
use logmill::store::{labels, Value};
use logmill::vm::strptime::Zone;
use logmill::vm::{Vm, VmOptions};
use std::sync::Arc;

/// Run `src` over `lines`; every datum as `name{l1,l2} value`, plus the runtime error count.
fn run_with(src: &str, lines: &[&str], opts: VmOptions) -> (Vec<String>, u64) {
    let prog = compile("t.mtail", src).unwrap_or_else(|e| panic!("{e}"));
    let mut vm = Vm::new(Arc::new(prog), opts);
    for l in lines {
        vm.run_line(l.as_bytes(), b"/logs/app.log");
    }
    let mut out = Vec::new();
    for m in &vm.store.metrics {
        for (k, d) in &m.series {
            let v = match &d.value {
                Value::Int(i) => i.to_string(),
                Value::Float(f) => format!("{f:?}"),
                Value::Str(s) => format!("{s:?}"),
                Value::Hist(h) => format!("{:?} count={} sum={}", h.counts, h.count, h.sum),
            };
            out.push(format!(
                "{}{{{}}} {v}",
                m.def.name,
                labels::strings(k).join(",")
            ));
        }
    }
    (out, vm.runtime_errors)
}

fn run(src: &str, lines: &[&str]) -> Vec<String> {
    let (out, errors) = run_with(src, lines, VmOptions::default());
    assert_eq!(errors, 0, "unexpected runtime errors");
    out
}

fn fails(src: &str, message: &str, line: usize) {
    let e = compile("t.mtail", src).expect_err("must not compile");
    let hit = e.diagnostics.iter().any(|d| {
        d.message.contains(message) && logmill::syntax::span::line_col(src, d.span.start).0 == line
    });
    assert!(hit, "want {message:?} on line {line}, got:\n{e}");
}

#[test]
fn whole_match_is_a_label_key_but_not_a_value() {
    assert_eq!(
        run("counter c by l\n/a+/ {\n  c[$0]++\n}\n", &["xaay"]),
        vec!["c{aa} 1"]
    );
    fails(
        "counter c\n/a+/ {\n  c += len($0)\n}\n",
        "argument 1 of len()",
        3,
    );
}

#[test]
fn bitwise_not_is_a_condition_that_keeps_its_int_value() {
    let src = "gauge a by op\n/(?P<n>\\d+)/ {\n  a[\"shl\"] = ~$n << 2\n  a[\"and\"] = ~16 & 255\n  ~0 {\n    a[\"cond0\"] = 1\n  }\n  ~(-1) {\n    a[\"cond-1\"] = 1\n  }\n}\n";
    assert_eq!(
        run(src, &["16"]),
        vec!["a{shl} -68", "a{and} 239", "a{cond0} 1"]
    );
}

#[test]
fn conditions_are_not_values() {
    fails(
        "gauge b\ngauge x\n/./ {\n  x = 1\n  b = ~x\n}\n",
        "Can't assign a Bool",
        5,
    );
    fails("1 {}\n", "Can't interpret Int as a boolean", 1);
}

#[test]
fn float_label_values_use_go_g_formatting() {
    let src = "counter c by v\n/(?P<f>\\d+\\.\\d+(e-?\\d+)?)/ {\n  c[$f]++\n}\n";
    assert_eq!(
        run(src, &["1234567.5", "0.00001", "12.8", "12.80"]),
        vec!["c{1.2345675e+06} 1", "c{1e-05} 1", "c{12.8} 2"]
    );
}

#[test]
fn strings_compare_lexicographically_and_numbers_numerically() {
    let src = "counter s\ncounter n\n/(?P<a>\\S+) (?P<b>\\S+)/ {\n  $a < $b {\n    s++\n  }\n}\n/(?P<x>\\d+) (?P<y>\\d+)/ {\n  $x < $y {\n    n++\n  }\n}\n";
    // "20" < "3" as strings, not as numbers.
    assert_eq!(run(src, &["20 3"]), vec!["s{} 1", "n{} 0"]);
}

#[test]
fn else_does_not_set_matched_so_otherwise_runs_too() {
    let src = "counter e\ncounter o\n/x/ {\n} else {\n  e++\n}\notherwise {\n  o++\n}\n";
    assert_eq!(run(src, &["y", "x"]), vec!["e{} 1", "o{} 1"]);
}

#[test]
fn a_runtime_error_ends_the_line_but_keeps_earlier_effects() {
    let src = "counter before\ncounter later\n/(?P<n>\\d+)|-/ {\n  before++\n  later += $n\n}\n";
    let (out, errors) = run_with(src, &["-", "5"], VmOptions::default());
    assert_eq!(out, vec!["before{} 2", "later{} 5"]);
    assert_eq!(errors, 1);
}

#[test]
fn strptime_failures_are_cached_by_value() {
    let src = "counter c\n/(.*)/ {\n  strptime($1, \"2006-01-02\")\n  c++\n}\n";
    let (out, errors) = run_with(
        src,
        &["bad", "bad", "2020-01-01", "bad"],
        VmOptions::default(),
    );
    // The first "bad" fails; the cached failure then silently uses "now".
    assert_eq!(errors, 1);
    assert_eq!(out, vec!["c{} 3"]);
}

fn stamp(src: &str, line: &str, opts: VmOptions) -> i64 {
    let prog = compile("t.mtail", src).unwrap();
    let mut vm = Vm::new(Arc::new(prog), opts);
    vm.run_line(line.as_bytes(), b"f");
    vm.store.metrics[0].series[0].time_ns
}

#[test]
fn yearless_dates_and_time_zones() {
    let src = "counter c\n/(.*)/ {\n  strptime($1, \"Jan _2 15:04:05\")\n  c++\n}\n";
    let year0 = stamp(
        src,
        "Aug 19 02:16:40",
        VmOptions {
            syslog_use_current_year: false,
            ..VmOptions::default()
        },
    );
    assert_eq!(year0, -6807020378871345152);
    let now = stamp(src, "Aug 19 02:16:40", VmOptions::default());
    let year = jiff::Timestamp::from_nanosecond(now as i128)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .year();
    assert_eq!(year, jiff::Zoned::now().year());

    let src = "counter c\n/(.*)/ {\n  strptime($1, \"2006-01-02 15:04:05\")\n  c++\n}\n";
    let utc = stamp(src, "2021-07-01 12:00:00", VmOptions::default());
    let berlin = VmOptions {
        zone: Zone::from_name("Europe/Berlin").unwrap(),
        ..VmOptions::default()
    };
    let local = stamp(src, "2021-07-01 12:00:00", berlin);
    assert_eq!(
        utc - local,
        2 * 3600 * 1_000_000_000,
        "summer time in Berlin is UTC+2"
    );
}

#[test]
fn settime_and_timestamp() {
    let src = "gauge t\n/(?P<s>\\d+)/ {\n  settime($s)\n  t = timestamp()\n}\n";
    assert_eq!(run(src, &["1300000000"]), vec!["t{} 1300000000"]);
}

#[test]
fn histogram_bucket_edges() {
    let src = "histogram h buckets 1, 2, 4\n/(?P<v>-?\\d+(\\.\\d+)?)/ {\n  h = $v\n}\n";
    // Ranges (0,1] (1,2] (2,4] (4,+Inf]; a value lands in the first range whose max is >= it.
    assert_eq!(
        run(src, &["1", "2", "2.5", "4", "9", "0", "-3"]),
        vec!["h{} [3, 1, 2, 1] count=7 sum=15.5"]
    );
}

#[test]
fn integer_arithmetic_is_go_int64() {
    let src = "gauge a by op\n/./ {\n  a[\"div\"] = 7 / 2\n  a[\"mod\"] = -7 % 2\n  a[\"pow\"] = 2 ** 10\n  a[\"bits\"] = 7 & 6 | 1 ^ 8\n  a[\"shift\"] = 1 << 4 >> 2\n}\n";
    assert_eq!(
        run(src, &["x"]),
        vec![
            "a{div} 3",
            "a{mod} -1",
            "a{pow} 1024",
            "a{bits} 15",
            "a{shift} 4"
        ]
    );
    let src = "gauge a\n/(?P<n>\\d+)/ {\n  a = 10 / $n\n}\n";
    let (_, errors) = run_with(src, &["0"], VmOptions::default());
    assert_eq!(
        errors, 1,
        "integer division by a runtime zero is a runtime error"
    );
    fails(
        "gauge a\n/(?P<n>\\d+)/ {\n  a = $n / 0\n}\n",
        "divide by zero",
        3,
    );
}

#[test]
fn type_inference_promotes_metrics() {
    let src = "counter i\ngauge f\n/(?P<n>\\d+)/ {\n  i += 1.0 * $n\n  f = $n\n}\n";
    assert_eq!(run(src, &["3"]), vec!["i{} 3.0", "f{} 3"]);
}

#[test]
fn builtins() {
    let src = "text t by k\n/(?P<w>\\S+) (?P<h>[0-9a-f]+)/ {\n  t[\"lower\"] = tolower($w)\n  t[\"subst\"] = subst(/\\d/, \"$1\", $w)\n  t[\"replace\"] = subst(\"A\", \"-\", $w)\n  t[\"hex\"] = string(strtol($h, 16))\n  t[\"len\"] = string(len($w))\n  t[\"file\"] = getfilename()\n}\n";
    assert_eq!(
        run(src, &["AbC1A ff"]),
        vec![
            "t{lower} \"abc1a\"",
            "t{subst} \"AbC$1A\"",
            "t{replace} \"-bC1-\"",
            "t{hex} \"255\"",
            "t{len} \"5\"",
            "t{file} \"/logs/app.log\""
        ]
    );
    let (_, errors) = run_with(
        "gauge g\n/(.*)/ {\n  g = strtol($1, 0)\n}\n",
        &["12"],
        VmOptions::default(),
    );
    assert_eq!(errors, 1, "strtol with base 0 is a runtime error");
}

#[test]
fn text_appends_and_reads_create_datums() {
    let src = "text t\ngauge g by k\ncounter c\n/(?P<w>\\w+)/ {\n  t += $w\n  g[$w] > 0 {\n    c++\n  }\n}\n";
    assert_eq!(
        run(src, &["a", "b"]),
        vec!["t{} \"ab\"", "g{a} 0", "g{b} 0", "c{} 0"]
    );
}

#[test]
fn del_and_expiry() {
    let src = "gauge g by k\n/(?P<op>\\w+) (?P<k>\\w+)/ {\n  $op == \"set\" {\n    g[$k] = 1\n    del g[$k] after 1h\n  }\n  $op == \"del\" {\n    del g[$k]\n  }\n}\n";
    assert_eq!(
        run(src, &["set a", "set b", "del a", "del nothing"]),
        vec!["g{b} 1"]
    );
    let src = "gauge g by k\n/(?P<k>\\w+)/ {\n  del g[$k] after 1h\n}\n";
    let (_, errors) = run_with(src, &["missing"], VmOptions::default());
    assert_eq!(
        errors, 1,
        "expiring a datum that does not exist is a runtime error"
    );
}

#[test]
fn stop_ends_the_line() {
    let src = "counter a\ncounter b\n/x/ {\n  a++\n  stop\n}\n/./ {\n  b++\n}\n";
    assert_eq!(run(src, &["x", "y"]), vec!["a{} 1", "b{} 1"]);
}

#[test]
fn nested_decorators_see_outer_captures() {
    let src = "counter c by a, b\ndef outer {\n  /^(?P<a>\\w+) / {\n    next\n  }\n}\ndef inner {\n  @outer {\n    /(?P<b>\\d+)$/ {\n      next\n    }\n  }\n}\n@inner {\n  c[$a, $b]++\n}\n";
    assert_eq!(run(src, &["web 42", "web x"]), vec!["c{web,42} 1"]);
}

#[test]
fn chained_matches_redeclare_numbered_groups_and_the_last_match_wins() {
    // mtail 3.4: `/(\w+)/ && PAT` declares `$0` twice; each numbered group is the last match's.
    let src = "counter c by k\nconst PAT /(\\d+)$/\n/^(\\w+)-/ && PAT {\n  c[$1]++\n}\n";
    assert_eq!(
        run(src, &["ab-12", "cd-x", "ef-34"]),
        vec!["c{12} 1", "c{34} 1"]
    );
    // A group the later match does not have stays the earlier one's.
    let src = "text t\nconst D /(\\d)/\n/^(\\w+) (\\w+)/ && D {\n  t = $1 + $2\n}\n";
    assert_eq!(run(src, &["ab cd 7"]), vec!["t{} \"7cd\""]);
    let src = "counter c\n/(?P<x>a)/ {\n  /b/ && $x =~ /a/ {\n    c++\n  }\n}\n";
    assert_eq!(run(src, &["ab", "ac", "b"]), vec!["c{} 1"]);
}

#[test]
fn a_named_group_may_not_be_declared_twice_in_one_scope() {
    fails(
        "counter c by x\nconst B /(?P<x>b)/\n/(?P<x>a)/ && B {\n  c[$x]++\n}\n",
        "Redeclaration of capture group `x' previously declared at t.mtail:3:1-10",
        3,
    );
}

#[test]
fn every_syntax_error_is_reported_at_once() {
    let src = "counter a\ncounter b\n/x/ {\n  a = 1 ++ 2\n}\nb ++ 3\n/y/ {\n  a -1\n}\n";
    let e = compile("t.mtail", src).expect_err("three syntax errors");
    let lines: Vec<usize> = e
        .diagnostics
        .iter()
        .map(|d| logmill::syntax::span::line_col(src, d.span.start).0)
        .collect();
    assert_eq!(lines, vec![4, 6, 8], "{e}");
}

#[test]
fn a_pattern_concatenation_may_start_with_a_const_name() {
    let lines = ["foobar", "foo", "xfoobarbazx"];
    let src = "counter c\nconst X /foo/\nconst Y /bar/\nX + Y {\n  c++\n}\n";
    assert_eq!(run(src, &lines), vec!["c{} 2"]);
    let src = "counter c\nconst X /foo/\nX + /bar/ + /baz/ {\n  c++\n}\n";
    assert_eq!(run(src, &lines), vec!["c{} 1"]);
    let src = "counter c\nconst A /foo/\nconst B A + /bar/\nconst C B\nC {\n  c++\n}\n";
    assert_eq!(run(src, &lines), vec!["c{} 2"]);
    let src = "counter c\nconst X /foo/\n/.*/ {\n  $0 =~ X + /bar/ {\n    c++\n  }\n}\n";
    assert_eq!(run(src, &lines), vec!["c{} 2"]);
    // Arithmetic on names is still arithmetic.
    let src = "counter c\ngauge g\n/o/ {\n  g + 1 > 0 {\n    c++\n  }\n}\n";
    assert_eq!(run(src, &lines), vec!["c{} 3", "g{} 0"]);
}

#[test]
fn defined_tells_whether_a_group_took_part_in_the_match() {
    let src = "counter total\ncounter dashes\n/^[a-z]+ ((?P<size>\\d+)|-)$/ {\n  defined($size) {\n    total += $size\n  } else {\n    dashes++\n  }\n}\n";
    assert_eq!(
        run(src, &["a 99", "b -", "c 1"]),
        vec!["total{} 100", "dashes{} 1"]
    );
    fails(
        "counter c\n/(x)/ {\n  defined(1) {\n    c++\n  }\n}\n",
        "defined() expects a capture group reference as its argument",
        3,
    );
    fails(
        "counter c\n/(x)/ {\n  defined($y) {\n    c++\n  }\n}\n",
        "Capture group `$y' was not defined",
        3,
    );
}

#[test]
fn a_scalar_counter_may_not_hold_a_string() {
    fails(
        "counter a\n/(\\S+)/ {\n  a = $1\n}\n",
        "Scalar counter `a' is assigned a string",
        1,
    );
    // A number made from the string is fine, and so is a string in a gauge or a text.
    assert_eq!(
        run(
            "counter a\ngauge g\ntext t\n/(\\S+)/ {\n  a = int($1)\n  g = $1\n  t = $1\n}\n",
            &["7"]
        ),
        vec!["a{} 7", "g{} \"7\"", "t{} \"7\""]
    );
}
