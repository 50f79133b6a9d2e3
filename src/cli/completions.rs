//! `tenantd completions SHELL`: generated from the command line's definition.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

/// The name the scripts complete, whatever the binary's file name.
const NAME: &str = "tenantd";

/// Prints the completion script for `shell` on stdout.
pub fn run_completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    let mut cmd = super::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, NAME, &mut out);
    out.flush().context("cannot write the completion script")?;
    Ok(0)
}

