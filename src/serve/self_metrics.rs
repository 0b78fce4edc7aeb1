//! The process's own metrics that the server makes sure are in [`State::registry`]: build
//! information (`logmill_build_info{version}` = 1), the process collector (`process_cpu_…`,
//! `process_resident_memory_bytes`, open file descriptors, start time, threads) and the HTTP
//! connections ([`Connections`]).
//!
//! [`State::registry`]: crate::state::State::registry

use prometheus::{Gauge, IntCounter, IntGauge, Opts, Registry};

/// The version of this build.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Register the build info and process metrics; registering them again is not an error.
pub fn register(registry: &Registry) -> Result<(), prometheus::Error> {
    let build = Gauge::with_opts(
        Opts::new(
            "logmill_build_info",
            "A metric with a constant '1' value labelled by the version logmill was built from.",
        )
        .const_label("version", VERSION),
    )?;
    build.set(1.0);
    ignore_twice(registry.register(Box::new(build)))?;
    #[cfg(target_os = "linux")]
    ignore_twice(registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    )))?;
    Ok(())
}

/// The HTTP connections: open now, closed at once because `max_connections` were open, and
/// closed because a write to the client made no progress for `write_stall_timeout`.
/// One per [`State`](crate::state::State), so every server on a state counts into the same
/// series however often it is registered.
#[derive(Debug, Clone)]
pub struct Connections {
    /// `logmill_http_connections`.
    pub open: IntGauge,
    /// `logmill_http_connections_rejected_total`.
    pub rejected: IntCounter,
    /// `logmill_http_connections_stalled_total`.
    pub stalled: IntCounter,
}

impl Default for Connections {
    fn default() -> Connections {
        Connections::new()
    }
}

impl Connections {
    pub fn new() -> Connections {
        Connections {
            open: IntGauge::new(
                "logmill_http_connections",
                "HTTP connections open now (TCP and Unix socket).",
            )
            .expect("valid metric"),
            rejected: IntCounter::new(
                "logmill_http_connections_rejected_total",
                "HTTP connections closed at once because --max_connections were open.",
            )
            .expect("valid metric"),
            stalled: IntCounter::new(
                "logmill_http_connections_stalled_total",
                "HTTP connections closed because the client took no bytes of an answer for \
                 the write stall timeout.",
            )
            .expect("valid metric"),
        }
    }

    /// Register them in `registry`; registering them again is not an error.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        ignore_twice(registry.register(Box::new(self.open.clone())))?;
        ignore_twice(registry.register(Box::new(self.rejected.clone())))?;
        ignore_twice(registry.register(Box::new(self.stalled.clone())))
    }
}

fn ignore_twice(r: Result<(), prometheus::Error>) -> Result<(), prometheus::Error> {
    match r {
        Err(prometheus::Error::AlreadyReg) => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registering_twice_is_fine() {
        let r = Registry::new();
        register(&r).unwrap();
        register(&r).unwrap();
        let c = Connections::new();
        c.register(&r).unwrap();
        c.register(&r).unwrap();
        c.rejected.inc();
        let names: Vec<String> = r.gather().iter().map(|f| f.name().to_string()).collect();
        assert!(
            names.contains(&"logmill_build_info".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"process_resident_memory_bytes".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"logmill_http_connections_stalled_total".to_string()),
            "{names:?}"
        );
        let rejected = r
            .gather()
            .into_iter()
            .find(|f| f.name() == "logmill_http_connections_rejected_total")
            .expect("registered");
        assert_eq!(rejected.get_metric()[0].get_counter().get_value(), 1.0);
    }
}
