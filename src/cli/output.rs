//! How a command prints: `-o/--output table|json|yaml`, the same flag and the same values on
//! every command that has a result worth reading by a tool (`plan`, `validate`, `apply`,
//! `status`, `stats`). JSON and YAML are one document on stdout; what is said to a person
//! (summaries, progress, warnings) goes to stderr so that stdout stays parseable.

use clap::ValueEnum;
use serde::Serialize;

/// The version of every machine-readable document a command prints (`formatVersion`). Raised
/// when a field changes meaning or goes away; new fields do not raise it.
pub const OUTPUT_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people: aligned columns, or a command's own text (`plan`'s diff).
    #[value(alias = "human")]
    Table,
    /// One JSON document.
    Json,
    /// The same document as YAML.
    Yaml,
}

impl OutputFormat {
    /// True for JSON and YAML: stdout holds the document alone.
    pub fn is_machine(self) -> bool {
        self != OutputFormat::Table
    }
}

/// `value` as the document `format` asks for (JSON pretty-printed, with a final newline).
/// For [`OutputFormat::Table`] the caller prints its own text; this renders it as JSON.
pub fn document<T: Serialize>(format: OutputFormat, value: &T) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Yaml => serde_yaml::to_string(value)?,
        OutputFormat::Json | OutputFormat::Table => serde_json::to_string_pretty(value)? + "\n",
    })
}
