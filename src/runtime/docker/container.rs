//! The engine's create body for a [`DesiredContainer`], hardened by default. Pure: no I/O.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, HostConfigCgroupnsModeEnum, HostConfigLogConfig,
    Mount, MountType, NetworkingConfig, PortBinding, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
};

use super::scope::object_labels;
use super::ulimits::ContainerUlimits;
use crate::render::labels;
use crate::render::{DesiredContainer, Healthcheck};
use crate::spec::TenantName;

/// IPv6 off inside the container. Tenant networks are IPv4 only; Docker then switches IPv6 off
/// in the container by itself, Podman does not, and a container with IPv6 on reaches the
/// host's services bound to `[::]` through its bridge's link-local address, which no rule on
/// IPv4 addresses sees.
pub const NO_IPV6_SYSCTLS: [(&str, &str); 2] =
    [("net.ipv6.conf.all.disable_ipv6", "1"), ("net.ipv6.conf.default.disable_ipv6", "1")];

fn no_ipv6() -> HashMap<String, String> {
    NO_IPV6_SYSCTLS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Options of every tmpfs: writable, but nothing on it runs or gains privileges.
const TMPFS_OPTIONS: &str = "rw,noexec,nosuid,nodev";
/// The `/tmp` every container gets (a spec's own `/tmp` entry replaces it).
const DEFAULT_TMP_SIZE: &str = "64m";
/// Seconds between SIGTERM and SIGKILL when the engine stops the container on its own.
const STOP_TIMEOUT_SECS: i64 = 10;
/// The engine restarts a crashed container this many times; tenantd supervises beyond that.
const RESTART_RETRIES: i64 = 5;

/// What a container is created with: everything in `c`, on `network`, with the port published on
/// `127.0.0.1:host_port` only when both the container publishes one and a host port is given,
/// and with `ulimits`.
pub fn create_body(
    instance: &TenantName,
    tenant: &TenantName,
    spec_hash: &str,
    c: &DesiredContainer,
    network: &str,
    host_port: Option<u16>,
    ulimits: &ContainerUlimits,
) -> ContainerCreateBody {
    let published = c.publish_port.zip(host_port);
    let port_key = published.map(|(port, _)| format!("{port}/tcp"));

    let mut tmpfs = HashMap::from([("/tmp".to_string(), format!("{TMPFS_OPTIONS},size={DEFAULT_TMP_SIZE}"))]);
    for t in &c.tmpfs {
        tmpfs.insert(t.target.clone(), format!("{TMPFS_OPTIONS},size={}", t.size_bytes));
    }

    let host_config = HostConfig {
        cap_drop: Some(vec!["ALL".into()]),
        readonly_rootfs: Some(true),
        security_opt: Some(vec!["no-new-privileges".into()]),
        privileged: Some(false),
        init: Some(true),
        ipc_mode: Some("private".into()),
        // The default on cgroup v1 engines is the host's cgroup namespace.
        cgroupns_mode: Some(HostConfigCgroupnsModeEnum::PRIVATE),
        tmpfs: Some(tmpfs),
        // nproc counts every process of the uid on the whole host (there is no user namespace),
        // so it is a host-wide backstop; the pids limit is the per-container cap. Neither is
        // part of the config hash nor observed: changing them never recreates a container.
        ulimits: Some(vec![ulimit("nofile", ulimits.nofile), ulimit("nproc", ulimits.nproc)]),
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(HashMap::from([
                ("max-size".to_string(), "10m".to_string()),
                ("max-file".to_string(), "3".to_string()),
            ])),
        }),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::ON_FAILURE),
            maximum_retry_count: Some(RESTART_RETRIES),
        }),
        network_mode: Some(network.to_string()),
        sysctls: Some(no_ipv6()),
        mounts: Some(
            c.mounts
                .iter()
                .map(|m| Mount {
                    target: Some(m.target.clone()),
                    source: Some(m.volume.clone()),
                    typ: Some(MountType::VOLUME),
                    read_only: Some(m.read_only),
                    ..Default::default()
                })
                .chain(c.binds.iter().map(|b| Mount {
                    target: Some(b.target.clone()),
                    source: Some(b.source.clone()),
                    typ: Some(MountType::BIND),
                    read_only: Some(!b.writable),
                    ..Default::default()
                }))
                .collect(),
        ),
        port_bindings: published.map(|(port, host_port)| {
            HashMap::from([(
                format!("{port}/tcp"),
                Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(host_port.to_string()) }]),
            )])
        }),
        ..Default::default()
    };
    let host_config = super::limits::with_limits(host_config, &c.limits);

    ContainerCreateBody {
        image: Some(c.image.reference().to_string()),
        cmd: c.args.clone(),
        env: Some(c.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        user: Some(c.user.clone()),
        labels: Some(container_labels(instance, tenant, spec_hash, c, published.map(|p| p.1))),
        healthcheck: c.health.as_ref().map(healthcheck),
        stop_timeout: Some(STOP_TIMEOUT_SECS),
        exposed_ports: port_key.map(|k| vec![k]),
        host_config: Some(host_config),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network.to_string(),
                EndpointSettings { aliases: Some(vec![c.alias.clone()]), ..Default::default() },
            )])),
        }),
        ..Default::default()
    }
}

