//! Spec → `DesiredTenant`: names, hardening-relevant settings and hashes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::files::{BindPlan, FileRoots, OpenClawFiles, CONFIG_FILE, CONFIG_PATH_ENV, RUNTIME_CONFIG_DIR};
use super::hash::{canonical_json, field_hash, versioned_hash};
use super::ingress;
use super::limits::Limits;
use super::model::*;
use crate::spec::{
    BuildContext, BuildSpec, Egress, Health, LoadedSpec, PullPolicy, Resources, RolloutStrategy, TenantName,
    TmpfsMount, VolumeMount,
};

/// The user a container runs as when the spec names none.
pub const DEFAULT_USER: &str = "10001:10001";

/// The network alias of a tenant's main container.
pub const MAIN_ALIAS: &str = "runtime";

/// Engine object names: `<instance>_<tenant>[_<part>]`. `_` cannot occur in a DNS label, so
/// names of different instances, tenants and parts never collide.
pub fn object_name(instance: &TenantName, tenant: &TenantName, part: Option<&str>) -> String {
    match part {
        Some(p) => format!("{instance}_{tenant}_{p}"),
        None => format!("{instance}_{tenant}"),
    }
}

/// Renders one valid spec for `instance`; `roots` says where runtime files live on the host.
pub fn render(spec: &LoadedSpec, instance: &TenantName, roots: &FileRoots) -> DesiredTenant {
    let file = &spec.file;
    let s = &file.spec;
    let tenant = &file.metadata.name;
    let files = OpenClawFiles::of(tenant, s, s.user.as_deref().unwrap_or(DEFAULT_USER), roots);
    let mut main_env = s.env.clone();
    if files.as_ref().is_some_and(|f| f.config.is_some()) {
        main_env.insert(CONFIG_PATH_ENV.to_string(), format!("{RUNTIME_CONFIG_DIR}/{CONFIG_FILE}"));
    }
    let network =
        DesiredNetwork { name: object_name(instance, tenant, None), internal: s.network.egress == Egress::Deny };
    let user_labels = file.metadata.labels.clone();

    let main = ContainerInput {
        role: ContainerRole::Main,
        alias: MAIN_ALIAS.to_string(),
        image: image_source(s.image.as_deref(), s.build.as_ref(), s.pull_policy, spec.contexts.get("/spec/build")),
        args: s.args.clone(),
        env: main_env,
        user: s.user.clone(),
        port: Some(s.port),
        publish: s.network.egress == Egress::Allow,
        volumes: &s.volumes,
        tmpfs: &s.tmpfs,
        health: Some(&s.health),
        resources: &s.resources,
        binds: files.as_ref().map(OpenClawFiles::binds).unwrap_or_default(),
    };
    let mut containers = vec![container(instance, tenant, &network, &user_labels, main)];
    // A published runtime that starts first needs an endpoint that outlives it: the ingress.
    let ingress_dir = (s.network.egress == Egress::Allow && s.rollout.strategy == RolloutStrategy::StartFirst)
        .then(|| roots.ingress.join(tenant.as_str()));
    let mut sidecars: Vec<_> = s.sidecars.iter().enumerate().collect();
    sidecars.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    for (i, sc) in sidecars {
        let input = ContainerInput {
            role: ContainerRole::Sidecar(sc.name.to_string()),
            alias: sc.name.to_string(),
            image: image_source(
                sc.image.as_deref(),
                sc.build.as_ref(),
                sc.pull_policy,
                spec.contexts.get(&format!("/spec/sidecars/{i}/build")),
            ),
            args: sc.args.clone(),
            env: sc.env.clone(),
            user: sc.user.clone(),
            port: sc.port,
            publish: false,
            volumes: &sc.volumes,
            tmpfs: &sc.tmpfs,
            health: sc.health.as_ref(),
            resources: &sc.resources,
            binds: vec![],
        };
        containers.push(container(instance, tenant, &network, &user_labels, input));
    }

    if let Some(dir) = &ingress_dir {
        let input = ContainerInput {
            role: ContainerRole::Ingress,
            alias: ingress::INGRESS_ALIAS.to_string(),
            image: ingress::image(),
            args: Some(ingress::args()),
            env: BTreeMap::new(),
            user: Some(format!("{0}:{0}", ingress::INGRESS_UID)),
            port: Some(ingress::INGRESS_PORT),
            publish: true,
            volumes: &[],
            tmpfs: &[],
            health: None,
            resources: &Resources::default(),
            binds: vec![ingress::bind(dir)],
        };
        let mut c = container(instance, tenant, &network, &user_labels, input);
        c.limits = ingress::limits();
        c.health = Some(ingress::healthcheck());
        let view = ContainerView::of(&c, &network);
        c.field_hashes = view.field_hashes();
        c.config_hash = versioned_hash(&c.field_hashes);
        c.applied = view.to_json();
        containers.push(c);
    }

    let mut volumes: Vec<String> = containers.iter().flat_map(|c| c.mounts.iter().map(|m| m.volume.clone())).collect();
    volumes.sort();
    volumes.dedup();

    let rollout = RolloutPlan {
        strategy: match s.rollout.strategy {
            RolloutStrategy::StartFirst => ReplaceStrategy::StartFirst,
            RolloutStrategy::StopFirst => ReplaceStrategy::StopFirst,
        },
        drain_ms: s.rollout.drain(s.health.interval).get().as_millis() as u64,
    };
    let spec_hash = versioned_hash(&TenantHashView {
        network: &network,
        volumes: &volumes,
        // The ingress is tenantd's, not the spec's: it leaves the spec hash as it was.
        containers: containers
            .iter()
            .filter(|c| c.role != ContainerRole::Ingress)
            .map(|c| (c.config_hash.as_str(), c.limits))
            .collect(),
        suspended: s.suspend,
        files: files.as_ref().map(|f| (f.hash(), f.reload)),
    });
    DesiredTenant {
        name: tenant.clone(),
        network,
        volumes,
        containers,
        suspended: s.suspend,
        spec_hash,
        files,
        cluster: None,
        rollout,
        ingress_dir,
    }
}

