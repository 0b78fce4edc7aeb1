//! The example programs run on arbitrary lines, then both exporters render their stores.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logmill::compile::Program;
use logmill::vm::{Vm, VmOptions};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The conformance examples, relative to this crate.
const EXAMPLES: &str = "../../shared/conformance/mtail/examples_all";

fn programs() -> &'static [Arc<Program>] {
    static PROGRAMS: OnceLock<Vec<Arc<Program>>> = OnceLock::new();
    PROGRAMS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLES);
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "mtail"))
            .collect();
        paths.sort();
        let progs: Vec<Arc<Program>> = paths
            .iter()
            .map(|p| {
                let src = std::fs::read_to_string(p).expect("example is readable");
                let name = p.file_name().unwrap().to_string_lossy();
                Arc::new(logmill::compile::compile(&name, &src).expect("example compiles"))
            })
            .collect();
        assert!(!progs.is_empty(), "no examples in {}", dir.display());
        progs
    })
}

fuzz_target!(|data: &[u8]| {
    for prog in programs() {
        let mut vm = Vm::new(Arc::clone(prog), VmOptions::default());
        for line in data.split(|&b| b == b'\n') {
            vm.run_line(line, b"f");
        }
        let metrics: Vec<_> = vm.store.metrics.iter().collect();
        let _ = logmill::export::prometheus::render(&metrics, &Default::default());
        let _ = logmill::export::json::render(&metrics);
    }
});
