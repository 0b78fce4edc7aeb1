//! The cost of a `/metrics` scrape of 100 000 series: the snapshot (each program's store copied
//! under its lock), rendering the 0.0.4 text and OpenMetrics from the copy, and the whole scrape.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use logmill::export::prometheus::Options;
use logmill::serve::accept::Exposition;
use logmill::serve::scrape;
use logmill::state::{Loaded, State};
use logmill::vm::VmOptions;
use std::path::PathBuf;
use std::sync::Arc;

const SERIES: usize = 100_000;

const PROGRAM: &str = r#"counter http_requests_total by vhost, path, status
/^(?P<vhost>\S+) (?P<path>\S+) (?P<status>\d+)$/ {
  http_requests_total[$vhost][$path][$status]++
}
"#;

/// A state with one program holding `SERIES` series.
fn state() -> State {
    let program = logmill::compile::compile("bench.mtail", PROGRAM).unwrap();
    let loaded = Loaded::new(PathBuf::from("bench.mtail"), program, VmOptions::default());
    {
        let mut vm = loaded.vm.lock().unwrap();
        for i in 0..SERIES {
            let line = format!(
                "www{}.example.com /api/v1/items/{} {}",
                i % 10,
                i,
                [200, 301, 404, 500][i % 4]
            );
            vm.run_line(line.as_bytes(), b"/var/log/access.log");
        }
        let n: usize = vm.store.metrics.iter().map(|m| m.series.len()).sum();
        assert_eq!(n, SERIES);
    }
    let state = State::new();
    state.programs.store(Arc::new(vec![Arc::new(loaded)]));
    logmill::serve::self_metrics::register(&state.registry).unwrap();
    state
}

fn bench_scrape(c: &mut Criterion) {
    let state = state();
    let opts = Options::default();
    let mut g = c.benchmark_group("scrape_100k_series");
    g.throughput(Throughput::Elements(SERIES as u64));
    g.sample_size(20);
    g.bench_function("snapshot", |b| b.iter(|| state.snapshot()));
    let snapshot = state.snapshot();
    let own = state.registry.gather();
    for (name, format) in [
        ("render_text", Exposition::Text),
        ("render_openmetrics", Exposition::OpenMetrics),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| scrape::render_snapshot(&snapshot, &own, format, &opts))
        });
    }
    for (name, format) in [
        ("scrape_text", Exposition::Text),
        ("scrape_openmetrics", Exposition::OpenMetrics),
    ] {
        g.bench_function(name, |b| b.iter(|| scrape::render(&state, format, &opts)));
    }
    g.finish();
}

criterion_group!(benches, bench_scrape);
criterion_main!(benches);
