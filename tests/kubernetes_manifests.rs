//! The Kubernetes manifests of every sample tenant meet the Pod Security Standards "restricted"
//! profile and tenantd's own rules for clusters: each field is checked, not just that YAML comes
//! out. No cluster is involved: these are the objects `tenantd render --runtime kubernetes`
//! prints and a Kubernetes runtime would apply.

mod support;
mod support_kube_schema;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde::Deserialize;
use serde_json::{json, Value};
use support::repo_root;
use support_kube_schema as kube_schema;
use tenantd::config::DaemonConfig;
use tenantd::reconcile::{Desired, PassOptions};
use tenantd::render::kubernetes::{desired_objects, to_yaml, KubeOptions};

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

fn check_tenant(docs: &[Value], tenant: &str, egress_allowed: bool, suspended: bool) {
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
    // A suspended tenant keeps everything but its pod.
    assert_eq!(dep["spec"]["replicas"], if suspended { 0 } else { 1 }, "{tenant}");
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
            let yaml = to_yaml(&desired_objects(d, &"tenantd".parse().unwrap(), &KubeOptions::default()));
            let docs = documents(&yaml);
            check_tenant(&docs, name.as_str(), !d.network.internal, d.suspended);
        }
    }
}

#[test]
fn a_tenant_with_runtime_files_mounts_its_config_and_secrets_read_only() {
    let desired = samples(&repo_root().join("examples/tenants"));
    let d = &desired.tenants[&"umbrella".parse().unwrap()];
    let docs = documents(&to_yaml(&desired_objects(d, &"tenantd".parse().unwrap(), &KubeOptions::default())));
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
    // The pod template carries the hash of the config and secrets, so a change to either rolls
    // the pod.
    let annotations =
        &docs.iter().find(|d| d["kind"] == "Deployment").unwrap()["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["io.tenantd.files-hash"], d.files.as_ref().unwrap().hash().as_str());
}

/// Every kind tenantd renders, as `<apiVersion>/<kind>`.
const RENDERED_KINDS: [&str; 8] = [
    "apps/v1/Deployment",
    "networking.k8s.io/v1/NetworkPolicy",
    "v1/ConfigMap",
    "v1/Namespace",
    "v1/PersistentVolumeClaim",
    "v1/Secret",
    "v1/Service",
    "v1/ServiceAccount",
];

/// `tenantd render --runtime kubernetes --dir DIR`, run as a user would: every tenant's
/// manifests as one YAML stream. The config file named does not exist, so no host config counts.
fn render_kubernetes(dir: &Path) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .arg("--config")
        .arg(tmp.path().join("absent.toml"))
        .args(["render", "--runtime", "kubernetes", "--dir"])
        .arg(dir)
        .env_remove("TENANTD_CONFIG")
        .output()
        .expect("tenantd runs");
    assert!(
        out.status.success(),
        "tenantd render --runtime kubernetes --dir {}: {}\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Every document of a YAML stream, parsed with a YAML parser (not split on `---`).
fn yaml_stream(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml).map(|d| Value::deserialize(d).expect("a YAML document")).collect()
}

#[test]
fn every_rendered_manifest_validates_against_the_kubernetes_schema() {
    assert_eq!(kube_schema::kinds(), RENDERED_KINDS, "the schema file covers exactly the rendered kinds");
    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    for dir in ["tenants.d", "examples/tenants"] {
        let docs = yaml_stream(&render_kubernetes(&repo_root().join(dir)));
        let namespaces = docs.iter().filter(|d| d["kind"] == "Namespace").count();
        assert_eq!(namespaces, samples(&repo_root().join(dir)).tenants.len(), "{dir}: one Namespace per tenant");
        for doc in &docs {
            assert!(doc.is_object(), "{dir}: a document that is no object: {doc}");
            let kind = kube_schema::kind_of(doc);
            let name = doc["metadata"]["name"].as_str().unwrap_or("?");
            let namespace = doc["metadata"]["namespace"].as_str().unwrap_or("-");
            if let Err(errors) = kube_schema::validate(doc) {
                failures.push(format!("{dir}: {kind} {namespace}/{name}:\n    {}", errors.join("\n    ")));
            }
            seen.insert(kind);
        }
    }
    assert!(
        failures.is_empty(),
        "{} manifest(s) do not validate against the Kubernetes {} schema:\n{}",
        failures.len(),
        kube_schema::KUBERNETES_VERSION,
        failures.join("\n")
    );
    assert_eq!(seen, BTreeSet::from(RENDERED_KINDS.map(String::from)), "the samples render every kind");
}

/// A small Deployment that is valid, to break one field at a time.
fn valid_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "tenant-web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 10001},
                    "containers": [{"name": "web", "image": "nginx:1", "ports": [{"containerPort": 8080}]}]
                }
            }
        }
    })
}

/// The errors of a manifest that must not validate.
fn rejected(manifest: &Value) -> Vec<String> {
    kube_schema::validate(manifest).expect_err(&format!("accepted: {manifest}"))
}

#[test]
fn the_schema_check_rejects_misspelt_fields_wrong_types_and_unknown_kinds() {
    let valid = valid_deployment();
    kube_schema::validate(&valid).unwrap_or_else(|e| panic!("{e:#?}"));

    // Strict: an unknown (misspelt) field deep inside the pod template.
    let mut d = valid.clone();
    d["spec"]["template"]["spec"]["securityContext"]["runAsNonroot"] = json!(true);
    let errors = rejected(&d);
    assert!(
        errors.iter().any(|e| e.starts_with("/spec/template/spec/securityContext:") && e.contains("runAsNonroot")),
        "{errors:#?}"
    );
    // A misspelt top-level field.
    let mut d = valid.clone();
    d["metdata"] = d["metadata"].take();
    assert!(rejected(&d).iter().any(|e| e.starts_with("/:") && e.contains("metdata")), "{d}");

    // Wrong types.
    let mut d = valid.clone();
    d["spec"]["replicas"] = json!("one");
    let errors = rejected(&d);
    assert!(errors.iter().any(|e| e.starts_with("/spec/replicas:")), "{errors:#?}");
    let mut d = valid.clone();
    d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = json!("8080");
    let errors = rejected(&d);
    assert!(errors.iter().any(|e| e.starts_with("/spec/template/spec/containers/0/ports/0/containerPort:")));

    // A required field missing, and int32 out of range (the format is checked).
    let mut d = valid.clone();
    d["spec"]["template"]["spec"]["containers"][0].as_object_mut().unwrap().remove("name");
    let errors = rejected(&d);
    assert!(errors.iter().any(|e| e.starts_with("/spec/template/spec/containers/0:") && e.contains("name")));
    let mut d = valid.clone();
    d["spec"]["replicas"] = json!(3_000_000_000u64);
    let errors = rejected(&d);
    assert!(errors.iter().any(|e| e.starts_with("/spec/replicas:") && e.contains("int32")), "{errors:#?}");

    // apiVersion and kind must name a kind the schema has.
    let mut d = valid.clone();
    d["kind"] = json!("Deploymnt");
    assert!(rejected(&d)[0].starts_with("no schema for apps/v1/Deploymnt"));
    let mut d = valid.clone();
    d["apiVersion"] = json!("apps/v1beta1");
    rejected(&d);

    // A Secret's data is base64.
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "aGk="}});
    kube_schema::validate(&secret).unwrap_or_else(|e| panic!("{e:#?}"));
    let mut bad = secret.clone();
    bad["data"]["k"] = json!("hi!");
    assert!(rejected(&bad).iter().any(|e| e.starts_with("/data/k:") && e.contains("byte")));
}
