//! `tenantd completions SHELL` and `tenantd man`: generated from the command line's definition.

pub fn run_completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    let _ = shell;
    anyhow::bail!("tenantd completions is not available yet")
}

pub fn run_man() -> anyhow::Result<u8> {
    anyhow::bail!("tenantd man is not available yet")
}
