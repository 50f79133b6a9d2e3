//! Every key of the config file, documented once: tenantd.toml(5) is written from this table,
//! and the tests below hold it to the config's own definition (every key it accepts, and the
//! defaults it applies).

/// One key of the config file.
pub struct ConfigKey {
    /// The table it is in: `""` for the top level; `registries` is an array of tables.
    pub table: &'static str,
    pub name: &'static str,
    /// The TOML type, in words.
    pub kind: &'static str,
    pub default: KeyDefault,
    /// A value, as TOML: for the page's example, and accepted by the config as it is.
    pub example: &'static str,
    pub meaning: &'static str,
    /// A reload (SIGHUP) that changes it is refused: it takes a restart.
    pub restart: bool,
}

/// What a key is when the file does not set it.
pub enum KeyDefault {
    /// It must be set.
    Required,
    /// This value, as TOML.
    Value(&'static str),
    /// No value; what that means.
    Unset(&'static str),
}

/// The tables, in the order the page documents them, with what each is for.
pub const TABLES: &[(&str, &str)] = &[
    ("", "Top-level keys."),
    ("docker", "The engine: Docker, or Podman through its Docker-compatible API (runtime = \"docker\")."),
    ("network", "How tenant networks are kept off this host's own services (Docker and Podman)."),
    ("registries", "Credentials for pulling from private registries; one [[registries]] table per registry."),
    ("kubernetes", "The cluster, used when runtime = \"kubernetes\"."),
    ("daemon", "The long-running daemon, tenantd run."),
    ("secrets", "Tenants' secrets: how they are decrypted and where the decrypted files go."),
];

const fn key(
    table: &'static str,
    name: &'static str,
    kind: &'static str,
    default: KeyDefault,
    example: &'static str,
    meaning: &'static str,
    restart: bool,
) -> ConfigKey {
    ConfigKey { table, name, kind, default, example, meaning, restart }
}

use KeyDefault::{Required, Unset, Value};

pub const KEYS: &[ConfigKey] = &[
    key(
        "",
        "tenants_dir",
        "path",
        Required,
        "\"/etc/tenantd/tenants.d\"",
        "The directory of tenant specs: one YAML file per tenant (*.yaml, *.yml, directly in it). Hidden files, \
         editor leftovers and subdirectories are skipped.",
        false,
    ),
    key(
        "",
        "state_dir",
        "path",
        Required,
        "\"/var/lib/tenantd\"",
        "Where tenantd keeps its state: status/TENANT.json (the status files), tenantd.lock (which state directory \
         owns the instance), runtime-config/ and ingress/ (files given to tenants' containers).",
        true,
    ),
    key(
        "",
        "runtime",
        "string: \"docker\" or \"kubernetes\"",
        Value("\"docker\""),
        "\"docker\"",
        "The engine tenants run on. The environment variable CONTAINER_RUNTIME overrides it.",
        true,
    ),
    key(
        "",
        "instance",
        "string",
        Value("\"tenantd\""),
        "\"tenantd\"",
        "Every object tenantd creates is named INSTANCE_TENANT... and labelled io.tenantd.instance=INSTANCE; objects \
         of other instances, or without the label, are never touched. A DNS label (lowercase letters, digits and \
         '-') of at most 30 characters.",
        true,
    ),
    key(
        "",
        "port_range",
        "array of two integers [low, high]",
        Value("[19000, 19999]"),
        "[19000, 19999]",
        "Host ports for tenants' runtimes are taken from this range, published on 127.0.0.1 only. 1025 <= low <= \
         high.",
        false,
    ),
    key("", "concurrency", "integer, 1 to 256", Value("8"), "8", "How many tenants converge at once.", false),
    key(
        "docker",
        "host",
        "string",
        Unset(
            "$DOCKER_HOST, else the first socket present of /var/run/docker.sock, /run/podman/podman.sock and \
             $XDG_RUNTIME_DIR/podman/podman.sock",
        ),
        "\"unix:///var/run/docker.sock\"",
        "The engine's endpoint: unix:///path, or tcp://host:port (plain HTTP).",
        true,
    ),
    key(
        "docker",
        "network_pool",
        "string: an IPv4 network in CIDR notation",
        Value("\"10.213.0.0/16\""),
        "\"10.213.0.0/16\"",
        "Each tenant's private network gets a subnet from this range; subnets that overlap a network the engine \
         already has are skipped. Pick a range the host does not route.",
        true,
    ),
    key(
        "docker",
        "network_prefix",
        "integer",
        Value("28"),
        "28",
        "The prefix length of each tenant's subnet: from the pool's own prefix length to 29.",
        true,
    ),
    key(
        "network",
        "host_firewall",
        "string: \"tenantd\" or \"external\"",
        Value("\"tenantd\""),
        "\"tenantd\"",
        "tenantd: tenantd keeps tenants off this host's own services with the nftables table inet \
         tenantd_INSTANCE (it needs nft and CAP_NET_ADMIN). external: this host's own firewall does it, and tenantd \
         installs nothing (required for rootless Podman and remote engines).",
        true,
    ),
    key(
        "network",
        "host_allow",
        "array of strings \"tcp/PORT\" or \"udp/PORT\"",
        Value("[]"),
        "[\"tcp/8080\"]",
        "Host ports that tenants with egress: allow may still reach, such as the control plane's. Tenants with \
         egress: deny reach none.",
        true,
    ),
    key(
        "registries",
        "server",
        "string",
        Required,
        "\"registry.example:5000\"",
        "The registry's host, and port if not the default.",
        true,
    ),
    key("registries", "username", "string", Required, "\"tenantd\"", "The user to log in as.", true),
    key(
        "registries",
        "password",
        "string",
        Required,
        "\"secret\"",
        "The password or token. Never logged; keep the file readable by root only (mode 0640 or stricter).",
        true,
    ),
    key(
        "kubernetes",
        "kubeconfig",
        "path",
        Unset(
            "$KUBECONFIG, else ~/.kube/config, else the pod's own service account when tenantd runs in a cluster \
             and in_cluster is true",
        ),
        "\"/etc/tenantd/kubeconfig\"",
        "The kubeconfig of the cluster. Without any of them tenantd stops at start; it never falls back to Docker.",
        true,
    ),
    key(
        "kubernetes",
        "context",
        "string",
        Unset("the kubeconfig's current context"),
        "\"production\"",
        "The kubeconfig context to use.",
        true,
    ),
    key(
        "kubernetes",
        "in_cluster",
        "boolean",
        Value("true"),
        "true",
        "Whether the pod's own service account may be used when no kubeconfig is found.",
        true,
    ),
    key(
        "kubernetes",
        "control_plane_namespace_labels",
        "table of strings",
        Value("{ \"kubernetes.io/metadata.name\" = \"tenantd-system\" }"),
        "{ \"kubernetes.io/metadata.name\" = \"tenantd-system\" }",
        "Tenants admit ingress only from pods in namespaces with these labels: where the control plane runs. At \
         least one label.",
        false,
    ),
    key(
        "kubernetes",
        "control_plane_pod_labels",
        "table of strings",
        Value("{}"),
        "{ app = \"gateway\" }",
        "When set, ingress is admitted only from pods with these labels, within those namespaces.",
        false,
    ),
    key(
        "kubernetes",
        "volume_size",
        "string: a Kubernetes quantity",
        Value("\"1Gi\""),
        "\"1Gi\"",
        "What each volume's PersistentVolumeClaim asks for (1Gi, 500M).",
        false,
    ),
    key(
        "kubernetes",
        "storage_class",
        "string",
        Unset("the cluster's default StorageClass"),
        "\"fast-ssd\"",
        "The StorageClass of each volume's PersistentVolumeClaim.",
        false,
    ),
    key(
        "daemon",
        "resync_interval",
        "string: a duration (ms, s, m or h)",
        Value("\"60s\""),
        "\"60s\"",
        "How often tenantd run reads every spec and observes the runtime again, besides reacting to file and engine \
         events at once.",
        false,
    ),
    key(
        "daemon",
        "stats_interval",
        "string: a duration",
        Value("\"15s\""),
        "\"15s\"",
        "How often the CPU and memory of each running tenant are sampled.",
        false,
    ),
    key(
        "daemon",
        "debounce",
        "string: a duration",
        Value("\"150ms\""),
        "\"150ms\"",
        "Quiet time after a change in tenants_dir before it is read.",
        false,
    ),
    key(
        "daemon",
        "metrics_address",
        "string: ADDRESS:PORT",
        Unset("no metrics endpoint"),
        "\"127.0.0.1:9469\"",
        "Where the Prometheus endpoint (/metrics) listens. Keep it on a local address.",
        true,
    ),
    key(
        "secrets",
        "identity_file",
        "path",
        Unset("$CREDENTIALS_DIRECTORY/age-identity when systemd sets CREDENTIALS_DIRECTORY (LoadCredential=)"),
        "\"/etc/tenantd/age-identity\"",
        "The age identity that decrypts tenants' secrets (tenantd secrets keygen --output FILE makes one).",
        false,
    ),
    key(
        "secrets",
        "recipients",
        "array of strings",
        Value("[]"),
        "[\"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\"]",
        "Public keys (age1...) that tenantd secrets encrypt encrypts to when given no --recipient.",
        false,
    ),
    key(
        "secrets",
        "dir",
        "path",
        Value("\"/run/tenantd/secrets\""),
        "\"/run/tenantd/secrets\"",
        "Decrypted secrets go to DIR/TENANT/NAME. It must be on tmpfs, so they never reach a disk.",
        false,
    ),
    key(
        "secrets",
        "allow_non_tmpfs",
        "boolean",
        Value("false"),
        "false",
        "Allow dir on a filesystem other than tmpfs (for development only; warned about).",
        false,
    ),
];

/// The keys of `table`, in the order documented.
pub fn keys_of(table: &str) -> impl Iterator<Item = &'static ConfigKey> + '_ {
    KEYS.iter().filter(move |k| k.table == table)
}

/// A config file setting every key to `value(key)`, skipping keys for which it is `None`.
pub fn toml_with(value: impl Fn(&ConfigKey) -> Option<&'static str>) -> String {
    let mut text = String::new();
    for (table, _) in TABLES {
        let lines: Vec<String> = keys_of(table).filter_map(|k| Some(format!("{} = {}\n", k.name, value(k)?))).collect();
        if lines.is_empty() {
            continue;
        }
        match *table {
            "" => {}
            "registries" => text.push_str("\n[[registries]]\n"),
            table => text.push_str(&format!("\n[{table}]\n")),
        }
        text.extend(lines);
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::config::DaemonConfig;

    fn parse(text: &str) -> Result<DaemonConfig, crate::config::ConfigError> {
        DaemonConfig::parse(text, Path::new("/etc/tenantd/tenantd.toml"), None)
    }

    /// The keys the config accepts in `table`, as its own definition lists them: the message
    /// for a key it does not know names every key it expected there.
    fn accepted_keys(table: &str) -> BTreeSet<String> {
        let base = "tenants_dir = \"t\"\nstate_dir = \"s\"\n";
        let text = match table {
            "" => format!("{base}no_such_key = 1\n"),
            "registries" => format!("{base}[[registries]]\nno_such_key = 1\n"),
            table => format!("{base}[{table}]\nno_such_key = 1\n"),
        };
        let message = parse(&text).unwrap_err().to_string();
        let (_, expected) = message.split_once("expected").unwrap_or_else(|| panic!("[{table}]: {message}"));
        expected.split('`').skip(1).step_by(2).map(str::to_string).collect()
    }

    #[test]
    fn every_key_the_config_accepts_is_documented_and_no_other() {
        let tables: BTreeSet<String> =
            TABLES.iter().filter(|(t, _)| !t.is_empty()).map(|(t, _)| t.to_string()).collect();
        for (table, _) in TABLES {
            let documented: BTreeSet<String> = keys_of(table).map(|k| k.name.to_string()).collect();
            let mut accepted = accepted_keys(table);
            if table.is_empty() {
                // The top level also holds the tables.
                assert!(tables.is_subset(&accepted), "tables {tables:?}, accepted {accepted:?}");
                accepted.retain(|k| !tables.contains(k));
            }
            assert!(accepted.len() >= 2, "[{table}]: too few keys read from the message: {accepted:?}");
            assert_eq!(documented, accepted, "[{table}]: documented keys differ from those accepted");
        }
    }

    #[test]
    fn a_file_with_every_example_value_is_accepted() {
        let text = toml_with(|k| Some(k.example));
        parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }

    #[test]
    fn the_documented_defaults_are_the_defaults() {
        let required = |k: &ConfigKey| match k.default {
            Required if k.table.is_empty() => Some(k.example),
            _ => None,
        };
        let minimal = parse(&toml_with(required)).unwrap();
        let spelled_out_text = toml_with(|k| match k.default {
            Value(v) => Some(v),
            _ => required(k),
        });
        let spelled_out = parse(&spelled_out_text).unwrap_or_else(|e| panic!("{e}\n{spelled_out_text}"));
        assert_eq!(format!("{minimal:?}"), format!("{spelled_out:?}"), "{spelled_out_text}");
    }

    #[test]
    fn every_key_has_an_example_and_a_meaning() {
        for k in KEYS {
            assert!(!k.example.is_empty() && !k.meaning.is_empty(), "{}.{}", k.table, k.name);
        }
    }
}
