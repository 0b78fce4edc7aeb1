//! Following one path through rotation, truncation, deletion and re-creation.
//!
//! The model: a [`Follower`] holds the file now at its path (`cur`) and files that left the path
//! but may still be written (`draining`, read until they have been quiet for a grace period).
//! Each [`Follower::poll`] reads `cur` and the draining files to their end, then stats the path:
//! - another file (device, inode) is there: rotation by rename + create. The old file is read to
//!   its end once more and drained; the new one is read from its start.
//! - the path is gone: the file was deleted or renamed away; it is drained, and a file that
//!   appears later at the path is read from its start.
//! - the same file, shorter than what was read: copytruncate. Reading restarts at 0.
//!
//! Lines are cut with a carry, so a half-written last line waits for its newline (a drained file's
//! last unterminated line is delivered when it is closed). Each batch of `cur` carries a [`Mark`]:
//! the offset after its last complete line, which is what a checkpoint stores.
//!
//! A path that holds something else than a regular file (a directory put in place of the log)
//! is treated like a missing path: the file read so far is drained, and one [`Event::Error`] is
//! emitted when the path turns into the other thing, not at every poll.
//!
//! A file is its (device, inode): a follower does not read a file that another follower has
//! open (a second name through a symlink, a rotated name that a glob also matches), and one that
//! was read before under another name continues at the offset it was left at ([`Known`]).
//!
//! A file that cannot be opened (EACCES, EMFILE) is an [`Event::Error`] at each try, never a
//! rotation; where reading was to start (a checkpoint's offset) is kept until an open works.
//!
//! What copytruncate can miss: the lines written after the last poll before the truncation
//! (at most one poll interval of writes), and, if the writer writes at least as many bytes as
//! had been read within one poll interval after the truncation, the truncation is not seen and
//! the new file's first bytes up to the old offset are skipped. Lines are never read twice.

use super::lines::LineSplitter;
use super::{FileId, FilePos, Lines, Mark};
use std::cell::Cell;
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Bytes per read call.
const CHUNK: usize = 256 * 1024;
/// Bytes read from one file per poll before the others get their turn.
const MAX_PER_POLL: u64 = 8 * 1024 * 1024;

/// Where reading starts the first time the path is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// At the end: only lines written from now on (mtail's behaviour for existing files).
    End,
    /// From the first byte.
    Beginning,
    /// From a checkpoint: the offset if the same file is still there, else from the start of
    /// the file now at the path (after first finishing the checkpointed file if it was renamed
    /// within the same directory).
    At(FilePos),
}

/// What a poll found.
#[derive(Debug)]
pub enum Event {
    /// Complete lines, and the resume position after them (for the file at the path).
    Lines(Lines, Option<Mark>),
    Rotated,
    Truncated,
    Error(std::io::Error),
}

struct Open {
    file: File,
    id: FileId,
    /// Bytes consumed from the file.
    offset: u64,
    splitter: LineSplitter,
    last_data: Instant,
}

/// One followed path.
pub struct Follower {
    path: PathBuf,
    key: String,
    start: Option<Start>,
    cur: Option<Open>,
    draining: Vec<Open>,
    buf: Vec<u8>,
    grace: Duration,
    /// `--max_line_length`.
    max_line: usize,
    /// The path holds something else than a regular file (reported once).
    not_file: bool,
}

