//! The Deployment of a tenant's runtime: one replica (none while suspended) of a pod holding the
//! runtime and its sidecars, hardened to the Pod Security Standards "restricted" profile.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HTTPGetAction,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::names::{kube_name, CONFIG_MAP, RUNTIME, SECRET};
use crate::render::{
    numeric_owner, ContainerRole, DesiredContainer, DesiredTenant, ImageSource, ReplaceStrategy, RUNTIME_CONFIG_DIR,
};
use crate::spec::{PullPolicy, TenantName, RUNTIME_SECRETS_DIR};

/// The pod template annotation holding the hash of the runtime's config and secrets: a change
/// to either changes the template, which rolls the pod.
pub const FILES_HASH: &str = "io.tenantd.files-hash";
/// Size of the `/tmp` scratch volume every container gets (memory-backed).
const DEFAULT_TMP_BYTES: u64 = 64 << 20;
/// The uid and gid a container runs as when its spec names a user by name, which cannot be
/// proven non-root.
const FALLBACK_ID: u32 = 10001;

pub(super) fn deployment(
    metadata: ObjectMeta,
    d: &DesiredTenant,
    instance: &TenantName,
    selector: &BTreeMap<String, String>,
) -> Deployment {
    let mut pod_labels = metadata.labels.clone().unwrap_or_default();
    pod_labels.extend(selector.clone());
    let annotations = d.files.as_ref().map(|f| BTreeMap::from([(FILES_HASH.to_string(), f.hash())]));
    let has_config = d.files.as_ref().is_some_and(|f| f.config.is_some());
    let has_secrets = d.files.as_ref().is_some_and(|f| !f.secrets.is_empty());
    let mut volumes =
        vec![Volume { name: "tmp".into(), empty_dir: Some(memory_dir(DEFAULT_TMP_BYTES)), ..Default::default() }];
    for v in &d.volumes {
        let name = kube_name(v, instance, &d.name);
        volumes.push(Volume {
            name: name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: name, read_only: None }),
            ..Default::default()
        });
    }
    if has_config {
        volumes.push(Volume {
            name: CONFIG_MAP.into(),
            config_map: Some(ConfigMapVolumeSource { name: CONFIG_MAP.into(), ..Default::default() }),
            ..Default::default()
        });
    }
    if has_secrets {
        volumes.push(Volume {
            name: SECRET.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(SECRET.into()),
                default_mode: Some(0o400),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let mut containers = Vec::new();
    for (i, c) in d.containers.iter().enumerate() {
        for (j, t) in c.tmpfs.iter().enumerate() {
            volumes.push(Volume {
                name: format!("tmpfs-{i}-{j}"),
                empty_dir: Some(memory_dir(t.size_bytes)),
                ..Default::default()
            });
        }
        let mut mounts = vec![VolumeMount { name: "tmp".into(), mount_path: "/tmp".into(), ..Default::default() }];
        for m in &c.mounts {
            mounts.push(VolumeMount {
                name: kube_name(&m.volume, instance, &d.name),
                mount_path: m.target.clone(),
                // The API server drops `readOnly: false` (Go's omitempty): only `true` is sent.
                read_only: m.read_only.then_some(true),
                ..Default::default()
            });
        }
        for (j, t) in c.tmpfs.iter().enumerate() {
            mounts.push(VolumeMount {
                name: format!("tmpfs-{i}-{j}"),
                mount_path: t.target.clone(),
                ..Default::default()
            });
        }
        if c.role == ContainerRole::Main {
            if has_config {
                mounts.push(read_only_mount(CONFIG_MAP, RUNTIME_CONFIG_DIR));
            }
            if has_secrets {
                mounts.push(read_only_mount(SECRET, RUNTIME_SECRETS_DIR));
            }
        }
        containers.push(container(c, mounts));
    }
    let (uid, gid) = numeric_user(&d.main().user);
    Deployment {
        metadata,
        spec: DeploymentSpec {
            replicas: Some(if d.suspended { 0 } else { 1 }),
            strategy: Some(deployment_strategy(cluster_strategy(d).0)),
            selector: LabelSelector { match_labels: Some(selector.clone()), ..Default::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(pod_labels), annotations, ..Default::default() }),
                spec: Some(PodSpec {
                    service_account_name: Some(RUNTIME.into()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(uid),
                        run_as_group: Some(gid),
                        fs_group: Some(gid),
                        seccomp_profile: Some(runtime_default()),
                        ..Default::default()
                    }),
                    containers,
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

fn read_only_mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount { name: volume.into(), mount_path: path.into(), read_only: Some(true), ..Default::default() }
}

/// The container's name in the pod: `runtime` for the main container, else the sidecar's name.
pub fn container_name(role: &ContainerRole) -> &str {
    match role {
        ContainerRole::Main => RUNTIME,
        ContainerRole::Sidecar(n) => n,
        // Never rendered for a cluster (`render_for` leaves it out).
        ContainerRole::Ingress => "ingress",
    }
}

fn container(c: &DesiredContainer, mounts: Vec<VolumeMount>) -> Container {
    let (uid, gid) = numeric_user(&c.user);
    let probe = c.health.as_ref().and_then(|h| {
        let port = c.port?;
        Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some(h.path.clone()),
                port: IntOrString::Int(i32::from(port)),
                ..Default::default()
            }),
            period_seconds: Some(secs(h.interval_ms)),
            timeout_seconds: Some(secs(h.timeout_ms)),
            initial_delay_seconds: Some(i32::try_from(h.start_period_ms / 1000).unwrap_or(i32::MAX)),
            failure_threshold: Some(i32::try_from(h.retries.max(1)).unwrap_or(i32::MAX)),
            ..Default::default()
        })
    });
    let memory = Quantity(bytes(u64::try_from(c.limits.memory_bytes).unwrap_or(0)));
    let millicores = (c.limits.nano_cpus / 1_000_000).max(1);
    let cpu = Quantity(if millicores % 1000 == 0 { (millicores / 1000).to_string() } else { format!("{millicores}m") });
    Container {
        name: container_name(&c.role).to_string(),
        image: Some(c.image.reference().to_string()),
        image_pull_policy: Some(pull_policy(&c.image).into()),
        args: c.args.clone(),
        env: Some(
            c.env
                .iter()
                .map(|(k, v)| EnvVar { name: k.clone(), value: Some(v.clone()), ..Default::default() })
                .collect(),
        ),
        ports: c.port.map(|p| {
            // Port names are unique in a pod: only the runtime's is named.
            let name = (c.role == ContainerRole::Main).then(|| "gateway".to_string());
            vec![ContainerPort { container_port: i32::from(p), name, ..Default::default() }]
        }),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([("memory".into(), memory.clone()), ("cpu".into(), cpu.clone())])),
            limits: Some(BTreeMap::from([("memory".into(), memory), ("cpu".into(), cpu)])),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(uid),
            run_as_group: Some(gid),
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
            seccomp_profile: Some(runtime_default()),
            ..Default::default()
        }),
        liveness_probe: probe.clone(),
        readiness_probe: probe,
        volume_mounts: Some(mounts),
        ..Default::default()
    }
}

