//! `runtime = "kubernetes"` end to end against the in-process fake API server: the real
//! binary and the real kube client create a tenant's objects, leave a converged tenant alone
//! (no writes), roll an edit, set drift back, delete all but the namespace and its claims, and
//! report what the cluster says of the pod. What a real cluster would add (admission, a real
//! scheduler and kubelet) is not covered here; see the README's Kubernetes section.

mod fake_kube;
mod support_kube;

use fake_kube::PodOutcome;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support_kube::*;

fn repo_tenants() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tenants.d")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_tenants_plan_apply_and_report_status_on_a_fake_cluster() {
    let c = Cluster::start(Some(&repo_tenants())).await;

    let plan = c.tenantd(&["plan", "--detailed-exitcode"]);
    expect_exit(&plan, 2, "a first plan has changes");
    let text = stdout(&plan);
    assert!(text.contains("Plan: 2 to create"), "{text}");
    for line in [
        &format!("apply Namespace {}", c.namespace("acme")),
        "apply PersistentVolumeClaim vol-workspace",
        "apply Deployment runtime (server-side, field manager tenantd)",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    assert!(c.fake.writes().is_empty(), "plan wrote: {:?}", c.fake.writes());

    let apply = c.tenantd(&["apply"]);
    expect_exit(&apply, 0, "apply");
    assert!(stdout(&apply).contains("acme: created") && stdout(&apply).contains("globex: created"));

    let ns = c.object("namespaces", "acme", "").expect("the tenant's namespace");
    assert_eq!(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted");
    assert_eq!(ns["metadata"]["labels"]["io.tenantd.instance"], c.instance.as_str());
    let dep = c.object("deployments", "globex", "runtime").expect("globex's Deployment");
    let names: Vec<&str> = dep["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["runtime", "cache"]);
    assert!(managers(&dep).contains(&"tenantd".to_string()), "{:?}", managers(&dep));
    assert!(c.fake.writes().iter().all(|w| w.field_manager.as_deref() == Some("tenantd")), "{:?}", c.fake.writes());
    assert!(c.object("persistentvolumeclaims", "acme", "vol-workspace").is_some());

    for tenant in ["acme", "globex"] {
        let s = c.status(tenant).unwrap_or_else(|| panic!("{tenant} has a status file"));
        assert_eq!(s["phase"], "Running", "{tenant}: {s}");
        assert_eq!(s["health"], "healthy", "{tenant}: {s}");
        assert_eq!(s["restartCount"], 0, "{tenant}: {s}");
        assert_eq!(s["appliedHash"], s["specHash"], "{tenant}: {s}");
    }
    let status = c.tenantd(&["status"]);
    expect_exit(&status, 0, "status");
    assert!(stdout(&status).lines().any(|l| l.starts_with("acme") && l.contains("Running")), "{}", stdout(&status));

    // Converged: nothing to do, and nothing is written.
    c.fake.clear_calls();
    expect_exit(&c.tenantd(&["plan", "--detailed-exitcode"]), 0, "a plan after apply");
    let again = c.tenantd(&["apply"]);
    expect_exit(&again, 0, "a second apply");
    assert!(stdout(&again).contains("acme: unchanged"), "{}", stdout(&again));
    assert!(c.fake.writes().is_empty(), "a converged apply wrote: {:?}", c.fake.writes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_rolls_the_pod_and_a_resource_change_patches_the_deployment_in_place() {
    let c = Cluster::start(None).await;
    c.spec("acme.yaml", &registry_spec("acme", ""));
    expect_exit(&c.tenantd(&["apply"]), 0, "create");
    let before = c.object("deployments", "acme", "runtime").unwrap();

    c.spec("acme.yaml", &registry_spec("acme", "").replace("LOG_LEVEL: info", "LOG_LEVEL: debug"));
    let plan = c.tenantd(&["plan", "--output", "json"]);
    expect_exit(&plan, 0, "plan");
    let p: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    let acme = &p["tenants"][0];
    assert_eq!(acme["change"], "replace", "{acme}");
    assert_eq!(acme["replaceFields"], json!(["env"]), "{acme}");
    assert_eq!(acme["steps"], json!([{"action": "applyObject", "kind": "Deployment", "name": "runtime"}]));
    let human = stdout(&c.tenantd(&["plan"]));
    assert!(human.contains("-          value: info") && human.contains("+          value: debug"), "{human}");

    c.fake.clear_calls();
    expect_exit(&c.tenantd(&["apply"]), 0, "apply the edit");
    assert_eq!(c.fake.writes().len(), 1, "one apply, of the Deployment: {:?}", c.fake.writes());
    let after = c.object("deployments", "acme", "runtime").unwrap();
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"], "the same Deployment, patched");
    assert_eq!(after["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"], "debug");

    c.spec(
        "acme.yaml",
        &registry_spec("acme", "")
            .replace("LOG_LEVEL: info", "LOG_LEVEL: debug")
            .replace("memory: 64Mi", "memory: 96Mi"),
    );
    let plan = stdout(&c.tenantd(&["plan"]));
    assert!(plan.contains("replace (stop first, because of: resources)"), "{plan}");
    expect_exit(&c.tenantd(&["apply"]), 0, "apply the memory change");
    let resized = c.object("deployments", "acme", "runtime").unwrap();
    assert_eq!(resized["metadata"]["uid"], before["metadata"]["uid"]);
    let limits = &resized["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"];
    assert_eq!(limits["memory"], "96Mi", "{limits}");
    expect_exit(&c.tenantd(&["plan", "--detailed-exitcode"]), 0, "converged after the change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_behind_tenantds_back_are_set_back() {
    let c = Cluster::start(None).await;
    c.spec("acme.yaml", &registry_spec("acme", ""));
    expect_exit(&c.tenantd(&["apply"]), 0, "create");
    let client = c.fake.client().await;
    let ns = c.namespace("acme");

    // Someone edits the image (a plain update, as `kubectl edit` makes) and deletes the Service.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let mut dep = deployments.get("runtime").await.unwrap();
    dep.spec.template.spec.as_mut().unwrap().containers[0].image = Some("evil:1".into());
    deployments
        .replace("runtime", &PostParams { field_manager: Some("kubectl-edit".into()), ..Default::default() }, &dep)
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    services.delete("runtime", &DeleteParams::default()).await.unwrap();

    let plan = c.tenantd(&["plan", "--detailed-exitcode"]);
    expect_exit(&plan, 2, "drift is a change");
    let text = stdout(&plan);
    assert!(text.contains("Service runtime is missing: create"), "{text}");
    assert!(
        text.contains(
            "Deployment runtime: spec.template.spec.containers[runtime].image changed outside tenantd (drift)"
        ),
        "{text}"
    );

    expect_exit(&c.tenantd(&["apply"]), 0, "set drift back");
    let dep = c.object("deployments", "acme", "runtime").unwrap();
    assert_eq!(dep["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/openclaw:2026.11");
    assert!(managers(&dep).contains(&"tenantd".to_string()));
    assert!(c.object("services", "acme", "runtime").is_some());
    expect_exit(&c.tenantd(&["plan", "--detailed-exitcode"]), 0, "converged again");

    // A field tenantd does not set is someone else's business.
    let patch = json!({"metadata": {"annotations": {"team": "blue"}}});
    deployments.patch("runtime", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    expect_exit(&c.tenantd(&["plan", "--detailed-exitcode"]), 0, "foreign fields are not drift");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_spec_removes_the_tenant_but_keeps_its_namespace_and_claims() {
    let c = Cluster::start(None).await;
    c.spec("acme.yaml", &registry_spec("acme", ""));
    c.spec("globex.yaml", &registry_spec("globex", ""));
    expect_exit(&c.tenantd(&["apply"]), 0, "create");
    let claim_uid = c.object("persistentvolumeclaims", "acme", "vol-workspace").unwrap()["metadata"]["uid"].clone();

    std::fs::remove_file(c.tenants.join("acme.yaml")).unwrap();
    let plan = stdout(&c.tenantd(&["plan"]));
    assert!(plan.contains("- acme: delete"), "{plan}");
    assert!(
        plan.contains(&format!(
            "kept (they hold data): Namespace {}, PersistentVolumeClaim vol-workspace",
            c.namespace("acme")
        )),
        "{plan}"
    );
    let apply = c.tenantd(&["apply"]);
    expect_exit(&apply, 0, "delete");
    for (resource, name) in [
        ("deployments", "runtime"),
        ("services", "runtime"),
        ("serviceaccounts", "runtime"),
        ("networkpolicies", "default-deny"),
    ] {
        assert!(c.object(resource, "acme", name).is_none(), "{resource}/{name} is gone");
    }
    let claim = c.object("persistentvolumeclaims", "acme", "vol-workspace").expect("the claim is kept");
    assert_eq!(claim["metadata"]["uid"], claim_uid);
    assert!(c.object("namespaces", "acme", "").is_some(), "the namespace is kept");
    assert!(c.object("deployments", "globex", "runtime").is_some(), "another tenant is untouched");
    assert_eq!(c.status("acme").unwrap()["phase"], "Removed");
    // Only kept objects are left: no change, not a delete for ever.
    expect_exit(&c.tenantd(&["plan", "--detailed-exitcode"]), 0, "nothing left to delete");

    // The spec back: the tenant returns onto its claim.
    c.spec("acme.yaml", &registry_spec("acme", ""));
    expect_exit(&c.tenantd(&["apply"]), 0, "re-create");
    assert_eq!(c.object("persistentvolumeclaims", "acme", "vol-workspace").unwrap()["metadata"]["uid"], claim_uid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_the_cluster_holds_back_is_reported_with_the_clusters_reason() {
    let c = Cluster::start(None).await;
    c.fake.set_image_outcome("registry.example/missing:1", PodOutcome::ImagePullBackOff);
    c.fake.set_image_outcome("registry.example/crashing:1", PodOutcome::CrashLoopBackOff);
    c.spec("acme.yaml", &registry_spec("acme", "").replace("openclaw:2026.11", "missing:1"));
    c.spec("globex.yaml", &registry_spec("globex", "").replace("openclaw:2026.11", "crashing:1"));
    c.spec("initech.yaml", &registry_spec("initech", ""));

    let apply = c.tenantd(&["apply"]);
    expect_exit(&apply, 1, "two tenants do not come up");
    let out = stdout(&apply);
    assert!(out.contains("initech: created"), "{out}");
    let acme = c.status("acme").unwrap();
    assert_eq!(acme["phase"], "ImagePullBackOff", "{acme}");
    assert!(acme["lastError"].as_str().unwrap().contains("ImagePullBackOff"), "{acme}");
    let globex = c.status("globex").unwrap();
    assert_eq!(globex["phase"], "CrashLoopBackOff", "{globex}");
    assert_eq!(globex["restartCount"], 3, "{globex}");
    assert!(globex["lastError"].as_str().unwrap().contains("exited with code 1"), "{globex}");
    assert_eq!(c.status("initech").unwrap()["phase"], "Running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_of_another_owner_is_never_adopted() {
    let c = Cluster::start(None).await;
    let client = c.fake.client().await;
    let namespaces: Api<Namespace> = Api::all(client);
    let foreign = serde_json::from_value(json!({"metadata": {"name": c.namespace("acme")}})).unwrap();
    namespaces.create(&PostParams::default(), &foreign).await.unwrap();
    c.spec("acme.yaml", &registry_spec("acme", ""));
    c.spec("globex.yaml", &registry_spec("globex", ""));

    let plan = stdout(&c.tenantd(&["plan"]));
    assert!(plan.contains("! acme: conflict: left alone"), "{plan}");
    c.fake.clear_calls();
    expect_exit(&c.tenantd(&["apply"]), 1, "a conflict is an error");
    assert!(c.fake.writes().iter().all(|w| !w.path.contains(&c.namespace("acme"))), "{:?}", c.fake.writes());
    assert_eq!(c.status("acme").unwrap()["phase"], "Conflict");
    assert!(c.object("deployments", "globex", "runtime").is_some(), "other tenants converge");
    let ns = c.object("namespaces", "acme", "").unwrap();
    assert!(ns["metadata"]["labels"].get("io.tenantd.instance").is_none(), "{ns}");
}

/// `tenantd secrets encrypt` of `value` to `recipient`, as the YAML block of a secret entry.
fn encrypt(c: &Cluster, recipient: &str, value: &str) -> String {
    use std::io::Write;
    let mut child = c
        .command(&["secrets", "encrypt", "--recipient", recipient])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(value.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().lines().map(|l| format!("      {l}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_reach_the_cluster_only_in_the_tenants_secret_and_a_rotation_rolls_the_pod() {
    let c = Cluster::start(None).await;
    let key = c.path("age.key");
    let keygen = c.tenantd(&["secrets", "keygen", "--output", key.to_str().unwrap()]);
    expect_exit(&keygen, 0, "keygen");
    let recipient = stderr(&keygen).split_whitespace().find(|w| w.starts_with("age1")).unwrap().to_string();
    c.write_config("[secrets]\nidentity_file = \"age.key\"\n");
    let canary = "canary-7f3a9c-never-printed";
    let spec = |value: &str| {
        registry_spec(
            "acme",
            &format!(
                "  secrets:\n    GW:\n{}  runtimeConfig:\n    gatewayToken: {{ secret: GW }}\n",
                encrypt(&c, &recipient, value)
            ),
        )
    };
    c.spec("acme.yaml", &spec(canary));

    let plan = c.tenantd(&["plan"]);
    let apply = c.tenantd(&["apply"]);
    expect_exit(&apply, 0, "apply");
    let secret = c.object("secrets", "acme", "runtime-secrets").expect("the runtime's Secret");
    let encoded = secret["data"]["GW"].as_str().unwrap();
    use base64_check::decode;
    assert_eq!(decode(encoded), canary.as_bytes());
    let config = c.object("configmaps", "acme", "runtime-config").unwrap();
    assert!(config["data"]["openclaw.json"].as_str().unwrap().contains("${secret:GW}"));
    let dep = c.object("deployments", "acme", "runtime").unwrap();
    let files_hash = dep["spec"]["template"]["metadata"]["annotations"]["io.tenantd.files-hash"].clone();

    // The value appears nowhere else: not in output, status, state or any other object.
    let mut seen = vec![stdout(&plan), stderr(&plan), stdout(&apply), stderr(&apply)];
    for entry in walk(&c.state) {
        seen.push(String::from_utf8_lossy(&std::fs::read(entry).unwrap()).into_owned());
    }
    for resource in [
        "namespaces",
        "serviceaccounts",
        "networkpolicies",
        "configmaps",
        "persistentvolumeclaims",
        "services",
        "deployments",
        "pods",
    ] {
        seen.extend(c.fake.list(resource).iter().map(|o| o.to_string()));
    }
    for text in &seen {
        assert!(!text.contains(canary) && !text.contains(encoded), "a secret value leaked: {text}");
    }

    // A rotated value: the Secret is applied again and the pod rolls (its template changes).
    c.spec("acme.yaml", &spec("rotated-value"));
    let plan = stdout(&c.tenantd(&["plan"]));
    assert!(plan.contains("replace (stop first, because of: runtimeFiles)"), "{plan}");
    assert!(plan.contains("apply Secret runtime-secrets"), "{plan}");
    assert!(!plan.contains("rotated-value"), "{plan}");
    expect_exit(&c.tenantd(&["apply"]), 0, "rotate");
    let secret = c.object("secrets", "acme", "runtime-secrets").unwrap();
    assert_eq!(decode(secret["data"]["GW"].as_str().unwrap()), b"rotated-value");
    let dep = c.object("deployments", "acme", "runtime").unwrap();
    assert_ne!(dep["spec"]["template"]["metadata"]["annotations"]["io.tenantd.files-hash"], files_hash);

    // Someone else changes the value: the Secret is set back, without showing either value.
    let client = c.fake.client().await;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, &c.namespace("acme"));
    let patch = json!({"data": {"GW": "aGlqYWNrZWQ="}});
    secrets.patch("runtime-secrets", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let plan = stdout(&c.tenantd(&["plan"]));
    assert!(plan.contains("Secret runtime-secrets: (sensitive values changed outside tenantd): set back"), "{plan}");
    assert!(!plan.contains("aGlqYWNrZWQ") && !plan.contains("hijacked"), "{plan}");
    expect_exit(&c.tenantd(&["apply"]), 0, "set back");
    let secret = c.object("secrets", "acme", "runtime-secrets").unwrap();
    assert_eq!(decode(secret["data"]["GW"].as_str().unwrap()), b"rotated-value");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Standard base64, decoded without another dependency.
mod base64_check {
    pub fn decode(s: &str) -> Vec<u8> {
        let v: k8s_openapi::ByteString = serde_json::from_value(serde_json::Value::String(s.to_string())).unwrap();
        v.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_volumes_rolls_start_first_and_one_with_volumes_stop_first() {
    let c = Cluster::start(None).await;
    let volume = "  volumes: [ { name: workspace, mountPath: /home/node/.openclaw/workspaces } ]\n";
    let stateless = |level: &str| registry_spec("acme", "").replace(volume, "").replace("LOG_LEVEL: info", level);
    assert!(!stateless("LOG_LEVEL: info").contains("volumes"));
    c.spec("acme.yaml", &stateless("LOG_LEVEL: info"));
    c.spec("globex.yaml", &registry_spec("globex", ""));
    expect_exit(&c.tenantd(&["apply"]), 0, "create");
    let strategy = |tenant: &str| c.object("deployments", tenant, "runtime").unwrap()["spec"]["strategy"].clone();
    assert_eq!(
        strategy("acme"),
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    );
    assert_eq!(strategy("globex"), json!({"type": "Recreate"}));

    c.spec("acme.yaml", &stateless("LOG_LEVEL: debug"));
    c.spec("globex.yaml", &registry_spec("globex", "").replace("LOG_LEVEL: info", "LOG_LEVEL: debug"));
    let plan = c.tenantd(&["plan", "--output", "json"]);
    expect_exit(&plan, 0, "plan");
    let p: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
    let strategies: Vec<(&str, &str)> = p["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tenant"].as_str().unwrap(), t["strategy"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(strategies, [("acme", "startFirst"), ("globex", "stopFirst")], "{p}");
    let human = stdout(&c.tenantd(&["plan"]));
    assert!(human.contains("-/+ acme: replace (start first, because of: env)"), "{human}");
    assert!(human.contains("-/+ globex: replace (stop first, because of: env)"), "{human}");
    expect_exit(&c.tenantd(&["apply"]), 0, "apply the edits");
    expect_exit(&c.tenantd(&["plan", "--detailed-exitcode"]), 0, "converged after the edits");
    assert_eq!(strategy("acme")["type"], "RollingUpdate", "the strategy stays");
}
