//! Specs that the schema accepts but no engine could run are refused by `tenantd validate`, each
//! at the line and column of the offending value: mounts over the kernel's filesystems or over
//! tenantd's own mount points, NUL characters, ids beyond 32 bits, and arguments or environment
//! larger than the kernel passes to a program.

mod support;

use support::*;

const HEAD: &str = "apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: acme\nspec:\n  image: x\n";

/// Validates a spec of `HEAD` + `body` and returns its output, which must be a refusal.
fn refused(body: &str) -> (String, String) {
    let env = Env::without_docker();
    let path = env.path("acme.yaml");
    std::fs::write(&path, format!("{HEAD}{body}")).unwrap();
    let file = path.to_str().unwrap().to_string();
    let o = env.tenantd(&["validate", &file]);
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "the spec must be refused:\n{out}");
    (file, out)
}

/// Asserts that `out` holds exactly one error, at `file:line:column`, titled `pointer: message…`.
fn one_error_at(out: &str, file: &str, (line, column): (usize, usize), pointer: &str, message: &str) {
    assert!(out.contains(&format!("--> {file}:{line}:{column}\n")), "expected an error at {line}:{column}:\n{out}");
    assert!(out.contains(&format!("error: {pointer}: {message}")), "expected {pointer}: {message}…:\n{out}");
    assert!(out.contains("1 problem(s) found"), "{out}");
}

#[test]
fn a_volume_on_proc_is_refused() {
    let (file, out) = refused("  volumes: [{name: data, mountPath: /proc}]\n");
    one_error_at(
        &out,
        &file,
        (7, 37),
        "/spec/volumes/0/mountPath",
        r#"mount path "/proc" is the kernel's process filesystem"#,
    );
}

#[test]
fn a_volume_under_sys_or_dev_is_refused() {
    let (file, out) = refused("  volumes:\n    - name: data\n      mountPath: /sys/fs/cgroup\n");
    one_error_at(
        &out,
        &file,
        (9, 18),
        "/spec/volumes/0/mountPath",
        r#"mount path "/sys/fs/cgroup" is under /sys, the kernel's sysfs"#,
    );
    let (file, out) =
        refused("  sidecars:\n    - name: db\n      image: pg\n      volumes: [{name: d, mountPath: /dev/shm}]\n");
    one_error_at(
        &out,
        &file,
        (10, 38),
        "/spec/sidecars/0/volumes/0/mountPath",
        r#"mount path "/dev/shm" is under /dev"#,
    );
}

#[test]
fn a_tmpfs_on_proc_sys_is_refused() {
    let (file, out) = refused("  tmpfs:\n    - mountPath: /proc/sys\n");
    one_error_at(
        &out,
        &file,
        (8, 18),
        "/spec/tmpfs/0/mountPath",
        r#"mount path "/proc/sys" is under /proc, the kernel's process filesystem"#,
    );
}

#[test]
fn a_mount_over_the_runtime_config_or_secrets_of_tenantd_is_refused() {
    let (file, out) = refused("  volumes: [{name: data, mountPath: /etc/openclaw}]\n");
    one_error_at(
        &out,
        &file,
        (7, 37),
        "/spec/volumes/0/mountPath",
        r#"mount path "/etc/openclaw" is where tenantd mounts the runtime's generated config"#,
    );
    let (file, out) = refused("  tmpfs: [{mountPath: /run/secrets/openclaw/x}]\n");
    one_error_at(
        &out,
        &file,
        (7, 23),
        "/spec/tmpfs/0/mountPath",
        r#"mount path "/run/secrets/openclaw/x" is under /run/secrets/openclaw, where tenantd mounts the tenant's secrets"#,
    );
    let (file, out) = refused("  volumes: [{name: data, mountPath: /tmp}]\n");
    one_error_at(&out, &file, (7, 37), "/spec/volumes/0/mountPath", "/tmp is already a tmpfs of every container");
}

#[test]
fn a_nul_in_an_env_value_is_refused() {
    let (file, out) = refused("  env:\n    GREETING: \"hello\\0world\"\n");
    one_error_at(&out, &file, (8, 15), "/spec/env/GREETING", r"contains a NUL character (\0)");
}

#[test]
fn a_nul_in_args_labels_or_a_sidecar_is_refused() {
    let (file, out) = refused("  args: [serve, \"--name=a\\0b\"]\n");
    one_error_at(&out, &file, (7, 17), "/spec/args/1", r"contains a NUL character (\0)");
    let env = Env::without_docker();
    let path = env.path("acme.yaml");
    std::fs::write(
        &path,
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: acme\n  labels: {team: \"a\\0\"}\nspec:\n  image: x\n  sidecars: [{name: db, image: \"pg\\0\"}]\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let o = env.tenantd(&["validate", file]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("--> {file}:5:18\n")) && out.contains("error: /metadata/labels/team: contains a NUL"),
        "{out}"
    );
    assert!(
        out.contains(&format!("--> {file}:8:32\n")) && out.contains("error: /spec/sidecars/0/image: contains a NUL"),
        "{out}"
    );
}

#[test]
fn a_uid_beyond_32_bits_is_refused() {
    let (file, out) = refused("  user: \"4294967296\"\n");
    one_error_at(
        &out,
        &file,
        (7, 9),
        "/spec/user",
        "uid 4294967296 is out of range: uids and gids are at most 4294967294",
    );
    let (file, out) = refused("  user: 1000:4294967295\n");
    one_error_at(&out, &file, (7, 9), "/spec/user", "gid 4294967295 is out of range");
}

#[test]
fn a_900_kb_env_value_is_refused() {
    let value = "x".repeat(900 << 10);
    let (file, out) = refused(&format!("  env:\n    BIG: {value}\n"));
    one_error_at(&out, &file, (8, 10), "/spec/env/BIG", "the variable, as NAME=value, is 921605 bytes; a program is given at most 131072 bytes per argument or variable");
    // Just under the limit is fine; many such values together are not.
    let env = Env::without_docker();
    let path = env.path("acme.yaml");
    let fits = "x".repeat((128 << 10) - "BIG=".len() - 1);
    std::fs::write(&path, format!("{HEAD}  env:\n    BIG: {fits}\n")).unwrap();
    let o = env.tenantd(&["validate", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // Through aliases, as the file itself may hold at most 1 MiB.
    let many: String = (1..9).map(|i| format!("    V{i}: *v\n")).collect();
    let many = format!("    V0: &v {fits}\n{many}");
    let (file, out) = refused(&format!("  env:\n{many}"));
    one_error_at(&out, &file, (8, 5), "/spec/env", "the arguments and environment total");
}
