//! Tests of the fake Kubernetes API server (`tests/fake_kube`) through the real `kube` client:
//! each behaviour tenantd's Kubernetes runtime relies on, as a real API server would show it.

mod fake_kube;

use std::time::Duration;

use fake_kube::{FakeKube, Kubelet, PodOutcome};
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Pod, Secret, Service};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, WatchEvent, WatchParams,
};
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// A typed object from JSON.
fn obj<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("a valid object")
}

/// `(code, reason, message)` of an API error.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> (u16, String, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.reason.clone(), status.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    api.create(&PostParams::default(), &obj(json!({"metadata": {"name": name}}))).await.expect("namespace created");
}

fn config_map(name: &str, labels: Value) -> ConfigMap {
    obj(json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}))
}

fn deployment(name: &str, image: &str, replicas: i32) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    })
}

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"].as_str().expect("resourceVersion").parse().expect("numeric resourceVersion")
}

#[tokio::test]
async fn version_and_discovery_answer_like_a_1_37_server() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(
        (version.git_version.as_str(), version.major.as_str(), version.minor.as_str()),
        ("v1.37.0-fake", "1", "37")
    );
    let discovery = kube::Discovery::new(client).run().await.unwrap();
    let gvk = kube::api::GroupVersionKind::gvk("apps", "v1", "Deployment");
    let (resource, caps) = discovery.resolve_gvk(&gvk).expect("deployments are discoverable");
    assert_eq!(resource.plural, "deployments");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(discovery.resolve_gvk(&kube::api::GroupVersionKind::gvk("", "v1", "Namespace")).is_some());
}

#[tokio::test]
async fn unserved_resources_and_paths_are_404_status() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let (code, reason, _) = api_error(replica_sets.list(&ListParams::default()).await);
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    let request = hyper::Request::get("/api/v1/nodes").body(Vec::new()).unwrap();
    let (code, reason, message) = api_error(client.request_text(request).await);
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (404, "NotFound", "the server could not find the requested resource")
    );
}

#[tokio::test]
async fn errors_are_status_objects_with_the_real_codes() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (code, reason, message) = api_error(api.get("missing").await);
    assert_eq!((code, reason.as_str(), message.as_str()), (404, "NotFound", "configmaps \"missing\" not found"));
    api.create(&PostParams::default(), &config_map("a", json!({}))).await.unwrap();
    let (code, reason, _) = api_error(api.create(&PostParams::default(), &config_map("a", json!({}))).await);
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    let (code, _, _) =
        api_error(api.replace("missing", &PostParams::default(), &config_map("missing", json!({}))).await);
    assert_eq!(code, 404);
    let (code, _, _) = api_error(api.delete("missing", &DeleteParams::default()).await);
    assert_eq!(code, 404);
    let nowhere: Api<ConfigMap> = Api::namespaced(client.clone(), "nowhere");
    let (code, reason, message) = api_error(nowhere.create(&PostParams::default(), &config_map("a", json!({}))).await);
    assert_eq!((code, reason.as_str(), message.as_str()), (404, "NotFound", "namespaces \"nowhere\" not found"));
    let apply = Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}));
    let (code, _, message) = api_error(nowhere.patch("a", &PatchParams::apply("t"), &apply).await);
    assert_eq!((code, message.as_str()), (404, "namespaces \"nowhere\" not found"));
    let bad_name = config_map("Not_A_Name", json!({}));
    let (code, reason, _) = api_error(api.create(&PostParams::default(), &bad_name).await);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    let bad_label = config_map("b", json!({"k": "not a valid value"}));
    assert_eq!(api_error(api.create(&PostParams::default(), &bad_label).await).0, 422);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut no_image = deployment("d", "app:1", 1);
    no_image["spec"]["template"]["spec"]["containers"][0].as_object_mut().unwrap().remove("image");
    let (code, _, message) = api_error(deployments.create(&PostParams::default(), &obj(no_image)).await);
    assert_eq!(
        (code, message.as_str()),
        (422, "Deployment.apps \"d\" is invalid: spec.template.spec.containers[0].image: Required value")
    );
    let mut mismatched = deployment("d", "app:1", 1);
    mismatched["spec"]["selector"]["matchLabels"]["app"] = json!("other");
    assert_eq!(api_error(deployments.create(&PostParams::default(), &obj(mismatched)).await).0, 422);
    let mut wrong_type = deployment("d", "app:1", 1);
    wrong_type["spec"]["replicas"] = json!("three");
    let request = hyper::Request::post("/apis/apps/v1/namespaces/default/deployments")
        .header("content-type", "application/json")
        .body(wrong_type.to_string().into_bytes())
        .unwrap();
    assert_eq!(api_error(client.request_text(request).await).0, 400);
}

#[tokio::test]
async fn the_server_sets_uid_resource_version_timestamps_and_generation() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    fake.set_kubelet(Kubelet::Off);
    let a = api.create(&PostParams::default(), &obj(deployment("a", "img:1", 1))).await.unwrap();
    let b = api.create(&PostParams::default(), &obj(deployment("b", "img:1", 1))).await.unwrap();
    let (a, b) = (serde_json::to_value(a).unwrap(), serde_json::to_value(b).unwrap());
    assert_ne!(a["metadata"]["uid"], b["metadata"]["uid"]);
    assert!(rv(&b) > rv(&a), "one global counter");
    assert_eq!(a["metadata"]["generation"], 1);
    assert_eq!(a["metadata"]["namespace"], "default");
    assert!(a["metadata"]["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    let merge = |patch: Value| {
        let api = api.clone();
        async move {
            let patched = api.patch("a", &PatchParams::default(), &Patch::Merge(patch)).await.unwrap();
            serde_json::to_value(patched).unwrap()
        }
    };
    let labelled = merge(json!({"metadata": {"labels": {"x": "y"}}})).await;
    assert_eq!(labelled["metadata"]["generation"], 1, "metadata changes keep the generation");
    assert!(rv(&labelled) > rv(&b));
    let scaled = merge(json!({"spec": {"replicas": 2}})).await;
    assert_eq!(scaled["metadata"]["generation"], 2, "spec changes bump the generation");
    assert_eq!(scaled["metadata"]["uid"], a["metadata"]["uid"]);
    assert_eq!(scaled["metadata"]["creationTimestamp"], a["metadata"]["creationTimestamp"]);
}

