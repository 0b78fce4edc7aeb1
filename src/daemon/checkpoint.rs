//! Checkpoints (`--checkpoint_dir`): where each followed file and journald source had got to,
//! written atomically (a temporary file, fsync, rename) so a restart resumes after the last line
//! the programs saw: nothing lost, nothing counted twice.

use crate::tail::{FilePos, Mark};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const FILE_NAME: &str = "logmill.checkpoint.json";

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Followed files by path.
    #[serde(default)]
    pub files: BTreeMap<String, FilePos>,
    /// journald cursors by `--logs` entry.
    #[serde(default)]
    pub journald: BTreeMap<String, String>,
}

impl Checkpoint {
    pub fn record(&mut self, mark: Mark) -> bool {
        match mark {
            Mark::File(pos) => {
                if self.files.get(&pos.path) == Some(&pos) {
                    return false;
                }
                self.files.insert(pos.path.clone(), pos);
            }
            Mark::Journal { source, cursor } => {
                if self.journald.get(&source) == Some(&cursor) {
                    return false;
                }
                self.journald.insert(source, cursor);
            }
        }
        true
    }
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The saved checkpoint; none (empty) when there is no file yet.
pub fn load(dir: &Path) -> Result<Checkpoint, String> {
    let p = path(dir);
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::default()),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

/// Write `bytes` to `path` atomically: readers see the old file or the new one, whole.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

pub fn save(dir: &Path, c: &Checkpoint) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = serde_json::to_vec_pretty(c).map_err(std::io::Error::other)?;
    write_atomic(&path(dir), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::FileId;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Checkpoint::default());
        let mut c = Checkpoint::default();
        assert!(c.record(Mark::File(FilePos {
            path: "/a".into(),
            id: FileId { dev: 1, ino: 2 },
            offset: 3
        })));
        assert!(c.record(Mark::Journal {
            source: "journald:".into(),
            cursor: "s=1".into()
        }));
        assert!(!c.record(Mark::Journal {
            source: "journald:".into(),
            cursor: "s=1".into()
        }));
        save(dir.path(), &c).unwrap();
        assert_eq!(load(dir.path()).unwrap(), c);
    }
}
