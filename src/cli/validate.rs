//! `tenantd validate [PATH...]`: every problem printed, exit 0 only when all is valid.
//!
//! The files and directories given are checked as one set, as the daemon reads one directory:
//! two of them naming the same tenant are both rejected, whether they are two files, a file and
//! a directory's, or two directories'. `--as DEST FILE` checks a copy before it is moved into
//! place (Ansible's `validate:`): FILE as if it were DEST, next to the specs in DEST's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::output::OutputFormat;
use super::validate_report::{report, Findings};
use crate::spec::{load_dir, load_file, load_file_as, SpecError, TenantName};

pub fn run(config: &Path, paths: &[PathBuf], output: OutputFormat) -> anyhow::Result<u8> {
    let paths = if paths.is_empty() { vec![super::load_config(config)?.tenants_dir] } else { paths.to_vec() };
    let mut found = Findings::default();
    // Each valid spec by the tenant it names: the files that name it, each once.
    let mut claims: BTreeMap<TenantName, Vec<PathBuf>> = BTreeMap::new();
    let mut claim = |name: &TenantName, path: &Path| {
        let files = claims.entry(name.clone()).or_default();
        let same = |p: &PathBuf| p == path || std::fs::canonicalize(p).ok() == std::fs::canonicalize(path).ok();
        if !files.iter().any(same) {
            files.push(path.to_path_buf());
        }
    };
    for p in &paths {
        if p.is_dir() {
            match load_dir(p) {
                Ok(set) => {
                    for (name, spec) in &set.valid {
                        claim(name, &spec.path);
                    }
                    for i in set.invalid {
                        found.problems.extend(i.errors);
                    }
                }
                Err(e) => found.problems.push(e),
            }
        } else {
            match load_file(p) {
                Ok(spec) => claim(&spec.file.metadata.name, p),
                Err(errors) => found.problems.extend(errors),
            }
        }
    }
    for (name, files) in claims {
        if let [only] = files.as_slice() {
            found.valid.push((name, only.clone()));
            continue;
        }
        for path in &files {
            for other in files.iter().filter(|o| *o != path) {
                let e = SpecError::DuplicateName { path: path.clone(), name: name.to_string(), other: other.clone() };
                found.problems.push(e);
            }
        }
    }
    report(&found, output)
}

/// `validate --as DEST FILE`: FILE read as if it were at DEST (build contexts resolved from
/// DEST's directory, problems named at DEST), and refused when another spec in DEST's
/// directory names its tenant (DEST itself, which FILE would replace, aside).
pub fn run_as(paths: &[PathBuf], dest: &Path, output: OutputFormat) -> anyhow::Result<u8> {
    let [file] = paths else { anyhow::bail!("--as checks one file; {} path(s) given", paths.len()) };
    let mut found = Findings::default();
    match load_file_as(file, dest) {
        Ok(spec) => {
            let name = &spec.file.metadata.name;
            let others = neighbours_naming(dest, name);
            for other in others {
                let e = SpecError::DuplicateName { path: dest.to_path_buf(), name: name.to_string(), other };
                found.problems.push(e);
            }
            if found.problems.is_empty() {
                found.valid.push((name.clone(), dest.to_path_buf()));
            }
        }
        Err(errors) => found.problems.extend(errors),
    }
    report(&found, output)
}

/// The spec files in `dest`'s directory, `dest` aside, that name `name`: the valid ones, and
/// those rejected only for naming a tenant another file names.
fn neighbours_naming(dest: &Path, name: &TenantName) -> Vec<PathBuf> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // A directory that is not there (yet) has no specs to clash with.
    let Ok(set) = load_dir(dir) else { return Vec::new() };
    let is_dest = |p: &Path| p.file_name() == dest.file_name();
    let valid = set.valid.get(name).map(|s| s.path.clone());
    let clashing = set.invalid.iter().filter(|i| {
        i.tenant.as_ref() == Some(name) && i.errors.iter().all(|e| matches!(e, SpecError::DuplicateName { .. }))
    });
    valid.into_iter().chain(clashing.map(|i| i.path.clone())).filter(|p| !is_dest(p)).collect()
}
