//! The deployment in README's "Behind a reverse proxy", for real: logmill on a Unix socket, the
//! Debian nginx proxying to it with `contrib/nginx-logmill.conf`, and the Debian Prometheus
//! scraping nginx with `contrib/prometheus-logmill.yml`; Prometheus' HTTP API must then answer
//! with what the program counted. Also: the README shows the contrib files as they are, and
//! the systemd unit passes `systemd-analyze verify`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn contrib(name: &str) -> String {
    std::fs::read_to_string(repo().join("contrib").join(name)).unwrap()
}

/// The logmill binary as a daemon, following a log of `HTTP_LINES` with `HTTP_PROG`, serving
/// on a Unix socket only (as the contrib systemd unit does). Stopped with SIGTERM on drop.
struct Logmill {
    child: std::process::Child,
}

impl Logmill {
    fn start(dir: &Path, socket: &Path) -> Logmill {
        let progs = dir.join("progs");
        std::fs::create_dir_all(&progs).unwrap();
        std::fs::write(progs.join("http.mtail"), HTTP_PROG).unwrap();
        let log = dir.join("access.log");
        std::fs::write(&log, HTTP_LINES.join("\n") + "\n").unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_logmill"))
            .arg("--progs")
            .arg(&progs)
            .arg("--logs")
            .arg(&log)
            .arg("--logs_from_start")
            .arg("--unix_socket")
            .arg(socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start logmill");
        let mut running = Logmill { child };
        let target = Target::Unix(socket.to_path_buf());
        wait_for(
            Duration::from_secs(30),
            "logmill to serve what it counted",
            || {
                if let Ok(Some(status)) = running.child.try_wait() {
                    panic!("logmill exited: {status}");
                }
                if !socket.exists() {
                    return None;
                }
                let r = get(&target, "/metrics", &[]);
                r.body
                    .contains("lines_total{prog=\"http.mtail\"} 5")
                    .then_some(())
            },
        );
        running
    }
}

impl Drop for Logmill {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// nginx as an ordinary process (one process, no daemon) with a config made around the contrib
/// server block, everything under `dir`.
fn start_nginx(nginx: &Path, dir: &Path, socket: &Path, port: u16) -> Child {
    let server_block = contrib("nginx-logmill.conf")
        .replace("listen 9103;", &format!("listen 127.0.0.1:{port};"))
        .replace("/run/logmill/metrics.sock", &socket.display().to_string());
    assert!(server_block.contains(&format!("http://unix:{}:/metrics", socket.display())));
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  \
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  \
         scgi_temp_path {d}/scgi;\n{server_block}}}\n"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let test = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&test.stderr)
    );
    Child(
        Command::new(nginx)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts"),
    )
}

