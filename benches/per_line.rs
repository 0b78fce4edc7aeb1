//! Per-line cost of running programs in the VM, beside the cost of the bare regex work.
//!
//! Lines come from `../shared/bench/gen_apache.py` (20 000 realistic Apache combined lines,
//! generated once into the target directory). Throughput is in lines.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use logmill::compile::compile;
use logmill::vm::{Vm, VmOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const LINES: usize = 20_000;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

fn log_lines() -> Vec<Vec<u8>> {
    let out =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-apache-{LINES}.log"));
    if !out.exists() {
        let status = std::process::Command::new("python3")
            .arg(shared().join("bench/gen_apache.py"))
            .arg(LINES.to_string())
            .arg(&out)
            .status()
            .expect("python3 runs gen_apache.py");
        assert!(status.success());
    }
    std::fs::read(&out)
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.to_vec())
        .collect()
}

fn program(name: &str) -> Arc<logmill::compile::Program> {
    let path = shared().join(format!("conformance/mtail/examples_all/{name}.mtail"));
    let src = std::fs::read_to_string(&path).unwrap();
    Arc::new(compile(&format!("{name}.mtail"), &src).unwrap())
}

fn bench_programs(c: &mut Criterion) {
    let lines = log_lines();
    let mut g = c.benchmark_group("vm_per_line");
    g.throughput(Throughput::Elements(lines.len() as u64));
    for name in ["linecount", "apache_combined"] {
        let prog = program(name);
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || Vm::new(Arc::clone(&prog), VmOptions::default()),
                |vm| {
                    for l in &lines {
                        vm.run_line(l, b"/var/log/apache/access.log");
                    }
                },
                BatchSize::LargeInput,
            )
        });
    }
    // The floor: the same regex with the captures the program reads, straight through the
    // regex crate (no VM, no store).
    let prog = program("apache_combined");
    let re = prog.regexes[0].re.clone();
    let mut locs = re.capture_locations();
    g.bench_function("apache_combined_regex_only", |b| {
        b.iter(|| {
            let mut n = 0;
            for l in &lines {
                if re.captures_read(&mut locs, l).is_some() {
                    n += 1;
                }
            }
            n
        })
    });
    // The same captures by logmill's run matcher alone: what the VM adds on top of its engine.
    let runs = prog.regexes[0]
        .captures
        .as_ref()
        .and_then(|c| c.runs.clone())
        .expect("apache_combined's regex has a run matcher");
    let mut slots = vec![None; 2 * re.captures_len()];
    let mut stack = Vec::new();
    g.bench_function("apache_combined_run_matcher_only", |b| {
        b.iter(|| {
            let mut n = 0;
            for l in &lines {
                if runs.search(l, &mut slots, &mut stack) == Some(true) {
                    n += 1;
                }
            }
            n
        })
    });
    g.finish();
}

/// One datum update in the store: a scalar metric, and a labelled one found by its label bytes.
fn bench_store_update(c: &mut Criterion) {
    use logmill::store::{labels, Metric, Value};
    let prog = compile(
        "s.mtail",
        "counter s\ncounter d by k\n/./ {\n  s++\n  d[\"x\"]++\n}\n",
    )
    .unwrap();
    let mut scalar = Metric::new(prog.metrics[0].clone());
    let mut labelled = Metric::new(prog.metrics[1].clone());
    let mut key = Vec::new();
    labels::push(&mut key, b"GET /index.html 200");
    let mut g = c.benchmark_group("store_update");
    g.bench_function("scalar", |b| {
        b.iter(|| {
            if let Value::Int(v) = &mut scalar.datum(&[], 1).value {
                *v += 1;
            }
        })
    });
    g.bench_function("labelled", |b| {
        b.iter(|| {
            if let Value::Int(v) = &mut labelled.datum(&key, 1).value {
                *v += 1;
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_programs, bench_store_update);
criterion_main!(benches);