/// A spec's pull policy as the kubelet's. An image the spec builds is referenced by its local
/// tag: the cluster's nodes must have it (loaded or pushed), so it is pulled only if missing.
fn pull_policy(image: &ImageSource) -> &'static str {
    match image {
        ImageSource::Registry { pull_policy: PullPolicy::Always, .. } => "Always",
        ImageSource::Registry { pull_policy: PullPolicy::Never, .. } => "Never",
        ImageSource::Registry { pull_policy: PullPolicy::IfNotPresent, .. }
        | ImageSource::Build { .. }
        | ImageSource::Ingress { .. } => "IfNotPresent",
    }
}

fn memory_dir(size: u64) -> EmptyDirVolumeSource {
    EmptyDirVolumeSource {
        medium: Some("Memory".into()),
        size_limit: Some(Quantity(bytes(size))),
        ..Default::default()
    }
}

/// Bytes in the form the API server keeps (`512Mi`, not `536870912`), so what it returns reads
/// as what was sent.
fn bytes(n: u64) -> String {
    for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        if n != 0 && n.is_multiple_of(1u64 << shift) {
            return format!("{}{suffix}", n >> shift);
        }
    }
    n.to_string()
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }
}

fn secs(ms: u64) -> i32 {
    i32::try_from(ms.div_ceil(1000).max(1)).unwrap_or(i32::MAX)
}

/// `uid[:gid]` as numbers; a user given by name maps to the default unprivileged user.
fn numeric_user(user: &str) -> (i64, i64) {
    let (uid, gid) = numeric_owner(user).unwrap_or((FALLBACK_ID, FALLBACK_ID));
    (i64::from(uid), i64::from(gid))
}

/// How the cluster replaces a tenant's pod, and why. A tenant without volumes is replaced start
/// first: the new pod becomes ready while the old one serves (`RollingUpdate`, none unavailable).
/// A tenant with volumes is replaced stop first (`Recreate`): its claims are `ReadWriteOnce`, and
/// two pods on different nodes could not both mount them.
pub fn cluster_strategy(d: &DesiredTenant) -> (ReplaceStrategy, &'static str) {
    if d.rollout.strategy == ReplaceStrategy::StopFirst {
        (ReplaceStrategy::StopFirst, "its spec asks for it (rollout.strategy stopFirst; Recreate)")
    } else if d.volumes.is_empty() {
        (ReplaceStrategy::StartFirst, "the new pod is ready before the old one stops (RollingUpdate, maxUnavailable 0)")
    } else {
        (ReplaceStrategy::StopFirst, "its volume claims take one pod at a time (Recreate; volumes are kept)")
    }
}

fn deployment_strategy(strategy: ReplaceStrategy) -> DeploymentStrategy {
    match strategy {
        ReplaceStrategy::StopFirst => DeploymentStrategy { type_: Some("Recreate".into()), ..Default::default() },
        ReplaceStrategy::StartFirst => DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_unavailable: Some(IntOrString::Int(0)),
                max_surge: Some(IntOrString::Int(1)),
            }),
        },
    }
}
