//! A tenant as Kubernetes objects: a Namespace (Pod Security Admission `restricted`), a
//! ServiceAccount without a token, a one-replica Deployment of the runtime and its sidecars, a
//! Service for the runtime port, a default-deny NetworkPolicy, a ConfigMap with the generated
//! runtime config, a Secret for the runtime's secrets and a PersistentVolumeClaim per volume.
//! Pure: no cluster is involved.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    HTTPGetAction, Namespace, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, Secret,
    SecretVolumeSource, SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::render::{numeric_owner, ContainerRole, DesiredContainer, DesiredTenant, CONFIG_FILE, RUNTIME_CONFIG_DIR};
use crate::runtime::model::labels;
use crate::spec::{TenantName, RUNTIME_SECRETS_DIR};

/// The field manager of server-side apply, and the `app.kubernetes.io/managed-by` value.
pub const FIELD_MANAGER: &str = "tenantd";
/// Size of the `/tmp` scratch volume every container gets (memory-backed).
const DEFAULT_TMP_BYTES: u64 = 64 << 20;
/// Size of each volume's claim when the spec gives none.
const DEFAULT_VOLUME_SIZE: &str = "1Gi";

/// Cluster settings that shape the manifests.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// Where the control plane that may reach tenants runs: ingress is admitted only from pods
    /// in namespaces with these labels.
    pub control_plane_namespace_labels: BTreeMap<String, String>,
}

impl Default for KubeOptions {
    fn default() -> Self {
        Self {
            control_plane_namespace_labels: BTreeMap::from([(
                "kubernetes.io/metadata.name".to_string(),
                "tenantd-system".to_string(),
            )]),
        }
    }
}

/// Every object of one tenant, in the order they are applied.
#[derive(Debug, Clone)]
pub struct TenantManifests {
    pub namespace: Namespace,
    pub service_account: ServiceAccount,
    pub network_policy: NetworkPolicy,
    pub config_map: Option<ConfigMap>,
    pub secret: Option<Secret>,
    pub claims: Vec<PersistentVolumeClaim>,
    pub service: Service,
    pub deployment: Deployment,
}