#[derive(Serialize)]
struct TenantHashView<'a> {
    network: &'a DesiredNetwork,
    volumes: &'a [String],
    containers: Vec<(&'a str, Limits)>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    suspended: bool,
    /// Runtime files and how they reach the runtime; absent for tenants without any, so their
    /// hashes are what they were before runtime files existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<(String, crate::spec::ReloadPolicy)>,
}

struct ContainerInput<'a> {
    role: ContainerRole,
    alias: String,
    image: ImageSource,
    args: Option<Vec<String>>,
    env: BTreeMap<String, String>,
    user: Option<String>,
    port: Option<u16>,
    publish: bool,
    volumes: &'a [VolumeMount],
    tmpfs: &'a [TmpfsMount],
    health: Option<&'a Health>,
    resources: &'a Resources,
    binds: Vec<BindPlan>,
}

fn image_source(
    image: Option<&str>,
    build: Option<&BuildSpec>,
    pull_policy: PullPolicy,
    context: Option<&BuildContext>,
) -> ImageSource {
    match (image, build, context) {
        (_, Some(_), Some(ctx)) => ImageSource::Build {
            context: ctx.dir.clone(),
            dockerfile: ctx.dockerfile.clone(),
            tag: format!("tenantd.local/{}:{}", context_repo_name(ctx), &ctx.digest[..16]),
            digest: ctx.digest.clone(),
        },
        (Some(reference), _, _) => ImageSource::Registry { reference: reference.to_string(), pull_policy },
        // The loader resolves every build context of a valid spec; reaching here is a bug in it.
        _ => unreachable!("a valid spec has an image or a resolved build context"),
    }
}

/// A repository name from the context directory's name, reduced to what image names allow.
fn context_repo_name(ctx: &BuildContext) -> String {
    let base = ctx.dir.file_name().and_then(|n| n.to_str()).unwrap_or("build");
    let cleaned: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    if cleaned.is_empty() {
        "build".to_string()
    } else {
        cleaned
    }
}

