//! The Kubernetes manifests of every sample tenant meet the Pod Security Standards "restricted"
//! profile and tenantd's own rules for clusters: each field is checked, not just that YAML comes
//! out. No cluster is involved: these are the objects `tenantd render --runtime kubernetes`
//! prints and a Kubernetes runtime would apply.

mod support;

use std::path::Path;

use serde_json::Value;
use support::repo_root;
use tenantd::config::DaemonConfig;
use tenantd::reconcile::{Desired, PassOptions};
use tenantd::runtime::kubernetes::{manifests, to_yaml, KubeOptions};

fn samples(dir: &Path) -> Desired {
    let text = format!("tenants_dir = {dir:?}\nstate_dir = \"/var/lib/tenantd\"\n");
    let cfg = DaemonConfig::parse(&text, Path::new("/etc/tenantd/tenantd.toml"), None).unwrap();
    let desired = Desired::load(&cfg, PassOptions::default()).unwrap();
    assert!(desired.invalid.is_empty(), "{:?}", desired.invalid);
    assert!(!desired.tenants.is_empty());
    desired
}

/// The YAML stream as JSON documents.
fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("---\n").filter(|d| !d.trim().is_empty()).map(|d| serde_yaml::from_str(d).unwrap()).collect()
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn check_tenant(docs: &[Value], tenant: &str, egress_allowed: bool) {
    let of = |kind: &'static str| docs.iter().filter(move |d| d["kind"] == kind);
    let one = |kind: &'static str| of(kind).next().unwrap_or_else(|| panic!("{tenant}: no {kind}"));

    let ns = one("Namespace");
    let ns_name = ns["metadata"]["name"].as_str().unwrap();
    assert!(dns_label(ns_name), "{ns_name}");
    assert_eq!(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted", "{tenant}");
    for d in docs {
        let name = d["metadata"]["name"].as_str().unwrap();
        assert!(dns_label(name), "{tenant}: {} name {name:?}", d["kind"]);
        assert_eq!(d["metadata"]["labels"]["io.tenantd.tenant"], tenant, "{tenant}: {}", d["kind"]);
        if d["kind"] != "Namespace" {
            assert_eq!(d["metadata"]["namespace"], ns_name, "{tenant}: {}", d["kind"]);
        }
    }
    assert_eq!(one("ServiceAccount")["automountServiceAccountToken"], false);

    // Default deny, DNS always allowed out, anything else only with egress: allow.
    let np = &one("NetworkPolicy")["spec"];
    assert_eq!(np["podSelector"], serde_json::json!({}));
    assert_eq!(np["policyTypes"], serde_json::json!(["Ingress", "Egress"]));
    let egress = np["egress"].as_array().unwrap();
    assert!(egress[0]["ports"].as_array().unwrap().iter().all(|p| p["port"] == 53), "{tenant}: {np}");
    assert_eq!(egress.len(), if egress_allowed { 2 } else { 1 }, "{tenant}: {np}");
    assert!(
        np["ingress"][0]["from"][0]["namespaceSelector"].is_object(),
        "{tenant}: ingress only from the control plane"
    );

    let dep = one("Deployment");
    assert_eq!(dep["spec"]["replicas"], 1);
    let pod = &dep["spec"]["template"]["spec"];
    for forbidden in ["hostNetwork", "hostPID", "hostIPC"] {
        assert!(pod[forbidden].is_null() || pod[forbidden] == false, "{tenant}: {forbidden}");
    }
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(pod["securityContext"]["runAsUser"].as_i64().unwrap() >= 10000, "{tenant}: {pod}");
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    let allowed_volumes = ["configMap", "emptyDir", "persistentVolumeClaim", "secret"];
    let volumes = pod["volumes"].as_array().unwrap();
    for v in volumes {
        let kinds: Vec<&String> = v.as_object().unwrap().keys().filter(|k| *k != "name").collect();
        assert!(kinds.len() == 1 && allowed_volumes.contains(&kinds[0].as_str()), "{tenant}: volume {v}");
        assert!(dns_label(v["name"].as_str().unwrap()), "{tenant}: volume {v}");
    }
    for c in pod["containers"].as_array().unwrap() {
        let sc = &c["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{tenant}: {c}");
        assert_eq!(sc["privileged"], false);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["runAsNonRoot"], true);
        assert!(sc["runAsUser"].as_i64().unwrap() >= 10000, "{tenant}: {c}");
        assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert!(sc["capabilities"]["add"].is_null());
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        for kind in ["requests", "limits"] {
            for r in ["cpu", "memory"] {
                assert!(c["resources"][kind][r].is_string(), "{tenant}: {} {kind}.{r}", c["name"]);
            }
        }
        let mounts = c["volumeMounts"].as_array().unwrap();
        assert!(mounts.iter().any(|m| m["mountPath"] == "/tmp"), "a writable /tmp on a read-only root");
        for m in mounts {
            assert!(volumes.iter().any(|v| v["name"] == m["name"]), "{tenant}: mount {m} has no volume");
        }
    }
    let main = &pod["containers"][0];
    assert_eq!(main["name"], "runtime");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert!(main[probe]["httpGet"]["path"].is_string(), "{tenant}: {probe}");
    }
    let service = one("Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], main["ports"][0]["containerPort"]);
    for claim in of("PersistentVolumeClaim") {
        let name = &claim["metadata"]["name"];
        assert!(volumes.iter().any(|v| v["persistentVolumeClaim"]["claimName"] == *name), "{tenant}: {name}");
    }
    // A Secret names the runtime's secrets and carries no value.
    for secret in of("Secret") {
        let data = secret["stringData"].as_object().unwrap();
        assert!(data.values().all(|v| v == ""), "{tenant}: {secret}");
        assert!(secret["data"].is_null());
    }
}