#[tokio::test]
async fn lists_filter_by_label_and_field_selectors_and_sort() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    create_namespace(&client, "ns-b").await;
    let pp = PostParams::default();
    let default: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let other: Api<ConfigMap> = Api::namespaced(client.clone(), "ns-b");
    default.create(&pp, &config_map("z", json!({"app": "web", "tier": "front"}))).await.unwrap();
    default.create(&pp, &config_map("m", json!({"app": "db"}))).await.unwrap();
    other.create(&pp, &config_map("a", json!({"app": "web"}))).await.unwrap();
    let names = |list: kube::api::ObjectList<ConfigMap>| {
        list.items
            .iter()
            .map(|c| format!("{}/{}", c.metadata.namespace.clone().unwrap(), c.metadata.name.clone().unwrap()))
            .collect::<Vec<_>>()
    };
    let all: Api<ConfigMap> = Api::all(client.clone());
    let cases = [
        ("app=web", vec!["default/z", "ns-b/a"]),
        ("app==web,tier=front", vec!["default/z"]),
        ("app,app!=web", vec!["default/m"]),
        ("tier", vec!["default/z"]),
        ("!tier,app", vec!["default/m", "ns-b/a"]),
        ("app in (db, web),tier notin (front)", vec!["default/m", "ns-b/a"]),
        ("app,app notin (web)", vec!["default/m"]),
    ];
    for (selector, expected) in cases {
        let list = all.list(&ListParams::default().labels(selector)).await.unwrap();
        assert_eq!(names(list), expected, "selector {selector}");
    }
    let unlabelled = default.list(&ListParams::default().labels("app!=web")).await.unwrap();
    assert_eq!(names(unlabelled), vec!["default/kube-root-ca.crt", "default/m"], "!= matches a missing label");
    let by_name = all.list(&ListParams::default().fields("metadata.name=a")).await.unwrap();
    assert_eq!(names(by_name), vec!["ns-b/a"]);
    let not_default =
        all.list(&ListParams::default().fields("metadata.namespace!=default").labels("app")).await.unwrap();
    assert_eq!(names(not_default), vec!["ns-b/a"]);
    let list = default.list(&ListParams::default().labels("app")).await.unwrap();
    assert_eq!(list.types.kind, "ConfigMapList");
    assert_eq!(list.types.api_version, "v1");
    assert!(list.metadata.resource_version.as_ref().is_some_and(|rv| !rv.is_empty()));
    assert_eq!(names(list), vec!["default/m", "default/z"], "sorted by name");
    let (code, _, _) = api_error(all.list(&ListParams::default().labels("app in (")).await);
    assert_eq!(code, 400);
    let (code, _, message) = api_error(all.list(&ListParams::default().fields("data.k=v")).await);
    assert_eq!((code, message.as_str()), (400, "field label not supported: data.k"));
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let fake = FakeKube::start().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client().await, "default");
    for name in ["c1", "c2", "c3"] {
        api.create(&PostParams::default(), &config_map(name, json!({"page": "yes"}))).await.unwrap();
    }
    let lp = ListParams::default().labels("page").limit(2);
    let first = api.list(&lp).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let second = api.list(&lp.continue_token(&token)).await.unwrap();
    assert_eq!(second.items.iter().map(|c| c.metadata.name.clone().unwrap()).collect::<Vec<_>>(), vec!["c3"]);
    assert!(second.metadata.continue_.is_none_or(|c| c.is_empty()));
}

#[tokio::test]
async fn replace_checks_the_resource_version_and_takes_ownership_of_changed_fields() {
    let fake = FakeKube::start().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client().await, "default");
    let initial: ConfigMap = obj(json!({"metadata": {"name": "c"}, "data": {"k": "v", "other": "x"}}));
    let creator = PostParams { field_manager: Some("creator".into()), ..Default::default() };
    let created = api.create(&creator, &initial).await.unwrap();
    let mut stale = created.clone();
    stale.metadata.resource_version = Some("1".into());
    let (code, reason, message) = api_error(api.replace("c", &PostParams::default(), &stale).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(message
        .ends_with("the object has been modified; please apply your changes to the latest version and try again"));
    let mut changed = created.clone();
    changed.data.as_mut().unwrap().insert("k".into(), "changed".into());
    let editor = PostParams { field_manager: Some("editor".into()), ..Default::default() };
    let replaced = serde_json::to_value(api.replace("c", &editor, &changed).await.unwrap()).unwrap();
    let owners: Vec<(String, String, Value)> = replaced["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["manager"].as_str().unwrap().into(), e["operation"].as_str().unwrap().into(), e["fieldsV1"].clone())
        })
        .collect();
    assert_eq!(
        owners,
        vec![
            ("creator".into(), "Update".into(), json!({"f:data": {"f:other": {}}})),
            ("editor".into(), "Update".into(), json!({"f:data": {"f:k": {}}})),
        ]
    );
    assert!(rv(&replaced) > rv(&serde_json::to_value(&created).unwrap()));
}

#[tokio::test]
async fn merge_and_strategic_merge_patches_apply_to_the_stored_object() {
    let fake = FakeKube::start().await;
    fake.set_kubelet(Kubelet::Off);
    let api: Api<Deployment> = Api::namespaced(fake.client().await, "default");
    let mut two_containers = deployment("d", "app:1", 1);
    two_containers["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "main", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
        {"name": "side", "image": "side:1"},
    ]);
    api.create(&PostParams::default(), &obj(two_containers)).await.unwrap();
    let merge = json!({"metadata": {"labels": {"team": "x"}, "annotations": null}, "spec": {"minReadySeconds": 5}});
    let merged = api.patch("d", &PatchParams::default(), &Patch::Merge(&merge)).await.unwrap();
    assert_eq!(merged.metadata.labels.unwrap()["team"], "x");
    assert_eq!(merged.spec.min_ready_seconds, Some(5));
    let strategic = json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "app:2"}]}}}});
    let patched = api.patch("d", &PatchParams::default(), &Patch::Strategic(&strategic)).await.unwrap();
    let containers = patched.spec.template.spec.unwrap().containers;
    assert_eq!(containers.len(), 2, "containers merge by name");
    assert_eq!(containers[0].image.as_deref(), Some("app:2"));
    assert_eq!(containers[0].env.as_ref().unwrap()[0].name, "A", "fields not in the patch are kept");
    assert_eq!(containers[1].image.as_deref(), Some("side:1"));
    let merge_list = json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "o:1"}]}}}});
    let replaced = api.patch("d", &PatchParams::default(), &Patch::Merge(&merge_list)).await.unwrap();
    assert_eq!(replaced.spec.template.spec.unwrap().containers.len(), 1, "a merge patch replaces lists");
    let stale = json!({"metadata": {"resourceVersion": "1"}, "data": {}});
    assert_eq!(api_error(api.patch("d", &PatchParams::default(), &Patch::Merge(&stale)).await).0, 409);
    let missing = api.patch("missing", &PatchParams::default(), &Patch::Merge(json!({}))).await;
    assert_eq!(api_error(missing).0, 404);
}

