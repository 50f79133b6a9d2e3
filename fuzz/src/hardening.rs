//! What no spec may change about how its containers run: on Docker, the create body; on a
//! cluster, the Deployment's pod. Each check panics with what it found.

use std::collections::HashMap;
use std::path::{Component, Path};

use bollard::models::{HostConfigCgroupnsModeEnum, MountType};
use serde_json::Value;
use tenantd::render::kubernetes::ObjectKind;
use tenantd::render::{DesiredTenant, FileRoots};
use tenantd::runtime::docker::NO_IPV6_SYSCTLS;
use tenantd::spec::TenantName;

use crate::create_body;

/// The create body of every container of `d`: no privilege, no added capability, no host
/// namespace, no host path but the tenant's own runtime files (read-only), no engine socket.
pub fn check_docker(d: &DesiredTenant, instance: &TenantName, roots: &FileRoots, host_port: Option<u16>) {
    for c in &d.containers {
        let ulimits = tenantd::runtime::docker::ContainerUlimits::default();
        let body = create_body(instance, &d.name, &d.spec_hash, c, &d.network.name, host_port, &ulimits);
        let name = &c.name;
        let h = body.host_config.as_ref().unwrap_or_else(|| panic!("{name}: no host config"));
        assert_eq!(h.privileged, Some(false), "{name}: privileged");
        assert_eq!(h.cap_drop.as_deref(), Some(&["ALL".to_string()][..]), "{name}: cap_drop");
        assert!(h.cap_add.as_ref().is_none_or(Vec::is_empty), "{name}: cap_add {:?}", h.cap_add);
        assert_eq!(h.readonly_rootfs, Some(true), "{name}: writable root filesystem");
        let opts = h.security_opt.as_deref().unwrap_or_default();
        assert!(opts.iter().any(|o| o == "no-new-privileges"), "{name}: security_opt {opts:?}");
        assert!(
            !opts.iter().any(|o| o.contains("unconfined") || o.contains("disable")),
            "{name}: security_opt {opts:?}"
        );
        assert_eq!(h.network_mode.as_deref(), Some(d.network.name.as_str()), "{name}: network_mode");
        assert!(
            d.network.name != "host" && d.network.name != "none" && !d.network.name.contains(':'),
            "{name}: network {}",
            d.network.name
        );
        assert_eq!(h.ipc_mode.as_deref(), Some("private"), "{name}: ipc_mode");
        assert_eq!(h.cgroupns_mode, Some(HostConfigCgroupnsModeEnum::PRIVATE), "{name}: cgroupns_mode");
        for (what, mode) in [("pid_mode", &h.pid_mode), ("uts_mode", &h.uts_mode), ("userns_mode", &h.userns_mode)] {
            assert!(mode.is_none(), "{name}: {what} {mode:?}");
        }
        assert!(h.binds.is_none() && h.volumes_from.is_none(), "{name}: binds or volumes_from");
        assert!(h.devices.as_ref().is_none_or(Vec::is_empty), "{name}: devices");
        assert!(h.device_requests.is_none() && h.device_cgroup_rules.is_none(), "{name}: device access");
        assert!(h.cgroup_parent.is_none(), "{name}: cgroup_parent");
        let no_ipv6: HashMap<String, String> =
            NO_IPV6_SYSCTLS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(h.sysctls.as_ref(), Some(&no_ipv6), "{name}: sysctls");
        assert!(h.oom_kill_disable.is_none() && h.oom_score_adj.is_none(), "{name}: OOM settings");
        assert!(h.memory.is_some() && h.memory == h.memory_swap, "{name}: memory {:?}/{:?}", h.memory, h.memory_swap);
        assert!(h.pids_limit.is_some_and(|p| p > 0), "{name}: pids_limit {:?}", h.pids_limit);

        for m in h.mounts.as_deref().unwrap_or_default() {
            let source = m.source.as_deref().unwrap_or_default();
            match m.typ {
                Some(MountType::VOLUME) => {
                    assert!(d.volumes.iter().any(|v| v == source), "{name}: volume {source} not the tenant's");
                    assert!(!source.contains('/'), "{name}: volume source {source} is a path");
                }
                Some(MountType::BIND) => {
                    let dir = Path::new(source);
                    // Only the ingress writes to a bind: its own directory, for its report.
                    let ingress = dir.parent() == Some(roots.ingress.as_path());
                    assert_eq!(m.read_only, Some(!ingress), "{name}: bind {source} read-only: {:?}", m.read_only);
                    let own = [&roots.config, &roots.secrets, &roots.ingress]
                        .iter()
                        .any(|r| dir.parent() == Some(r.as_path()))
                        && dir.file_name().and_then(|f| f.to_str()) == Some(d.name.as_str());
                    assert!(own, "{name}: bind of {source}, not the tenant's runtime files");
                    assert!(dir.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_))));
                }
                ref other => panic!("{name}: mount of type {other:?}"),
            }
            assert!(!source.contains("docker.sock"), "{name}: mount of {source}");
        }
        for (target, options) in h.tmpfs.iter().flatten() {
            assert!(options.contains("noexec") && options.contains("nosuid"), "{name}: tmpfs {target} {options}");
        }
        for bindings in h.port_bindings.iter().flat_map(|p| p.values()).flatten().flatten() {
            assert_eq!(bindings.host_ip.as_deref(), Some("127.0.0.1"), "{name}: port published beyond loopback");
        }
        let text = serde_json::to_string(&body).expect("a create body serializes");
        for line in secret_lines(d) {
            assert!(!text.contains(line), "{name}: a secret shows in the create body: {line}");
        }
        let user = body.user.as_deref().unwrap_or_default();
        let uid = user.split(':').next().unwrap_or_default();
        assert!(uid.parse::<u32>().is_ok_and(|u| u != 0), "{name}: user {user:?}");
    }
}

