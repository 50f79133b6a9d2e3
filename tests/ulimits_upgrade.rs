//! Upgrading tenantd does not recreate containers over their `nofile`/`nproc` ulimits: a
//! container created with the limits an earlier release set (nofile 4096, nproc 65536) is
//! left alone, because ulimits are neither hashed nor observed.

mod support;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, StartContainerOptions};
use bollard::Docker;
use serde_json::json;
use support::*;

#[tokio::test]
async fn a_container_with_the_previous_ulimits_is_not_replaced() {
    let Some(env) = Env::new("a_container_with_the_previous_ulimits_is_not_replaced") else { return };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let name = env.container("acme");
    let current = env.inspect(&name).expect("acme's container");
    let limits = current["HostConfig"]["Ulimits"].to_string();
    assert!(limits.contains(r#""Name":"nproc""#) && !limits.contains("65536"), "{limits}");

    // The same container as the earlier release created it: every setting and label equal,
    // only the ulimits of that release.
    let mut body = current["Config"].clone();
    body["HostConfig"] = current["HostConfig"].clone();
    body["HostConfig"]["Ulimits"] = json!([
        {"Name": "nofile", "Soft": 4096, "Hard": 4096},
        {"Name": "nproc", "Soft": 65536, "Hard": 65536},
    ]);
    let network = env.network("acme");
    body["NetworkingConfig"] = json!({"EndpointsConfig": {network: {"Aliases": ["runtime"]}}});
    let body: ContainerCreateBody = serde_json::from_value(body).expect("inspect output is a create body");
    let removed = docker(&["rm", "--force", &name]);
    assert!(removed.status.success(), "{}", stderr(&removed));
    let engine = Docker::connect_with_local_defaults().expect("docker client");
    let options = CreateContainerOptionsBuilder::new().name(&name).build();
    let old = engine.create_container(Some(options), body).await.expect("create the earlier release's container");
    engine.start_container(&old.id, None::<StartContainerOptions>).await.expect("start it");
    let recreated = env.inspect(&name).expect("the earlier release's container");
    assert!(recreated["HostConfig"]["Ulimits"].to_string().contains("65536"));

    let plan = env.tenantd(&["plan"]);
    assert!(stdout(&plan).contains("acme: no change"), "{}{}", stdout(&plan), stderr(&plan));
    env.apply_ok();
    assert_eq!(env.container_id("acme").as_deref(), Some(old.id.as_str()), "the container was replaced");
}
