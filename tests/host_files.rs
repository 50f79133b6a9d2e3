//! What tenantd writes for a tenant's runtime on the host (plaintext secrets on tmpfs, the
//! generated config under `state_dir`, the record of what was delivered) never goes through a
//! link someone planted, never removes what tenantd did not write, and a secrets root another
//! user could tamper with is refused. Each attack ends with a clear error and its target as it
//! was (owner, mode, content). On the real filesystem, as root (chown needs it; CI runs as root):
//! secrets on /dev/shm, the rest in a temp dir; the last test goes through `tenantd apply` and
//! the real engine.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use support::daemon::{container, container_id};
use support::secrets::*;
use support::*;
use tenantd::reconcile::FileDelivery;
use tenantd::render::{render, FileRoots, OpenClawFiles};
use tenantd::secrets::Identities;
use tenantd::spec::{parse_str, LoadedSpec, TenantName};

/// A secrets root on tmpfs, a state directory on disk, an age key, and a directory on disk an
/// attacker would like tenantd to write into or empty.
struct World {
    shm: tempfile::TempDir,
    disk: tempfile::TempDir,
    roots: FileRoots,
    delivery: FileDelivery,
    recipient: String,
}

fn world() -> World {
    let shm = tempfile::tempdir_in("/dev/shm").expect("/dev/shm is a tmpfs here");
    let disk = tempfile::tempdir().unwrap();
    let (identity, recipient) = tenantd::secrets::keygen();
    let key = disk.path().join("age.key");
    std::fs::write(&key, identity.expose()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let roots = FileRoots {
        config: disk.path().join("state/runtime-config"),
        secrets: shm.path().join("secrets"),
        ingress: disk.path().join("state/ingress"),
    };
    let delivery = FileDelivery::at(roots.clone(), Some(key), false);
    World { shm, disk, roots, delivery, recipient }
}

fn t(name: &str) -> TenantName {
    name.parse().unwrap()
}

impl World {
    /// The runtime files of tenant `name` with these secrets (`NAME`, value) and a config that
    /// refers to the first.
    fn files(&self, name: &str, secrets: &[(&str, &str)]) -> OpenClawFiles {
        let mut yaml = format!(
            "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{ name: {name} }}\nspec:\n  image: example/runtime:1\n  secrets:\n"
        );
        for (secret, value) in secrets {
            let armored = tenantd::secrets::encrypt(value.as_bytes(), std::slice::from_ref(&self.recipient)).unwrap();
            yaml += &format!("    {secret}:\n      value: |\n");
            yaml += &armored.lines().map(|l| format!("        {l}\n")).collect::<String>();
        }
        yaml += &format!("  runtimeConfig:\n    gatewayToken: {{ secret: {} }}\n", secrets[0].0);
        let path = PathBuf::from(format!("tenants.d/{name}.yaml"));
        let file = parse_str(&yaml, &path).expect("a valid spec");
        let spec = LoadedSpec { path, file, contexts: BTreeMap::new() };
        render(&spec, &"tenantd".parse().unwrap(), &self.roots).files.expect("runtime files")
    }

    /// Writes every file of `files` and records them, as a first apply does.
    fn deliver(&self, tenant: &str, files: &OpenClawFiles) {
        let all: Vec<String> = files.hashes.keys().cloned().collect();
        self.delivery.write(&t(tenant), files, &all).expect("delivered");
        self.delivery.record(&t(tenant), files).expect("recorded");
    }

    /// Writes the files named in `changed`; the error's text.
    fn write(&self, tenant: &str, files: &OpenClawFiles, changed: &[&str]) -> Result<(), String> {
        let changed: Vec<String> = changed.iter().map(|c| c.to_string()).collect();
        self.delivery.write(&t(tenant), files, &changed).map_err(|e| e.to_string())
    }

    fn secrets_of(&self, tenant: &str) -> PathBuf {
        self.roots.secrets.join(tenant)
    }

    fn config_of(&self, tenant: &str) -> PathBuf {
        self.roots.config.join(tenant)
    }

    /// A directory on disk holding one file, where no tenant's files belong.
    fn victim_dir(&self) -> PathBuf {
        let dir = self.disk.path().join("victim");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("keep.txt"), "precious").unwrap();
        std::fs::set_permissions(dir.join("keep.txt"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    /// A file on disk no tenant's files belong in.
    fn victim_file(&self) -> PathBuf {
        let file = self.disk.path().join("victim.txt");
        std::fs::write(&file, "precious").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        file
    }
}

/// Owner, mode and content of `path` and of everything under it, not following links.
fn snapshot(path: &Path) -> Vec<(String, u32, u32, Vec<u8>)> {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let content = if meta.is_file() { std::fs::read(path).unwrap() } else { vec![] };
    let mut out = vec![(path.display().to_string(), meta.uid(), meta.mode(), content)];
    if meta.is_dir() {
        let mut names: Vec<PathBuf> = std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        for p in names {
            out.extend(snapshot(&p));
        }
    }
    out
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

fn chown(path: &Path, uid: u32) {
    rustix::fs::chown(path, Some(rustix::fs::Uid::from_raw(uid)), None).unwrap();
}

#[test]
fn a_secrets_root_of_another_user_or_writable_by_others_is_refused_and_nothing_is_written() {
    let w = world();
    let files = w.files("acme", &[("GW", "canary-root-1")]);
    let all: Vec<&str> = files.hashes.keys().map(String::as_str).collect();
    std::fs::create_dir(&w.roots.secrets).unwrap();

    chown(&w.roots.secrets, 12345);
    let e = w.write("acme", &files, &all).unwrap_err();
    assert!(e.contains("owned by uid 12345") && e.contains(&w.roots.secrets.display().to_string()), "{e}");
    assert!(names_in(&w.roots.secrets).is_empty(), "nothing written");

    chown(&w.roots.secrets, 0);
    for mode in [0o777, 0o770, 0o1777] {
        std::fs::set_permissions(&w.roots.secrets, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = w.write("acme", &files, &all).unwrap_err();
        assert!(e.contains("writable by its group or by others") && e.contains(&format!("{mode:04o}")), "{e}");
        assert!(names_in(&w.roots.secrets).is_empty(), "nothing written with mode {mode:o}");
    }
    assert!(!w.config_of("acme").exists(), "not even the config");

    std::fs::set_permissions(&w.roots.secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
    w.deliver("acme", &files);
    assert_eq!(std::fs::read_to_string(w.secrets_of("acme").join("GW")).unwrap(), "canary-root-1");
}

#[test]
fn a_secrets_root_that_is_a_link_is_refused() {
    let w = world();
    let files = w.files("acme", &[("GW", "canary-root-2")]);
    let all: Vec<&str> = files.hashes.keys().map(String::as_str).collect();
    let real = w.shm.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&real, &w.roots.secrets).unwrap();
    let before = snapshot(&real);
    let e = w.write("acme", &files, &all).unwrap_err();
    assert!(e.contains("symbolic link") && e.contains(&w.roots.secrets.display().to_string()), "{e}");
    assert_eq!(snapshot(&real), before);
}

#[test]
fn a_tenant_directory_that_is_a_link_is_neither_followed_nor_emptied() {
    let w = world();
    let files = w.files("acme", &[("GW", "canary-dir-1")]);
    w.deliver("acme", &files);
    let victim = w.victim_dir();
    let before = snapshot(&victim);

    // Swapped for a link to a directory on disk: a rotation is refused and writes nothing there.
    std::fs::remove_dir_all(w.secrets_of("acme")).unwrap();
    std::os::unix::fs::symlink(&victim, w.secrets_of("acme")).unwrap();
    let rotated = w.files("acme", &[("GW", "canary-dir-2")]);
    let e = w.write("acme", &rotated, &["secret/GW"]).unwrap_err();
    assert!(e.contains("symbolic link") && e.contains(&w.secrets_of("acme").display().to_string()), "{e}");
    assert_eq!(snapshot(&victim), before, "the link's target is untouched");

    // Deleting the tenant removes nothing through it either, and says so.
    let e = w.delivery.remove(&t("acme")).unwrap_err().to_string();
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!(snapshot(&victim), before);
    assert!(is_link(&w.secrets_of("acme")), "the link is left as it is");

    // A new tenant whose directory was planted before it ever had one.
    std::os::unix::fs::symlink(&victim, w.secrets_of("beta")).unwrap();
    let beta = w.files("beta", &[("GW", "canary-dir-3")]);
    let all: Vec<&str> = beta.hashes.keys().map(String::as_str).collect();
    let e = w.write("beta", &beta, &all).unwrap_err();
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!(snapshot(&victim), before);
}

#[test]
fn a_tenant_directory_of_an_unexpected_owner_or_type_is_refused() {
    let w = world();
    let files = w.files("acme", &[("GW", "canary-owner-1")]);
    let all: Vec<&str> = files.hashes.keys().map(String::as_str).collect();
    std::fs::create_dir_all(w.secrets_of("acme")).unwrap();
    chown(&w.secrets_of("acme"), 12345);
    std::fs::set_permissions(w.secrets_of("acme"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = snapshot(&w.secrets_of("acme"));
    let e = w.write("acme", &files, &all).unwrap_err();
    assert!(e.contains("owned by uid 12345"), "{e}");
    assert_eq!(snapshot(&w.secrets_of("acme")), before, "not chowned, not written");

    std::fs::write(w.secrets_of("beta"), "a file").unwrap();
    let beta = w.files("beta", &[("GW", "canary-owner-2")]);
    let all: Vec<&str> = beta.hashes.keys().map(String::as_str).collect();
    let e = w.write("beta", &beta, &all).unwrap_err();
    assert!(e.contains("is a regular file where tenantd expects a directory"), "{e}");
    assert_eq!(std::fs::read_to_string(w.secrets_of("beta")).unwrap(), "a file");
}

#[test]
fn a_link_planted_at_a_secret_or_at_its_temporary_name_is_an_error_and_its_target_is_untouched() {
    let w = world();
    w.deliver("acme", &w.files("acme", &[("GW", "canary-file-1")]));
    let victim = w.victim_file();
    let before = snapshot(&victim);
    let rotated = w.files("acme", &[("GW", "canary-file-2")]);
    let dir = w.secrets_of("acme");

    for name in ["GW", ".GW.tmp"] {
        let _ = std::fs::remove_file(dir.join(name));
        std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
        let e = w.write("acme", &rotated, &["secret/GW"]).unwrap_err();
        assert!(e.contains("symbolic link") && e.contains(&dir.join(name).display().to_string()), "{name}: {e}");
        assert_eq!(snapshot(&victim), before, "{name}: the target is untouched");
        assert!(is_link(&dir.join(name)), "{name}: the link is left as it is");
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    // Gone, the files are written as usual.
    w.write("acme", &rotated, &["secret/GW"]).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("GW")).unwrap(), "canary-file-2");
}

#[test]
fn only_the_files_tenantd_wrote_are_removed_and_a_directory_only_once_empty() {
    let w = world();
    w.deliver("acme", &w.files("acme", &[("GW", "canary-rm-1"), ("TG", "canary-rm-2")]));
    let dir = w.secrets_of("acme");
    std::fs::write(dir.join("notes"), "not tenantd's").unwrap();
    std::fs::write(w.config_of("acme").join("extra.json"), "not tenantd's either").unwrap();

    // TG dropped from the spec: it goes, the file tenantd did not write stays.
    let fewer = w.files("acme", &[("GW", "canary-rm-1")]);
    w.write("acme", &fewer, &["secret/TG"]).unwrap();
    w.delivery.record(&t("acme"), &fewer).unwrap();
    assert_eq!(names_in(&dir), ["GW", "notes"]);

    // The tenant deleted: its own files go, the others and their directories stay, reported.
    let e = w.delivery.remove(&t("acme")).unwrap_err().to_string();
    assert!(e.contains("notes") || e.contains("extra.json"), "{e}");
    assert_eq!(names_in(&dir), ["notes"]);
    assert_eq!(names_in(&w.config_of("acme")), ["extra.json"]);
    assert!(w.delivery.delivered(&t("acme")).is_some(), "the record stays, so the removal is tried again");

    std::fs::remove_file(dir.join("notes")).unwrap();
    std::fs::remove_file(w.config_of("acme").join("extra.json")).unwrap();
    w.delivery.remove(&t("acme")).unwrap();
    assert!(!dir.exists() && !w.config_of("acme").exists());
    assert!(w.delivery.delivered(&t("acme")).is_none());
}

#[test]
fn the_runtime_config_directories_follow_no_link() {
    let w = world();
    let files = w.files("acme", &[("GW", "canary-cfg-1")]);
    let victim = w.victim_dir();
    let before = snapshot(&victim);
    std::fs::create_dir_all(w.roots.config.parent().unwrap()).unwrap();

    // The runtime-config root, then the tenant's directory in it, as links to a disk directory.
    std::os::unix::fs::symlink(&victim, &w.roots.config).unwrap();
    let e = w.write("acme", &files, &["openclaw.json"]).unwrap_err();
    assert!(e.contains("symbolic link") && e.contains(&w.roots.config.display().to_string()), "{e}");
    assert_eq!(snapshot(&victim), before);
    std::fs::remove_file(&w.roots.config).unwrap();

    std::fs::create_dir(&w.roots.config).unwrap();
    std::os::unix::fs::symlink(&victim, w.config_of("acme")).unwrap();
    let e = w.write("acme", &files, &["openclaw.json"]).unwrap_err();
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!(snapshot(&victim), before);
    let e = w.delivery.remove(&t("acme")).unwrap_err().to_string();
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!(snapshot(&victim), before);
    std::fs::remove_file(w.config_of("acme")).unwrap();

    // The config file and its temporary name.
    w.deliver("acme", &files);
    let victim_file = w.victim_file();
    let before_file = snapshot(&victim_file);
    let edited = w.files("acme", &[("GW", "canary-cfg-1"), ("TG", "canary-cfg-2")]);
    for name in ["openclaw.json", ".openclaw.json.tmp"] {
        let at = w.config_of("acme").join(name);
        let _ = std::fs::remove_file(&at);
        std::os::unix::fs::symlink(&victim_file, &at).unwrap();
        let e = w.write("acme", &edited, &["openclaw.json"]).unwrap_err();
        assert!(e.contains("symbolic link") && e.contains(&at.display().to_string()), "{name}: {e}");
        assert_eq!(snapshot(&victim_file), before_file, "{name}");
        std::fs::remove_file(&at).unwrap();
    }
}

#[test]
fn the_delivery_records_follow_no_link() {
    let w = world();
    let files = w.files("acme", &[("GW", "canary-rec-1")]);
    let all: Vec<&str> = files.hashes.keys().map(String::as_str).collect();
    std::fs::create_dir(&w.roots.secrets).unwrap();
    std::fs::set_permissions(&w.roots.secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victim = w.victim_dir();
    let before = snapshot(&victim);
    let records = w.roots.secrets.join(".delivered");
    std::os::unix::fs::symlink(&victim, &records).unwrap();
    let e = w
        .write("acme", &files, &all)
        .and_then(|()| w.delivery.record(&t("acme"), &files).map_err(|e| e.to_string()))
        .unwrap_err();
    assert!(e.contains("symbolic link") && e.contains(".delivered"), "{e}");
    assert_eq!(snapshot(&victim), before);
    std::fs::remove_file(&records).unwrap();

    w.deliver("acme", &files);
    let victim_file = w.victim_file();
    let before_file = snapshot(&victim_file);
    std::fs::remove_file(records.join("acme.json")).unwrap();
    std::os::unix::fs::symlink(&victim_file, records.join("acme.json")).unwrap();
    let e = w.delivery.record(&t("acme"), &files).unwrap_err().to_string();
    assert!(e.contains("symbolic link"), "{e}");
    assert_eq!(snapshot(&victim_file), before_file);
    assert!(w.delivery.delivered(&t("acme")).is_none(), "a linked record is not read");
}

#[test]
fn an_identity_file_others_may_read_or_another_user_owns_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("age.key");
    std::fs::write(&path, tenantd::secrets::keygen().0.expose()).unwrap();
    let shown = path.display().to_string();
    for mode in [0o644, 0o604, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = Identities::load(&path).unwrap_err().to_string();
        assert!(e.contains(&shown) && e.contains(&format!("{mode:04o}")), "{e}");
        assert!(e.contains(&format!("chmod 600 {shown}")), "{e}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    rustix::fs::chown(&path, None, Some(rustix::fs::Gid::from_raw(12345))).unwrap();
    assert!(Identities::load(&path).unwrap_err().to_string().contains("its group"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    chown(&path, 12345);
    assert!(Identities::load(&path).unwrap_err().to_string().contains("owned by uid 12345"));

    // As systemd hands it over with LoadCredential=: root's, 0400, or 0440 for a service that
    // runs as another user.
    chown(&path, 0);
    rustix::fs::chown(&path, None, Some(rustix::fs::Gid::from_raw(0))).unwrap();
    for mode in [0o400, 0o440, 0o600] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        Identities::load(&path).unwrap_or_else(|e| panic!("{mode:o}: {e}"));
    }

    // Through delivery, the tenant's error says the same.
    let w = world();
    let files = w.files("acme", &[("GW", "canary-key-1")]);
    let all: Vec<&str> = files.hashes.keys().map(String::as_str).collect();
    let key = w.disk.path().join("age.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = w.write("acme", &files, &all).unwrap_err();
    assert!(e.contains(&format!("chmod 600 {}", key.display())), "{e}");
    assert!(!w.secrets_of("acme").exists());
}

fn spec(env: &Env, recipient: &str, value: &str) -> String {
    stub_spec(
        "acme",
        &format!(
            "  secrets:\n    GW:\n{}  runtimeConfig:\n    gatewayToken: {{ secret: GW }}\n",
            encrypt(env, recipient, value)
        ),
    )
}

#[test]
fn apply_writes_nothing_through_a_planted_link_and_leaves_the_running_tenant_alone() {
    let Some(env) = Env::new("apply_writes_nothing_through_a_planted_link_and_leaves_the_running_tenant_alone") else {
        return;
    };
    let tmpfs = Tmpfs::new(&env);
    let root = tmpfs.0.join("secrets");
    env.write_config(&format!("[secrets]\nidentity_file = {:?}\ndir = {root:?}\n", env.path("age.key")));
    let recipient = keygen(&env, "age.key");
    env.spec("acme.yaml", &spec(&env, &recipient, "canary-e2e-1"));
    env.apply_ok();
    let id = container_id(&env, "acme").unwrap();

    let victim = env.path("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("keep.txt"), "precious").unwrap();
    let before = snapshot(&victim);
    std::fs::remove_dir_all(root.join("acme")).unwrap();
    std::os::unix::fs::symlink(&victim, root.join("acme")).unwrap();

    // The secret rotated: delivery fails for acme, which keeps running as it was.
    env.spec("acme.yaml", &spec(&env, &recipient, "canary-e2e-2"));
    let out = env.tenantd(&["apply"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("acme: failed:") && stdout(&out).contains("symbolic link"), "{}", stdout(&out));
    assert_eq!(snapshot(&victim), before, "nothing written or removed through the link");
    let c = container(&env, "acme").unwrap();
    assert_eq!((c["Id"].as_str(), c["State"]["Running"].as_bool()), (Some(id.as_str()), Some(true)));
    let status = env.status("acme").unwrap();
    assert!(status["lastError"].as_str().unwrap_or_default().contains("symbolic link"), "{status}");
    let everything = files_under(&victim).iter().map(|p| std::fs::read_to_string(p).unwrap()).collect::<String>();
    assert!(!everything.contains("canary"), "no plaintext on disk");

    // Deleted: the tenant goes, nothing behind the link does.
    env.remove_spec("acme.yaml");
    let out = env.tenantd(&["apply", "--allow-empty"]);
    assert!(
        !out.status.success(),
        "the files that could not be removed are reported: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(snapshot(&victim), before);
    assert!(is_link(&root.join("acme")));
    assert!(container_id(&env, "acme").is_none(), "the container is removed all the same");
}
