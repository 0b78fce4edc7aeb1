//! Label explosion: a metric's `limit` holds at every line (the least recently updated series
//! makes room), and metrics without `limit` stop at the `--max_series` cap; both are counted in
//! self-metrics by the daemon.

mod common;

use common::{counter, sample, Daemon};
use logmill::compile::compile;
use logmill::vm::{Vm, VmOptions};
use std::io::Write;
use std::sync::Arc;

const LIMITED: &str = "counter m by v limit 1000\n/(?P<v>\\d+)/ {\n  m[$v]++\n}\n";

#[test]
fn a_million_label_values_never_pass_the_limit() {
    let prog = compile("p.mtail", LIMITED).unwrap();
    let mut vm = Vm::new(Arc::new(prog), VmOptions::default());
    let mut line = String::new();
    let mut most = 0;
    for i in 0..1_000_000u32 {
        line.clear();
        std::fmt::Write::write_fmt(&mut line, format_args!("{i}")).unwrap();
        vm.run_line(line.as_bytes(), b"f");
        // A steady value keeps being updated: it is never the least recently updated.
        vm.run_line(b"7", b"f");
        most = most.max(vm.store.metrics[0].series.len());
    }
    let m = &mut vm.store.metrics[0];
    assert_eq!(most, 1000);
    assert_eq!(m.take_evictions(), 1_000_000 - 1000);
    let mut key = Vec::new();
    logmill::store::labels::push(&mut key, b"7");
    assert!(m.series.contains_key(&key[..]), "the busy series stays");
    // The other 999 are the last values seen.
    let mut key = Vec::new();
    logmill::store::labels::push(&mut key, b"999001");
    assert!(m.series.contains_key(&key[..]));
}

#[test]
fn without_limit_the_series_cap_refuses_new_series() {
    let prog = compile(
        "p.mtail",
        "counter m by v\ncounter all\n/(?P<v>\\d+)/ {\n  m[$v]++\n  all++\n}\n",
    )
    .unwrap();
    let opts = VmOptions {
        max_series: 100,
        ..VmOptions::default()
    };
    let mut vm = Vm::new(Arc::new(prog), opts);
    for i in 0..10_000 {
        vm.run_line(format!("{i}").as_bytes(), b"f");
        vm.run_line(b"5", b"f");
    }
    // 100 series in all: the scalar `all` and 99 of `m`.
    assert_eq!(vm.store.metrics[0].series.len(), 99);
    assert_eq!(vm.store.take_dropped(), 10_000 - 99);
    // Existing series go on counting; scalars are not capped.
    let mut key = Vec::new();
    logmill::store::labels::push(&mut key, b"5");
    let five = &vm.store.metrics[0].series[&key[..]];
    assert_eq!(five.value, logmill::store::Value::Int(10_001));
    assert_eq!(
        vm.store.metrics[1].series[0].value,
        logmill::store::Value::Int(20_000)
    );
    assert_eq!(vm.runtime_errors, 0);
}

#[test]
fn the_daemon_counts_evictions_and_refused_series() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("x.log");
    std::fs::write(&log, b"").unwrap();
    let prog = "counter limited by v limit 100\ncounter open by v\n\
                /a(?P<v>\\d+)/ {\n  limited[$v]++\n}\n/b(?P<v>\\d+)/ {\n  open[$v]++\n}\n";
    let d = Daemon::start(
        dir.path(),
        prog,
        &[log.to_str().unwrap()],
        &["--max_series=50"],
    );
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&format!("a{i}\n"));
    }
    for i in 0..200 {
        text.push_str(&format!("b{i}\n"));
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let evicted = "logmill_metric_evictions_total{metric=\"limited\",prog=\"p.mtail\"}";
    let dropped = "logmill_series_dropped_total{prog=\"p.mtail\"}";
    // A metrics write gathers one counter after another while batches run: wait for all three.
    let t = d.wait_for(|t| {
        counter(t, "logmill_lines_total") == 5200
            && sample(t, evicted) == Some(4900.0)
            && sample(t, dropped) == Some(150.0)
    });
    assert_eq!(sample(&t, evicted), Some(4900.0), "{t}");
    assert_eq!(sample(&t, dropped), Some(150.0), "{t}");
    let series = |name: &str| {
        t.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .count()
    };
    assert_eq!((series("limited"), series("open")), (100, 50));
    let log = d.stderr();
    assert_eq!(log.matches("--max_series cap").count(), 1, "{log}");
    d.stop_prometheus();
}