#[tokio::test]
async fn apply_creates_and_an_unchanged_apply_is_a_no_op() {
    let fake = FakeKube::start().await;
    fake.set_kubelet(Kubelet::Off);
    let api: Api<Deployment> = Api::namespaced(fake.client().await, "default");
    let pp = PatchParams::apply("tenantd");
    let first = api.patch("d", &pp, &Patch::Apply(deployment("d", "app:1", 1))).await.unwrap();
    let first = serde_json::to_value(first).unwrap();
    assert_eq!(first["metadata"]["generation"], 1);
    let entries = first["metadata"]["managedFields"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!((entry["manager"].as_str(), entry["operation"].as_str()), (Some("tenantd"), Some("Apply")));
    assert_eq!((entry["apiVersion"].as_str(), entry["fieldsType"].as_str()), (Some("apps/v1"), Some("FieldsV1")));
    assert!(entry["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(entry["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
    assert_eq!(entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"], json!({}), "lists are atomic");
    assert!(entry["fieldsV1"]["f:spec"].get("f:revisionHistoryLimit").is_none(), "defaults are nobody's");
    let stored = fake.get("deployments", Some("default"), "d").unwrap();
    fake.clear_calls();
    let again = api.patch("d", &pp, &Patch::Apply(deployment("d", "app:1", 1))).await.unwrap();
    let again = serde_json::to_value(again).unwrap();
    assert_eq!(rv(&again), rv(&stored), "an unchanged apply does not bump resourceVersion");
    assert_eq!(again["metadata"]["generation"], 1);
    assert_eq!(fake.get("deployments", Some("default"), "d").unwrap(), stored);
    let calls = fake.writes();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].content_type.as_deref(), Some("application/apply-patch+yaml"));
    let changed = api.patch("d", &pp, &Patch::Apply(deployment("d", "app:2", 1))).await.unwrap();
    assert_eq!(changed.metadata.generation, Some(2));
}

#[tokio::test]
async fn apply_conflicts_with_other_managers_unless_forced() {
    let fake = FakeKube::start().await;
    fake.set_kubelet(Kubelet::Off);
    let api: Api<Deployment> = Api::namespaced(fake.client().await, "default");
    api.patch("d", &PatchParams::apply("first"), &Patch::Apply(deployment("d", "app:1", 2))).await.unwrap();
    let same = api.patch("d", &PatchParams::apply("second"), &Patch::Apply(deployment("d", "app:1", 2))).await;
    assert!(same.is_ok(), "applying equal values shares ownership");
    let (code, reason, message) =
        api_error(api.patch("d", &PatchParams::apply("second"), &Patch::Apply(deployment("d", "app:1", 3))).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(message.contains(".spec.replicas") && message.contains("\"first\""), "{message}");
    assert_eq!(fake.get("deployments", Some("default"), "d").unwrap()["spec"]["replicas"], 2, "nothing written");
    let force = PatchParams::apply("second").force();
    let forced = api.patch("d", &force, &Patch::Apply(deployment("d", "app:1", 3))).await.unwrap();
    let forced = serde_json::to_value(forced).unwrap();
    assert_eq!(forced["spec"]["replicas"], 3);
    let first =
        forced["metadata"]["managedFields"].as_array().unwrap().iter().find(|e| e["manager"] == "first").unwrap();
    assert!(first["fieldsV1"]["f:spec"].get("f:replicas").is_none(), "forced fields move to the applier");
    let stale = Patch::Apply(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "resourceVersion": "1"}}),
    );
    assert_eq!(api_error(api.patch("d", &PatchParams::apply("second"), &stale).await).0, 409);
    let no_manager = api.patch("d", &PatchParams::default(), &Patch::Apply(deployment("d", "app:1", 3))).await;
    assert_eq!(api_error(no_manager).0, 422);
}

#[tokio::test]
async fn apply_removes_fields_the_manager_stopped_applying_unless_shared() {
    let fake = FakeKube::start().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client().await, "default");
    let cm = |labels: Value, data: Value| {
        Patch::Apply(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": labels}, "data": data}),
        )
    };
    let a = PatchParams::apply("a");
    api.patch("c", &a, &cm(json!({"keep": "1", "drop": "1", "shared": "1"}), json!({"x": "1", "y": "2"})))
        .await
        .unwrap();
    api.patch("c", &PatchParams::apply("b"), &cm(json!({"shared": "1"}), json!({}))).await.unwrap();
    let after = api.patch("c", &a, &cm(json!({"keep": "1"}), json!({"x": "1"}))).await.unwrap();
    let labels = after.metadata.labels.unwrap();
    assert_eq!(labels.keys().collect::<Vec<_>>(), vec!["keep", "shared"], "b still owns `shared`");
    assert_eq!(after.data.unwrap().keys().collect::<Vec<_>>(), vec!["x"]);
    let emptied = api.patch("c", &a, &cm(json!({}), json!({}))).await.unwrap();
    assert!(emptied.data.is_none(), "emptied maps are pruned");
    assert_eq!(emptied.metadata.labels.unwrap().keys().collect::<Vec<_>>(), vec!["shared"]);
}

#[tokio::test]
async fn apply_accepts_yaml_bodies() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n";
    let request = hyper::Request::patch("/api/v1/namespaces/default/configmaps/y?fieldManager=yaml")
        .header("content-type", "application/apply-patch+yaml")
        .body(yaml.as_bytes().to_vec())
        .unwrap();
    let created: ConfigMap = client.request(request).await.unwrap();
    assert_eq!(created.data.unwrap()["k"], "v");
    assert_eq!(fake.writes().last().unwrap().status, 201);
}

