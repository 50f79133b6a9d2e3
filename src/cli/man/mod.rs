//! `tenantd man`: tenantd(1) and one page per subcommand, generated from the command line's
//! definition with the sections it cannot give (see [`command_pages`]), and tenantd.toml(5).

mod command_pages;
mod config_keys;
mod config_page;
mod sections;

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_mangen::roff::Roff;

/// Prints tenantd(1) on stdout, or writes it, one page per subcommand and tenantd.toml(5) into
/// `dir`.
pub fn run(dir: Option<&Path>) -> anyhow::Result<u8> {
    let cmd = command();
    match dir {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&page(&cmd)?).and_then(|()| out.flush()).context("cannot write the man page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            write_pages(&cmd, dir)?;
            let path = dir.join(config_page::FILE_NAME);
            std::fs::write(&path, config_page::render()).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(0)
}

/// The command line, built, so that nested commands carry their page names (tenantd-secrets-keygen).
fn command() -> clap::Command {
    // `help` is clap's own subcommand; it is documented by every page's `--help` already and
    // would only add an empty page.
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Writes the page of `cmd` and of each of its subcommands, named as clap names nested
/// commands (tenantd-secrets-keygen.1): the SUBCOMMANDS section of each parent page refers to
/// its children by these names. Hidden commands (the ingress) get none.
fn write_pages(cmd: &clap::Command, dir: &Path) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    std::fs::write(&path, page(cmd)?).with_context(|| format!("cannot write {}", path.display()))
}

/// The page of `cmd`: clap_mangen's sections, with those of [`command_pages`] before VERSION.
fn page(cmd: &clap::Command) -> anyhow::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    // Option and variable names (CONTAINER_RUNTIME, --detailed-exitcode) are not to be broken at
    // a hyphen or spread out.
    out.extend_from_slice(b".nh\n.ad l\n");
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out)?;
    }
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    let mut extra = Roff::new();
    sections::render(&command_pages::extra_sections(name), &mut extra);
    extra.to_writer(&mut out)?;
    if cmd.get_version().or_else(|| cmd.get_long_version()).is_some() {
        man.render_version_section(&mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_documented_exists() {
        let cmd = command();
        let mut names = Vec::new();
        fn walk(cmd: &clap::Command, names: &mut Vec<String>) {
            for sub in cmd.get_subcommands() {
                names.push(sub.get_display_name().unwrap_or_else(|| sub.get_name()).to_string());
                walk(sub, names);
            }
        }
        walk(&cmd, &mut names);
        for sub in command_pages::DOCUMENTED_SUBCOMMANDS {
            assert!(names.contains(&format!("tenantd-{sub}")), "tenantd-{sub} is not a command: {names:?}");
        }
    }

    /// Every variable the program reads is documented in tenantd(1)'s ENVIRONMENT: the source
    /// is searched for `var`, `var_os` and `from_env` calls with a literal name, and clap's `env`
    /// attributes.
    #[test]
    fn every_environment_variable_read_is_documented() {
        let page = String::from_utf8(page(&command()).unwrap()).unwrap();
        let environment = page.split(".SH ENVIRONMENT").nth(1).expect("an ENVIRONMENT section");
        let environment = environment.split("\n.SH ").next().unwrap().replace("\\fB", "").replace("\\fR", "");
        let read = regex::Regex::new(r#"(?:\bvar|\bvar_os|from_env)\("([A-Z][A-Z0-9_]*)"\)|env = "([A-Z][A-Z0-9_]*)""#)
            .unwrap();
        // Read only by tests.
        let test_only = ["TENANTD_UPDATE_SCHEMA"];
        let mut found = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for c in read.captures_iter(&text) {
                        found.push(c.get(1).or(c.get(2)).unwrap().as_str().to_string());
                    }
                }
            }
        }
        for must in ["TENANTD_CONFIG", "TENANTD_LOG", "NO_COLOR", "DOCKER_HOST", "NOTIFY_SOCKET"] {
            assert!(found.iter().any(|f| f == must), "the search misses {must}: {found:?}");
        }
        for name in found.iter().filter(|n| !test_only.contains(&n.as_str())) {
            let documented = environment.lines().any(|l| l.split(", ").any(|term| term == name));
            assert!(documented, "{name} is read but not in ENVIRONMENT:\n{environment}");
        }
    }
}
