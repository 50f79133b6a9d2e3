//! The daemon's own configuration (`tenantd.toml`): where specs and state live, which runtime to
//! drive and under which instance name.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::host_firewall::{NetworkSettings, RawNetwork};
use crate::render::kubernetes::KubeOptions;
use crate::runtime::docker::{SubnetPool, DEFAULT_NETWORK_POOL, DEFAULT_NETWORK_PREFIX};
use crate::runtime::registry::RegistryAuth;
use crate::spec::TenantName;

/// Default location of the config file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/tenantd/tenantd.toml";

/// Which engine tenantd drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Docker,
    Kubernetes,
}

impl std::str::FromStr for RuntimeKind {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "docker" => Ok(RuntimeKind::Docker),
            "kubernetes" => Ok(RuntimeKind::Kubernetes),
            other => Err(ConfigError::Value {
                field: "runtime".into(),
                message: format!("{other:?} is not a runtime: expected \"docker\" or \"kubernetes\""),
            }),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocker {
    host: Option<String>,
    network_pool: Option<String>,
    network_prefix: Option<u8>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tenants_dir: PathBuf,
    state_dir: PathBuf,
    #[serde(default = "default_runtime")]
    runtime: RuntimeKind,
    #[serde(default = "default_instance")]
    instance: String,
    #[serde(default = "default_port_range")]
    port_range: [u16; 2],
    #[serde(default = "default_concurrency")]
    concurrency: usize,
    #[serde(default)]
    docker: Option<RawDocker>,
    #[serde(default)]
    registries: Vec<RegistryAuth>,
    #[serde(default)]
    daemon: RawDaemon,
    #[serde(default)]
    secrets: RawSecrets,
    #[serde(default)]
    kubernetes: RawKubernetes,
    #[serde(default)]
    network: RawNetwork,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKubernetes {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    in_cluster: Option<bool>,
    control_plane_namespace_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    control_plane_pod_labels: BTreeMap<String, String>,
    volume_size: Option<String>,
    storage_class: Option<String>,
}

/// How tenantd reaches a cluster and shapes the objects it creates there (`[kubernetes]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesSettings {
    /// The kubeconfig to use; `None`: `$KUBECONFIG`, then `~/.kube/config`, then the pod's own
    /// service account when running in a cluster.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; `None`: its current context.
    pub context: Option<String>,
    /// Whether the pod's own service account may be used when no kubeconfig is found.
    pub in_cluster: bool,
    pub objects: KubeOptions,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    identity_file: Option<PathBuf>,
    #[serde(default)]
    recipients: Vec<String>,
    dir: Option<PathBuf>,
    #[serde(default)]
    allow_non_tmpfs: bool,
}

/// Where tenants' runtime files go and how secrets are opened (`[secrets]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsSettings {
    /// The age identity that decrypts tenants' secrets. Default: `age-identity` in systemd's
    /// `$CREDENTIALS_DIRECTORY` (`LoadCredential=`), when set.
    pub identity_file: Option<PathBuf>,
    /// The tmpfs directory holding each tenant's decrypted secrets.
    pub dir: PathBuf,
    /// Allow `dir` on a filesystem other than tmpfs (development only; warned about).
    pub allow_non_tmpfs: bool,
    /// Public keys `tenantd secrets encrypt` encrypts to when given none.
    pub recipients: Vec<String>,
}

/// The default secrets directory, on the tmpfs systemd gives `RuntimeDirectory=tenantd`.
pub const DEFAULT_SECRETS_DIR: &str = "/run/tenantd/secrets";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    resync_interval: Option<String>,
    stats_interval: Option<String>,
    debounce: Option<String>,
    metrics_address: Option<std::net::SocketAddr>,
}

/// Settings of the long-running daemon (`[daemon]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSettings {
    /// Full re-list of specs and runtime, the safety net behind file and engine events.
    pub resync_interval: std::time::Duration,
    /// How often each running tenant's CPU and memory are sampled.
    pub stats_interval: std::time::Duration,
    /// Quiet time after a file event before the directory is read.
    pub debounce: std::time::Duration,
    /// Where the Prometheus endpoint listens; none unless set.
    pub metrics_address: Option<std::net::SocketAddr>,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        Self {
            resync_interval: std::time::Duration::from_secs(60),
            stats_interval: std::time::Duration::from_secs(15),
            debounce: std::time::Duration::from_millis(150),
            metrics_address: None,
        }
    }
}

fn duration_setting(
    field: &str,
    value: Option<&str>,
    default: std::time::Duration,
) -> Result<std::time::Duration, ConfigError> {
    match value {
        None => Ok(default),
        Some(s) => crate::spec::SpecDuration::try_from(s.to_string())
            .map(|d| d.get())
            .map_err(|e| ConfigError::Value { field: format!("daemon.{field}"), message: e.to_string() }),
    }
}