#[test]
fn every_sample_tenant_renders_to_restricted_manifests() {
    for dir in ["tenants.d", "examples/tenants"] {
        let desired = samples(&repo_root().join(dir));
        for (name, d) in &desired.tenants {
            let yaml = to_yaml(&manifests(d, &"tenantd".parse().unwrap(), &KubeOptions::default()));
            let docs = documents(&yaml);
            check_tenant(&docs, name.as_str(), !d.network.internal);
        }
    }
}

#[test]
fn a_tenant_with_runtime_files_mounts_its_config_and_secrets_read_only() {
    let desired = samples(&repo_root().join("examples/tenants"));
    let d = &desired.tenants[&"umbrella".parse().unwrap()];
    let docs = documents(&to_yaml(&manifests(d, &"tenantd".parse().unwrap(), &KubeOptions::default())));
    let config = docs.iter().find(|d| d["kind"] == "ConfigMap").expect("a ConfigMap");
    assert!(config["data"]["openclaw.json"].as_str().unwrap().contains("${secret:TELEGRAM_BOT_TOKEN}"));
    let secret = docs.iter().find(|d| d["kind"] == "Secret").expect("a Secret");
    let keys: Vec<&String> = secret["stringData"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["GATEWAY_TOKEN", "TELEGRAM_BOT_TOKEN"]);
    let pod = &docs.iter().find(|d| d["kind"] == "Deployment").unwrap()["spec"]["template"]["spec"];
    let mounts = pod["containers"][0]["volumeMounts"].as_array().unwrap();
    for path in ["/etc/openclaw", "/run/secrets/openclaw"] {
        let m = mounts.iter().find(|m| m["mountPath"] == path).unwrap_or_else(|| panic!("no mount at {path}"));
        assert_eq!(m["readOnly"], true, "{m}");
    }
    let secret_volume = pod["volumes"].as_array().unwrap().iter().find(|v| v["secret"].is_object()).unwrap();
    assert_eq!(secret_volume["secret"]["defaultMode"], 0o400);
    // The pod template carries the spec hash, so a config or secret change rolls the pods.
    let annotations =
        &docs.iter().find(|d| d["kind"] == "Deployment").unwrap()["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["io.tenantd.spec-hash"], d.spec_hash.as_str());
}
