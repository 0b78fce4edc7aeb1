//! One-shot runs: read every log from its start to its end, run every program on every line,
//! then hand back the VMs (and their stores) for printing.
//!
//! The `--logs` entries are read as the daemon reads them, to their end: files and glob
//! patterns, FIFOs, `-` (standard input) and `journald:[UNIT]` (the whole journal, one line per
//! entry's MESSAGE, through `journalctl --output=json`). Sockets and `cmd:` sources have no end:
//! they are for the daemon, and one-shot refuses them.

use crate::compile::Program;
use crate::tail::lines::LineSplitter;
use crate::tail::Spec;
use crate::vm::{Vm, VmOptions};
use std::io::{BufRead, Read};
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

/// One opened `--logs` entry.
pub enum Input {
    /// Bytes cut into lines: a file, a FIFO, standard input.
    Stream {
        name: Vec<u8>,
        reader: Box<dyn Read + Send>,
    },
    /// A `journalctl --output=json` child: one line per entry.
    Journal {
        name: Vec<u8>,
        child: std::process::Child,
    },
}

impl Input {
    fn name(&self) -> &[u8] {
        match self {
            Input::Stream { name, .. } | Input::Journal { name, .. } => name,
        }
    }

    /// Call `f` with every line of the input, cut at `max` bytes.
    fn lines(self, max: usize, chunks: &mut dyn FnMut(Chunk<'_>)) -> std::io::Result<()> {
        match self {
            Input::Stream { mut reader, .. } => {
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let n = match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    chunks(Chunk::Bytes(&buf[..n]));
                }
                Ok(())
            }
            Input::Journal { name, mut child } => {
                let spec = String::from_utf8_lossy(&name).into_owned();
                let out = child.stdout.take().ok_or_else(|| {
                    std::io::Error::other(format!("{spec}: journalctl has no output"))
                })?;
                let mut out = std::io::BufReader::with_capacity(CHUNK, out);
                let (mut raw, mut msg, mut bad) = (Vec::new(), Vec::new(), 0u64);
                let mut batch: Vec<Box<[u8]>> = Vec::new();
                loop {
                    raw.clear();
                    if out.read_until(b'\n', &mut raw)? == 0 {
                        break;
                    }
                    match serde_json::from_slice::<serde_json::Value>(&raw) {
                        Ok(entry) => {
                            msg.clear();
                            if crate::tail::journald::message(&entry, &mut msg) {
                                msg.truncate(max);
                                batch.push(msg.as_slice().into());
                            }
                        }
                        Err(_) => bad += 1,
                    }
                    if batch.len() >= 1024 {
                        chunks(Chunk::Lines(std::mem::take(&mut batch)));
                    }
                }
                chunks(Chunk::Lines(batch));
                let status = child.wait()?;
                if bad > 0 {
                    eprintln!("{spec}: {bad} journal entries that are not JSON were skipped");
                }
                if !status.success() {
                    return Err(std::io::Error::other(format!(
                        "{spec}: journalctl ended with {status}"
                    )));
                }
                Ok(())
            }
        }
    }
}

/// What an input hands on: bytes to cut into lines, or whole lines.
enum Chunk<'a> {
    Bytes(&'a [u8]),
    Lines(Vec<Box<[u8]>>),
}

/// Feed every line of `input` to every VM that reads it (`log_filter`); the input's name is what
/// `getfilename()` returns. Lines are cut at the VMs' `max_line_length`.
pub fn feed(vms: &mut [Vm], input: Input) -> std::io::Result<u64> {
    let max = max_line(vms);
    let name = input.name().to_vec();
    let mut splitter = LineSplitter::with_max(max);
    let mut lines = 0u64;
    let mut reading: Vec<&mut Vm> = vms
        .iter_mut()
        .filter(|v| v.program().reads(&name))
        .collect();
    let mut each = |line: &[u8]| {
        lines += 1;
        for vm in reading.iter_mut() {
            vm.run_line(line, &name);
        }
    };
    input.lines(max, &mut |c| match c {
        Chunk::Bytes(b) => splitter.feed(b, &mut each),
        Chunk::Lines(ls) => ls.iter().for_each(|l| each(l)),
    })?;
    splitter.finish(&mut each);
    Ok(lines)
}