fn default_runtime() -> RuntimeKind {
    RuntimeKind::Docker
}
fn default_instance() -> String {
    "tenantd".to_string()
}
fn default_port_range() -> [u16; 2] {
    [19000, 19999]
}
fn default_concurrency() -> usize {
    8
}

fn kubernetes_settings(raw: RawKubernetes, base: &Path) -> Result<KubernetesSettings, ConfigError> {
    let defaults = KubeOptions::default();
    let value = |field: &str, message: String| ConfigError::Value { field: format!("kubernetes.{field}"), message };
    if let Some(size) = &raw.volume_size {
        if !is_quantity(size) {
            return Err(value("volume_size", format!("{size:?} is not a size such as \"1Gi\" or \"500M\"")));
        }
    }
    let namespace_labels = raw.control_plane_namespace_labels.unwrap_or(defaults.control_plane_namespace_labels);
    if namespace_labels.is_empty() {
        // An empty selector would admit every namespace.
        return Err(value("control_plane_namespace_labels", "must name at least one label".into()));
    }
    Ok(KubernetesSettings {
        kubeconfig: raw.kubeconfig.map(|p| base.join(p)),
        context: raw.context,
        in_cluster: raw.in_cluster.unwrap_or(true),
        objects: KubeOptions {
            control_plane_namespace_labels: namespace_labels,
            control_plane_pod_labels: raw.control_plane_pod_labels,
            volume_size: raw.volume_size.unwrap_or(defaults.volume_size),
            storage_class: raw.storage_class,
        },
    })
}