#[tokio::test]
async fn delete_honours_preconditions_and_answers_like_upstream() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api.create(&PostParams::default(), &config_map("c", json!({}))).await.unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    let wrong_uid =
        DeleteParams::default().preconditions(Preconditions { uid: Some("other".into()), resource_version: None });
    let (code, reason, message) = api_error(api.delete("c", &wrong_uid).await);
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(message.contains("Precondition failed: UID in precondition: other"), "{message}");
    let wrong_rv =
        DeleteParams::default().preconditions(Preconditions { uid: None, resource_version: Some("1".into()) });
    assert_eq!(api_error(api.delete("c", &wrong_rv).await).0, 409);
    assert!(fake.get("configmaps", Some("default"), "c").is_some(), "kept after failed preconditions");
    let right = DeleteParams::default().preconditions(Preconditions {
        uid: Some(uid.clone()),
        resource_version: created.metadata.resource_version.clone(),
    });
    let status = api.delete("c", &right).await.unwrap().right().expect("a Status for configmaps");
    assert_eq!(status.details.unwrap().uid, uid);
    assert!(fake.get("configmaps", Some("default"), "c").is_none());
    assert_eq!(api_error(api.delete("c", &DeleteParams::default()).await).0, 404);
    let services: Api<Service> = Api::namespaced(client, "default");
    let svc: Service = obj(json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}));
    services.create(&PostParams::default(), &svc).await.unwrap();
    let deleted =
        services.delete("s", &DeleteParams::background()).await.unwrap().left().expect("services answer the object");
    assert_eq!(deleted.metadata.name.as_deref(), Some("s"));
}

#[tokio::test]
async fn deleting_a_namespace_deletes_everything_in_it() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    create_namespace(&client, "doomed").await;
    create_namespace(&client, "kept").await;
    let doomed: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    doomed.create(&PostParams::default(), &config_map("c", json!({}))).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "doomed");
    deployments.create(&PostParams::default(), &obj(deployment("d", "app:1", 1))).await.unwrap();
    assert_eq!(fake.list("pods").iter().filter(|p| p["metadata"]["namespace"] == "doomed").count(), 1);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let answer = namespaces.delete("doomed", &DeleteParams::default()).await.unwrap().left().expect("the namespace");
    assert_eq!(answer.status.unwrap().phase.as_deref(), Some("Terminating"));
    for resource in ["configmaps", "deployments", "pods", "serviceaccounts"] {
        assert!(fake.list(resource).iter().all(|o| o["metadata"]["namespace"] != "doomed"), "{resource} left behind");
    }
    assert!(fake.get("namespaces", None, "doomed").is_none());
    assert!(fake.get("configmaps", Some("kept"), "kube-root-ca.crt").is_some(), "other namespaces untouched");
    assert_eq!(api_error(doomed.create(&PostParams::default(), &config_map("c", json!({}))).await).0, 404);
}

