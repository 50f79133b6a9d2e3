//! `tenantd completions SHELL`, and the completion requests the scripts make: on each TAB, bash,
//! zsh and fish run `COMPLETE=<shell> tenantd -- <words>`, answered from the command line's
//! definition and, for arguments that name a tenant, from the specs in the configured
//! tenants_dir (see [`tenants`]).

mod tenants;

use std::ffi::OsString;
use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};
use clap_complete::{CompleteEnv, Shell};

pub use tenants::tenant_names;

/// The name the scripts complete and call, whatever the binary's file name: the scripts run
/// `tenantd` from `$PATH`, so a script written at build time stays right once installed.
const NAME: &str = "tenantd";

/// The variable that makes a run of tenantd a completion request.
const COMPLETE_VAR: &str = "COMPLETE";

/// Prints the completion script for `shell` on stdout. Bash, zsh and fish get a script that asks
/// tenantd for candidates on each TAB (so tenant names complete); elvish and PowerShell get the
/// static script of subcommands and options.
pub fn run_completions(shell: Shell) -> anyhow::Result<u8> {
    let mut script = Vec::new();
    match shell {
        Shell::Bash => Bash.write_registration(COMPLETE_VAR, NAME, NAME, NAME, &mut script)?,
        Shell::Zsh => {
            Zsh.write_registration(COMPLETE_VAR, NAME, NAME, NAME, &mut script)?;
            // Installed as `_tenantd` in $fpath, the file is the body of the autoloaded function
            // `_tenantd`: on that first call it has only defined the completer, so it runs it too.
            writeln!(
                script,
                "if [[ \"${{funcstack[1]}}\" = \"_{NAME}\" ]]; then\n    _clap_dynamic_completer_{NAME} \"$@\"\nfi"
            )?;
        }
        Shell::Fish => Fish.write_registration(COMPLETE_VAR, NAME, NAME, NAME, &mut script)?,
        other => clap_complete::generate(other, &mut super::Cli::command(), NAME, &mut script),
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&script).and_then(|()| out.flush()).context("cannot write the completion script")?;
    Ok(0)
}

/// Answers a completion request and exits, when `COMPLETE` names a shell the scripts are made
/// for; returns at once otherwise, so a `COMPLETE` set for something else (`COMPLETE=1`) changes
/// nothing. Must run before anything is printed. A completion prints no panic and no warning
/// into the user's command line: whatever goes wrong, it offers nothing.
pub fn answer_if_asked() {
    if !std::env::var_os(COMPLETE_VAR).is_some_and(|v| is_known_shell(&v)) {
        return;
    }
    std::panic::set_hook(Box::new(|_| {}));
    let args: Vec<OsString> = std::env::args_os().collect();
    let words = args.iter().skip_while(|a| *a != "--").skip(1);
    let env_config = std::env::var_os("TENANTD_CONFIG");
    tenants::use_config(tenants::config_path(words, env_config.as_deref(), std::env::var_os("HOME").as_deref()));
    let cwd = std::env::current_dir().ok();
    let request = CompleteEnv::with_factory(super::Cli::command).bin(NAME).completer(NAME);
    let answer = std::panic::AssertUnwindSafe(move || request.try_complete(args, cwd.as_deref()));
    match std::panic::catch_unwind(answer) {
        Ok(Ok(true)) => std::process::exit(0),
        Ok(Ok(false)) => drop(std::panic::take_hook()),
        // The candidates could not be written: the shell has gone.
        Ok(Err(_)) | Err(_) => std::process::exit(1),
    }
}

/// Whether `value` names a shell completion requests are answered for, as clap reads it: by
/// name, or by a path to it (`COMPLETE=$SHELL`).
fn is_known_shell(value: &std::ffi::OsStr) -> bool {
    let name = std::path::Path::new(value).file_stem().and_then(|n| n.to_str()).unwrap_or_default();
    clap_complete::env::Shells::builtins().completer(name).is_some()
}