/// The objects of `d` for `instance`.
pub fn manifests(d: &DesiredTenant, instance: &TenantName, opts: &KubeOptions) -> TenantManifests {
    let ns = namespace_name(instance, &d.name);
    let labels = object_labels(instance, &d.name);
    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(ns.clone()),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    let mut ns_labels = labels.clone();
    for mode in ["enforce", "audit", "warn"] {
        ns_labels.insert(format!("pod-security.kubernetes.io/{mode}"), "restricted".into());
        ns_labels.insert(format!("pod-security.kubernetes.io/{mode}-version"), "latest".into());
    }
    let files = d.files.as_ref();
    let config_map = files.and_then(|f| f.config.as_ref()).map(|text| ConfigMap {
        metadata: meta("runtime-config"),
        data: Some(BTreeMap::from([(CONFIG_FILE.to_string(), text.clone())])),
        ..Default::default()
    });
    // Values are filled in by tenantd when it applies; rendered manifests carry the keys only.
    let secret = files.filter(|f| !f.secrets.is_empty()).map(|f| Secret {
        metadata: meta("runtime-secrets"),
        type_: Some("Opaque".into()),
        string_data: Some(f.secrets.keys().map(|k| (k.to_string(), String::new())).collect()),
        ..Default::default()
    });
    let claims = d
        .volumes
        .iter()
        .map(|v| PersistentVolumeClaim {
            metadata: meta(&kube_name(v, instance, &d.name)),
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".into(), Quantity(DEFAULT_VOLUME_SIZE.into()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let main = d.main();
    let port = main.port.unwrap_or(18789);
    let selector = BTreeMap::from([(labels::TENANT.to_string(), d.name.to_string())]);
    TenantManifests {
        namespace: Namespace {
            metadata: ObjectMeta { name: Some(ns.clone()), labels: Some(ns_labels), ..Default::default() },
            ..Default::default()
        },
        service_account: ServiceAccount {
            metadata: meta("runtime"),
            automount_service_account_token: Some(false),
            ..Default::default()
        },
        network_policy: network_policy(meta("default-deny"), d, port, opts),
        config_map,
        secret,
        claims,
        service: Service {
            metadata: meta("runtime"),
            spec: Some(ServiceSpec {
                selector: Some(selector.clone()),
                ports: Some(vec![ServicePort {
                    name: Some("gateway".into()),
                    port: i32::from(port),
                    target_port: Some(IntOrString::Int(i32::from(port))),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        },
        deployment: deployment(meta("runtime"), d, instance, &selector),
    }
}

/// A tenant object's engine name (`<instance>_<tenant>_vol-data`) as a name within the tenant's
/// namespace (`vol-data`).
fn kube_name(engine_name: &str, instance: &TenantName, tenant: &TenantName) -> String {
    engine_name.strip_prefix(&format!("{instance}_{tenant}_")).unwrap_or(engine_name).to_string()
}

/// `<instance>-<tenant>`: both are DNS labels, and the instance is at most 30 characters.
pub fn namespace_name(instance: &TenantName, tenant: &TenantName) -> String {
    format!("{instance}-{tenant}")
}

fn object_labels(instance: &TenantName, tenant: &TenantName) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::INSTANCE.to_string(), instance.to_string()),
        (labels::TENANT.to_string(), tenant.to_string()),
        ("app.kubernetes.io/managed-by".to_string(), FIELD_MANAGER.to_string()),
    ])
}

fn network_policy(metadata: ObjectMeta, d: &DesiredTenant, port: u16, opts: &KubeOptions) -> NetworkPolicy {
    let dns = NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([("kubernetes.io/metadata.name".into(), "kube-system".into())])),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ports: Some(
            ["UDP", "TCP"]
                .into_iter()
                .map(|p| NetworkPolicyPort {
                    protocol: Some(p.into()),
                    port: Some(IntOrString::Int(53)),
                    ..Default::default()
                })
                .collect(),
        ),
    };
    let mut egress = vec![dns];
    if !d.network.internal {
        // `network.egress: allow`: anywhere.
        egress.push(NetworkPolicyEgressRule::default());
    }
    NetworkPolicy {
        metadata,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(LabelSelector {
                        match_labels: Some(opts.control_plane_namespace_labels.clone()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    protocol: Some("TCP".into()),
                    port: Some(IntOrString::Int(i32::from(port))),
                    ..Default::default()
                }]),
            }]),
            egress: Some(egress),
        }),
    }
}