thread_local! {
    static BUF: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// What a follower learns from the others about files, by (device, inode).
pub trait Known {
    /// Another follower has this file open.
    fn open_elsewhere(&self, id: FileId) -> bool;
    /// How far this file was read before (by any follower), if it was.
    fn read_to(&self, id: FileId) -> Option<u64>;
}

/// A follower on its own.
struct Alone;

impl Known for Alone {
    fn open_elsewhere(&self, _: FileId) -> bool {
        false
    }
    fn read_to(&self, _: FileId) -> Option<u64> {
        None
    }
}

/// How long a file that left its path is still read after its last new data.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

fn file_id(m: &std::fs::Metadata) -> FileId {
    FileId {
        dev: m.dev(),
        ino: m.ino(),
    }
}

impl Follower {
    pub fn new(path: PathBuf, start: Start) -> Follower {
        Follower {
            key: path.to_string_lossy().into_owned(),
            path,
            start: Some(start),
            cur: None,
            draining: Vec::new(),
            buf: Vec::new(),
            grace: DEFAULT_GRACE,
            max_line: super::lines::DEFAULT_MAX_LINE,
            not_file: false,
        }
    }

    /// Cut lines at `max` bytes (`--max_line_length`).
    pub fn with_max_line(mut self, max: usize) -> Follower {
        self.max_line = max;
        self
    }

    pub fn with_grace(mut self, grace: Duration) -> Follower {
        self.grace = grace;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Nothing open: the path has no file and every drained file is closed.
    pub fn is_closed(&self) -> bool {
        self.cur.is_none() && self.draining.is_empty()
    }

    /// Identities of the files open now.
    pub fn ids(&self) -> impl Iterator<Item = FileId> + '_ {
        self.cur.iter().chain(self.draining.iter()).map(|o| o.id)
    }

    /// The files open now and how far each was read.
    pub fn positions(&self) -> impl Iterator<Item = (FileId, u64)> + '_ {
        self.cur
            .iter()
            .chain(self.draining.iter())
            .map(|o| (o.id, o.offset))
    }

    /// Read what is new and follow the path; returns true when a file had more to read than one
    /// poll takes (poll again soon).
    pub fn poll(&mut self, emit: &mut dyn FnMut(Event)) -> bool {
        self.poll_with(&Alone, emit)
    }

    /// [`Follower::poll`] beside other followers: a file that `known` says another follower has
    /// open is not read here, and one read before resumes where it was left.
    pub fn poll_with(&mut self, known: &dyn Known, emit: &mut dyn FnMut(Event)) -> bool {
        // One read buffer per thread, not per followed file.
        self.buf = BUF.take();
        if self.buf.is_empty() {
            self.buf = vec![0u8; CHUNK];
        }
        let more = self.poll_inner(known, emit);
        BUF.set(std::mem::take(&mut self.buf));
        more
    }

    fn poll_inner(&mut self, known: &dyn Known, emit: &mut dyn FnMut(Event)) -> bool {
        let now = Instant::now();
        let mut more = false;
        if let Some(cur) = self.cur.as_mut() {
            more |= read(cur, &mut self.buf, Some(&self.key), now, emit);
        }
        match std::fs::metadata(&self.path) {
            Ok(m) if m.is_file() => {
                self.not_file = false;
                let id = file_id(&m);
                let arrived = self.cur.as_ref().is_none_or(|c| c.id != id);
                if arrived && known.open_elsewhere(id) {
                    // Another name of a file followed already (a symlink, a rotated name a glob
                    // also matches): it is read there, once.
                    if let Some(cur) = self.cur.as_mut() {
                        read(cur, &mut self.buf, Some(&self.key), now, emit);
                    }
                    self.lost_path(now);
                    return more | self.drain(now, emit);
                }
                // A file read before under another name continues where it was left.
                let resume = arrived.then(|| known.read_to(id)).flatten().map(|offset| {
                    Start::At(FilePos {
                        path: self.key.clone(),
                        id,
                        offset,
                    })
                });
                match self.cur.as_mut() {
                    None => {
                        // Without a start, a file had been here: it left (renamed, deleted) and
                        // this one is new. The start (a checkpoint's position) is kept until
                        // an open works: a file that cannot be opened is an error, not a
                        // rotation, and its position survives.
                        let (start, rotated) = match (resume, &self.start) {
                            (Some(r), _) => (r, false),
                            (None, Some(s)) => (s.clone(), false),
                            (None, None) => (Start::Beginning, true),
                        };
                        if self.open(start, now, emit) {
                            self.start = None;
                            if rotated {
                                emit(Event::Rotated);
                            }
                        }
                    }
                    Some(c) if c.id != id => {
                        read(c, &mut self.buf, Some(&self.key), now, emit);
                        if let Some(mut old) = self.cur.take() {
                            old.last_data = now;
                            self.draining.push(old);
                        }
                        // If the new file cannot be opened yet, the next poll retries (and
                        // counts the rotation once it is open).
                        let rotated = resume.is_none();
                        if self.open(resume.unwrap_or(Start::Beginning), now, emit) && rotated {
                            emit(Event::Rotated);
                        }
                    }
                    Some(c) if m.len() < c.offset => {
                        match c.file.seek(SeekFrom::Start(0)) {
                            Ok(_) => c.offset = 0,
                            Err(e) => emit(Event::Error(e)),
                        }
                        emit(Event::Truncated);
                    }
                    Some(_) => return more | self.drain(now, emit),
                }
                if let Some(cur) = self.cur.as_mut() {
                    more |= read(cur, &mut self.buf, Some(&self.key), now, emit);
                }
            }
            Ok(m) => {
                if !self.not_file {
                    self.not_file = true;
                    let what = if m.is_dir() {
                        "a directory"
                    } else {
                        "not a regular file"
                    };
                    emit(Event::Error(std::io::Error::other(format!(
                        "the path is {what}; waiting for a file"
                    ))));
                }
                self.lost_path(now);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => self.lost_path(now),
            Err(e) => emit(Event::Error(e)),
        }
        more | self.drain(now, emit)
    }

    /// No regular file at the path (deleted, renamed away, replaced by something else).
    fn lost_path(&mut self, now: Instant) {
        if self.start.is_some() {
            // Never opened: a file created later at the path is new, read it whole.
            self.start = Some(Start::Beginning);
        }
        if let Some(mut old) = self.cur.take() {
            old.last_data = now;
            self.draining.push(old);
        }
    }

    /// Read the files that left the path; close those quiet for the grace period.
    fn drain(&mut self, now: Instant, emit: &mut dyn FnMut(Event)) -> bool {
        let mut more = false;
        let grace = self.grace;
        let buf = &mut self.buf;
        self.draining.retain_mut(|d| {
            if read(d, buf, None, now, emit) {
                more = true;
                return true;
            }
            if now.duration_since(d.last_data) < grace {
                return true;
            }
            let mut lines = Lines::new();
            d.splitter.finish_lines(&mut lines);
            if !lines.is_empty() {
                emit(Event::Lines(lines, None));
            }
            false
        });
        more
    }

    /// Open the file at the path as `cur`; false (an error emitted unless it is simply gone)
    /// when it cannot be opened.
    fn open(&mut self, start: Start, now: Instant, emit: &mut dyn FnMut(Event)) -> bool {
        let (file, meta) = match File::open(&self.path).and_then(|f| {
            let m = f.metadata()?;
            Ok((f, m))
        }) {
            Ok(x) => x,
            Err(e) if e.kind() == ErrorKind::NotFound => return false,
            Err(e) => {
                emit(Event::Error(e));
                return false;
            }
        };
        let id = file_id(&meta);
        let offset = match start {
            Start::Beginning => 0,
            Start::End => meta.len(),
            Start::At(pos) if pos.id == id => {
                if pos.offset <= meta.len() {
                    pos.offset
                } else {
                    0
                }
            }
            Start::At(pos) => {
                // The checkpointed file was rotated away while logmill was down: finish it if it
                // is still beside the path, then read the new file whole.
                if let Some(old) = find_sibling(&self.path, pos.id) {
                    if let Ok(mut f) = File::open(&old) {
                        if f.seek(SeekFrom::Start(pos.offset)).is_ok() {
                            self.draining.push(Open {
                                file: f,
                                id: pos.id,
                                offset: pos.offset,
                                splitter: LineSplitter::with_max(self.max_line),
                                last_data: now,
                            });
                        }
                    }
                }
                0
            }
        };
        let mut file = file;
        if offset > 0 {
            if let Err(e) = file.seek(SeekFrom::Start(offset)) {
                emit(Event::Error(e));
                return false;
            }
        }
        self.cur = Some(Open {
            file,
            id,
            offset,
            splitter: LineSplitter::with_max(self.max_line),
            last_data: now,
        });
        emit(Event::Lines(
            Lines::new(),
            Some(Mark::File(FilePos {
                path: self.key.clone(),
                id,
                offset,
            })),
        ));
        true
    }
}

/// A file in the same directory as `path` with identity `id` (a rotated-away generation).
fn find_sibling(path: &Path, id: FileId) -> Option<PathBuf> {
    let dir = path.parent()?;
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let m = e.metadata().ok()?;
        (m.is_file() && file_id(&m) == id).then(|| e.path())
    })
}

/// Read `o` to its end (or [`MAX_PER_POLL`]); true when stopped by the limit.
fn read(
    o: &mut Open,
    buf: &mut [u8],
    key: Option<&str>,
    now: Instant,
    emit: &mut dyn FnMut(Event),
) -> bool {
    let mut total = 0u64;
    loop {
        if total >= MAX_PER_POLL {
            return true;
        }
        let n = match o.file.read(buf) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                emit(Event::Error(e));
                return false;
            }
        };
        o.offset += n as u64;
        total += n as u64;
        o.last_data = now;
        let mut lines = Lines::with_capacity(n + o.splitter.pending());
        o.splitter.feed_lines(&buf[..n], &mut lines);
        let mark = key.map(|k| {
            Mark::File(FilePos {
                path: k.to_string(),
                id: o.id,
                offset: o.offset.saturating_sub(o.splitter.pending() as u64),
            })
        });
        emit(Event::Lines(lines, mark));
    }
}
