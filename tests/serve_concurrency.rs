//! Scrapes while lines stream in: a scrape copies a program's store under its lock and renders
//! the copy with no lock held, so a VM fed lines during a scrape of a large store is held up
//! only for the copy, not for the scrape. (In a file of its own so no other test shares the
//! cores while it measures.)

mod support;

use logmill::serve::ServeConfig;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

const SERIES: usize = 100_000;

#[test]
fn a_scrape_of_a_large_store_does_not_stall_the_vm() {
    let lines: Vec<String> = (0..SERIES).map(|i| format!("GET /p{i}")).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let prog = "counter hits by path\n/^GET (?P<path>\\S+)/ {\n  hits[$path]++\n}\n";
    let state = state_with(&[("big.mtail", prog)], &refs);
    let server = Running::start(
        ServeConfig {
            tcp: Some(("127.0.0.1".into(), 0)),
            ..ServeConfig::default()
        },
        state.clone(),
    )
    .unwrap();
    let target = Target::Tcp(server.tcp.unwrap());

    // A feeder, as the daemon's tailer would be: one line at a time, each under the VM's lock.
    // It keeps the longest wait between two lines.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (state, stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            let program = state.programs.load()[0].clone();
            let (mut fed, mut longest) = (0u64, Duration::ZERO);
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                program
                    .vm
                    .lock()
                    .unwrap()
                    .run_line(b"GET /p7", b"/var/log/x");
                fed += 1;
                let now = Instant::now();
                longest = longest.max(now - last);
                last = now;
            }
            (fed, longest)
        })
    };

    let mut scrapes = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let r = get(&target, "/metrics", &[]);
        scrapes.push(started.elapsed());
        assert_eq!(r.status, 200);
        assert_eq!(r.body.matches("\nhits{").count(), SERIES);
    }
    stop.store(true, Ordering::Relaxed);
    let (fed, longest) = feeder.join().unwrap();
    let shortest_scrape = *scrapes.iter().min().unwrap();
    eprintln!(
        "scrapes of {SERIES} series took {scrapes:?}; the feeder ran {fed} lines, its longest wait {longest:?}"
    );
    assert!(
        longest < shortest_scrape / 2,
        "the VM waited {longest:?} during scrapes of {shortest_scrape:?} or more"
    );
    // Every fed line was counted.
    let r = get(&target, "/metrics", &[]);
    let counted: f64 = r
        .body
        .lines()
        .find_map(|l| l.strip_prefix("hits{path=\"/p7\",prog=\"big.mtail\"} "))
        .and_then(|v| v.parse().ok())
        .expect("the fed series");
    assert_eq!(counted, (fed + 1) as f64);
}