fn container(
    instance: &TenantName,
    tenant: &TenantName,
    network: &DesiredNetwork,
    user_labels: &BTreeMap<String, String>,
    c: ContainerInput<'_>,
) -> DesiredContainer {
    let name = match &c.role {
        ContainerRole::Main => object_name(instance, tenant, None),
        ContainerRole::Sidecar(n) => object_name(instance, tenant, Some(n)),
        ContainerRole::Ingress => object_name(instance, tenant, Some(ingress::INGRESS_PART)),
    };
    let mut mounts: Vec<VolumeMountPlan> = c
        .volumes
        .iter()
        .map(|v| VolumeMountPlan {
            volume: object_name(instance, tenant, Some(&format!("vol-{}", v.name))),
            target: v.mount_path.clone(),
            read_only: v.read_only,
        })
        .collect();
    mounts.sort_by(|a, b| a.target.cmp(&b.target));
    let mut tmpfs: Vec<TmpfsPlan> =
        c.tmpfs.iter().map(|t| TmpfsPlan { target: t.mount_path.clone(), size_bytes: t.size.bytes() }).collect();
    tmpfs.sort_by(|a, b| a.target.cmp(&b.target));
    let health = match (c.health, c.port) {
        (Some(h), Some(port)) => {
            let mut command = h.probe_command.clone();
            command.push(format!("http://127.0.0.1:{port}{}", h.path));
            Some(Healthcheck {
                command,
                interval_ms: h.interval.get().as_millis() as u64,
                timeout_ms: h.timeout.get().as_millis() as u64,
                start_period_ms: h.start_period.get().as_millis() as u64,
                retries: h.retries,
                path: h.path.clone(),
            })
        }
        _ => None,
    };
    let limits = Limits::from(c.resources);
    let mut container = DesiredContainer {
        role: c.role,
        name,
        alias: c.alias,
        image: c.image,
        args: c.args,
        env: c.env,
        user: c.user.unwrap_or_else(|| DEFAULT_USER.to_string()),
        publish_port: if c.publish { c.port } else { None },
        port: c.port,
        mounts,
        binds: c.binds,
        tmpfs,
        health,
        limits,
        user_labels: user_labels.clone(),
        config_hash: String::new(),
        field_hashes: BTreeMap::new(),
        applied: String::new(),
    };
    let view = ContainerView::of(&container, network);
    container.field_hashes = view.field_hashes();
    container.config_hash = versioned_hash(&container.field_hashes);
    container.applied = view.to_json();
    container
}

/// The replace-class settings of a container, one entry per field of `REPLACE_FIELDS`. This is
/// what is hashed and what a plan's diff shows; limits are compared live instead.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerView {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub user: String,
    pub ports: PortsView,
    pub mounts: Vec<VolumeMountPlan>,
    /// Read-only bind mounts of runtime files; only containers with any carry the field, so
    /// others hash as they did before it existed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub binds: Vec<BindPlan>,
    pub tmpfs: Vec<TmpfsPlan>,
    pub network: NetworkView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Healthcheck>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortsView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serve: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkView {
    pub name: String,
    pub internal: bool,
    pub alias: String,
}

impl ContainerView {
    pub fn of(c: &DesiredContainer, network: &DesiredNetwork) -> Self {
        ContainerView {
            image: c.image.reference().to_string(),
            args: c.args.clone(),
            env: c.env.clone(),
            user: c.user.clone(),
            ports: PortsView { serve: c.port, publish: c.publish_port },
            mounts: c.mounts.clone(),
            binds: c.binds.clone(),
            tmpfs: c.tmpfs.clone(),
            network: NetworkView { name: network.name.clone(), internal: network.internal, alias: c.alias.clone() },
            health: c.health.clone(),
            labels: c.user_labels.clone(),
        }
    }

    /// One short hash per field, keyed by the names in `REPLACE_FIELDS`.
    pub fn field_hashes(&self) -> BTreeMap<String, String> {
        let value = serde_json::to_value(self).expect("views serialize");
        let mut hashes: BTreeMap<String, String> = REPLACE_FIELDS
            .iter()
            .map(|f| {
                let v = value.get(*f).cloned().unwrap_or(serde_json::Value::Null);
                (f.to_string(), field_hash(&v))
            })
            .collect();
        for f in OPTIONAL_REPLACE_FIELDS {
            if let Some(v) = value.get(*f) {
                hashes.insert(f.to_string(), field_hash(v));
            }
        }
        hashes
    }

    /// Canonical JSON, as stored on the container so a later plan can show a diff.
    pub fn to_json(&self) -> String {
        canonical_json(self)
    }
}
