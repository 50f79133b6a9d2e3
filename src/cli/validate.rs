//! `tenantd validate [PATH...]`: every problem printed, exit 0 only when all is valid.

use std::path::{Path, PathBuf};

use super::diagnostics::{SpecErrorPrinter, Stream};
use crate::spec::{load_dir, load_file};

pub fn run(config: &Path, paths: &[PathBuf]) -> anyhow::Result<u8> {
    let paths = if paths.is_empty() { vec![super::load_config(config)?.tenants_dir] } else { paths.to_vec() };
    let mut printer = SpecErrorPrinter::new(Stream::Stdout);
    let mut problems = 0usize;
    let mut valid = 0usize;
    for p in &paths {
        if p.is_dir() {
            match load_dir(p) {
                Ok(set) => {
                    valid += set.valid.len();
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
                Ok(_) => valid += 1,
                Err(errors) => {
                    for e in &errors {
                        printer.print(e);
                    }
                    problems += errors.len().max(1);
                }
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
