//! File sources: glob patterns re-expanded every `--poll_log_interval`, each matching path
//! followed by a [`Follower`] stat-polled every `--poll_interval` on one thread. notify only
//! wakes the thread early: a write wakes the poll of that file, anything else a full poll.
//!
//! Where reading starts: files that exist at startup start at their end, like mtail
//! (`--logs_from_start` reads them whole; a checkpoint resumes them where they were). Files that
//! appear later (a new match, a path re-created after rotation or deletion) are read from their
//! start: everything in them was written while logmill was watching, and starting at their end
//! would lose the lines written between creation and discovery (mtail does that).
//!
//! A followed file is its (device, inode), not its name: a match that names a file another
//! path's follower has open (through a symlink, or a rotated name the pattern also matches) is
//! not followed a second time, and a file read before under another name continues at the offset
//! it was left at. Each line is read once whatever the number of names.

use super::file::{Event, Follower, Known, Start};
use super::{FileId, FilePos, Sink};
use crate::daemon::{metrics::SelfMetrics, Msg};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub struct Options {
    pub patterns: Vec<String>,
    pub from_start: bool,
    pub poll: Duration,
    pub glob_every: Duration,
    /// Checkpointed positions by path.
    pub resume: BTreeMap<String, FilePos>,
    /// notify wake-ups (else polling alone).
    pub notify: bool,
    /// `--max_line_length`.
    pub max_line: usize,
}

enum Wake {
    /// Data was written to this path.
    Data(PathBuf),
    /// Something else changed (create, rename, remove): poll everything.
    All,
    Stop,
}

/// The running file poller.
pub struct Handle {
    stop: Arc<AtomicBool>,
    wake: std_mpsc::Sender<Wake>,
    thread: std::thread::JoinHandle<()>,
}

impl Handle {
    /// Stop after the poll under way; returns when the thread is done.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.send(Wake::Stop);
        let _ = self.thread.join();
    }
}

fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// The deepest directory of a pattern without glob characters.
fn literal_dir(pattern: &str) -> PathBuf {
    let mut dir = PathBuf::new();
    for c in Path::new(pattern).components() {
        let s = c.as_os_str().to_string_lossy();
        if has_glob(&s) {
            return dir;
        }
        dir.push(c);
    }
    dir.parent().map(Path::to_path_buf).unwrap_or(dir)
}

fn expand(pattern: &str) -> Vec<PathBuf> {
    if !has_glob(pattern) {
        return vec![PathBuf::from(pattern)];
    }
    match glob::glob(pattern) {
        Ok(paths) => paths.flatten().collect(),
        Err(e) => {
            tracing::warn!("bad pattern {pattern:?}: {e}");
            Vec::new()
        }
    }
}

struct Entry {
    follower: Follower,
    sink: Sink,
    /// Named on the command line (kept even while the path is missing).
    plain: bool,
    /// The last error logged (the same error again is only counted).
    last_error: Option<String>,
}

/// Start the poller; returns once every file that exists has been opened (so lines written
/// after this are read even by followers that start at the end).
pub fn spawn(opts: Options, tx: mpsc::Sender<Msg>, metrics: SelfMetrics) -> Handle {
    let stop = Arc::new(AtomicBool::new(false));
    let (wake_tx, wake_rx) = std_mpsc::channel();
    let (ready_tx, ready_rx) = std_mpsc::channel();
    let thread = {
        let stop = Arc::clone(&stop);
        let wake_tx = wake_tx.clone();
        std::thread::Builder::new()
            .name("files".into())
            .spawn(move || run(opts, tx, metrics, stop, wake_tx, wake_rx, ready_tx))
            .expect("spawn the file thread")
    };
    let _ = ready_rx.recv_timeout(Duration::from_secs(10));
    Handle {
        stop,
        wake: wake_tx,
        thread,
    }
}

fn watcher(wake: std_mpsc::Sender<Wake>) -> Option<notify::RecommendedWatcher> {
    use notify::event::{EventKind, ModifyKind};
    let w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        let msg = match ev.kind {
            EventKind::Modify(ModifyKind::Data(_)) | EventKind::Access(_) => {
                match ev.paths.into_iter().next() {
                    Some(p) => Wake::Data(p),
                    None => Wake::All,
                }
            }
            _ => Wake::All,
        };
        let _ = wake.send(msg);
    });
    match w {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::info!("no file notifications ({e}); polling only");
            None
        }
    }
}

