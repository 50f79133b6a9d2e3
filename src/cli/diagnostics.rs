//! Printing spec errors at the terminal: with the source excerpt and caret, coloured only for a
//! terminal and when `NO_COLOR` is unset.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use crate::spec::{diagnostic, read_source, SpecError};

/// Where diagnostics go.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Renders spec errors, reading each file's text once.
pub struct SpecErrorPrinter {
    stream: Stream,
    colour: bool,
    sources: HashMap<PathBuf, Option<String>>,
}

impl SpecErrorPrinter {
    pub fn new(stream: Stream) -> Self {
        let terminal = match stream {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        };
        // https://no-color.org: set and not empty means no colour.
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { stream, colour: terminal && !no_colour, sources: HashMap::new() }
    }

    pub fn print(&mut self, error: &SpecError) {
        let source = self.sources.entry(error.path().to_path_buf()).or_insert_with_key(|path| read_source(path));
        // None when the file cannot be read (again), as the loader reads it: then the error is
        // printed in its one-line form.
        // A blank line after each, as rustc and cargo do, so excerpts do not run together.
        let text = diagnostic::render(error, source.as_deref(), self.colour) + "\n";
        match self.stream {
            Stream::Stdout => print!("{text}"),
            Stream::Stderr => eprint!("{text}"),
        }
    }
}