/// `--max_line_length` (the same in every VM of a run).
fn max_line(vms: &[Vm]) -> usize {
    vms.first()
        .map_or(crate::tail::lines::DEFAULT_MAX_LINE, |vm| {
            vm.options().max_line_length
        })
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

/// Run the programs over the logs, in order (glob patterns expanded). With several programs and
/// several cores, the programs are spread over worker threads: the logs are read once and every
/// worker gets every chunk.
pub fn run(
    programs: Vec<Program>,
    logs: &[impl AsRef<Path>],
    opts: &VmOptions,
) -> std::io::Result<Run> {
    let inputs = open_all(logs)?;
    let mut vms = vms(programs, opts);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores.min(vms.len());
    if workers <= 1 {
        let mut lines = 0;
        for input in inputs {
            lines += feed(&mut vms, input)?;
        }
        return Ok(Run { vms, lines });
    }
    parallel(vms, workers, inputs)
}

/// Every entry opened (so a missing file is reported before any work).
pub fn open_all(logs: &[impl AsRef<Path>]) -> std::io::Result<Vec<Input>> {
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
    let mut out = Vec::new();
    for log in logs {
        let text = log.as_ref().to_string_lossy().into_owned();
        match Spec::parse(&text).map_err(invalid)? {
            Spec::Stdin => out.push(Input::Stream {
                name: text.into_bytes(),
                reader: Box::new(std::io::stdin()),
            }),
            Spec::Journald(unit) => {
                let child = crate::tail::journald::whole_journal(unit.as_deref())
                    .spawn()
                    .map_err(|e| std::io::Error::new(e.kind(), format!("{text}: journalctl: {e}")))?;
                out.push(Input::Journal {
                    name: text.into_bytes(),
                    child,
                });
            }
            Spec::Files(_) | Spec::Pipe(_) => {
                let plain = text.strip_prefix("file://").unwrap_or(&text);
                for path in expand(&[plain])? {
                    let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
                    let file = std::fs::File::open(&path).map_err(|e| {
                        std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                    })?;
                    out.push(Input::Stream {
                        name: abs.as_os_str().as_encoded_bytes().to_vec(),
                        reader: Box::new(file),
                    });
                }
            }
            _ => {
                return Err(invalid(format!(
                    "{text}: a socket or command source has no end; one-shot reads files, FIFOs, `-` and `journald:`"
                )))
            }
        }
    }
    Ok(out)
}

/// What the reader sends to each worker.
enum Msg {
    /// A new file begins: its source name.
    Start(Arc<[u8]>),
    Chunk(Arc<[u8]>),
    /// Whole lines (journal entries).
    Lines(Arc<[Box<[u8]>]>),
    /// The file ended: deliver a last line without a newline.
    End,
}

fn parallel(vms: Vec<Vm>, workers: usize, opened: Vec<Input>) -> std::io::Result<Run> {
    let max = max_line(&vms);
    let total = vms.len();
    let mut groups: Vec<Vec<(usize, Vm)>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, vm) in vms.into_iter().enumerate() {
        groups[i % workers].push((i, vm));
    }
    let (done, lines) = std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for mut group in groups {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(8);
            senders.push(tx);
            handles.push(scope.spawn(move || {
                let mut splitter = LineSplitter::with_max(max);
                let mut name: Arc<[u8]> = Arc::from(&b""[..]);
                // Which VMs of the group read the current file (`log_filter`).
                let mut reads: Vec<bool> = Vec::new();
                let mut lines = 0u64;
                for msg in rx {
                    let mut each = |line: &[u8]| {
                        lines += 1;
                        for ((_, vm), _) in group.iter_mut().zip(&reads).filter(|(_, r)| **r) {
                            vm.run_line(line, &name);
                        }
                    };
                    match msg {
                        Msg::Chunk(c) => splitter.feed(&c, &mut each),
                        Msg::Lines(ls) => ls.iter().for_each(|l| each(l)),
                        Msg::End => splitter.finish(&mut each),
                        Msg::Start(n) => {
                            reads = group.iter().map(|(_, vm)| vm.program().reads(&n)).collect();
                            name = n;
                        }
                    }
                }
                (group, lines)
            }));
        }
        let read = read_into(opened, max, &senders);
        drop(senders);
        let mut done = Vec::new();
        let mut lines = 0;
        for h in handles {
            match h.join() {
                Ok((group, n)) => {
                    lines = n;
                    done.extend(group);
                }
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        read.map(|()| (done, lines))
    })?;
    let mut slots: Vec<Option<Vm>> = (0..total).map(|_| None).collect();
    for (i, vm) in done {
        slots[i] = Some(vm);
    }
    Ok(Run {
        vms: slots.into_iter().flatten().collect(),
        lines,
    })
}

