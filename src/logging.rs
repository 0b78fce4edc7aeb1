//! logmill's own log, set by glog's flags as mtail's command lines give them. Events go to
//! stderr by default. `--log_dir=DIR` writes every event to `DIR/logmill.log` (appended), and
//! stderr then gets only events at `--stderrthreshold` and above (glog's default: ERROR), or all
//! of them with `--alsologtostderr`; `--logtostderr` keeps everything on stderr alone. `-v=N`
//! shows debug events (N ≥ 1) or trace events (N ≥ 3); `--vmodule=tail=1,serve=3` does the
//! same for logmill's modules by name. `RUST_LOG` (e.g. `logmill::tail=debug`) overrides both.

use std::path::PathBuf;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// How and where logmill logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    /// The default filter: `info`, `debug` or `trace` (`-v`), with `--vmodule`'s directives.
    pub filter: String,
    pub log_dir: Option<PathBuf>,
    pub logtostderr: bool,
    pub alsologtostderr: bool,
    /// Least level that reaches stderr when logging to a file.
    pub stderr_threshold: LevelFilter,
}

impl Default for Logging {
    fn default() -> Logging {
        Logging {
            filter: "info".into(),
            log_dir: None,
            logtostderr: false,
            alsologtostderr: false,
            stderr_threshold: LevelFilter::ERROR,
        }
    }
}

/// glog's verbosity `N` as a level.
fn verbosity(text: &str, flag: &str) -> Result<&'static str, String> {
    match text.trim().parse::<i64>() {
        Ok(v) if v >= 3 => Ok("trace"),
        Ok(v) if v >= 1 => Ok("debug"),
        Ok(_) => Ok("info"),
        Err(_) => Err(format!(
            "{flag}: {text:?} is not a number (glog's verbosity)"
        )),
    }
}

impl Logging {
    /// From the flags; each `Option` is a flag as given (`None` when absent).
    pub fn from_flags(
        v: Option<&str>,
        vmodule: Option<&str>,
        log_dir: Option<PathBuf>,
        logtostderr: Option<bool>,
        alsologtostderr: Option<bool>,
        stderrthreshold: Option<&str>,
    ) -> Result<Logging, String> {
        let mut filter = match v {
            Some(v) => verbosity(v, "-v")?.to_string(),
            None => "info".into(),
        };
        for part in vmodule.unwrap_or("").split(',').filter(|p| !p.is_empty()) {
            let (module, n) = part
                .split_once('=')
                .ok_or_else(|| format!("--vmodule: {part:?} is not MODULE=N"))?;
            let module = module.trim().trim_end_matches(".rs").replace('/', "::");
            if module.is_empty()
                || !module
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == ':')
            {
                return Err(format!("--vmodule: {part:?}: not a module name"));
            }
            filter.push_str(&format!(
                ",logmill::{module}={}",
                verbosity(n, "--vmodule")?
            ));
        }
        let stderr_threshold = match stderrthreshold.map(|s| s.trim().to_ascii_uppercase()) {
            None => LevelFilter::ERROR,
            Some(t) => match t.as_str() {
                "0" | "INFO" => LevelFilter::INFO,
                "1" | "WARNING" => LevelFilter::WARN,
                "2" | "ERROR" | "3" | "FATAL" => LevelFilter::ERROR,
                _ => {
                    return Err(format!(
                        "--stderrthreshold: {t:?}: expected INFO, WARNING, ERROR, FATAL or 0-3"
                    ))
                }
            },
        };
        Ok(Logging {
            filter,
            log_dir,
            logtostderr: logtostderr.unwrap_or(false),
            alsologtostderr: alsologtostderr.unwrap_or(false),
            stderr_threshold,
        })
    }

    /// Install the subscriber (once per process).
    pub fn init(&self) -> Result<(), String> {
        let filter = EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(&self.filter))
            .map_err(|e| format!("log filter: {e}"))?;
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let file = match (&self.log_dir, self.logtostderr) {
            (Some(dir), false) => {
                let path = dir.join("logmill.log");
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| format!("--log_dir: {}: {e}", path.display()))?;
                Some(
                    fmt::layer()
                        .with_ansi(false)
                        .with_writer(std::sync::Mutex::new(f)),
                )
            }
            _ => None,
        };
        let stderr_level = if file.is_some() && !self.alsologtostderr {
            self.stderr_threshold
        } else {
            LevelFilter::TRACE
        };
        let stderr = fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .with_filter(stderr_level);
        tracing_subscriber::registry()
            .with(filter)
            .with(stderr)
            .with(file)
            .try_init()
            .map_err(|e| format!("logging: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glog_flags_map_onto_filters() {
        let l = Logging::from_flags(
            Some("2"),
            Some("tail=3,serve/routes=1"),
            None,
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            l.filter,
            "debug,logmill::tail=trace,logmill::serve::routes=debug"
        );
        assert_eq!(l.stderr_threshold, LevelFilter::ERROR);
        let l = Logging::from_flags(None, None, None, None, None, Some("warning")).unwrap();
        assert_eq!(
            (l.filter.as_str(), l.stderr_threshold),
            ("info", LevelFilter::WARN)
        );
        assert!(Logging::from_flags(Some("x"), None, None, None, None, None).is_err());
        assert!(Logging::from_flags(None, Some("tail"), None, None, None, None).is_err());
        assert!(Logging::from_flags(None, None, None, None, None, Some("LOUD")).is_err());
    }
}
