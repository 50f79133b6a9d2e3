//! `tenantd validate [PATH...]`: every problem printed, exit 0 only when all is valid.
//!
//! The files and directories given are checked as one set, as the daemon reads one directory:
//! two of them naming the same tenant are both rejected, whether they are two files, a file and
//! a directory's, or two directories'.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::diagnostics::{SpecErrorPrinter, Stream};
use crate::spec::{load_dir, load_file, SpecError, TenantName};

pub fn run(config: &Path, paths: &[PathBuf]) -> anyhow::Result<u8> {
    let paths = if paths.is_empty() { vec![super::load_config(config)?.tenants_dir] } else { paths.to_vec() };
    let mut printer = SpecErrorPrinter::new(Stream::Stdout);
    let mut problems = 0usize;
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
                    for i in &set.invalid {
                        for e in &i.errors {
                            printer.print(e);
                            problems += 1;
                        }
                    }
                }
                Err(e) => {
                    printer.print(&e);
                    problems += 1;
                }
            }
        } else {
            match load_file(p) {
                Ok(spec) => claim(&spec.file.metadata.name, p),
                Err(errors) => {
                    for e in &errors {
                        printer.print(e);
                    }
                    problems += errors.len().max(1);
                }
            }
        }
    }
    let mut valid = 0usize;
    for (name, files) in &claims {
        if files.len() == 1 {
            valid += 1;
            continue;
        }
        for path in files {
            for other in files.iter().filter(|o| *o != path) {
                let e = SpecError::DuplicateName { path: path.clone(), name: name.to_string(), other: other.clone() };
                printer.print(&e);
                problems += 1;
            }
        }
    }
    if problems == 0 {
        eprintln!("{valid} tenant spec(s) valid");
        Ok(0)
    } else {
        eprintln!("{problems} problem(s) found; {valid} tenant spec(s) valid");
        Ok(1)
    }
}
