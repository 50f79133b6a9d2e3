//! Every sample tenant, brought up on the real engine, passes the container-runtime checks of
//! the CIS Docker Benchmark (section 5) as `docker inspect` shows them. The deliberate
//! deviations are listed in docs/testing.md, under Reliability.

mod support;

use serde_yaml::Value as Yaml;
use support::secrets::*;
use support::*;

/// Host directories CIS 5.5 calls sensitive; none may be mounted, nor anything under them but
/// tmpfs under /dev/shm (where a test's secrets directory lives).
const SENSITIVE: [&str; 8] = ["/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr"];

/// The CIS Docker Benchmark 5.x checks that `docker inspect` (and `docker top`) can answer,
/// each failure named by its number.
fn cis_section_5(name: &str, v: &serde_json::Value, apparmor_on_host: bool) -> Vec<String> {
    let hc = &v["HostConfig"];
    let mut failed = Vec::new();
    let mut check = |id: &str, ok: bool, what: String| {
        if !ok {
            failed.push(format!("{name}: CIS {id}: {what}"));
        }
    };
    let list = |key: &str| hc[key].as_array().cloned().unwrap_or_default();
    let security_opt: Vec<String> = list("SecurityOpt").iter().map(|o| o.as_str().unwrap().to_string()).collect();
    if apparmor_on_host {
        check(
            "5.1",
            !matches!(v["AppArmorProfile"].as_str(), None | Some("") | Some("unconfined")),
            "an AppArmor profile".into(),
        );
    }
    check(
        "5.3",
        list("CapDrop") == [serde_json::json!("ALL")] && list("CapAdd").is_empty(),
        format!("capabilities: drop {} add {}", hc["CapDrop"], hc["CapAdd"]),
    );
    check("5.4", hc["Privileged"] == false, "not privileged".into());
    for m in v["Mounts"].as_array().unwrap() {
        let source = m["Source"].as_str().unwrap_or_default();
        if m["Type"] == "bind" {
            let sensitive = SENSITIVE.contains(&source)
                || ["/boot/", "/etc/", "/lib/", "/proc/", "/sys/", "/usr/"].iter().any(|d| source.starts_with(d))
                || (source.starts_with("/dev/") && !source.starts_with("/dev/shm/"));
            check("5.5", !sensitive, format!("a sensitive host directory mounted: {source}"));
        }
        check(
            "5.19",
            !matches!(m["Propagation"].as_str(), Some("shared" | "rshared")),
            format!("shared propagation: {m}"),
        );
        check("5.31", !source.contains("docker.sock"), format!("the Docker socket mounted: {source}"));
    }
    let bindings = hc["PortBindings"].as_object().cloned().unwrap_or_default();
    check("5.8", bindings.len() <= 1, format!("only the runtime's port is published: {bindings:?}"));
    for b in bindings.values().flat_map(|b| b.as_array().cloned().unwrap_or_default()) {
        let port: u16 = b["HostPort"].as_str().unwrap().parse().unwrap();
        check("5.7", port >= 1025, format!("a privileged host port {port}"));
        check("5.13", b["HostIp"] == "127.0.0.1", format!("published on {} rather than loopback", b["HostIp"]));
    }
    check("5.9", hc["NetworkMode"] != "host", "the host network".into());
    check("5.10", hc["Memory"].as_i64().unwrap_or(0) > 0, "a memory limit".into());
    check(
        "5.11",
        hc["NanoCpus"].as_i64().unwrap_or(0) > 0 || hc["CpuShares"].as_i64().unwrap_or(0) > 0,
        "a CPU limit".into(),
    );
    check("5.12", hc["ReadonlyRootfs"] == true, "a read-only root filesystem".into());
    let restart = &hc["RestartPolicy"];
    check(
        "5.14",
        restart["Name"] == "on-failure" && (1..=5).contains(&restart["MaximumRetryCount"].as_i64().unwrap_or(0)),
        format!("restart on-failure at most 5 times: {restart}"),
    );
    check("5.15", hc["PidMode"] != "host", "the host PID namespace".into());
    check("5.16", hc["IpcMode"] != "host", "the host IPC namespace".into());
    check("5.17", list("Devices").is_empty(), format!("host devices: {}", hc["Devices"]));
    check("5.20", hc["UTSMode"] != "host", "the host UTS namespace".into());
    check(
        "5.21",
        !security_opt.iter().any(|o| o.contains("seccomp") && o.contains("unconfined")),
        "seccomp unconfined".into(),
    );
    check(
        "5.24",
        hc["CgroupParent"].as_str().unwrap_or_default().is_empty(),
        format!("cgroup parent {}", hc["CgroupParent"]),
    );
    check(
        "5.25",
        security_opt.iter().any(|o| o == "no-new-privileges" || o == "no-new-privileges:true"),
        "no-new-privileges".into(),
    );
    let healthcheck = &v["Config"]["Healthcheck"]["Test"];
    check(
        "5.26",
        healthcheck.as_array().is_some_and(|t| !t.is_empty() && t[0] != "NONE"),
        format!("a healthcheck: {healthcheck}"),
    );
    check("5.28", hc["PidsLimit"].as_i64().unwrap_or(0) > 0, "a PIDs limit".into());
    check("5.29", !matches!(hc["NetworkMode"].as_str(), Some("default" | "bridge")), "the default bridge".into());
    check("5.30", hc["UsernsMode"] != "host", "the host user namespace".into());
    let user = v["Config"]["User"].as_str().unwrap_or_default();
    check("4.1", !user.is_empty() && !user.starts_with('0') && user != "root", format!("runs as user {user:?}"));
    failed
}

