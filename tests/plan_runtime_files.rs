//! How the plan treats runtime files (generated config and secrets), on the fake runtime: what
//! changes is named, secrets only as a sensitive change, and the running runtime is reloaded,
//! restarted or recreated as its spec says. No engine: the fake stands in for one, and files go
//! to a temporary directory (allowed off tmpfs for the test).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tenantd::plan::{plan, render_human, ChangeKind, Plan, PlanInput, Step};
use tenantd::ports::allocate;
use tenantd::reconcile::{execute, FileDelivery, WaitPolicy};
use tenantd::render::{render, DesiredTenant, FileRoots};
use tenantd::runtime::fake::FakeRuntime;
use tenantd::runtime::{ObservedWorld, Runtime};
use tenantd::spec::{parse_str, LoadedSpec, TenantName};

struct Files {
    _dir: tempfile::TempDir,
    roots: FileRoots,
    delivery: FileDelivery,
    recipient: String,
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = tenantd::secrets::keygen();
    let key = dir.path().join("age.key");
    std::fs::write(&key, identity.expose()).unwrap();
    // Readable by its owner only, or tenantd refuses it.
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let roots = FileRoots {
        config: dir.path().join("config"),
        secrets: dir.path().join("secrets"),
        ingress: dir.path().join("ingress"),
    };
    let delivery = FileDelivery::at(roots.clone(), Some(key), true);
    Files { _dir: dir, roots, delivery, recipient }
}

fn spec_yaml(f: &Files, secret: &str, redact: &str, reload: &str) -> String {
    let armored = tenantd::secrets::encrypt(secret.as_bytes(), std::slice::from_ref(&f.recipient)).unwrap();
    let block: String = armored.lines().map(|l| format!("        {l}\n")).collect();
    format!(
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{ name: acme }}\nspec:\n  image: example/runtime:1\n  rollout: {{ strategy: stopFirst }}\n  reload: {reload}\n  secrets:\n    GW:\n      value: |\n{block}  runtimeConfig:\n    gatewayToken: {{ secret: GW }}\n    logging:\n      redactPatterns: ['{redact}']\n"
    )
}

fn desired(f: &Files, yaml: &str) -> BTreeMap<TenantName, Arc<DesiredTenant>> {
    let path = PathBuf::from("tenants.d/acme.yaml");
    let file = parse_str(yaml, Path::new(&path)).expect("a valid spec");
    let spec = LoadedSpec { path, file, contexts: BTreeMap::new() };
    let d = render(&spec, &"tenantd".parse().unwrap(), &f.roots);
    BTreeMap::from([(d.name.clone(), Arc::new(d))])
}

fn plan_of(f: &Files, desired: &BTreeMap<TenantName, Arc<DesiredTenant>>, observed: &ObservedWorld) -> Plan {
    let ports = allocate(&desired.keys().cloned().collect(), &observed.host_ports(), &(19000..=19999), |_| true);
    plan(PlanInput {
        desired,
        invalid: &BTreeMap::new(),
        hold_deletions: None,
        observed,
        ports: &ports,
        rolled_back: &BTreeMap::new(),
        delivered: &f.delivery.delivered_all(),
        only: None,
        earlier_builds: &BTreeMap::new(),
        ingress_routes: &BTreeMap::new(),
    })
}

async fn apply(f: &Files, fake: &FakeRuntime, p: &Plan) {
    let no_wait = WaitPolicy { enabled: false, max: std::time::Duration::ZERO };
    let outcomes = execute(fake, p, 4, &(19000..=19999), no_wait, Some(f.delivery.clone())).await;
    assert!(outcomes.values().all(|o| matches!(o.fact, tenantd::status::ApplyFact::Applied)), "{outcomes:?}");
}

async fn observe(fake: &FakeRuntime) -> ObservedWorld {
    fake.observe(&[], &[]).await.unwrap()
}