/// Read every input and send each chunk to every worker.
fn read_into(
    opened: Vec<Input>,
    max: usize,
    senders: &[std::sync::mpsc::SyncSender<Msg>],
) -> std::io::Result<()> {
    let send = |m: &dyn Fn() -> Msg| {
        for tx in senders {
            // A worker only stops early by panicking, which join reports.
            let _ = tx.send(m());
        }
    };
    for input in opened {
        let name: Arc<[u8]> = Arc::from(input.name());
        send(&|| Msg::Start(Arc::clone(&name)));
        input.lines(max, &mut |c| match c {
            Chunk::Bytes(b) => {
                let chunk: Arc<[u8]> = Arc::from(b);
                send(&|| Msg::Chunk(Arc::clone(&chunk)));
            }
            Chunk::Lines(ls) => {
                let ls: Arc<[Box<[u8]>]> = Arc::from(ls);
                send(&|| Msg::Lines(Arc::clone(&ls)));
            }
        })?;
        send(&|| Msg::End);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs() -> Vec<Program> {
        let srcs = [
            ("a.mtail", "counter lines\n/$/ {\n  lines++\n}\n"),
            (
                "b.mtail",
                "counter words by w\n/^(?P<w>\\w+)/ {\n  words[$w]++\n}\n",
            ),
            (
                "c.mtail",
                "gauge last\ntext file\n/(?P<n>\\d+)$/ {\n  last = $n\n  file = getfilename()\n}\n",
            ),
        ];
        srcs.iter()
            .map(|(n, s)| crate::compile::compile(n, s).unwrap())
            .collect()
    }

    #[test]
    fn parallel_workers_give_the_same_stores_as_one_thread() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (i, tail) in ["", "\nno newline at the end 7"].iter().enumerate() {
            let p = dir.path().join(format!("{i}.log"));
            let body: String = (0..5000).map(|n| format!("w{} x {n}\n", n % 7)).collect();
            std::fs::write(&p, format!("{body}{tail}")).unwrap();
            files.push(p);
        }
        let opts = VmOptions::default();
        let mut one = vms(programs(), &opts);
        let mut lines = 0;
        for input in open_all(&files).unwrap() {
            lines += feed(&mut one, input).unwrap();
        }
        let many = parallel(vms(programs(), &opts), 2, open_all(&files).unwrap()).unwrap();
        assert_eq!(
            lines, 10002,
            "5000 + 5000 lines, an empty one and a last one without a newline"
        );
        assert_eq!(many.lines, lines);
        let view = |vms: &[Vm]| -> Vec<String> {
            vms.iter()
                .flat_map(|vm| vm.store.metrics.iter())
                .flat_map(|m| {
                    m.series
                        .iter()
                        .map(move |(k, d)| format!("{} {k:?} {:?}", m.def.name, d.value))
                })
                .collect()
        };
        assert_eq!(view(&many.vms), view(&one));
        assert_eq!(
            many.vms
                .iter()
                .map(|v| v.program().name.clone())
                .collect::<Vec<_>>(),
            ["a.mtail", "b.mtail", "c.mtail"]
        );
    }
}