#[tokio::test]
async fn status_in_writes_to_the_main_resource_is_ignored() {
    let fake = FakeKube::start().await;
    fake.set_kubelet(Kubelet::Off);
    let client = fake.client().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut with_status = deployment("d", "app:1", 1);
    with_status["status"] = json!({"readyReplicas": 7, "replicas": 7});
    let created = api.create(&PostParams::default(), &obj(with_status)).await.unwrap();
    assert!(created.status.is_none_or(|s| s.ready_replicas.is_none()), "status is reset on create");
    let stored_status = fake.get("deployments", Some("default"), "d").unwrap()["status"].clone();
    let patch = json!({"status": {"readyReplicas": 9}, "metadata": {"labels": {"l": "v"}}});
    let patched =
        serde_json::to_value(api.patch("d", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap()).unwrap();
    assert_eq!(patched["status"], stored_status);
    assert_eq!(patched["metadata"]["labels"]["l"], "v");
    let namespaces: Api<Namespace> = Api::all(client);
    let ns: Namespace = obj(json!({"metadata": {"name": "n"}, "status": {"phase": "Terminating"}}));
    let created = namespaces.create(&PostParams::default(), &ns).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Active"));
}

#[tokio::test]
async fn namespaces_services_claims_and_secrets_are_defaulted() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    create_namespace(&client, "t").await;
    let ns = fake.get("namespaces", None, "t").unwrap();
    assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "t");
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["status"]["phase"], "Active");
    assert!(
        fake.get("serviceaccounts", Some("t"), "default").is_some(),
        "namespace setup adds a default ServiceAccount"
    );
    let pp = PostParams::default();
    let services: Api<Service> = Api::namespaced(client.clone(), "t");
    let svc: Service = obj(
        json!({"metadata": {"name": "s"}, "spec": {"selector": {"a": "b"}, "ports": [{"name": "http", "port": 80}]}}),
    );
    let svc = serde_json::to_value(services.create(&pp, &svc).await.unwrap()).unwrap();
    let spec = &svc["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert!(spec["clusterIP"].as_str().unwrap().starts_with("10.96."));
    assert_eq!(spec["clusterIPs"], json!([spec["clusterIP"]]));
    assert_eq!(
        (spec["sessionAffinity"].as_str(), spec["ipFamilyPolicy"].as_str()),
        (Some("None"), Some("SingleStack"))
    );
    assert_eq!(
        (spec["ipFamilies"].clone(), spec["internalTrafficPolicy"].clone()),
        (json!(["IPv4"]), json!("Cluster"))
    );
    assert_eq!(spec["ports"], json!([{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}]));
    let second: Service = obj(json!({"metadata": {"name": "s2"}, "spec": {"ports": [{"port": 81}]}}));
    let second = services.create(&pp, &second).await.unwrap();
    assert_ne!(second.spec.unwrap().cluster_ip.as_deref(), spec["clusterIP"].as_str(), "cluster IPs are unique");
    let moved = json!({"spec": {"clusterIP": "10.96.200.1", "clusterIPs": ["10.96.200.1"]}});
    assert_eq!(api_error(services.patch("s", &PatchParams::default(), &Patch::Merge(&moved)).await).0, 422);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "t");
    let claim: PersistentVolumeClaim = obj(json!({
        "metadata": {"name": "c"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }));
    claims.create(&pp, &claim).await.unwrap();
    let claim = claims.get("c").await.unwrap();
    assert_eq!(claim.spec.as_ref().unwrap().volume_mode.as_deref(), Some("Filesystem"));
    assert_eq!(claim.status.unwrap().phase.as_deref(), Some("Bound"));
    let secrets: Api<Secret> = Api::namespaced(client, "t");
    let secret: Secret =
        obj(json!({"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}, "data": {"a": "Yg=="}}));
    let secret = serde_json::to_value(secrets.create(&pp, &secret).await.unwrap()).unwrap();
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"], json!({"a": "Yg==", "password": "aHVudGVyMg=="}));
    assert!(secret.get("stringData").is_none());
}

#[tokio::test]
async fn deployments_are_defaulted_and_empty_values_omitted_like_go() {
    let fake = FakeKube::start().await;
    fake.set_kubelet(Kubelet::Off);
    let api: Api<Deployment> = Api::namespaced(fake.client().await, "default");
    let mut d = deployment("d", "registry.local/app", 1);
    d["spec"]["template"]["spec"] = json!({
        "containers": [{
            "name": "main",
            "image": "registry.local/app",
            "env": [],
            "ports": [{"containerPort": 8080}],
            "readinessProbe": {"httpGet": {"port": 8080, "httpHeaders": [{"name": "X", "value": ""}]}},
            "volumeMounts": [{"name": "cfg", "mountPath": "/cfg", "readOnly": false}],
        }, {"name": "pinned", "image": "side:1.2", "args": [], "env": [{"name": "EMPTY", "value": ""}]}],
        "volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "tmp", "emptyDir": {}}],
        "nodeSelector": {},
    });
    let created = serde_json::to_value(api.create(&PostParams::default(), &obj(d)).await.unwrap()).unwrap();
    let spec = &created["spec"];
    assert_eq!(
        (spec["revisionHistoryLimit"].clone(), spec["progressDeadlineSeconds"].clone()),
        (json!(10), json!(600))
    );
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    let pod = &spec["template"]["spec"];
    assert_eq!((pod["restartPolicy"].as_str(), pod["dnsPolicy"].as_str()), (Some("Always"), Some("ClusterFirst")));
    assert_eq!(
        (pod["schedulerName"].clone(), pod["terminationGracePeriodSeconds"].clone()),
        (json!("default-scheduler"), json!(30))
    );
    assert_eq!(pod["securityContext"], json!({}));
    assert!(pod.get("nodeSelector").is_none(), "an empty map is omitted");
    let main = &pod["containers"][0];
    assert_eq!(main["imagePullPolicy"], "Always", "untagged images are always pulled");
    assert_eq!(pod["containers"][1]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        (main["terminationMessagePath"].as_str(), main["terminationMessagePolicy"].as_str()),
        (Some("/dev/termination-log"), Some("File"))
    );
    assert_eq!(main["resources"], json!({}));
    assert!(main.get("env").is_none() && pod["containers"][1].get("args").is_none(), "empty lists are omitted");
    assert_eq!(pod["containers"][1]["env"], json!([{"name": "EMPTY"}]), "empty strings are omitted");
    assert_eq!(main["ports"], json!([{"containerPort": 8080, "protocol": "TCP"}]));
    assert_eq!(
        main["readinessProbe"],
        json!({
            "httpGet": {"port": 8080, "httpHeaders": [{"name": "X", "value": ""}], "path": "/", "scheme": "HTTP"},
            "timeoutSeconds": 1,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        })
    );
    assert_eq!(main["volumeMounts"], json!([{"name": "cfg", "mountPath": "/cfg"}]), "false is omitted");
    assert_eq!(
        pod["volumes"],
        json!([{"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}}, {"name": "tmp", "emptyDir": {}}])
    );
    let mut recreate = deployment("r", "app:1", 0);
    recreate["spec"]["strategy"] = json!({"type": "Recreate"});
    let recreate = serde_json::to_value(api.create(&PostParams::default(), &obj(recreate)).await.unwrap()).unwrap();
    assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(recreate["spec"]["replicas"], 0, "pointer fields keep zero values");
}

#[tokio::test]
async fn quantities_are_stored_in_canonical_form() {
    let fake = FakeKube::start().await;
    fake.set_kubelet(Kubelet::Off);
    let client = fake.client().await;
    let cases = [
        ("1000m", "1"),
        ("2000000", "2M"),
        ("0.5", "500m"),
        ("64Mi", "64Mi"),
        ("67108864", "67108864"),
        ("1Gi", "1Gi"),
        ("1500m", "1500m"),
        ("1024Ki", "1Mi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("12e3", "12e3"),
        ("12000", "12k"),
        ("1e3", "1e3"),
        ("100u", "100u"),
        ("0.0000000001", "1n"),
        ("+5", "5"),
        ("-1000", "-1k"),
        ("0", "0"),
        ("0Mi", "0"),
    ];
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    for (i, (given, canonical)) in cases.iter().enumerate() {
        let mut d = deployment(&format!("q{i}"), "app:1", 0);
        d["spec"]["template"]["spec"]["containers"][0]["resources"] =
            json!({"limits": {"cpu": given}, "requests": {"memory": given}});
        d["spec"]["template"]["spec"]["volumes"] = json!([{"name": "tmp", "emptyDir": {"sizeLimit": given}}]);
        let created = serde_json::to_value(api.create(&PostParams::default(), &obj(d)).await.unwrap()).unwrap();
        let pod = &created["spec"]["template"]["spec"];
        assert_eq!(pod["containers"][0]["resources"]["limits"]["cpu"], *canonical, "{given}");
        assert_eq!(pod["containers"][0]["resources"]["requests"]["memory"], *canonical, "{given}");
        assert_eq!(pod["volumes"][0]["emptyDir"]["sizeLimit"], *canonical, "{given}");
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client, "default");
    let claim: PersistentVolumeClaim =
        obj(json!({"metadata": {"name": "c"}, "spec": {"resources": {"requests": {"storage": "1073741824000m"}}}}));
    let claim = claims.create(&PostParams::default(), &claim).await.unwrap();
    assert_eq!(claim.spec.unwrap().resources.unwrap().requests.unwrap()["storage"].0, "1073741824");
    let mut bad = deployment("bad", "app:1", 0);
    bad["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({"limits": {"cpu": "1.2.3"}});
    let (code, reason, message) = api_error(api.create(&PostParams::default(), &obj(bad)).await);
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
    assert!(message.contains("quantities must match the regular expression"), "{message}");
}

fn pods_of(fake: &FakeKube, deployment: &str) -> Vec<Pod> {
    let owned = |p: &Value| p["metadata"]["ownerReferences"][0]["name"] == deployment;
    fake.list("pods").into_iter().filter(owned).map(obj).collect()
}

fn condition(d: &Deployment, kind: &str) -> (String, String) {
    let conditions = d.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    let c = conditions.into_iter().find(|c| c.type_.as_deref() == Some(kind));
    let c = c.unwrap_or_else(|| panic!("no {kind} condition"));
    (c.status.unwrap_or_default(), c.reason.unwrap_or_default())
}

#[tokio::test]
async fn a_deployment_gets_a_ready_pod_and_an_available_status() {
    let fake = FakeKube::start().await;
    let api: Api<Deployment> = Api::namespaced(fake.client().await, "default");
    let mut d = deployment("web", "app:1", 1);
    d["spec"]["template"]["metadata"]["annotations"] = json!({"a": "b"});
    let created = api.create(&PostParams::default(), &obj(d)).await.unwrap();
    let pods = pods_of(&fake, "web");
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    let meta = &pod.metadata;
    let hash = meta.labels.as_ref().unwrap()["pod-template-hash"].clone();
    let name = meta.name.clone().unwrap();
    let suffix = name.strip_prefix(&format!("web-{hash}-")).expect("<deployment>-<hash>-<suffix>");
    assert_eq!(suffix.len(), 5);
    assert_eq!(meta.labels.as_ref().unwrap()["app"], "web");
    assert_eq!(meta.annotations.as_ref().unwrap()["a"], "b");
    let owner = &meta.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Deployment", created.metadata.uid.as_deref().unwrap(), Some(true))
    );
    assert_eq!(pod.spec.as_ref().unwrap().containers[0].image.as_deref(), Some("app:1"));
    let status = pod.status.as_ref().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let container = &status.container_statuses.as_ref().unwrap()[0];
    assert!(container.ready && container.started == Some(true) && container.restart_count == 0);
    assert!(container.state.as_ref().unwrap().running.as_ref().unwrap().started_at.is_some());
    let ready = status.conditions.as_ref().unwrap().iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "True");
    let d = api.get("web").await.unwrap();
    let s = d.status.clone().unwrap();
    assert_eq!(s.observed_generation, Some(1));
    assert_eq!(
        (s.replicas, s.updated_replicas, s.ready_replicas, s.available_replicas),
        (Some(1), Some(1), Some(1), Some(1))
    );
    assert_eq!(s.unavailable_replicas, None);
    assert_eq!(condition(&d, "Available"), ("True".into(), "MinimumReplicasAvailable".into()));
    assert_eq!(condition(&d, "Progressing"), ("True".into(), "NewReplicaSetAvailable".into()));
}

#[tokio::test]
async fn image_outcomes_shape_pod_and_deployment_status() {
    let fake = FakeKube::start().await;
    fake.set_image_outcome("pull:1", PodOutcome::ImagePullBackOff);
    fake.set_image_outcome("crash:1", PodOutcome::CrashLoopBackOff);
    fake.set_image_outcome("slow:1", PodOutcome::NotReady);
    let api: Api<Deployment> = Api::namespaced(fake.client().await, "default");
    for (name, image) in [("pull", "pull:1"), ("crash", "crash:1"), ("slow", "slow:1")] {
        api.create(&PostParams::default(), &obj(deployment(name, image, 1))).await.unwrap();
        let d = api.get(name).await.unwrap();
        assert_eq!(condition(&d, "Available"), ("False".into(), "MinimumReplicasUnavailable".into()), "{name}");
        assert_eq!(d.status.as_ref().unwrap().unavailable_replicas, Some(1));
        assert_eq!(d.status.as_ref().unwrap().ready_replicas, None);
    }
    let status = |name: &str| pods_of(&fake, name).remove(0).status.unwrap();
    let pull = status("pull");
    assert_eq!(pull.phase.as_deref(), Some("Pending"));
    let waiting = pull.container_statuses.unwrap()[0].state.clone().unwrap().waiting.unwrap();
    assert_eq!(waiting.reason.as_deref(), Some("ImagePullBackOff"));
    assert!(waiting.message.unwrap().contains("pull:1"));
    let crash = status("crash");
    assert_eq!(crash.phase.as_deref(), Some("Running"));
    let c = &crash.container_statuses.unwrap()[0];
    assert_eq!((c.ready, c.restart_count), (false, 3));
    assert_eq!(c.state.as_ref().unwrap().waiting.as_ref().unwrap().reason.as_deref(), Some("CrashLoopBackOff"));
    let terminated = c.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((terminated.exit_code, terminated.reason.as_deref()), (1, Some("Error")));
    let slow = status("slow");
    let c = &slow.container_statuses.unwrap()[0];
    assert!(!c.ready && c.state.as_ref().unwrap().running.is_some());
    fake.set_image_outcome("pull:1", PodOutcome::Ready);
    assert_eq!(status("pull").phase.as_deref(), Some("Pending"), "outcomes apply to pods created afterwards");
}

#[tokio::test]
async fn template_changes_replace_pods_and_replicas_zero_or_no_kubelet_leave_none() {
    let fake = FakeKube::start().await;
    let api: Api<Deployment> = Api::namespaced(fake.client().await, "default");
    let pp = PatchParams::apply("tenantd");
    api.patch("d", &pp, &Patch::Apply(deployment("d", "app:1", 1))).await.unwrap();
    let first = pods_of(&fake, "d")[0].metadata.name.clone().unwrap();
    api.patch("d", &pp, &Patch::Apply(deployment("d", "app:1", 1))).await.unwrap();
    assert_eq!(pods_of(&fake, "d")[0].metadata.name.clone().unwrap(), first, "a no-op keeps the pod");
    api.patch("d", &pp, &Patch::Apply(deployment("d", "app:2", 1))).await.unwrap();
    let pods = pods_of(&fake, "d");
    assert_eq!(pods.len(), 1);
    assert_ne!(pods[0].metadata.name.clone().unwrap(), first);
    assert_eq!(pods[0].spec.as_ref().unwrap().containers[0].image.as_deref(), Some("app:2"));
    assert_eq!(api.get("d").await.unwrap().status.unwrap().observed_generation, Some(2));
    api.patch("d", &pp, &Patch::Apply(deployment("d", "app:2", 0))).await.unwrap();
    assert!(pods_of(&fake, "d").is_empty());
    let s = api.get("d").await.unwrap().status.unwrap();
    assert_eq!((s.replicas, s.ready_replicas, s.available_replicas, s.unavailable_replicas), (None, None, None, None));
    fake.set_kubelet(Kubelet::Off);
    api.patch("d", &pp, &Patch::Apply(deployment("d", "app:2", 1))).await.unwrap();
    assert!(pods_of(&fake, "d").is_empty(), "no node, no pods");
    let d = api.get("d").await.unwrap();
    assert_eq!(d.status.as_ref().unwrap().available_replicas, None);
    assert_eq!(condition(&d, "Available").0, "False");
    fake.set_kubelet(Kubelet::Ready);
    assert_eq!(pods_of(&fake, "d").len(), 1, "a node arriving starts the pending rollout");
    assert_eq!(condition(&api.get("d").await.unwrap(), "Available").0, "True");
}

#[tokio::test]
async fn pods_follow_their_deployment_and_simulated_writes_are_not_calls() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    fake.clear_calls();
    let created = api.create(&PostParams::default(), &obj(deployment("d", "app:1", 1))).await.unwrap();
    assert_eq!(fake.writes().len(), 1, "only the client's create is a call");
    let created_rv = rv(&serde_json::to_value(&created).unwrap());
    assert!(rv(&fake.get("deployments", Some("default"), "d").unwrap()) > created_rv, "the status update is a write");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod = pods_of(&fake, "d")[0].metadata.name.clone().unwrap();
    pods.delete(&pod, &DeleteParams::default()).await.unwrap().left().expect("pods answer the object");
    let replacement = pods_of(&fake, "d");
    assert_eq!(replacement.len(), 1, "a deleted pod is replaced");
    assert_ne!(replacement[0].metadata.name.as_deref(), Some(pod.as_str()));
    let status = api.delete("d", &DeleteParams::default()).await.unwrap().right().expect("a Status for deployments");
    assert_eq!(status.details.unwrap().name, "d");
    assert!(pods_of(&fake, "d").is_empty(), "the garbage collector removes the pods");
}

/// The next item of a stream, failing the test after 10 s instead of hanging.
async fn next<S: futures_util::Stream + Unpin>(stream: &mut S) -> S::Item {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10s")
        .expect("an open stream")
}

#[tokio::test]
async fn watches_replay_history_and_stream_changes_for_their_selection() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let start = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    api.create(&PostParams::default(), &config_map("before", json!({"w": "1"}))).await.unwrap();
    let mut events = api.watch(&WatchParams::default().labels("w=1"), &start).await.unwrap().boxed();
    let WatchEvent::Added(cm) = next(&mut events).await.unwrap() else { panic!("replayed ADDED expected") };
    assert_eq!(cm.metadata.name.as_deref(), Some("before"));
    let other = fake.client().await;
    let other: Api<ConfigMap> = Api::namespaced(other, "default");
    other.create(&PostParams::default(), &config_map("ignored", json!({"w": "2"}))).await.unwrap();
    other.patch("before", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "2"}}))).await.unwrap();
    let WatchEvent::Modified(cm) = next(&mut events).await.unwrap() else { panic!("MODIFIED expected") };
    assert_eq!(cm.data.unwrap()["k"], "2");
    other
        .patch("before", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"w": "3"}}})))
        .await
        .unwrap();
    let WatchEvent::Deleted(cm) = next(&mut events).await.unwrap() else { panic!("leaving the selection is DELETED") };
    assert_eq!(cm.metadata.labels.unwrap()["w"], "3");
    other
        .patch("before", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"w": "1"}}})))
        .await
        .unwrap();
    assert!(matches!(next(&mut events).await.unwrap(), WatchEvent::Added(_)), "entering the selection is ADDED");
    let deleted_rv = {
        other.delete("before", &DeleteParams::default()).await.unwrap();
        let WatchEvent::Deleted(cm) = next(&mut events).await.unwrap() else { panic!("DELETED expected") };
        cm.metadata.resource_version.unwrap()
    };
    assert!(deleted_rv.parse::<u64>().unwrap() > start.parse::<u64>().unwrap());
    let all: Api<ConfigMap> = Api::all(client);
    let mut everywhere = all.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    let WatchEvent::Added(first) = next(&mut everywhere).await.unwrap() else { panic!("initial ADDED expected") };
    assert_eq!(first.metadata.name.as_deref(), Some("ignored"), "rv 0 starts with the current objects, in order");
}