fn actions(p: &Plan) -> Vec<String> {
    p.tenants[0]
        .steps
        .iter()
        .map(|s| match s {
            Step::WriteFiles { files } => format!("write {}", files.join(" ")),
            Step::SignalContainer { signal, .. } => format!("signal {signal}"),
            Step::RestartContainer { .. } => "restart".into(),
            Step::ReplaceContainer { .. } => "replace".into(),
            Step::RemoveContainer { .. } => "remove".into(),
            Step::RemoveFiles => "remove files".into(),
            Step::RemoveNetwork { .. } => "remove network".into(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn files_are_written_before_the_container_and_then_need_nothing() {
    let f = files();
    let fake = FakeRuntime::new();
    let d = desired(&f, &spec_yaml(&f, "token-one", "first", "signal"));
    let p = plan_of(&f, &d, &ObservedWorld::default());
    let steps = actions(&p);
    let write = steps.iter().position(|s| s == "write openclaw.json secret/GW").expect("files written");
    let create = steps.iter().position(|s| s.starts_with("CreateContainer")).expect("container created");
    assert!(write < create, "the bind mounts need the files first: {steps:?}");
    apply(&f, &fake, &p).await;
    assert_eq!(std::fs::read_to_string(f.roots.secrets.join("acme/GW")).unwrap(), "token-one");

    let again = plan_of(&f, &d, &observe(&fake).await);
    assert_eq!(again.tenants[0].change, ChangeKind::NoChange, "{:?}", actions(&again));
}

#[tokio::test]
async fn a_changed_file_reloads_restarts_or_recreates_as_the_spec_says() {
    let f = files();
    let fake = FakeRuntime::new();
    let first = desired(&f, &spec_yaml(&f, "token-one", "first", "signal"));
    apply(&f, &fake, &plan_of(&f, &first, &ObservedWorld::default())).await;
    let observed = observe(&fake).await;

    // A config edit: written, and the runtime is sent SIGHUP; no container is replaced.
    let edited = plan_of(&f, &desired(&f, &spec_yaml(&f, "token-one", "second", "signal")), &observed);
    let tp = &edited.tenants[0];
    assert_eq!(tp.change, ChangeKind::UpdateInPlace);
    assert!(tp.replace_fields.is_empty(), "{:?}", tp.replace_fields);
    assert_eq!(actions(&edited), ["write openclaw.json secret/GW", "signal SIGHUP"]);

    // Only the secret rotated: named, its value never shown.
    let same_config = desired(&f, &spec_yaml(&f, "token-two", "first", "signal"));
    let rotated = plan_of(&f, &same_config, &observed);
    let text = render_human(&rotated);
    assert!(text.contains("runtime file secret/GW: (sensitive value changed)"), "{text}");
    assert!(!text.contains("token-two") && !text.contains("BEGIN AGE"), "{text}");

    // The other policies.
    let restart = plan_of(&f, &desired(&f, &spec_yaml(&f, "token-one", "second", "restart")), &observed);
    assert_eq!(actions(&restart).last().map(String::as_str), Some("restart"));
    let recreate = plan_of(&f, &desired(&f, &spec_yaml(&f, "token-one", "second", "recreate")), &observed);
    assert_eq!(recreate.tenants[0].change, ChangeKind::Replace);
    assert!(recreate.tenants[0].replace_fields.contains(&"runtimeFiles".to_string()));
    assert!(!actions(&recreate).iter().any(|a| a.starts_with("signal") || a == "restart"));
}

#[tokio::test]
async fn a_deleted_tenant_loses_its_files() {
    let f = files();
    let fake = FakeRuntime::new();
    let d = desired(&f, &spec_yaml(&f, "token-one", "first", "signal"));
    apply(&f, &fake, &plan_of(&f, &d, &ObservedWorld::default())).await;
    let gone = plan_of(&f, &BTreeMap::new(), &observe(&fake).await);
    assert!(actions(&gone).contains(&"remove files".to_string()), "{:?}", actions(&gone));
    apply(&f, &fake, &gone).await;
    assert!(!f.roots.secrets.join("acme").exists());
    assert!(!f.roots.config.join("acme").exists());
    assert!(f.delivery.delivered_all().is_empty());
}
