//! Drop-in for mtail, proven with the real parts: Debian's mtail and logmill run the same
//! program over the same log, a real Prometheus scrapes both with a plain scrape job (as an
//! mtail deployment has it, asking for OpenMetrics first), and the series it stores — names,
//! labels and values — are the same.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

/// Counters with and without `_total` (one never incremented), a dimensioned counter, a gauge,
/// a histogram.
const PROGRAM: &str = "counter plain\n\
counter requests_total by method, code\n\
counter never_seen\n\
gauge last_size\n\
histogram size buckets 10, 100, 1000\n\
/^(?P<method>[A-Z]+) (?P<code>\\d+) (?P<size>\\d+)$/ {\n\
  plain++\n\
  requests_total[$method][$code]++\n\
  last_size = $size\n\
  size = $size\n\
}\n\
/^never$/ {\n\
  never_seen++\n\
}\n";

type Series = BTreeMap<String, String>;

/// Every series of a job that a program exported (the engine's own metrics aside), without
/// `instance` and `job`:
/// `name{labels}` → value.
fn stored(prometheus: &Target, job: &str) -> Option<Series> {
    let rows = prometheus_query(prometheus, &format!("{{job=\"{job}\",prog!=\"\"}}"))?;
    let mut out = Series::new();
    for r in rows {
        let mut labels: Vec<(String, String)> = r["metric"]
            .as_object()?
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "instance" | "job" | "__name__"))
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
            .collect();
        labels.sort();
        let name = r["metric"]["__name__"].as_str()?.to_string();
        // Each engine's own metrics (`mtail_*`, `logmill_*`) differ by design.
        if name.starts_with("mtail_") || name.starts_with("logmill_") {
            continue;
        }
        let set: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        out.insert(
            format!("{name}{{{}}}", set.join(",")),
            r["value"][1].as_str()?.to_string(),
        );
    }
    Some(out)
}

#[test]
fn prometheus_stores_the_same_series_from_logmill_as_from_mtail() {
    let (Some(mtail), Some(prometheus)) = (
        tool("mtail", &["/usr/bin/mtail"]),
        tool("prometheus", &["/usr/bin/prometheus"]),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let progs = dir.path().join("progs");
    std::fs::create_dir(&progs).unwrap();
    std::fs::write(progs.join("web.mtail"), PROGRAM).unwrap();
    let log = dir.path().join("web.log");
    std::fs::write(&log, "").unwrap();
    let (mport, lport, pport) = (free_port(), free_port(), free_port());
    let daemon = |bin: &std::path::Path, port: u16, name: &str| {
        let out = std::fs::File::create(dir.path().join(format!("{name}.out"))).unwrap();
        Child(
            Command::new(bin)
                .arg("--progs")
                .arg(&progs)
                .arg("--logs")
                .arg(&log)
                .args(["--address", "127.0.0.1", "--port", &port.to_string()])
                .arg("--logtostderr")
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap(),
        )
    };
    let _mtail = daemon(&mtail, mport, "mtail");
    let _logmill = daemon(
        std::path::Path::new(env!("CARGO_BIN_EXE_logmill")),
        lport,
        "logmill",
    );
    for port in [mport, lport] {
        let t = Target::Tcp(([127, 0, 0, 1], port).into());
        wait_for(Duration::from_secs(20), "the daemons serve", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            (get(&t, "/metrics", &[]).status == 200).then_some(())
        });
    }
    // Both follow the log from its end: write after they have started.
    std::thread::sleep(Duration::from_secs(1));
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    for (i, (m, c)) in [("GET", 200), ("GET", 404), ("POST", 200), ("GET", 200)]
        .iter()
        .enumerate()
    {
        writeln!(f, "{m} {c} {}", 5 + i * 300).unwrap();
    }
    drop(f);

    let pdir = dir.path().join("prometheus");
    std::fs::create_dir(&pdir).unwrap();
    let conf = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: mtail\n    static_configs:\n      - targets: ['127.0.0.1:{mport}']\n  - job_name: logmill\n    static_configs:\n      - targets: ['127.0.0.1:{lport}']\n"
    );
    std::fs::write(pdir.join("prometheus.yml"), conf).unwrap();
    let plog = std::fs::File::create(pdir.join("prometheus.log")).unwrap();
    let _prom = Child(
        Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                pdir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                pdir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
            .stdin(Stdio::null())
            .stdout(plog.try_clone().unwrap())
            .stderr(plog)
            .spawn()
            .unwrap(),
    );
    let api = Target::Tcp(([127, 0, 0, 1], pport).into());
    wait_for(Duration::from_secs(30), "Prometheus listens", || {
        std::net::TcpStream::connect(("127.0.0.1", pport)).ok()
    });
    let (theirs, ours) = wait_for(
        Duration::from_secs(60),
        "both jobs scraped with every line",
        || {
            let theirs = stored(&api, "mtail")?;
            let ours = stored(&api, "logmill")?;
            let done =
                |s: &Series| s.get("plain{prog=\"web.mtail\"}").map(String::as_str) == Some("4");
            (done(&theirs) && done(&ours)).then_some((theirs, ours))
        },
    );
    let mut same = 0;
    for (k, v) in &theirs {
        assert_eq!(
            ours.get(k),
            Some(v),
            "{k}: mtail {v}, logmill {:?}\nmtail {theirs:#?}\nlogmill {ours:#?}",
            ours.get(k)
        );
        same += 1;
    }
    assert_eq!(
        theirs.len(),
        ours.len(),
        "mtail {theirs:#?}\nlogmill {ours:#?}"
    );
    assert!(
        ours.contains_key("plain{prog=\"web.mtail\"}")
            && !ours.keys().any(|k| k.starts_with("plain_total"))
    );
    println!(
        "series stored alike from mtail and logmill: passed {same}/{}",
        theirs.len()
    );

    // mtail's plain pages give the same lines (graphite's time column is each datum's last
    // update, which the two processes may see a second apart; /varz's order is a Go map's).
    for page in ["/graphite", "/varz"] {
        let lines = |port: u16| {
            let t = Target::Tcp(([127, 0, 0, 1], port).into());
            let r = get(&t, page, &[]);
            assert_eq!(r.status, 200, "{page} on {port}");
            let mut v: Vec<String> = r
                .body
                .lines()
                .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
                .collect();
            v.sort();
            v
        };
        let (theirs, ours) = (lines(mport), lines(lport));
        assert!(!theirs.is_empty(), "{page}");
        assert_eq!(ours, theirs, "{page}");
        println!("{page} lines alike: passed {}/{}", ours.len(), theirs.len());
    }
}
