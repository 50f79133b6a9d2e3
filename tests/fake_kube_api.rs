//! Tests of the fake Kubernetes API server (`tests/fake_kube`) through the real `kube` client.

mod fake_kube;

use fake_kube::FakeKube;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

#[tokio::test]
async fn smoke() {
    let fake = FakeKube::start().await;
    let client = fake.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "a"}, "data": {"k": "v"}})).unwrap();
    let created = api.create(&PostParams::default(), &cm).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
}