/// A Kubernetes quantity of bytes: digits, an optional fraction, an optional suffix.
fn is_quantity(s: &str) -> bool {
    const SUFFIXES: [&str; 13] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E", ""];
    SUFFIXES.iter().any(|suffix| {
        s.strip_suffix(suffix).is_some_and(|n| {
            let (int, frac) = n.split_once('.').unwrap_or((n, "0"));
            !int.is_empty()
                && !frac.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

/// The directory a config file is in, as one name whichever way the file was named: its
/// directory with every link resolved. The current directory is always known by its real path
/// (getcwd), so `cd /etc/tenantd && tenantd --config tenantd.toml` sees the real directory even
/// when `/etc/tenantd` is a link; resolving links for an absolute name too gives both the same
/// `state_dir`, hence the same bind mount sources and no replacement. The file's own name is
/// kept: a config file that is itself a link takes relative paths from where it is named.
pub fn config_dir(path: &Path) -> std::io::Result<PathBuf> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::canonicalize(dir)
}

/// A loaded, validated daemon configuration. Every path in it is absolute: relative ones are
/// resolved against the config file's directory.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub source: PathBuf,
    pub tenants_dir: PathBuf,
    pub state_dir: PathBuf,
    pub runtime: RuntimeKind,
    /// Every object tenantd creates is named and labelled with this; a DNS label.
    pub instance: TenantName,
    pub port_range: RangeInclusive<u16>,
    /// How many tenants converge at once.
    pub concurrency: usize,
    /// Docker endpoint (`unix:///…`, `tcp://…`); `None`: `DOCKER_HOST`, else the local socket.
    pub docker_host: Option<String>,
    /// Where tenant networks take their subnets from (`[docker] network_pool`, `network_prefix`).
    pub docker_subnets: SubnetPool,
    pub registries: Vec<RegistryAuth>,
    pub daemon: DaemonSettings,
    pub secrets: SecretsSettings,
    pub kubernetes: KubernetesSettings,
    /// How tenant networks are kept off the host's own services (`[network]`; Docker and Podman).
    pub network: NetworkSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The cause is the `source` (not repeated in the message: callers print the chain).
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config value `{field}`: {message}")]
    Value { field: String, message: String },
}

/// toml's message for a misspelt key (``unknown field `tenant_dir`, expected one of
/// `tenants_dir`, …``) with the key most likely meant added, as spec files get it.
fn with_suggestion(message: String) -> String {
    let Some(rest) = message.split("unknown field `").nth(1) else { return message };
    let Some((key, known)) = rest.split_once("`, expected ") else { return message };
    let known: Vec<&str> = known.lines().next().unwrap_or_default().split('`').skip(1).step_by(2).collect();
    match crate::suggest::closest(key, &known) {
        Some(close) => format!("{}\ndid you mean `{close}`?", message.trim_end()),
        None => message,
    }
}

/// The largest config file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The config file's text. Opened without blocking (a FIFO put in its place must not hang the
/// daemon's reload) and read only when, once open, it is a regular file of a sane size.
fn read_config(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let flags = (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits();
    let file = std::fs::OpenOptions::new().read(true).custom_flags(flags as i32).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        let message = format!("larger than {} KiB", MAX_CONFIG_BYTES >> 10);
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, message));
    }
    Ok(text)
}

impl DaemonConfig {
    /// Reads and validates `path`; `CONTAINER_RUNTIME` in `env_runtime` overrides `runtime`.
    /// Relative paths in the file are taken from the real directory the file is in, so the
    /// result is the same whichever way `path` names it (see [`config_dir`]).
    pub fn load(path: &Path, env_runtime: Option<&str>) -> Result<Self, ConfigError> {
        let text = read_config(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let read = |source| ConfigError::Read { path: path.to_path_buf(), source };
        let dir = config_dir(path).map_err(read)?;
        let file =
            path.file_name().map(|n| dir.join(n)).ok_or_else(|| read(std::io::ErrorKind::InvalidInput.into()))?;
        Self::parse(&text, &file, env_runtime)
    }

    /// Validates `text` as the config file at `path`; relative paths in it are taken from
    /// `path`'s directory, made absolute against the current directory when `path` is relative.
    pub fn parse(text: &str, path: &Path, env_runtime: Option<&str>) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: with_suggestion(e.to_string()) })?;
        let path =
            &std::path::absolute(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
        let runtime = match env_runtime.filter(|s| !s.is_empty()) {
            Some(s) => s.parse()?,
            None => raw.runtime,
        };
        let instance = TenantName::try_from(raw.instance.clone())
            .map_err(|e| ConfigError::Value { field: "instance".into(), message: e.to_string() })?;
        if instance.as_str().len() > 30 {
            return Err(ConfigError::Value {
                field: "instance".into(),
                message: "at most 30 characters, so object names stay within engine limits".into(),
            });
        }
        let [lo, hi] = raw.port_range;
        if lo < 1025 || lo > hi {
            return Err(ConfigError::Value {
                field: "port_range".into(),
                message: format!(
                    "[{lo}, {hi}] is not a range of unprivileged ports: expected [low, high] with 1025 <= low <= high"
                ),
            });
        }
        if raw.concurrency == 0 || raw.concurrency > 256 {
            return Err(ConfigError::Value { field: "concurrency".into(), message: "expected 1 to 256".into() });
        }
        let defaults = DaemonSettings::default();
        let kubernetes = kubernetes_settings(raw.kubernetes, &base)?;
        let network = raw
            .network
            .settings()
            .map_err(|message| ConfigError::Value { field: "network.host_allow".into(), message })?;
        let docker = raw.docker.unwrap_or_default();
        let docker_subnets = SubnetPool::new(
            docker.network_pool.as_deref().unwrap_or(DEFAULT_NETWORK_POOL),
            docker.network_prefix.unwrap_or(DEFAULT_NETWORK_PREFIX),
        )
        .map_err(|e| ConfigError::Value { field: "docker.network_pool".into(), message: e.to_string() })?;
        Ok(Self {
            source: path.to_path_buf(),
            tenants_dir: base.join(raw.tenants_dir),
            state_dir: base.join(raw.state_dir),
            runtime,
            instance,
            port_range: lo..=hi,
            concurrency: raw.concurrency,
            docker_host: docker.host,
            docker_subnets,
            registries: raw.registries,
            daemon: DaemonSettings {
                resync_interval: duration_setting(
                    "resync_interval",
                    raw.daemon.resync_interval.as_deref(),
                    defaults.resync_interval,
                )?,
                stats_interval: duration_setting(
                    "stats_interval",
                    raw.daemon.stats_interval.as_deref(),
                    defaults.stats_interval,
                )?,
                debounce: duration_setting("debounce", raw.daemon.debounce.as_deref(), defaults.debounce)?,
                metrics_address: raw.daemon.metrics_address,
            },
            secrets: SecretsSettings {
                identity_file: raw.secrets.identity_file.map(|p| base.join(p)).or_else(|| {
                    let dir = std::path::absolute(std::env::var_os("CREDENTIALS_DIRECTORY")?).ok()?;
                    Some(dir.join("age-identity"))
                }),
                dir: raw.secrets.dir.map(|p| base.join(p)).unwrap_or_else(|| PathBuf::from(DEFAULT_SECRETS_DIR)),
                allow_non_tmpfs: raw.secrets.allow_non_tmpfs,
                recipients: raw.secrets.recipients,
            },
            kubernetes,
            network,
        })
    }

    /// The cluster options objects are rendered with, when the runtime is a cluster.
    pub fn cluster(&self) -> Option<&KubeOptions> {
        (self.runtime == RuntimeKind::Kubernetes).then_some(&self.kubernetes.objects)
    }

    /// Where status files live.
    pub fn status_dir(&self) -> PathBuf {
        self.state_dir.join("status")
    }

    /// Where tenants' runtime files live on the host: generated config under the state
    /// directory, secrets on tmpfs.
    pub fn file_roots(&self) -> crate::render::FileRoots {
        crate::render::FileRoots {
            config: self.state_dir.join("runtime-config"),
            secrets: self.secrets.dir.clone(),
            ingress: self.state_dir.join("ingress"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_that_is_not_a_regular_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("tenantd.toml");
        rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, 0o600.into(), 0).unwrap();
        for path in [fifo.as_path(), dir.path()] {
            let e = DaemonConfig::load(path, None).unwrap_err();
            let cause = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
            assert!(cause.contains("not a regular file"), "{e}: {cause}");
        }
    }

    #[test]
    fn minimal_config_gets_defaults_and_resolves_paths() {
        let c = DaemonConfig::parse(
            "tenants_dir = \"tenants.d\"\nstate_dir = \"/var/lib/tenantd\"\n",
            Path::new("/etc/tenantd/tenantd.toml"),
            None,
        )
        .unwrap();
        assert_eq!(c.tenants_dir, PathBuf::from("/etc/tenantd/tenants.d"));
        assert_eq!(c.status_dir(), PathBuf::from("/var/lib/tenantd/status"));
        assert_eq!(c.instance.as_str(), "tenantd");
        assert_eq!(c.port_range, 19000..=19999);
        assert_eq!(c.runtime, RuntimeKind::Docker);
    }

    #[test]
    fn the_network_pool_has_a_default_and_a_bad_one_is_named() {
        let base = "tenants_dir = \"t\"\nstate_dir = \"s\"\n";
        let c = DaemonConfig::parse(base, Path::new("x.toml"), None).unwrap();
        assert_eq!(c.docker_subnets, SubnetPool::new("10.213.0.0/16", 28).unwrap());
        let c = DaemonConfig::parse(
            &format!("{base}[docker]\nnetwork_pool = \"172.30.0.0/20\"\nnetwork_prefix = 29\n"),
            Path::new("x.toml"),
            None,
        )
        .unwrap();
        assert_eq!(c.docker_subnets, SubnetPool::new("172.30.0.0/20", 29).unwrap());
        let e = DaemonConfig::parse(
            &format!("{base}[docker]\nnetwork_pool = \"10.1.2.3/16\"\n"),
            Path::new("x.toml"),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "config value `docker.network_pool`: 10.1.2.3/16 has host bits set; did you mean 10.1.0.0/16?"
        );
    }

    #[test]
    fn the_network_section_defaults_to_tenantds_own_host_rules_and_a_bad_port_is_named() {
        use crate::host_firewall::FirewallMode;
        let base = "tenants_dir = \"t\"\nstate_dir = \"s\"\n";
        let c = DaemonConfig::parse(base, Path::new("x.toml"), None).unwrap();
        assert_eq!(c.network.host_firewall, FirewallMode::Tenantd);
        assert!(c.network.host_allow.is_empty());
        let c = DaemonConfig::parse(
            &format!("{base}[network]\nhost_firewall = \"external\"\nhost_allow = [\"tcp/8080\"]\n"),
            Path::new("x.toml"),
            None,
        )
        .unwrap();
        assert_eq!(c.network.host_firewall, FirewallMode::External);
        assert_eq!(c.network.host_allow[0].to_string(), "tcp/8080");
        let e = DaemonConfig::parse(&format!("{base}[network]\nhost_allow = [\"8080\"]\n"), Path::new("x.toml"), None)
            .unwrap_err();
        assert!(e.to_string().starts_with("config value `network.host_allow`: \"8080\" is not a host port"), "{e}");
    }

    #[test]
    fn env_overrides_runtime_and_bad_values_are_named() {
        let c =
            DaemonConfig::parse("tenants_dir = \"t\"\nstate_dir = \"s\"\n", Path::new("x.toml"), Some("kubernetes"))
                .unwrap();
        assert_eq!(c.runtime, RuntimeKind::Kubernetes);
        let e = DaemonConfig::parse("tenants_dir = \"t\"\nstate_dir = \"s\"\n", Path::new("x.toml"), Some("podman"))
            .unwrap_err();
        assert!(e.to_string().contains("runtime"), "{e}");
        let e = DaemonConfig::parse(
            "tenants_dir = \"t\"\nstate_dir = \"s\"\nport_range = [80, 90]\n",
            Path::new("x.toml"),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("port_range"), "{e}");
        let e = DaemonConfig::parse(
            "tenants_dir = \"t\"\nstate_dir = \"s\"\ninstance = \"Bad_Name\"\n",
            Path::new("x.toml"),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("instance"), "{e}");
        let e = DaemonConfig::parse("tenants_dir = \"t\"\nstate_dir = \"s\"\nbogus = 1\n", Path::new("x.toml"), None)
            .unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