#[tokio::test]
async fn watches_from_a_compacted_version_get_410_and_bookmarks_end_timed_out_watches() {
    let fake = FakeKube::start().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client().await, "default");
    let old = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    api.create(&PostParams::default(), &config_map("c", json!({}))).await.unwrap();
    fake.compact();
    let mut events = api.watch(&WatchParams::default(), &old).await.unwrap().boxed();
    let WatchEvent::Error(status) = next(&mut events).await.unwrap() else { panic!("ERROR expected") };
    assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
    let now = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let events: Vec<_> =
        api.watch(&WatchParams::default().timeout(1), &now).await.unwrap().try_collect().await.unwrap();
    assert!(matches!(events.as_slice(), [WatchEvent::Bookmark(b)] if b.metadata.resource_version == now), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_watcher_sees_another_clients_apply_and_delete() {
    let fake = FakeKube::start().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client().await, "default");
    let config = watcher::Config::default().labels("app=watched");
    let mut events = watcher(api, config).boxed();
    loop {
        if let watcher::Event::InitDone = next(&mut events).await.unwrap() {
            break;
        }
    }
    let other: Api<ConfigMap> = Api::namespaced(fake.client().await, "default");
    let applied =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w", "labels": {"app": "watched"}}});
    other.patch("w", &PatchParams::apply("other"), &Patch::Apply(&applied)).await.unwrap();
    let watcher::Event::Apply(cm) = next(&mut events).await.unwrap() else { panic!("Apply expected") };
    assert_eq!(cm.metadata.name.as_deref(), Some("w"));
    other.delete("w", &DeleteParams::default()).await.unwrap();
    let watcher::Event::Delete(cm) = next(&mut events).await.unwrap() else { panic!("Delete expected") };
    assert_eq!(cm.metadata.name.as_deref(), Some("w"));
    let watch_calls: Vec<_> = fake.calls().into_iter().filter(|c| c.query.contains("watch=true")).collect();
    assert!(watch_calls.iter().all(|c| c.query.contains("labelSelector=app%3Dwatched") && c.status == 200));
}