/// Prometheus with the contrib scrape job pointed at nginx, scraping every second.
fn start_prometheus(prometheus: &Path, dir: &Path, nginx_port: u16, port: u16) -> Child {
    let job = contrib("prometheus-logmill.yml")
        .replace("logs.example.com:9103", &format!("127.0.0.1:{nginx_port}"))
        .replace("scrape_interval: 15s", "scrape_interval: 1s");
    assert!(job.contains(&format!("127.0.0.1:{nginx_port}")) && job.contains("1s"));
    let conf = format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{job}");
    let conf_path = dir.join("prometheus.yml");
    std::fs::write(&conf_path, conf).unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    Child(
        Command::new(prometheus)
            .arg(format!("--config.file={}", conf_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts"),
    )
}

/// The value of the single series a PromQL query returns, if there is exactly one.
fn query(prometheus: &Target, promql: &str) -> Option<(serde_json::Value, String)> {
    match prometheus_query(prometheus, promql)?.as_slice() {
        [one] => Some((one["metric"].clone(), one["value"][1].as_str()?.to_string())),
        _ => None,
    }
}

fn log_of(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

#[test]
fn prometheus_scrapes_logmill_through_nginx_on_a_unix_socket() {
    let (Some(nginx), Some(prometheus)) = (
        tool("nginx", &["/usr/sbin/nginx"]),
        tool("prometheus", &["/usr/bin/prometheus"]),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let socket: PathBuf = dir.path().join("run/metrics.sock");
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let nginx_dir = dir.path().join("nginx");
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&nginx_dir).unwrap();
    std::fs::create_dir_all(&prom_dir).unwrap();

    let _logmill = Logmill::start(dir.path(), &socket);
    let nginx_port = free_port();
    let mut nginx_child = start_nginx(&nginx, &nginx_dir, &socket, nginx_port);
    let through_nginx = Target::Tcp(([127, 0, 0, 1], nginx_port).into());
    wait_for(Duration::from_secs(30), "nginx to proxy /metrics", || {
        if let Ok(Some(status)) = nginx_child.0.try_wait() {
            panic!(
                "nginx exited ({status}): {}",
                log_of(&nginx_dir, "error.log")
            );
        }
        std::net::TcpStream::connect(("127.0.0.1", nginx_port)).ok()?;
        let r = get(&through_nginx, "/metrics", &[]);
        (r.status == 200).then_some(())
    });
    // The proxy passes the format parameter through.
    let om = get(
        &through_nginx,
        "/metrics?format=openmetrics",
        &[("Accept", "application/openmetrics-text")],
    );
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);

    let prom_port = free_port();
    let mut prom_child = start_prometheus(&prometheus, &prom_dir, nginx_port, prom_port);
    let api = Target::Tcp(([127, 0, 0, 1], prom_port).into());
    let counted = wait_for(
        Duration::from_secs(90),
        "Prometheus to have scraped logmill",
        || {
            if let Ok(Some(status)) = prom_child.0.try_wait() {
                panic!(
                    "prometheus exited ({status}): {}",
                    log_of(&prom_dir, "prometheus.log")
                );
            }
            std::net::TcpStream::connect(("127.0.0.1", prom_port)).ok()?;
            query(
                &api,
                r#"http_requests_total{job="logmill",method="GET",status="200"}"#,
            )
        },
    );
    assert_eq!(counted.1, "3", "{counted:?}");
    assert_eq!(counted.0["prog"], "http.mtail");
    let (_, up) = query(&api, r#"up{job="logmill"}"#).expect("up");
    assert_eq!(up, "1");
    let (_, lines) = query(&api, r#"lines_total{job="logmill"}"#).expect("lines_total");
    assert_eq!(lines, "5");
    // Prometheus got 0.0.4 text, as from mtail: no text metric, no `_total` added.
    assert!(query(&api, r#"last_path_info{job="logmill"}"#).is_none());
    assert!(query(&api, r#"lines_total_total{job="logmill"}"#).is_none());
    // And the process's own metrics came along.
    let (build, _) = query(&api, r#"logmill_build_info{job="logmill"}"#).expect("build info");
    assert_eq!(build["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        log_of(&nginx_dir, "access.log").contains("GET /metrics"),
        "Prometheus went through nginx"
    );
}

#[test]
fn readme_shows_the_contrib_files_as_they_are() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for name in [
        "nginx-logmill.conf",
        "prometheus-logmill.yml",
        "logmill.service",
    ] {
        let text = contrib(name);
        assert!(
            readme.contains(&text),
            "README.md must show contrib/{name} verbatim"
        );
    }
    assert!(readme.contains("proxy_pass http://unix:/run/logmill/metrics.sock:/metrics;"));
}

#[test]
fn contrib_prometheus_config_is_valid() {
    let Some(promtool) = tool("promtool", &["/usr/bin/promtool"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, contrib("prometheus-logmill.yml")).unwrap();
    let out = Command::new(promtool)
        .args(["check", "config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn systemd_unit_verifies() {
    let Some(analyze) = tool("systemd-analyze", &["/usr/bin/systemd-analyze"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("logmill.service");
    // The unit as shipped, with this build's binary where the install would put it.
    let text =
        contrib("logmill.service").replace("/usr/local/bin/logmill", env!("CARGO_BIN_EXE_logmill"));
    std::fs::write(&unit, text).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