fn container_labels(
    instance: &TenantName,
    tenant: &TenantName,
    spec_hash: &str,
    c: &DesiredContainer,
    host_port: Option<u16>,
) -> HashMap<String, String> {
    let mut l = object_labels(instance, tenant);
    let field_hashes = c.field_hashes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    l.insert(labels::ROLE.into(), c.role.label());
    l.insert(labels::CONFIG_HASH.into(), c.config_hash.clone());
    l.insert(labels::FIELD_HASHES.into(), field_hashes);
    l.insert(labels::SPEC_HASH.into(), spec_hash.to_string());
    l.insert(labels::APPLIED.into(), c.applied.clone());
    if let Some(port) = host_port {
        l.insert(labels::HOST_PORT.into(), port.to_string());
    }
    for (k, v) in &c.user_labels {
        l.insert(format!("{}{k}", labels::USER_PREFIX), v.clone());
    }
    l
}

fn healthcheck(h: &Healthcheck) -> HealthConfig {
    let ns = |ms: u64| i64::try_from(ms.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
    HealthConfig {
        test: Some(std::iter::once("CMD".to_string()).chain(h.command.iter().cloned()).collect()),
        interval: Some(ns(h.interval_ms)),
        timeout: Some(ns(h.timeout_ms)),
        start_period: Some(ns(h.start_period_ms)),
        retries: Some(i64::from(h.retries)),
        start_interval: None,
    }
}

fn ulimit(name: &str, limit: i64) -> ResourcesUlimits {
    ResourcesUlimits { name: Some(name.into()), soft: Some(limit), hard: Some(limit) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::render::{ContainerRole, ImageSource, Limits, TmpfsPlan, VolumeMountPlan};
    use crate::spec::PullPolicy;

    fn desired() -> DesiredContainer {
        DesiredContainer {
            role: ContainerRole::Main,
            name: "prod-acme".into(),
            alias: "runtime".into(),
            image: ImageSource::Registry { reference: "example/app:1".into(), pull_policy: PullPolicy::IfNotPresent },
            args: Some(vec!["serve".into()]),
            env: BTreeMap::from([("B".into(), "2".into()), ("A".into(), "1".into())]),
            user: "10001:10001".into(),
            publish_port: Some(18789),
            port: Some(18789),
            mounts: vec![VolumeMountPlan { volume: "prod-acme-data".into(), target: "/data".into(), read_only: false }],
            binds: vec![],
            tmpfs: vec![TmpfsPlan { target: "/run".into(), size_bytes: 1024 }],
            health: Some(Healthcheck {
                command: vec!["/app".into(), "probe".into(), "http://127.0.0.1:18789/health".into()],
                interval_ms: 2000,
                timeout_ms: 1000,
                start_period_ms: 0,
                retries: 3,
                path: "/health".into(),
            }),
            limits: Limits { memory_bytes: 64 << 20, nano_cpus: 500_000_000, pids: 64 },
            user_labels: BTreeMap::from([("team".into(), "a".into())]),
            config_hash: "v1:c".into(),
            field_hashes: BTreeMap::from([("image".into(), "i".into()), ("env".into(), "e".into())]),
            applied: "{}".into(),
        }
    }

    #[test]
    fn body_is_hardened_and_labelled() {
        let inst: TenantName = "prod".parse().unwrap();
        let tenant: TenantName = "acme".parse().unwrap();
        let b = create_body(&inst, &tenant, "v1:s", &desired(), "prod-acme", Some(19001), &ContainerUlimits::default());
        let h = b.host_config.as_ref().unwrap();
        assert_eq!(h.cap_drop.as_deref(), Some(&["ALL".to_string()][..]));
        assert_eq!(h.readonly_rootfs, Some(true));
        assert_eq!(h.init, Some(true));
        assert_eq!(h.memory, h.memory_swap);
        assert_eq!(h.network_mode.as_deref(), Some("prod-acme"));
        let sysctls = h.sysctls.as_ref().unwrap();
        assert_eq!(sysctls.get("net.ipv6.conf.all.disable_ipv6").map(String::as_str), Some("1"), "{sysctls:?}");
        assert_eq!(h.binds, None);
        let limits: Vec<_> = h.ulimits.iter().flatten().map(|u| (u.name.as_deref(), u.soft, u.hard)).collect();
        assert_eq!(limits, [(Some("nofile"), Some(4096), Some(4096)), (Some("nproc"), Some(16384), Some(16384))]);
        let tmpfs = h.tmpfs.as_ref().unwrap();
        assert_eq!(tmpfs["/tmp"], "rw,noexec,nosuid,nodev,size=64m");
        assert_eq!(tmpfs["/run"], "rw,noexec,nosuid,nodev,size=1024");
        let binding = &h.port_bindings.as_ref().unwrap()["18789/tcp"].as_ref().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(binding.host_port.as_deref(), Some("19001"));
        assert_eq!(b.env.as_deref(), Some(&["A=1".to_string(), "B=2".to_string()][..]));
        let l = b.labels.as_ref().unwrap();
        assert_eq!(l[labels::FIELD_HASHES], "env=e,image=i");
        assert_eq!(l[labels::HOST_PORT], "19001");
        assert_eq!(l[labels::ROLE], "main");
        assert_eq!(l["io.tenantd.label.team"], "a");
        let hc = b.healthcheck.as_ref().unwrap();
        assert_eq!(hc.test.as_ref().unwrap()[0], "CMD");
        assert_eq!(hc.interval, Some(2_000_000_000));
    }

    #[test]
    fn no_port_is_published_without_a_host_port() {
        let inst: TenantName = "prod".parse().unwrap();
        let b = create_body(&inst, &inst, "v1:s", &desired(), "n", None, &ContainerUlimits::default());
        assert_eq!(b.host_config.unwrap().port_bindings, None);
        assert_eq!(b.exposed_ports, None);
        assert!(!b.labels.unwrap().contains_key(labels::HOST_PORT));
    }
}