#[tokio::test]
async fn metadata_only_requests_get_partial_object_metadata() {
    let fake = FakeKube::start().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client().await, "default");
    api.create(&PostParams::default(), &config_map("c", json!({"l": "1"}))).await.unwrap();
    let meta = api.get_metadata("c").await.unwrap();
    assert_eq!(meta.types.map(|t| t.kind).as_deref(), Some("PartialObjectMetadata"));
    assert_eq!(meta.metadata.labels.unwrap()["l"], "1");
    let list = api.list_metadata(&ListParams::default().labels("l")).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let raw = fake.calls().into_iter().last().unwrap();
    assert_eq!(raw.status, 200);
    let mut events = api.watch_metadata(&WatchParams::default().labels("l"), "0").await.unwrap().boxed();
    let WatchEvent::Added(meta) = next(&mut events).await.unwrap() else { panic!("ADDED expected") };
    assert_eq!(meta.metadata.name.as_deref(), Some("c"));
}

#[tokio::test]
async fn every_request_is_recorded() {
    let fake = FakeKube::start().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client().await, "default");
    fake.clear_calls();
    api.get("missing").await.unwrap_err();
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    api.patch("c", &PatchParams::apply("mgr").force(), &Patch::Apply(&applied)).await.unwrap();
    api.list(&ListParams::default().labels("a=b")).await.unwrap();
    let calls = fake.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str(), calls[0].status),
        ("GET", "/api/v1/namespaces/default/configmaps/missing", 404)
    );
    let apply = &calls[1];
    assert_eq!((apply.method.as_str(), apply.path.as_str()), ("PATCH", "/api/v1/namespaces/default/configmaps/c"));
    assert_eq!(apply.query, "&force=true&fieldManager=mgr");
    assert_eq!(
        (apply.field_manager.as_deref(), apply.content_type.as_deref()),
        (Some("mgr"), Some("application/apply-patch+yaml"))
    );
    assert_eq!(apply.status, 201);
    assert_eq!((calls[2].query.as_str(), calls[2].field_manager.as_deref()), ("&labelSelector=a%3Db", None));
    assert_eq!(fake.writes().len(), 1);
    fake.clear_calls();
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn dry_runs_answer_without_storing() {
    let fake = FakeKube::start().await;
    let api: Api<ConfigMap> = Api::namespaced(fake.client().await, "default");
    let before = fake.list("configmaps");
    let dry = PostParams { dry_run: true, ..Default::default() };
    let answered = api.create(&dry, &config_map("dry", json!({}))).await.unwrap();
    assert_eq!(answered.metadata.name.as_deref(), Some("dry"));
    assert!(answered.metadata.uid.is_some());
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}, "data": {"x": "y"}});
    let preview = api.patch("dry", &PatchParams::apply("m").dry_run(), &Patch::Apply(&applied)).await.unwrap();
    assert_eq!(preview.data.unwrap()["x"], "y");
    assert_eq!(fake.list("configmaps"), before, "nothing stored");
}