fn deployment(
    metadata: ObjectMeta,
    d: &DesiredTenant,
    instance: &TenantName,
    selector: &BTreeMap<String, String>,
) -> Deployment {
    let mut pod_labels = metadata.labels.clone().unwrap_or_default();
    pod_labels.extend(selector.clone());
    // A changed config, secret or container setting changes the template, which rolls the pods.
    let annotations = BTreeMap::from([(labels::SPEC_HASH.to_string(), d.spec_hash.clone())]);
    let mut volumes =
        vec![Volume { name: "tmp".into(), empty_dir: Some(memory_dir(Some(DEFAULT_TMP_BYTES))), ..Default::default() }];
    for v in &d.volumes {
        let name = kube_name(v, instance, &d.name);
        volumes.push(Volume {
            name: name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: name, read_only: None }),
            ..Default::default()
        });
    }
    if d.files.as_ref().is_some_and(|f| f.config.is_some()) {
        volumes.push(Volume {
            name: "runtime-config".into(),
            config_map: Some(ConfigMapVolumeSource { name: "runtime-config".into(), ..Default::default() }),
            ..Default::default()
        });
    }
    if d.files.as_ref().is_some_and(|f| !f.secrets.is_empty()) {
        volumes.push(Volume {
            name: "runtime-secrets".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some("runtime-secrets".into()),
                default_mode: Some(0o400),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let mut tmpfs_volumes = Vec::new();
    let containers: Vec<Container> = d
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            for (j, t) in c.tmpfs.iter().enumerate() {
                tmpfs_volumes.push(Volume {
                    name: format!("tmpfs-{i}-{j}"),
                    empty_dir: Some(memory_dir(Some(t.size_bytes))),
                    ..Default::default()
                });
            }
            container(i, c, d, instance)
        })
        .collect();
    volumes.extend(tmpfs_volumes);
    let (uid, gid) = numeric_user(&d.main().user);
    Deployment {
        metadata,
        spec: DeploymentSpec {
            replicas: Some(1),
            // One runtime per tenant, never two at once on the same volumes.
            strategy: Some(DeploymentStrategy { type_: Some("Recreate".into()), ..Default::default() }),
            selector: LabelSelector { match_labels: Some(selector.clone()), ..Default::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some("runtime".into()),
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

fn container(index: usize, c: &DesiredContainer, d: &DesiredTenant, instance: &TenantName) -> Container {
    let name = match &c.role {
        ContainerRole::Main => "runtime".to_string(),
        ContainerRole::Sidecar(n) => n.clone(),
    };
    let mut mounts = vec![VolumeMount { name: "tmp".into(), mount_path: "/tmp".into(), ..Default::default() }];
    for m in &c.mounts {
        mounts.push(VolumeMount {
            name: kube_name(&m.volume, instance, &d.name),
            mount_path: m.target.clone(),
            read_only: Some(m.read_only),
            ..Default::default()
        });
    }
    for (j, t) in c.tmpfs.iter().enumerate() {
        mounts.push(VolumeMount {
            name: format!("tmpfs-{index}-{j}"),
            mount_path: t.target.clone(),
            ..Default::default()
        });
    }
    if c.role == ContainerRole::Main {
        if d.files.as_ref().is_some_and(|f| f.config.is_some()) {
            mounts.push(VolumeMount {
                name: "runtime-config".into(),
                mount_path: RUNTIME_CONFIG_DIR.into(),
                read_only: Some(true),
                ..Default::default()
            });
        }
        if d.files.as_ref().is_some_and(|f| !f.secrets.is_empty()) {
            mounts.push(VolumeMount {
                name: "runtime-secrets".into(),
                mount_path: RUNTIME_SECRETS_DIR.into(),
                read_only: Some(true),
                ..Default::default()
            });
        }
    }
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
            initial_delay_seconds: Some((h.start_period_ms / 1000) as i32),
            failure_threshold: Some(h.retries.max(1) as i32),
            ..Default::default()
        })
    });
    let memory = Quantity(c.limits.memory_bytes.to_string());
    let cpu = Quantity(format!("{}m", (c.limits.nano_cpus / 1_000_000).max(1)));
    Container {
        name,
        image: Some(c.image.reference().to_string()),
        args: c.args.clone(),
        env: Some(
            c.env
                .iter()
                .map(|(k, v)| EnvVar { name: k.clone(), value: Some(v.clone()), ..Default::default() })
                .collect(),
        ),
        ports: c.port.map(|p| {
            vec![ContainerPort { container_port: i32::from(p), name: Some("gateway".into()), ..Default::default() }]
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

fn memory_dir(size: Option<u64>) -> EmptyDirVolumeSource {
    EmptyDirVolumeSource {
        medium: Some("Memory".into()),
        size_limit: size.map(|s| Quantity(s.to_string())),
        ..Default::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }
}

fn secs(ms: u64) -> i32 {
    i32::try_from(ms.div_ceil(1000).max(1)).unwrap_or(i32::MAX)
}

/// `uid[:gid]` as numbers; a user given by name cannot be proven non-root, so it maps to the
/// default unprivileged user.
fn numeric_user(user: &str) -> (i64, i64) {
    let (uid, gid) = numeric_owner(user).unwrap_or((10001, 10001));
    (i64::from(uid), i64::from(gid))
}

/// The manifests as one multi-document YAML stream, in apply order.
pub fn to_yaml(m: &TenantManifests) -> String {
    fn doc<T: serde::Serialize + k8s_openapi::Resource>(out: &mut String, obj: &T) {
        let mut value = serde_yaml::to_value(obj).expect("manifests serialize");
        if let serde_yaml::Value::Mapping(map) = &mut value {
            map.insert("apiVersion".into(), T::API_VERSION.into());
            map.insert("kind".into(), T::KIND.into());
        }
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&value).expect("YAML serializes"));
    }
    let mut out = String::new();
    doc(&mut out, &m.namespace);
    doc(&mut out, &m.service_account);
    doc(&mut out, &m.network_policy);
    if let Some(c) = &m.config_map {
        doc(&mut out, c);
    }
    if let Some(s) = &m.secret {
        doc(&mut out, s);
    }
    for c in &m.claims {
        doc(&mut out, c);
    }
    doc(&mut out, &m.service);
    doc(&mut out, &m.deployment);
    out
}
