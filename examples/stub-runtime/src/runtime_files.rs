//! The runtime's config file and secrets directory, as a real runtime would use them: read at
//! start and again on SIGHUP, never in between. `GET /debug/runtime` reports what was read last
//! without any secret value: the config's size and FNV-1a hash, each secret file's name and
//! inode (a file replaced by rename gets a new inode), the filesystem the secrets directory is on
//! as seen from inside the container, and whether the gateway token the config names (as
//! OpenClaw's `gateway.auth.token`, `${secret:NAME}`) resolves to a secret file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub const DEFAULT_CONFIG: &str = "/etc/openclaw/openclaw.json";
pub const DEFAULT_SECRETS_DIR: &str = "/run/secrets/openclaw";

/// What the last (re)load saw, as the JSON the debug endpoint answers.
fn snapshot_cell() -> &'static Mutex<String> {
    static CELL: OnceLock<Mutex<String>> = OnceLock::new();
    CELL.get_or_init(|| Mutex::new("{}".to_string()))
}

/// The JSON of the last (re)load.
pub fn current() -> String {
    snapshot_cell().lock().map(|s| s.clone()).unwrap_or_else(|_| "{}".to_string())
}

/// Loads now, then again each time `reloads` moves on; runs on its own thread for ever.
pub fn follow(config: PathBuf, secrets: PathBuf, reloads: &'static AtomicU64) {
    let mut seen = reloads.load(Ordering::SeqCst);
    publish(&config, &secrets, seen);
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = reloads.load(Ordering::SeqCst);
        if now != seen {
            seen = now;
            publish(&config, &secrets, seen);
            crate::serve::log(&format!("reloaded config and secrets (SIGHUP #{seen})"));
        }
    });
}

fn publish(config: &Path, secrets: &Path, reloads: u64) {
    let json = describe(config, secrets, reloads);
    if let Ok(mut cell) = snapshot_cell().lock() {
        *cell = json;
    }
}

/// The debug JSON for these files.
pub fn describe(config: &Path, secrets: &Path, reloads: u64) -> String {
    let bytes = std::fs::read(config).ok();
    let token = bytes.as_deref().map_or("none", |b| gateway_token(b, secrets));
    let config = match &bytes {
        Some(bytes) => format!(r#"{{"present":true,"bytes":{},"fnv64":"{:016x}"}}"#, bytes.len(), fnv64(bytes)),
        None => r#"{"present":false}"#.to_string(),
    };
    let secrets_fs = match secrets.is_dir().then(|| crate::mounts::fs_type(secrets)).flatten() {
        Some(fs) => crate::routes::json_string(&fs),
        None => "null".to_string(),
    };
    let mut files: Vec<(String, u64)> = std::fs::read_dir(secrets)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| {
                    use std::os::unix::fs::MetadataExt;
                    let meta = e.metadata().ok()?;
                    meta.is_file().then(|| (e.file_name().to_string_lossy().into_owned(), meta.ino()))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let secrets: Vec<String> = files
        .iter()
        .map(|(name, ino)| format!(r#"{{"name":{},"inode":{ino}}}"#, crate::routes::json_string(name)))
        .collect();
    format!(
        r#"{{"config":{config},"secrets":[{}],"secretsFs":{secrets_fs},"gatewayToken":"{token}","reloads":{reloads}}}"#,
        secrets.join(",")
    )
}

/// Whether the config's gateway token resolves: `none` when the config names no
/// `${secret:NAME}` under `"auth"`, `resolved` when `<secrets>/NAME` is a non-empty file this
/// process can read, `unresolved` otherwise. The value itself is read and dropped.
fn gateway_token(config: &[u8], secrets: &Path) -> &'static str {
    let text = String::from_utf8_lossy(config);
    let Some(auth) = text.find("\"auth\"") else { return "none" };
    let Some(name) = text[auth..].split("${secret:").nth(1).and_then(|rest| rest.split('}').next()) else {
        return "none";
    };
    match std::fs::read(secrets.join(name)) {
        Ok(value) if !value.is_empty() => "resolved",
        _ => "unresolved",
    }
}

/// FNV-1a, 64 bits: enough to tell two configs apart in a test, and needs no dependency.
pub fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_config_and_secret_names_but_no_values() {
        let dir = std::env::temp_dir().join(format!("stub-files-{}", std::process::id()));
        let secrets = dir.join("secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::write(dir.join("openclaw.json"), b"{}").unwrap();
        std::fs::write(secrets.join("TG"), b"canary-value").unwrap();
        let json = describe(&dir.join("openclaw.json"), &secrets, 2);
        assert!(
            json.starts_with(&format!(r#"{{"config":{{"present":true,"bytes":2,"fnv64":"{:016x}"}}"#, fnv64(b"{}"))),
            "{json}"
        );
        assert!(json.contains(r#""name":"TG""#) && json.ends_with(r#""gatewayToken":"none","reloads":2}"#), "{json}");
        assert!(json.contains(r#""secretsFs":""#), "the secrets directory's filesystem is named: {json}");
        assert!(!json.contains("canary"), "{json}");
        let missing = describe(&dir.join("nope.json"), &dir.join("nope"), 0);
        assert_eq!(
            missing,
            r#"{"config":{"present":false},"secrets":[],"secretsFs":null,"gatewayToken":"none","reloads":0}"#
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_gateway_token_resolves_only_to_a_readable_secret_file() {
        let dir = std::env::temp_dir().join(format!("stub-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = br#"{"gateway": {"auth": {"mode": "token", "token": "${secret:GW}"}}}"#;
        assert_eq!(gateway_token(config, &dir), "unresolved");
        std::fs::write(dir.join("GW"), b"").unwrap();
        assert_eq!(gateway_token(config, &dir), "unresolved", "an empty file is no token");
        std::fs::write(dir.join("GW"), b"t0ken").unwrap();
        assert_eq!(gateway_token(config, &dir), "resolved");
        assert_eq!(gateway_token(br#"{"gateway": {"auth": {"mode": "none"}}}"#, &dir), "none");
        std::fs::write(dir.join("openclaw.json"), config).unwrap();
        let json = describe(&dir.join("openclaw.json"), &dir, 0);
        assert!(json.contains(r#""gatewayToken":"resolved""#) && !json.contains("t0ken"), "{json}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_are_read_again_only_when_a_reload_is_asked_for() {
        static RELOADS: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!("stub-follow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("openclaw.json");
        std::fs::write(&config, b"one").unwrap();
        follow(config.clone(), dir.join("secrets"), &RELOADS);
        let first = current();
        assert!(first.contains(&format!("{:016x}", fnv64(b"one"))), "{first}");

        std::fs::write(&config, b"two").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(current(), first, "a changed file alone is not read again");
        RELOADS.fetch_add(1, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !current().contains(&format!("{:016x}", fnv64(b"two"))) {
            assert!(std::time::Instant::now() < deadline, "not reloaded: {}", current());
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(current().ends_with(r#""reloads":1}"#), "{}", current());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fnv64_matches_the_reference_values() {
        assert_eq!(fnv64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
