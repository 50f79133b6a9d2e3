//! `tenantd completions SHELL` and `tenantd man`: generated from the command line's definition.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

/// The name the scripts complete and the man pages are called by, whatever the binary's file name.
const NAME: &str = "tenantd";

/// Prints the completion script for `shell` on stdout.
pub fn run_completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    let mut cmd = super::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, NAME, &mut out);
    out.flush().context("cannot write the completion script")?;
    Ok(0)
}

/// Prints tenantd(1) on stdout, or writes it and one page per subcommand into `dir`.
pub fn run_man(dir: Option<&Path>) -> anyhow::Result<u8> {
    // `help` is clap's own subcommand; it is documented by every page's `--help` already and
    // would only add an empty page.
    let cmd = super::Cli::command().disable_help_subcommand(true);
    match dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out).context("cannot write the man page")?;
            out.flush().context("cannot write the man page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            // One page per command, named as clap names nested commands (tenantd-secrets-keygen.1);
            // the SUBCOMMANDS section of each parent page refers to its children by these names.
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
        }
    }
    Ok(0)
}
