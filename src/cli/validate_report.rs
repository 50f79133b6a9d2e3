//! What `tenantd validate` found, printed for a person (each problem with its source excerpt,
//! a count on stderr) or as one document for a tool (`-o json|yaml`):
//! `{"formatVersion": 1, "valid": [{"tenant", "file"}…], "problems": [{"file", "kind",
//! "message", "line"?, "column"?, "pointer"?}…]}`; the exit code is 1 when `problems` is not
//! empty.

use std::path::PathBuf;

use serde::Serialize;

use super::diagnostics::{SpecErrorPrinter, Stream};
use super::output::{document, OutputFormat, OUTPUT_FORMAT_VERSION};
use crate::spec::{SpecError, TenantName};

/// The valid specs and the problems, in the order found.
#[derive(Debug, Default)]
pub struct Findings {
    pub valid: Vec<(TenantName, PathBuf)>,
    pub problems: Vec<SpecError>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    format_version: u32,
    valid: Vec<ValidSpec>,
    problems: Vec<Problem>,
}

#[derive(Serialize)]
struct ValidSpec {
    tenant: String,
    file: String,
}

#[derive(Serialize)]
struct Problem {
    file: String,
    /// `dir`, `read`, `tooLarge`, `symlink`, `syntax`, `invalid`, `more` or `duplicateName`.
    kind: &'static str,
    /// The whole one-line message, file and position included.
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
    /// The JSON pointer of the offending value (`/spec/resources/memory`); empty for the
    /// document itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pointer: Option<String>,
}

fn problem(e: &SpecError) -> Problem {
    let (kind, line, column, pointer) = match e {
        SpecError::Dir { .. } => ("dir", None, None, None),
        SpecError::Read { .. } => ("read", None, None, None),
        SpecError::TooLarge { .. } => ("tooLarge", None, None, None),
        SpecError::Symlink { .. } => ("symlink", None, None, None),
        SpecError::Syntax { line, column, .. } => ("syntax", Some(*line), Some(*column), None),
        SpecError::Invalid { line, column, pointer, .. } => {
            ("invalid", Some(*line), Some(*column), Some(pointer.clone()))
        }
        SpecError::More { .. } => ("more", None, None, None),
        SpecError::DuplicateName { .. } => ("duplicateName", None, None, None),
    };
    Problem { file: e.path().display().to_string(), kind, message: e.to_string(), line, column, pointer }
}

/// Prints `findings` as `output` asks; the exit code.
pub fn report(findings: &Findings, output: OutputFormat) -> anyhow::Result<u8> {
    let (problems, valid) = (findings.problems.len(), findings.valid.len());
    if output.is_machine() {
        let doc = Document {
            format_version: OUTPUT_FORMAT_VERSION,
            valid: findings
                .valid
                .iter()
                .map(|(t, p)| ValidSpec { tenant: t.to_string(), file: p.display().to_string() })
                .collect(),
            problems: findings.problems.iter().map(problem).collect(),
        };
        print!("{}", document(output, &doc)?);
    } else {
        let mut printer = SpecErrorPrinter::new(Stream::Stdout);
        for e in &findings.problems {
            printer.print(e);
        }
    }
    if problems == 0 {
        eprintln!("{valid} tenant spec(s) valid");
    } else {
        eprintln!("{problems} problem(s) found; {valid} tenant spec(s) valid");
    }
    Ok(super::exit::failure_if(problems > 0))
}
