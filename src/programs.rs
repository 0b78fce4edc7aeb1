//! Finding and compiling programs: `--progs` names a file or a directory whose `*.mtail` and
//! `*.prog` files (not dot-files, not recursive) are the programs, in name order.

use crate::compile::{self, CompileError, Program};
use crate::store::MetricDef;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why a set of programs could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no programs (*.mtail, *.prog) found in {0}")]
    Empty(PathBuf),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n\n"))]
    Compile(Vec<CompileError>),
    /// Two programs export the same metric name with different kinds.
    #[error("{0}")]
    Conflict(String),
}

/// The program files named by `--progs`.
pub fn find(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !name.starts_with('.') && (ext == "mtail" || ext == "prog") && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(LoadError::Empty(path.to_path_buf()));
    }
    Ok(files)
}

/// Compile one program file; its name is the file's base name.
pub fn compile_file(path: &Path) -> Result<Result<Program, CompileError>, LoadError> {
    let src = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(compile::compile(&name, &src))
}

/// Compile every program under `path`; all compile errors are reported together.
pub fn load(path: &Path) -> Result<Vec<Program>, LoadError> {
    let mut progs = Vec::new();
    let mut errors = Vec::new();
    for file in find(path)? {
        match compile_file(&file)? {
            Ok(p) => progs.push(p),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(LoadError::Compile(errors));
    }
    check_kinds(&progs)?;
    Ok(progs)
}

/// A metric name exported by several programs must have one kind (mtail's load error).
pub fn check_kinds(progs: &[Program]) -> Result<(), LoadError> {
    for (i, later) in progs.iter().enumerate() {
        if let Some(msg) = progs[..i]
            .iter()
            .find_map(|earlier| kind_conflict(later, earlier))
        {
            return Err(LoadError::Conflict(msg));
        }
    }
    Ok(())
}

/// The first exported metric of `later` whose name `earlier` exports with another kind.
pub fn kind_conflict(later: &Program, earlier: &Program) -> Option<String> {
    let first: HashMap<&str, &MetricDef> = earlier
        .metrics
        .iter()
        .filter(|m| !m.hidden)
        .map(|m| (m.name.as_str(), m))
        .collect();
    later.metrics.iter().filter(|m| !m.hidden).find_map(|m| {
        let f = first.get(m.name.as_str()).filter(|f| f.kind != m.kind)?;
        Some(format!(
            "{}: metric `{}' has different kind ({}) than in {} ({}), declared at {}",
            later.name,
            m.name,
            m.kind.as_str(),
            earlier.name,
            f.kind.as_str(),
            m.source
        ))
    })
}