/// The body lines of the tenant's secrets (age ciphertext): none may leave tenantd but as a file.
pub fn secret_lines(d: &DesiredTenant) -> impl Iterator<Item = &str> {
    let secrets = d.files.iter().flat_map(|f| f.secrets.values());
    secrets.flat_map(|s| s.expose().lines().filter(|l| l.len() > 16 && !l.starts_with("---")))
}

/// The manifests hold no secret value. The Deployment's pod: no host namespace or path, no privilege, every capability dropped, a
/// read-only root, a non-root user, no service account token.
pub fn check_kubernetes(d: &DesiredTenant) {
    let objects = d.cluster.as_deref().unwrap_or_default();
    for o in objects {
        let text = o.manifest.to_string();
        for line in secret_lines(d) {
            assert!(!text.contains(line), "{} {}: a secret shows in the manifest: {line}", o.kind, o.name);
        }
    }
    for o in objects.iter().filter(|o| o.kind == ObjectKind::Deployment) {
        let pod = &o.manifest["spec"]["template"]["spec"];
        for key in ["hostNetwork", "hostPID", "hostIPC", "hostUsers"] {
            assert!(matches!(pod.get(key), None | Some(Value::Bool(false))), "{}: {key}", o.name);
        }
        assert_eq!(pod["automountServiceAccountToken"], Value::Bool(false), "{}: token", o.name);
        for v in pod["volumes"].as_array().into_iter().flatten() {
            assert!(v.get("hostPath").is_none(), "{}: hostPath volume {v}", o.name);
        }
        let containers = pod["containers"].as_array().into_iter().flatten();
        let init = pod.get("initContainers").and_then(Value::as_array).into_iter().flatten();
        for c in containers.chain(init) {
            let sc = &c["securityContext"];
            let at = format!("{}/{}", o.name, c["name"]);
            assert_eq!(sc["privileged"], Value::Bool(false), "{at}: privileged");
            assert_eq!(sc["allowPrivilegeEscalation"], Value::Bool(false), "{at}: privilege escalation");
            assert_eq!(sc["readOnlyRootFilesystem"], Value::Bool(true), "{at}: writable root");
            assert_eq!(sc["runAsNonRoot"], Value::Bool(true), "{at}: runAsNonRoot");
            assert!(sc["runAsUser"].as_i64().is_some_and(|u| u > 0), "{at}: runAsUser {}", sc["runAsUser"]);
            assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]), "{at}: capabilities");
            assert!(sc["capabilities"].get("add").is_none_or(Value::is_null), "{at}: capabilities added");
            assert!(c
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .all(|p| p.get("hostPort").is_none()));
        }
    }
}