fn run(
    opts: Options,
    tx: mpsc::Sender<Msg>,
    metrics: SelfMetrics,
    stop: Arc<AtomicBool>,
    wake_tx: std_mpsc::Sender<Wake>,
    wake_rx: std_mpsc::Receiver<Wake>,
    ready: std_mpsc::Sender<()>,
) {
    let mut watcher = if opts.notify { watcher(wake_tx) } else { None };
    let mut watched: HashSet<PathBuf> = HashSet::new();
    let mut entries: BTreeMap<PathBuf, Entry> = BTreeMap::new();
    let mut first = true;
    let mut next_glob = Instant::now();
    let mut full = true;
    let mut dirty: HashSet<PathBuf> = HashSet::new();
    // Files by (device, inode): which path's follower has each open, and how far each file
    // still found under some matched path was read. A new match that is a file followed
    // already (a symlink, a rotated name the pattern also matches) is not followed twice;
    // one read before continues where it was left.
    let mut open: HashMap<FileId, PathBuf> = HashMap::new();
    let mut read_to: HashMap<FileId, u64> = HashMap::new();
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= next_glob {
            next_glob = now + opts.glob_every;
            let mut present: HashSet<FileId> = HashSet::new();
            for pattern in &opts.patterns {
                let dir = literal_dir(pattern);
                if let Some(w) = watcher.as_mut() {
                    if !watched.contains(&dir) {
                        use notify::Watcher;
                        if w.watch(&dir, notify::RecursiveMode::NonRecursive).is_ok() {
                            watched.insert(dir);
                        }
                    }
                }
                for path in expand(pattern) {
                    let id = std::fs::metadata(&path)
                        .ok()
                        .filter(|m| m.is_file())
                        .map(|m| {
                            use std::os::unix::fs::MetadataExt;
                            FileId {
                                dev: m.dev(),
                                ino: m.ino(),
                            }
                        });
                    present.extend(id);
                    // Only new matches are looked at (directories and the like are skipped).
                    if entries.contains_key(&path) || (has_glob(pattern) && id.is_none()) {
                        continue;
                    }
                    if let Some(id) = id {
                        if open.contains_key(&id) {
                            continue;
                        }
                        // Claimed for this round, before its follower opens it.
                        open.insert(id, path.clone());
                    }
                    let key = path.to_string_lossy().into_owned();
                    let start = match (opts.resume.get(&key), id.and_then(|i| read_to.get(&i))) {
                        (Some(pos), _) if first => Start::At(pos.clone()),
                        _ if first && id.is_some() && !opts.from_start => Start::End,
                        (_, Some(&offset)) => Start::At(FilePos {
                            path: key.clone(),
                            id: id.unwrap_or(FileId { dev: 0, ino: 0 }),
                            offset,
                        }),
                        _ => Start::Beginning,
                    };
                    let sink = Sink {
                        tx: tx.clone(),
                        source: metrics.source(&key),
                    };
                    entries.insert(
                        path.clone(),
                        Entry {
                            follower: Follower::new(path, start).with_max_line(opts.max_line),
                            sink,
                            plain: !has_glob(pattern),
                            last_error: None,
                        },
                    );
                }
            }
            // Forget files no longer found under a matched path nor open (their inode may be
            // reused by a new file).
            read_to.retain(|id, _| present.contains(id) || open.contains_key(id));
            first = false;
            full = true;
        }
        let mut more = false;
        for (path, e) in entries.iter_mut() {
            if full || dirty.contains(path) {
                let known = Others {
                    me: path,
                    open: &open,
                    read_to: &read_to,
                };
                more |= poll_one(e, &known);
                open.retain(|_, p| p != path);
                for (id, offset) in e.follower.positions() {
                    open.insert(id, path.clone());
                    let r = read_to.entry(id).or_insert(offset);
                    *r = (*r).max(offset);
                }
            }
        }
        entries.retain(|_, e| e.plain || !e.follower.is_closed());
        let _ = ready.send(());
        dirty.clear();
        full = false;
        if more {
            full = true;
            continue;
        }
        match wake_rx.recv_timeout(opts.poll) {
            Ok(w) => {
                let mut note = |w: Wake| match w {
                    Wake::Data(p) => {
                        dirty.insert(p);
                    }
                    Wake::All | Wake::Stop => full = true,
                };
                note(w);
                while let Ok(w) = wake_rx.try_recv() {
                    note(w);
                }
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => full = true,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                full = true;
                std::thread::sleep(opts.poll);
            }
        }
    }
}

/// What the other followers have open and have read.
struct Others<'a> {
    me: &'a Path,
    open: &'a HashMap<FileId, PathBuf>,
    read_to: &'a HashMap<FileId, u64>,
}

impl Known for Others<'_> {
    fn open_elsewhere(&self, id: FileId) -> bool {
        self.open.get(&id).is_some_and(|p| p != self.me)
    }
    fn read_to(&self, id: FileId) -> Option<u64> {
        self.read_to.get(&id).copied()
    }
}

fn poll_one(e: &mut Entry, known: &dyn Known) -> bool {
    let sink = &e.sink;
    let last_error = &mut e.last_error;
    let path = e.follower.path().display().to_string();
    e.follower.poll_with(known, &mut |ev| match ev {
        Event::Lines(lines, mark) => {
            // Reading works again: the next error is a change of state, logged.
            if mark.is_some() {
                *last_error = None;
            }
            sink.blocking_send(lines, mark)
        }
        Event::Rotated => {
            sink.source.rotations.inc();
            tracing::info!("{path}: rotated; finishing the old file, reading the new one");
        }
        Event::Truncated => {
            sink.source.truncations.inc();
            tracing::info!("{path}: truncated; reading from the start");
        }
        Event::Error(err) => {
            sink.source.errors.inc();
            let text = err.to_string();
            if last_error.as_deref() != Some(&text) {
                tracing::warn!("{path}: {text}");
                *last_error = Some(text);
            }
        }
    })
}
