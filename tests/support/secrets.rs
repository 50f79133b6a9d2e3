//! Secrets for integration tests: a per-test secrets directory on tmpfs, an age identity made
//! with `tenantd secrets keygen`, and ciphertext made with `tenantd secrets encrypt`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Env;

/// A per-test secrets directory on tmpfs, removed afterwards.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn new(env: &Env) -> Tmpfs {
        let dir = PathBuf::from(format!("/dev/shm/tenantd-test-{}", env.instance));
        std::fs::create_dir_all(&dir).unwrap();
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `tenantd secrets keygen` into the environment; returns the recipient.
pub fn keygen(env: &Env, file: &str) -> String {
    let out = env.tenantd(&["secrets", "keygen", "--output", env.path(file).to_str().unwrap()]);
    assert!(out.status.success(), "{}", super::stderr(&out));
    let err = super::stderr(&out);
    err.split_whitespace().find(|w| w.starts_with("age1")).expect("a recipient on stderr").to_string()
}

/// `tenantd secrets encrypt`: the YAML block for a secret entry, indented for `spec.secrets.X`.
/// An empty `recipient` gives no `--recipient`: the config's recipients are used.
pub fn encrypt(env: &Env, recipient: &str, value: &str) -> String {
    let mut args = vec!["--config", env.config.to_str().unwrap(), "secrets", "encrypt"];
    if !recipient.is_empty() {
        args.extend(["--recipient", recipient]);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{value}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let block = String::from_utf8(out.stdout).unwrap();
    block.lines().map(|l| format!("      {l}\n")).collect()
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