#[tokio::test(flavor = "current_thread")]
async fn the_server_answers_while_the_test_thread_blocks() {
    use std::io::{Read, Write};
    let fake = FakeKube::start().await;
    // A blocking exchange on the test's only runtime thread, like waiting for a subprocess.
    let mut stream = std::net::TcpStream::connect(fake.url().trim_start_matches("http://")).unwrap();
    stream.write_all(b"GET /version HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("v1.37.0-fake"));
    let request = b"GET /api/v1/namespaces HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n";
    let mut stream = std::net::TcpStream::connect(fake.url().trim_start_matches("http://")).unwrap();
    stream.write_all(request).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "anonymous requests are refused: {response}");
}

#[tokio::test]
async fn the_written_kubeconfig_reaches_the_fake() {
    let fake = FakeKube::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&path);
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    assert_eq!(kubeconfig.current_context.as_deref(), Some("fake"));
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    assert_eq!(config.cluster_url.to_string().trim_end_matches('/'), fake.url());
    let client = kube::Client::try_from(config).unwrap();
    let namespaces: Api<Namespace> = Api::all(client);
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, vec!["default", "kube-node-lease", "kube-public", "kube-system"]);
}

#[tokio::test]
async fn malformed_requests_get_client_error_statuses() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    let cm = "/api/v1/namespaces/default/configmaps";
    let cases: [(&str, String, &str, &str, u16); 17] = [
        ("POST", cm.into(), "application/json", "{not json", 400),
        ("POST", cm.into(), "application/json", "[1, 2]", 400),
        ("POST", cm.into(), "application/json", r#"{"metadata": "x"}"#, 400),
        ("POST", cm.into(), "application/json", r#"{"metadata": {}}"#, 422),
        ("POST", cm.into(), "application/json", r#"{"metadata": {"name": "a"}, "data": 5}"#, 400),
        ("POST", cm.into(), "application/json", r#"{"kind": "Secret", "metadata": {"name": "a"}}"#, 400),
        ("POST", cm.into(), "application/vnd.kubernetes.protobuf", "\u{0}", 415),
        ("POST", "/api/v1/configmaps".into(), "application/json", r#"{"metadata": {"name": "a"}}"#, 405),
        ("PUT", format!("{cm}/a"), "application/json", r#"{"metadata": {"name": "b"}}"#, 400),
        ("PATCH", format!("{cm}/a"), "application/json-patch+json", "[]", 415),
        ("PATCH", format!("{cm}/a"), "application/merge-patch+json", "[]", 400),
        ("PATCH", format!("{cm}/a?fieldManager=m"), "application/apply-patch+yaml", "kind: [", 400),
        ("PATCH", format!("{cm}/a?fieldManager=m"), "application/apply-patch+yaml", r#"{"metadata": {}}"#, 400),
        ("PATCH", format!("{cm}/a?fieldManager=m&force=maybe"), "application/apply-patch+yaml", "{}", 400),
        ("DELETE", format!("{cm}/a"), "application/json", "{", 400),
        ("GET", format!("{cm}?watch=true&resourceVersion=abc"), "application/json", "", 400),
        ("GET", format!("{cm}?limit=-1"), "application/json", "", 400),
    ];
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.patch("a", &PatchParams::apply("m"), &Patch::Apply(&applied)).await.unwrap();
    for (method, path, content_type, body, expected) in cases {
        let request = hyper::Request::builder()
            .method(method)
            .uri(&path)
            .header("content-type", content_type)
            .body(body.as_bytes().to_vec())
            .unwrap();
        let (code, _, message) = api_error(client.request_text(request).await);
        assert_eq!(code, expected, "{method} {path} {body}: {message}");
    }
    assert!(api.get("a").await.is_ok(), "still serving, object intact");
}