/// A sample spec made runnable here: the stub image instead of a registry's or a build's, its
/// own probe where the sample relies on the image's, and secrets encrypted to this test's key.
fn runnable(sample: &str, env: &Env, recipient: &str) -> String {
    let mut doc: Yaml = serde_yaml::from_str(sample).unwrap();
    let spec = doc["spec"].as_mapping_mut().unwrap();
    spec.remove("build");
    spec.insert("image".into(), stub::stub_image().into());
    spec.insert("pullPolicy".into(), "Never".into());
    let health = spec.entry("health".into()).or_insert_with(|| Yaml::Mapping(Default::default()));
    health
        .as_mapping_mut()
        .unwrap()
        .insert("probeCommand".into(), serde_yaml::from_str("[/stub-runtime, probe]").unwrap());
    for sidecar in spec.get_mut("sidecars").and_then(Yaml::as_sequence_mut).into_iter().flatten() {
        let sidecar = sidecar.as_mapping_mut().unwrap();
        sidecar.remove("build");
        sidecar.insert("image".into(), stub::stub_image().into());
        sidecar.insert("pullPolicy".into(), "Never".into());
    }
    let names: Vec<Yaml> =
        spec.get("secrets").and_then(Yaml::as_mapping).map(|m| m.keys().cloned().collect()).unwrap_or_default();
    for name in names {
        let block = encrypt(env, recipient, &format!("value-of-{}", name.as_str().unwrap()));
        let entry: Yaml = serde_yaml::from_str(
            &block.lines().map(|l| l.strip_prefix("      ").unwrap_or(l)).collect::<Vec<_>>().join("\n"),
        )
        .unwrap();
        spec["secrets"].as_mapping_mut().unwrap().insert(name, entry);
    }
    serde_yaml::to_string(&doc).unwrap()
}

fn sample_files() -> Vec<std::path::PathBuf> {
    let mut files = vec![];
    for dir in ["tenants.d", "examples/tenants"] {
        for e in std::fs::read_dir(repo_root().join(dir)).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "yaml") {
                files.push(e.path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_sample_tenant_container_passes_the_cis_docker_benchmark_section_5() {
    let Some(env) = Env::new("every_sample_tenant_container_passes_the_cis_docker_benchmark_section_5") else {
        return;
    };
    let tmpfs = Tmpfs::new(&env);
    env.write_config(&format!("[secrets]\nidentity_file = {:?}\ndir = {:?}\n", env.path("age.key"), tmpfs.0));
    let recipient = keygen(&env, "age.key");
    let samples = sample_files();
    assert!(samples.len() >= 6, "samples went missing: {samples:?}");
    for f in &samples {
        let text = std::fs::read_to_string(f).unwrap();
        env.spec(f.file_name().unwrap().to_str().unwrap(), &runnable(&text, &env, &recipient));
    }
    env.apply_ok();

    let info = stdout(&docker(&["info", "--format", "{{json .SecurityOptions}}"]));
    let apparmor_on_host = info.contains("apparmor");
    let names = support::daemon::instance_containers(&env);
    // Every sample but the suspended one runs; globex's has a sidecar.
    assert!(names.len() > samples.len(), "{names:?}");
    let mut failed = Vec::new();
    for name in &names {
        let v = env.inspect(name).unwrap_or_else(|| panic!("{name} exists"));
        failed.extend(cis_section_5(name, &v, apparmor_on_host));
        if v["State"]["Running"] == true {
            let top = stdout(&docker(&["top", name]));
            assert!(!top.contains("sshd"), "CIS 5.6: {name} runs sshd:\n{top}");
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));

    // Beyond the benchmark: no host paths but the tenant's own runtime files, an init process,
    // bounded logs, and file limits.
    for name in &names {
        let v = env.inspect(name).unwrap();
        let hc = &v["HostConfig"];
        assert_eq!(hc["Init"], true, "{name}");
        assert_eq!(hc["LogConfig"]["Type"], "json-file", "{name}");
        assert!(hc["LogConfig"]["Config"]["max-size"].is_string() && hc["LogConfig"]["Config"]["max-file"].is_string());
        assert_eq!(hc["Memory"], hc["MemorySwap"], "{name}: no swap beyond the limit");
        let ulimits: Vec<&str> =
            hc["Ulimits"].as_array().unwrap().iter().map(|u| u["Name"].as_str().unwrap()).collect();
        assert!(ulimits.contains(&"nofile") && ulimits.contains(&"nproc"), "{name}: {ulimits:?}");
        for m in v["Mounts"].as_array().unwrap() {
            let source = m["Source"].as_str().unwrap_or_default();
            assert!(
                m["Type"] == "volume"
                    || m["Type"] == "tmpfs"
                    || source.starts_with(env.state.to_str().unwrap())
                    || source.starts_with(tmpfs.0.to_str().unwrap()),
                "{name}: {m}"
            );
        }
    }
}
