//! Completion of tenant names: the tenants named by the specs in the tenants_dir of the config
//! the command line being completed would use (`--config`, else `TENANTD_CONFIG`, else the
//! default path). Anything that goes wrong (no config, an invalid one, no directory) completes
//! nothing; nothing is printed and nothing blocks.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};

use crate::config::{DaemonConfig, DEFAULT_CONFIG_PATH};

/// The config file of the command line being completed, set once before completing.
static CONFIG: OnceLock<PathBuf> = OnceLock::new();

/// Makes `path` the config file tenant names are read from.
pub(super) fn use_config(path: PathBuf) {
    // Set once per process, before completing; a second call changes nothing.
    let _ = CONFIG.set(path);
}

/// The completer of an argument that names a tenant (`tenantd status <TAB>`).
pub fn tenant_names() -> ArgValueCompleter {
    ArgValueCompleter::new(complete)
}

fn complete(current: &OsStr) -> Vec<CompletionCandidate> {
    let (Some(prefix), Some(config)) = (current.to_str(), CONFIG.get()) else {
        return Vec::new();
    };
    candidates(config, prefix)
}

/// The tenants of the config at `config` whose names start with `prefix`, sorted.
fn candidates(config: &Path, prefix: &str) -> Vec<CompletionCandidate> {
    // The runtime is not needed for the tenants_dir; an override in the environment that does
    // not parse must not hide the names.
    let Ok(cfg) = DaemonConfig::load(config, None) else {
        return Vec::new();
    };
    let Ok(names) = crate::spec::declared_tenants(&cfg.tenants_dir) else {
        return Vec::new();
    };
    names.iter().map(|n| n.as_str()).filter(|n| n.starts_with(prefix)).map(CompletionCandidate::new).collect()
}

/// The config file a command line of `words` (the program's name first) would read: the last
/// `--config PATH` or `--config=PATH` before a `--`, else `env` (`TENANTD_CONFIG`) when not
/// empty, else the default. A leading `~/` is taken from `home`, since the words come as typed.
pub(super) fn config_path<'w>(
    words: impl IntoIterator<Item = &'w OsString>,
    env: Option<&OsStr>,
    home: Option<&OsStr>,
) -> PathBuf {
    let mut given: Option<&OsStr> = None;
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        } else if word == "--config" {
            given = words.next().map(OsString::as_os_str).or(given);
        } else if let Some(value) = word.to_str().and_then(|w| w.strip_prefix("--config=")) {
            given = Some(OsStr::new(value));
        }
    }
    let chosen = given.or(env.filter(|v| !v.is_empty())).map(Path::new).unwrap_or(Path::new(DEFAULT_CONFIG_PATH));
    match (chosen.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => Path::new(home).join(rest),
        _ => chosen.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(words: &[&str], env: Option<&str>) -> PathBuf {
        let words: Vec<OsString> = words.iter().map(OsString::from).collect();
        config_path(&words, env.map(OsStr::new), Some(OsStr::new("/home/a")))
    }

    #[test]
    fn the_config_is_the_one_the_command_line_names_else_the_environments_else_the_default() {
        assert_eq!(path(&["tenantd", "status", ""], None), Path::new(DEFAULT_CONFIG_PATH));
        assert_eq!(path(&["tenantd", "status", ""], Some("")), Path::new(DEFAULT_CONFIG_PATH));
        assert_eq!(path(&["tenantd", "status", ""], Some("/e.toml")), Path::new("/e.toml"));
        assert_eq!(path(&["tenantd", "--config", "c.toml", "status", ""], Some("/e.toml")), Path::new("c.toml"));
        assert_eq!(path(&["tenantd", "status", "--config=/x.toml", "a"], None), Path::new("/x.toml"));
        assert_eq!(path(&["tenantd", "--config", "~/t.toml", "logs", ""], None), Path::new("/home/a/t.toml"));
        // After `--` the words are a command's (exec), not tenantd's.
        assert_eq!(path(&["tenantd", "exec", "a", "--", "--config", "/x"], None), Path::new(DEFAULT_CONFIG_PATH));
        // Being typed: no value yet.
        assert_eq!(path(&["tenantd", "status", "--config"], Some("/e.toml")), Path::new("/e.toml"));
    }

    #[test]
    fn a_config_that_cannot_be_read_offers_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(candidates(&dir.path().join("missing.toml"), "").is_empty());
        std::fs::write(dir.path().join("bad.toml"), "tenants_dir = 3\n").unwrap();
        assert!(candidates(&dir.path().join("bad.toml"), "").is_empty());
    }
}
