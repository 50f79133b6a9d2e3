//! The typed objects of one tenant: a Namespace (Pod Security Admission `restricted`), a
//! ServiceAccount without a token, a default-deny NetworkPolicy, a ConfigMap with the generated
//! runtime config, a Secret for the runtime's secrets, a PersistentVolumeClaim per volume, a
//! Service and the Deployment (`pod.rs`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, PersistentVolumeClaimSpec, Secret, Service, ServiceAccount,
    ServicePort, ServiceSpec, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::names::{kube_name, namespace_name, CONFIG_MAP, FIELD_MANAGER, RUNTIME, SECRET};
use super::pod::deployment;
use crate::render::labels;
use crate::render::{DesiredTenant, CONFIG_FILE};
use crate::spec::TenantName;

/// The port the runtime serves when its spec names none.
const DEFAULT_PORT: u16 = 18789;

/// Cluster settings that shape the manifests (`[kubernetes]` in the daemon config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeOptions {
    /// Where the control plane that may reach tenants runs: ingress is admitted only from pods
    /// in namespaces with these labels.
    pub control_plane_namespace_labels: BTreeMap<String, String>,
    /// And, when not empty, only from pods with these labels.
    pub control_plane_pod_labels: BTreeMap<String, String>,
    /// The size each volume's claim asks for.
    pub volume_size: String,
    /// The StorageClass of the claims; `None`: the cluster's default.
    pub storage_class: Option<String>,
}

impl Default for KubeOptions {
    fn default() -> Self {
        Self {
            control_plane_namespace_labels: BTreeMap::from([(
                "kubernetes.io/metadata.name".to_string(),
                "tenantd-system".to_string(),
            )]),
            control_plane_pod_labels: BTreeMap::new(),
            volume_size: "1Gi".to_string(),
            storage_class: None,
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
        metadata: meta(CONFIG_MAP),
        data: Some(BTreeMap::from([(CONFIG_FILE.to_string(), text.clone())])),
        ..Default::default()
    });
    // The keys only: tenantd fills in the values when it applies, and nothing it prints has them.
    let secret = files.filter(|f| !f.secrets.is_empty()).map(|f| Secret {
        metadata: meta(SECRET),
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
                storage_class_name: opts.storage_class.clone(),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".into(), Quantity(opts.volume_size.clone()))])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    let port = d.main().port.unwrap_or(DEFAULT_PORT);
    let selector = BTreeMap::from([(labels::TENANT.to_string(), d.name.to_string())]);
    TenantManifests {
        namespace: Namespace {
            metadata: ObjectMeta { name: Some(ns.clone()), labels: Some(ns_labels), ..Default::default() },
            ..Default::default()
        },
        service_account: ServiceAccount {
            metadata: meta(RUNTIME),
            automount_service_account_token: Some(false),
            ..Default::default()
        },
        network_policy: network_policy(meta("default-deny"), d, port, opts),
        config_map,
        secret,
        claims,
        service: Service {
            metadata: meta(RUNTIME),
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
        deployment: deployment(meta(RUNTIME), d, instance, &selector),
    }
}

fn object_labels(instance: &TenantName, tenant: &TenantName) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::INSTANCE.to_string(), instance.to_string()),
        (labels::TENANT.to_string(), tenant.to_string()),
        ("app.kubernetes.io/managed-by".to_string(), FIELD_MANAGER.to_string()),
    ])
}

fn network_policy(metadata: ObjectMeta, d: &DesiredTenant, port: u16, opts: &KubeOptions) -> NetworkPolicy {
    let selector =
        |labels: &BTreeMap<String, String>| LabelSelector { match_labels: Some(labels.clone()), ..Default::default() };
    let dns = NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(selector(&BTreeMap::from([(
                "kubernetes.io/metadata.name".into(),
                "kube-system".into(),
            )]))),
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
    let control_plane = NetworkPolicyPeer {
        namespace_selector: Some(selector(&opts.control_plane_namespace_labels)),
        pod_selector: (!opts.control_plane_pod_labels.is_empty()).then(|| selector(&opts.control_plane_pod_labels)),
        ..Default::default()
    };
    NetworkPolicy {
        metadata,
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![control_plane]),
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
