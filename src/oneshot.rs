//! One-shot runs: read every log from its start to its end, run every program on every line,
//! then hand back the VMs (and their stores) for printing.

use crate::compile::Program;
use crate::tail::lines::LineSplitter;
use crate::vm::{Vm, VmOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Read size per call: large enough that a system call is rare per line.
const CHUNK: usize = 256 * 1024;

/// The VMs after a run, one per program, in program order.
pub struct Run {
    pub vms: Vec<Vm>,
    pub lines: u64,
}

/// Create one VM per program.
pub fn vms(programs: Vec<Program>, opts: &VmOptions) -> Vec<Vm> {
    programs
        .into_iter()
        .map(|p| Vm::new(Arc::new(p), opts.clone()))
        .collect()
}

/// Feed every line of `reader` to every VM; `name` is what `getfilename()` returns.
pub fn feed(vms: &mut [Vm], name: &[u8], mut reader: impl Read) -> std::io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut splitter = LineSplitter::new();
    let mut lines = 0u64;
    let mut each = |line: &[u8]| {
        lines += 1;
        for vm in vms.iter_mut() {
            vm.run_line(line, name);
        }
    };
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        splitter.feed(&buf[..n], &mut each);
    }
    splitter.finish(&mut each);
    Ok(lines)
}

/// The files named by `--logs` entries: glob patterns (`*?[`) expand to the regular files they
/// match, in name order; other entries name a file as they are.
pub fn expand(logs: &[impl AsRef<Path>]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for log in logs {
        let entry = log.as_ref();
        let text = entry.to_string_lossy();
        if !text.contains(['*', '?', '[']) {
            out.push(entry.to_path_buf());
            continue;
        }
        let paths = glob::glob(&text).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{text}: {e}"))
        })?;
        let mut matched: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        matched.sort();
        out.extend(matched);
    }
    Ok(out)
}

/// Run the programs over the log files, in order (glob patterns expanded).
pub fn run(
    programs: Vec<Program>,
    logs: &[impl AsRef<Path>],
    opts: &VmOptions,
) -> std::io::Result<Run> {
    let mut vms = vms(programs, opts);
    let mut lines = 0;
    for log in expand(logs)? {
        let path = log.as_path();
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let file = std::fs::File::open(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        lines += feed(&mut vms, abs.as_os_str().as_encoded_bytes(), file)?;
    }
    Ok(Run { vms, lines })
}
