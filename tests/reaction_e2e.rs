//! The reaction set-up of README's "Monitoring reaction", for real: the logmill daemon runs
//! `programs/reaction.prog` over a generated reaction log and `reaction show` (a stand-in
//! `reaction` on PATH printing the truth's pending actions), a real Prometheus scrapes it, and
//! every query of `contrib/grafana/reaction.json` is evaluated by that Prometheus; the totals
//! it returns are the generator's truth.

mod support;

use serde_json::Value as Json;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `reaction show` YAML of the truth's `show_at_end`.
fn show_yaml(truth: &Json) -> String {
    let mut y = String::new();
    for (stream, filters) in truth["show_at_end"].as_object().into_iter().flatten() {
        y += &format!("{stream}:\n");
        for (filter, entries) in filters.as_object().into_iter().flatten() {
            y += &format!("  {filter}:\n");
            for (values, entry) in entries.as_object().into_iter().flatten() {
                y += &format!("    {}:\n", serde_json::to_string(values).unwrap());
                if let Some(m) = entry.get("matches") {
                    y += &format!("      matches: {m}\n");
                }
                if let Some(actions) = entry.get("actions").and_then(Json::as_object) {
                    y += "      actions:\n";
                    for (action, dues) in actions {
                        y += &format!("        {action}:\n");
                        for due in dues.as_array().into_iter().flatten() {
                            let due = due.as_str().unwrap();
                            y += &format!("        - {} {}\n", &due[..10], &due[11..19]);
                        }
                    }
                }
            }
        }
    }
    y
}

fn scalar(api: &Target, promql: &str) -> Option<f64> {
    prometheus_query(api, promql)?.first()?["value"][1]
        .as_str()?
        .parse()
        .ok()
}

#[test]
fn dashboard_queries_run_on_a_real_prometheus_scraping_reaction_prog() {
    let Some(prometheus) = tool("prometheus", &["/usr/bin/prometheus"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("reaction.log");
    let truth_path = d.join("truth.json");
    let generated = Command::new("python3")
        .arg(root().join("../shared/reaction/gen_reaction_log.py"))
        .args(["--seed", "11", "--lines", "3000", "--out"])
        .arg(&log)
        .arg("--truth")
        .arg(&truth_path)
        .output()
        .expect("python3 runs the generator");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let truth: Json = serde_json::from_str(&std::fs::read_to_string(&truth_path).unwrap()).unwrap();
    std::fs::write(d.join("show.yaml"), show_yaml(&truth)).unwrap();
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("reaction");
    let show = d.join("show.yaml");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\n[ \"$1\" = show ] && exec cat '{}'\n",
            show.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let port = free_port();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let _logmill = Child(
        Command::new(env!("CARGO_BIN_EXE_logmill"))
            .arg("--progs")
            .arg(root().join("programs/reaction.prog"))
            .arg("--logs")
            .arg(&log)
            .arg("--logs_from_start")
            .arg("--logs=cmd:1s:reaction show")
            .args(["--address", "127.0.0.1", "--port", &port.to_string()])
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("logmill starts"),
    );
    let matches: f64 = truth["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["count"].as_f64().unwrap())
        .sum();
    let pending: f64 = truth["pending_count"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_f64().unwrap())
        .sum();

    let prom_port = free_port();
    let conf = d.join("prometheus.yml");
    std::fs::write(
        &conf,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: logmill\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
        ),
    )
    .unwrap();
    let prom_log = std::fs::File::create(d.join("prometheus.log")).unwrap();
    let _prom = Child(
        Command::new(&prometheus)
            .arg(format!("--config.file={}", conf.display()))
            .arg(format!("--storage.tsdb.path={}", d.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdin(Stdio::null())
            .stdout(prom_log.try_clone().unwrap())
            .stderr(prom_log)
            .spawn()
            .expect("prometheus starts"),
    );
    let api = Target::Tcp(([127, 0, 0, 1], prom_port).into());
    wait_for(
        Duration::from_secs(90),
        "Prometheus to see all of reaction's matches and pending actions",
        || {
            std::net::TcpStream::connect(("127.0.0.1", prom_port)).ok()?;
            let m = scalar(&api, "sum(reaction_matches_total)")?;
            let p = scalar(&api, "sum(reaction_pending_actions)")?;
            (m == matches && p == pending).then_some(())
        },
    );
    assert_eq!(scalar(&api, "reaction_up"), Some(1.0));
    // Rates and increases need a few scrapes in their window.
    wait_for(Duration::from_secs(60), "four scrapes", || {
        (scalar(&api, "count_over_time(reaction_up[1m])")? >= 4.0).then_some(())
    });

    let dash: Json = serde_json::from_str(
        &std::fs::read_to_string(root().join("contrib/grafana/reaction.json")).unwrap(),
    )
    .unwrap();
    let mut ran = 0;
    let mut with_data = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let e = expr
                .replace("$__rate_interval", "1m")
                .replace("$__interval", "1m")
                .replace("$__range", "1h")
                .replace("$instance", ".*")
                .replace("$stream", ".*");
            let result =
                prometheus_query(&api, &e).unwrap_or_else(|| panic!("Prometheus rejected {expr}"));
            ran += 1;
            if result.is_empty() {
                eprintln!("no data (yet) for {expr}");
            } else {
                with_data += 1;
            }
        }
    }
    println!("dashboard queries run by Prometheus: passed {ran}/{ran} ({with_data} with data)");
    assert!(
        with_data * 2 >= ran,
        "only {with_data} of {ran} queries found data"
    );
}
