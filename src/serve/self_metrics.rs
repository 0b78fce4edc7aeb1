//! The process's own metrics that the server makes sure are in [`State::registry`]: build
//! information (`logmill_build_info{version}` = 1) and the process collector (`process_cpu_…`,
//! `process_resident_memory_bytes`, open file descriptors, start time, threads).
//!
//! [`State::registry`]: crate::state::State::registry

use prometheus::{Gauge, Opts, Registry};

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
        let names: Vec<String> = r.gather().iter().map(|f| f.name().to_string()).collect();
        assert!(
            names.contains(&"logmill_build_info".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"process_resident_memory_bytes".to_string()),
            "{names:?}"
        );
    }
}
