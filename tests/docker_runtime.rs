//! The Docker runtime against the real engine: creation, hardening, observation (whole and per
//! tenant), in-place limit changes, rename and restart, resource samples, the event stream,
//! idempotent teardown, scope (foreign objects), images, and unreachable endpoints. Each test
//! has its own instance and removes all of it at the end.

#[path = "support/docker.rs"]
mod docker_support;
#[path = "support/stub.rs"]
mod stub;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use docker_support::{
    docker_ok, docker_test, free_port, inspect, stub_context, wait_for, DockerTest, FakeEngine, FAKE_ENGINE_TIME,
    TEST_OWNER,
};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use tenantd::render::labels;
use tenantd::render::{
    ContainerRole, DesiredContainer, DesiredNetwork, Healthcheck, ImageSource, Limits, VolumeMountPlan,
};
use tenantd::runtime::docker::{DockerRuntime, Timeouts};
use tenantd::runtime::error::UnreachableReason;
use tenantd::runtime::{
    ContainerEngine, ContainerState, EngineEvent, EngineEventKind, EngineHealth, ImageOutcome, Runtime, RuntimeError,
};
use tenantd::spec::{PullPolicy, TenantName};

/// The port the stub runtime serves `GET /health` on.
const STUB_PORT: u16 = 18789;

/// The shared stub runtime image (built once per test process by `support/stub.rs`).
async fn stub_image() -> String {
    tokio::task::spawn_blocking(stub::stub_image).await.expect("the stub image builds")
}

fn tenant(name: &str) -> TenantName {
    name.parse().expect("a valid tenant name")
}

fn limits(memory_mib: i64, nano_cpus: i64, pids: i64) -> Limits {
    Limits { memory_bytes: memory_mib << 20, nano_cpus, pids }
}

/// The main container of `tenant` as render would describe it, running the test image.
fn desired(t: &DockerTest, tenant: &str, image: &str) -> DesiredContainer {
    DesiredContainer {
        role: ContainerRole::Main,
        name: t.name(tenant),
        alias: "runtime".into(),
        image: ImageSource::Registry { reference: image.into(), pull_policy: PullPolicy::Never },
        args: None,
        env: BTreeMap::from([("B".into(), "2".into()), ("A".into(), "1".into())]),
        user: "10001:10001".into(),
        publish_port: Some(STUB_PORT),
        port: Some(STUB_PORT),
        mounts: vec![VolumeMountPlan {
            volume: t.name(&format!("{tenant}-data")),
            target: "/data".into(),
            read_only: false,
        }],
        binds: vec![],
        tmpfs: vec![],
        health: Some(Healthcheck {
            command: vec!["/stub-runtime".into(), "probe".into(), format!("http://127.0.0.1:{STUB_PORT}/health")],
            interval_ms: 1000,
            timeout_ms: 1000,
            start_period_ms: 0,
            retries: 3,
            path: "/health".into(),
        }),
        limits: limits(64, 500_000_000, 64),
        user_labels: BTreeMap::from([("team".into(), "blue".into())]),
        config_hash: "v1:config".into(),
        field_hashes: BTreeMap::from([("env".into(), "e1".into()), ("image".into(), "i1".into())]),
        applied: r#"{"image":"stub"}"#.into(),
    }
}

/// `GET /health` through the published port; `Some` once it answers 200.
fn http_ok(port: u16) -> Option<()> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /health HTTP/1.0\r\n\r\n").ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    (reply.split_whitespace().nth(1) == Some("200")).then_some(())
}

#[tokio::test]
async fn container_is_created_hardened_observed_resized_and_removed_idempotently() {
    let Some(t) = docker_test("lifecycle").await else {
        return;
    };
    let rt = &t.rt;
    let image = stub_image().await;
    let acme = tenant("acme");
    let network = DesiredNetwork { name: t.name("acme"), internal: false };
    let volume = t.name("acme-data");

    let network_id = rt.create_network(&acme, &network).await.unwrap();
    assert_eq!(
        rt.create_network(&acme, &network).await.unwrap(),
        network_id,
        "creating an existing network of ours is success"
    );
    rt.create_volume(&acme, &volume).await.unwrap();
    rt.create_volume(&acme, &volume).await.unwrap();

    let host_port = free_port();
    let c = desired(&t, "acme", &image);
    let id = rt.create_container(&acme, "v1:spec", &c, &network.name, Some(host_port)).await.unwrap();
    let again = rt.create_container(&acme, "v1:spec", &c, &network.name, Some(host_port)).await.unwrap_err();
    assert!(matches!(&again, RuntimeError::Engine { message, .. } if message.contains("already exists")), "{again:?}");

    rt.start_container(&id).await.unwrap();
    rt.start_container(&id).await.unwrap(); // already started: success

    let observed = wait_for("the container to be running and healthy", Duration::from_secs(60), || async {
        let world = rt.observe(std::slice::from_ref(&image), std::slice::from_ref(&c.name)).await.unwrap();
        let o = world.tenants.get(&acme)?.container(&ContainerRole::Main)?.clone();
        (o.state == ContainerState::Running && o.health == EngineHealth::Healthy).then_some((world, o))
    })
    .await;
    let (world, o) = observed;
    assert_eq!(o.id, id);
    assert_eq!(o.name, c.name);
    assert_eq!(o.image_ref, image);
    assert_eq!(Some(&Some(o.image_id.clone())), world.images.get(&image));
    assert_eq!(o.config_hash.as_deref(), Some("v1:config"));
    assert_eq!(o.spec_hash.as_deref(), Some("v1:spec"));
    assert_eq!(o.applied.as_deref(), Some(r#"{"image":"stub"}"#));
    assert_eq!(o.field_hashes, c.field_hashes);
    assert_eq!(o.limits, c.limits);
    assert_eq!(o.host_port, Some(host_port));
    let attached: Vec<&str> = o.networks.iter().map(|a| a.network.as_str()).collect();
    assert_eq!(attached, [network.name.as_str()]);
    assert!(o.networks[0].aliases.contains(&c.alias), "{:?}", o.networks);
    assert!(o.started_at.is_some());
    let observed_tenant = &world.tenants[&acme];
    assert_eq!(observed_tenant.volumes, vec![volume.clone()]);
    let observed_network = observed_tenant.network.as_ref().unwrap();
    assert_eq!((observed_network.id.as_str(), observed_network.internal), (network_id.as_str(), false));
    assert!(world.foreign.is_empty(), "{:?}", world.foreign);
    wait_for("the published port to answer", Duration::from_secs(20), || async { http_ok(host_port) }).await;

    // Every hardening default, as the engine reports it.
    let before = inspect(&id);
    let h = &before["HostConfig"];
    assert_eq!(h["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(h["CapAdd"], serde_json::Value::Null);
    assert_eq!(h["ReadonlyRootfs"], true);
    assert_eq!(h["SecurityOpt"], serde_json::json!(["no-new-privileges"]));
    assert_eq!(h["Init"], true);
    assert_eq!(h["Privileged"], false);
    assert_eq!(h["Memory"], 64 << 20);
    assert_eq!(h["MemorySwap"], 64 << 20);
    assert_eq!(h["NanoCpus"], 500_000_000);
    assert_eq!(h["PidsLimit"], 64);
    // The defaults, lowered to the host's hard limits where those are lower.
    let u = tenantd::runtime::docker::ContainerUlimits::within_own_hard_limits();
    assert_eq!(
        h["Ulimits"],
        serde_json::json!([{"Name": "nofile", "Soft": u.nofile, "Hard": u.nofile}, {"Name": "nproc", "Soft": u.nproc, "Hard": u.nproc}])
    );
    assert_eq!(h["LogConfig"]["Type"], "json-file");
    assert_eq!(h["LogConfig"]["Config"]["max-size"], "10m");
    assert_eq!(h["LogConfig"]["Config"]["max-file"], "3");
    assert_eq!(h["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(h["RestartPolicy"]["MaximumRetryCount"], 5);
    assert_eq!(h["NetworkMode"], network.name.as_str());
    for ns in ["PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode"] {
        assert_ne!(h[ns], "host", "{ns} is the host's");
    }
    assert!(h["Binds"].is_null(), "no host paths: {}", h["Binds"]);
    assert_eq!(h["Tmpfs"]["/tmp"], "rw,noexec,nosuid,nodev,size=64m");
    assert_eq!(
        h["PortBindings"],
        serde_json::json!({format!("{STUB_PORT}/tcp"): [{"HostIp": "127.0.0.1", "HostPort": host_port.to_string()}]})
    );
    for binding in before["NetworkSettings"]["Ports"][format!("{STUB_PORT}/tcp")].as_array().unwrap() {
        assert_eq!(binding["HostIp"], "127.0.0.1", "published beyond loopback: {binding}");
    }
    let networks = before["NetworkSettings"]["Networks"].as_object().unwrap();
    assert_eq!(networks.keys().collect::<Vec<_>>(), vec![&network.name], "not on the default bridge");
    assert!(networks[&network.name]["Aliases"].as_array().unwrap().contains(&"runtime".into()));
    for m in before["Mounts"].as_array().unwrap() {
        assert_eq!(m["Type"], "volume", "only named volumes: {m}");
    }
    let config = &before["Config"];
    assert_eq!(config["User"], "10001:10001");
    assert_eq!(config["Labels"][labels::INSTANCE], t.instance.as_str());
    assert_eq!(config["Labels"][labels::TENANT], "acme");
    assert_eq!(config["Labels"][labels::ROLE], "main");
    assert_eq!(config["Labels"][labels::FIELD_HASHES], "env=e1,image=i1");
    assert_eq!(config["Labels"][labels::HOST_PORT], host_port.to_string());
    assert_eq!(config["Labels"]["io.tenantd.label.team"], "blue");
    assert_eq!(config["StopTimeout"], 10);
    let env: Vec<&str> = config["Env"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(env.starts_with(&["A=1", "B=2"]), "{env:?}");
    assert_eq!(config["Healthcheck"]["Test"][0], "CMD");
    assert_eq!(config["Healthcheck"]["Interval"], 1_000_000_000);

    // Limits change in place: same container, not restarted.
    let bigger = limits(96, 250_000_000, 80);
    rt.update_limits(&id, &bigger).await.unwrap();
    let after = inspect(&id);
    assert_eq!(after["Id"], before["Id"]);
    assert_eq!(after["State"]["StartedAt"], before["State"]["StartedAt"]);
    assert_eq!(after["HostConfig"]["Memory"], 96 << 20);
    assert_eq!(after["HostConfig"]["MemorySwap"], 96 << 20);
    assert_eq!(after["HostConfig"]["NanoCpus"], 250_000_000);
    assert_eq!(after["HostConfig"]["PidsLimit"], 80);
    // ... and back down, which on cgroup v1 must lower memory and swap in the right order.
    rt.update_limits(&id, &limits(48, 500_000_000, 64)).await.unwrap();
    let world = rt.observe(&[], &[]).await.unwrap();
    let o = world.tenants[&acme].container(&ContainerRole::Main).unwrap();
    assert_eq!(o.limits, limits(48, 500_000_000, 64));
    assert_eq!(o.started_at.as_deref(), before["State"]["StartedAt"].as_str());
    assert_eq!(o.state, ContainerState::Running);

    // Stopping and removing are idempotent; removing keeps the volume.
    rt.stop_container(&id, 5).await.unwrap();
    rt.stop_container(&id, 5).await.unwrap();
    let world = rt.observe(&[], &[]).await.unwrap();
    let o = world.tenants[&acme].container(&ContainerRole::Main).unwrap();
    assert!(matches!(o.state, ContainerState::Exited { .. }), "{:?}", o.state);
    rt.remove_container(&id).await.unwrap();
    rt.remove_container(&id).await.unwrap();
    rt.stop_container(&id, 5).await.unwrap();
    rt.remove_network(&network.name).await.unwrap();
    rt.remove_network(&network.name).await.unwrap();
    let world = rt.observe(&[], &[]).await.unwrap();
    let left = &world.tenants[&acme];
    assert!(left.containers.is_empty() && left.network.is_none());
    assert_eq!(left.volumes, vec![volume]);
}

#[tokio::test]
async fn foreign_objects_are_reported_and_never_touched() {
    let Some(t) = docker_test("foreign").await else {
        return;
    };
    let rt = &t.rt;
    let image = stub_image().await;
    let acme = tenant("acme");
    let name = t.name("acme");
    let owner = format!("{TEST_OWNER}={}", t.instance);
    // Unlabelled, and labelled by another instance: both are foreign.
    let other_instance = format!("{}={}-other", labels::INSTANCE, t.instance);
    let foreign_id = docker_ok(&["create", "--name", &name, "--label", &owner, &image]).trim().to_string();
    let other_name = t.name("beta");
    docker_ok(&["create", "--name", &other_name, "--label", &owner, "--label", &other_instance, &image]);
    docker_ok(&["network", "create", "--label", &owner, &name]);
    docker_ok(&["volume", "create", "--label", &owner, &t.name("acme-data")]);

    let world =
        rt.observe(&[], &[name.clone(), other_name.clone(), t.name("unused"), t.name("acme-data")]).await.unwrap();
    assert!(world.tenants.is_empty(), "{:?}", world.tenants);
    let foreign: Vec<(&str, &str)> = world.foreign.iter().map(|f| (f.kind.as_str(), f.name.as_str())).collect();
    let volume = t.name("acme-data");
    assert_eq!(
        foreign,
        vec![
            ("container", name.as_str()),
            ("container", other_name.as_str()),
            ("network", name.as_str()),
            ("volume", volume.as_str())
        ]
    );

    let conflict = |r: Result<(), RuntimeError>| matches!(r, Err(RuntimeError::Conflict { .. }));
    assert!(conflict(rt.remove_container(&foreign_id).await));
    assert!(conflict(rt.remove_container(&name).await));
    assert!(conflict(rt.remove_container(&other_name).await));
    assert!(conflict(rt.stop_container(&foreign_id, 1).await));
    assert!(conflict(rt.start_container(&foreign_id).await));
    assert!(conflict(rt.update_limits(&foreign_id, &limits(32, 0, 0)).await));
    assert!(conflict(rt.connect_network(&foreign_id, &name, &["runtime".into()]).await));
    assert!(conflict(rt.disconnect_network(&foreign_id, "bridge").await));
    assert!(conflict(rt.remove_network(&name).await));
    assert!(conflict(rt.create_volume(&acme, &t.name("acme-data")).await));
    let network = DesiredNetwork { name: name.clone(), internal: true };
    assert!(matches!(rt.create_network(&acme, &network).await, Err(RuntimeError::Conflict { .. })));
    let created = rt.create_container(&acme, "v1:s", &desired(&t, "acme", &image), &name, None).await;
    assert!(matches!(created, Err(RuntimeError::Conflict { ref kind, .. }) if kind == "container"), "{created:?}");

    // Beside the foreign objects, a tenant of ours is observed, with an internal network.
    let beta = tenant("beta");
    let internal = DesiredNetwork { name: t.name("beta-net"), internal: true };
    let internal_id = rt.create_network(&beta, &internal).await.unwrap();
    let world = rt.observe(&[], std::slice::from_ref(&internal.name)).await.unwrap();
    let observed = world.tenants[&beta].network.as_ref().unwrap();
    assert_eq!((observed.id.as_str(), observed.internal), (internal_id.as_str(), true));
    assert!(world.foreign.is_empty(), "{:?}", world.foreign);
    assert_eq!(inspect(&internal.name)["Internal"], true);

    // All still there, untouched.
    let still = inspect(&foreign_id);
    assert_eq!(still["State"]["Status"], "created");
    assert_eq!(still["HostConfig"]["Memory"], 0);
    docker_ok(&["network", "inspect", &name]);
    docker_ok(&["volume", "inspect", &t.name("acme-data")]);
}

#[tokio::test]
async fn a_taken_host_port_is_reported_as_port_in_use() {
    let Some(t) = docker_test("port in use").await else {
        return;
    };
    let rt = &t.rt;
    let image = stub_image().await;
    let acme = tenant("acme");
    let network = DesiredNetwork { name: t.name("acme"), internal: false };
    rt.create_network(&acme, &network).await.unwrap();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let mut c = desired(&t, "acme", &image);
    c.mounts.clear();
    let id = rt.create_container(&acme, "v1:s", &c, &network.name, Some(port)).await.unwrap();
    let started = rt.start_container(&id).await;
    assert!(matches!(started, Err(RuntimeError::PortInUse { port: p }) if p == port), "{started:?}");
    drop(holder);
}

#[tokio::test]
async fn images_follow_their_pull_policy_and_build() {
    let Some(t) = docker_test("images").await else {
        return;
    };
    let rt = &t.rt;
    let present = stub_image().await;
    let missing = format!("tenantd-dockertest-missing:{}", t.instance);

    let never =
        rt.ensure_image(&ImageSource::Registry { reference: missing.clone(), pull_policy: PullPolicy::Never }).await;
    assert!(matches!(never, Err(RuntimeError::ImageMissing { ref reference }) if *reference == missing), "{never:?}");
    let if_not_present = rt
        .ensure_image(&ImageSource::Registry { reference: present.clone(), pull_policy: PullPolicy::IfNotPresent })
        .await
        .unwrap();
    assert!(matches!(if_not_present, ImageOutcome::AlreadyPresent { .. }));

    // Creating a container from an image that is not there says so (nothing is created).
    let mut c = desired(&t, "acme", &missing);
    c.mounts.clear();
    let created = rt.create_container(&tenant("acme"), "v1:s", &c, &t.name("acme"), None).await;
    assert!(
        matches!(created, Err(RuntimeError::ImageMissing { ref reference }) if *reference == missing),
        "{created:?}"
    );

    // Nothing listens there: the engine's own pull error comes back as ImagePull.
    let unreachable = format!("127.0.0.1:{}/x:y", free_port());
    let pulled = rt
        .ensure_image(&ImageSource::Registry { reference: unreachable.clone(), pull_policy: PullPolicy::IfNotPresent })
        .await;
    match pulled {
        Err(RuntimeError::ImagePull { reference, message }) => {
            assert_eq!(reference, unreachable);
            assert!(message.contains("connection refused"), "{message}");
        }
        other => panic!("expected ImagePull, got {other:?}"),
    }

    let world = rt.observe(&[present.clone(), missing.clone()], &[]).await.unwrap();
    assert!(world.images[&present].as_deref().is_some_and(|id| id.starts_with("sha256:")));
    assert_eq!(world.images[&missing], None);

    // The build path, to a tag of this test (removed at the end).
    let context = stub_context();
    let tag = format!("tenantd-dockertest:build-{}", t.instance);
    t.remove_image(&tag);
    let root = std::fs::canonicalize(context.path()).unwrap();
    let digest = |dockerfile: &str| tenantd::spec::context_digest(&root, dockerfile).unwrap();
    let build = ImageSource::Build {
        context: root.clone(),
        dockerfile: "Dockerfile".into(),
        tag: tag.clone(),
        digest: digest("Dockerfile"),
    };
    // Tenants that share a build context ask for it at once: it is built once, and all get the
    // one image (two builds of one tag make two images; the tag moving to the second would make
    // a container just created from the first look outdated).
    let outcomes = futures_util::future::join_all((0..4).map(|_| rt.ensure_image(&build))).await;
    let outcomes: Vec<ImageOutcome> = outcomes.into_iter().map(Result::unwrap).collect();
    let built = outcomes.iter().filter(|o| matches!(o, ImageOutcome::Built { .. })).count();
    assert_eq!(built, 1, "one build for four concurrent asks: {outcomes:?}");
    let ids: std::collections::BTreeSet<&String> = outcomes
        .iter()
        .map(|o| match o {
            ImageOutcome::Built { id } | ImageOutcome::AlreadyPresent { id } | ImageOutcome::Pulled { id } => id,
        })
        .collect();
    assert_eq!(ids.len(), 1, "{outcomes:?}");
    assert!(matches!(rt.ensure_image(&build).await.unwrap(), ImageOutcome::AlreadyPresent { .. }));
    assert_eq!(inspect(&tag)["Config"]["User"], "10001:10001");

    std::fs::write(context.path().join("Broken"), "FROM scratch\nRUN /bin/true\n").unwrap();
    let broken_tag = format!("tenantd-dockertest:broken-{}", t.instance);
    t.remove_image(&broken_tag);
    let broken = rt
        .ensure_image(&ImageSource::Build {
            context: root.clone(),
            dockerfile: "Broken".into(),
            tag: broken_tag,
            digest: digest("Broken"),
        })
        .await;
    assert!(
        matches!(broken, Err(RuntimeError::ImageBuild { ref message, .. }) if message.contains("/bin/sh")),
        "{broken:?}"
    );
    let no_dockerfile = rt
        .ensure_image(&ImageSource::Build {
            context: root.clone(),
            dockerfile: "Nope".into(),
            tag: format!("{tag}-nope"),
            digest: "none: the walk finds no Dockerfile".into(),
        })
        .await;
    assert!(
        matches!(no_dockerfile, Err(RuntimeError::ImageBuild { ref message, .. }) if message.contains("does not exist")),
        "{no_dockerfile:?}"
    );
}

#[tokio::test]
async fn unreachable_endpoints_say_why() {
    let instance = docker_support::unique_instance();
    let unreachable = |r: Result<(), RuntimeError>| match r {
        Err(RuntimeError::Unreachable { reason, .. }) => reason,
        other => panic!("expected Unreachable, got {other:?}"),
    };

    let missing = DockerRuntime::connect(&instance, Some("unix:///nonexistent.sock"), vec![]).unwrap();
    assert_eq!(missing.describe(), "docker at unix:///nonexistent.sock");
    assert_eq!(unreachable(missing.ping().await), UnreachableReason::SocketMissing);
    assert!(missing.observe(&[], &[]).await.unwrap_err().is_unreachable());

    let port = free_port();
    let refused = DockerRuntime::connect(&instance, Some(&format!("tcp://127.0.0.1:{port}")), vec![]).unwrap();
    assert_eq!(unreachable(refused.ping().await), UnreachableReason::ConnectionRefused);

    // Accepts connections (the kernel does) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("tcp://{}", silent.local_addr().unwrap());
    let slow = DockerRuntime::connect(&instance, Some(&address), vec![])
        .unwrap()
        .with_timeouts(Timeouts { call: Duration::from_millis(500), image: Duration::from_secs(5) });
    assert_eq!(unreachable(slow.ping().await), UnreachableReason::Timeout);

    let bad = DockerRuntime::connect(&instance, Some("ssh://me@host"), vec![]);
    assert!(matches!(bad, Err(RuntimeError::Engine { .. })));
}

/// Creates the network, volume and main container of `tenant` (not started); returns its id.
async fn create_tenant(t: &DockerTest, tenant_name: &str, image: &str) -> String {
    let name = tenant(tenant_name);
    let network = DesiredNetwork { name: t.name(tenant_name), internal: false };
    t.rt.create_network(&name, &network).await.unwrap();
    t.rt.create_volume(&name, &t.name(&format!("{tenant_name}-data"))).await.unwrap();
    t.rt.create_container(&name, "v1:spec", &desired(t, tenant_name, image), &network.name, None).await.unwrap()
}

/// A container of no instance of tenantd (removed by the test guard); returns its id.
fn create_foreign(t: &DockerTest, name: &str, image: &str) -> String {
    let owner = format!("{TEST_OWNER}={}", t.instance);
    docker_ok(&["create", "--name", name, "--label", &owner, image]).trim().to_string()
}

#[tokio::test]
async fn observe_tenant_sees_one_tenant_only() {
    let Some(t) = docker_test("observe tenant").await else {
        return;
    };
    let rt = &t.rt;
    let image = stub_image().await;
    let acme_id = create_tenant(&t, "acme", &image).await;
    create_tenant(&t, "beta", &image).await;
    let taken = t.name("taken");
    create_foreign(&t, &taken, &image);

    let acme = tenant("acme");
    let world = rt.observe_tenant(&acme, std::slice::from_ref(&image), std::slice::from_ref(&taken)).await.unwrap();
    assert_eq!(world.tenants.keys().collect::<Vec<_>>(), vec![&acme]);
    let observed = &world.tenants[&acme];
    assert_eq!(observed.containers.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec![acme_id.as_str()]);
    assert_eq!(observed.network.as_ref().unwrap().name, t.name("acme"));
    assert_eq!(observed.volumes, vec![t.name("acme-data")]);
    assert!(world.images[&image].is_some());
    assert_eq!(world.foreign.len(), 1, "{:?}", world.foreign);
    assert_eq!((world.foreign[0].kind.as_str(), world.foreign[0].name.as_str()), ("container", taken.as_str()));

    // The whole instance holds both; a tenant with nothing is absent.
    let all = rt.observe(&[], &[]).await.unwrap();
    assert_eq!(all.tenants.len(), 2);
    let none = rt.observe_tenant(&tenant("gamma"), &[], &[]).await.unwrap();
    assert!(none.tenants.is_empty(), "{:?}", none.tenants);
}

#[tokio::test]
async fn rename_and_restart_keep_the_container() {
    let Some(t) = docker_test("rename and restart").await else {
        return;
    };
    let rt = &t.rt;
    let image = stub_image().await;
    let id = create_tenant(&t, "acme", &image).await;
    rt.start_container(&id).await.unwrap();
    let foreign_name = t.name("foreign");
    let foreign = create_foreign(&t, &foreign_name, &image);

    let old = t.name("acme-old");
    rt.rename_container(&id, &old).await.unwrap();
    let renamed = inspect(&id);
    assert_eq!(renamed["Id"], id.as_str());
    assert_eq!(renamed["Name"], format!("/{old}"));
    rt.rename_container(&id, &old).await.unwrap(); // already so named: success
    let world = rt.observe(&[], &[]).await.unwrap();
    assert_eq!(world.tenants[&tenant("acme")].container(&ContainerRole::Main).unwrap().name, old);

    let conflict = rt.rename_container(&foreign, &t.name("mine")).await;
    assert!(matches!(conflict, Err(RuntimeError::Conflict { ref name, .. }) if *name == foreign_name), "{conflict:?}");
    assert_eq!(inspect(&foreign)["Name"], format!("/{foreign_name}"));
    let taken = rt.rename_container(&id, &foreign_name).await;
    assert!(
        matches!(taken, Err(RuntimeError::Engine { ref message, .. }) if message.contains("already in use")),
        "{taken:?}"
    );
    let missing_id = format!("{}-missing", t.instance);
    let missing = rt.rename_container(&missing_id, &t.name("x")).await;
    assert!(
        matches!(missing, Err(RuntimeError::Engine { ref operation, .. }) if operation.contains(&missing_id)),
        "{missing:?}"
    );

    let started = inspect(&id)["State"]["StartedAt"].clone();
    rt.restart_container(&id, 5).await.unwrap();
    let restarted = inspect(&id);
    assert_eq!(restarted["Id"], id.as_str());
    assert_eq!(restarted["State"]["Running"], true);
    assert_ne!(restarted["State"]["StartedAt"], started);
    assert!(matches!(rt.restart_container(&foreign, 1).await, Err(RuntimeError::Conflict { .. })));
    let missing = rt.restart_container(&missing_id, 1).await;
    assert!(
        matches!(missing, Err(RuntimeError::Engine { ref operation, .. }) if operation.contains(&missing_id)),
        "{missing:?}"
    );
}

#[tokio::test]
async fn stats_sample_a_running_container() {
    let Some(t) = docker_test("stats").await else {
        return;
    };
    let rt = &t.rt;
    let image = stub_image().await;
    let id = create_tenant(&t, "acme", &image).await;
    rt.start_container(&id).await.unwrap();
    let configured = desired(&t, "acme", &image).limits.memory_bytes as u64;

    let asked = Instant::now();
    let first = rt.stats(&id).await.unwrap();
    let took = asked.elapsed();
    assert!(took < Duration::from_millis(2500), "one sample took {took:?}");
    assert_eq!(first.memory_limit_bytes, configured);
    assert!(first.memory_bytes > 0 && first.memory_bytes <= first.memory_limit_bytes, "{first:?}");
    assert!(first.cpu_total_ns > 0, "{first:?}");
    assert!(first.online_cpus >= 1, "{first:?}");
    let second = rt.stats(&id).await.unwrap();
    assert!(second.cpu_total_ns >= first.cpu_total_ns, "{first:?} then {second:?}");
    assert!(second.system_cpu_ns >= first.system_cpu_ns, "{first:?} then {second:?}");

    let foreign = create_foreign(&t, &t.name("foreign"), &image);
    assert!(matches!(rt.stats(&foreign).await, Err(RuntimeError::Conflict { .. })));
    rt.stop_container(&id, 5).await.unwrap();
    let stopped = rt.stats(&id).await;
    assert!(
        matches!(stopped, Err(RuntimeError::Engine { ref message, .. }) if message.contains("not running")),
        "{stopped:?}"
    );
}

type Events = BoxStream<'static, Result<EngineEvent, RuntimeError>>;

/// Reads `events` until one matches `wanted` or `deadline` passes; returns all it read.
async fn read_until(
    events: &mut Events,
    what: &str,
    deadline: Duration,
    wanted: impl Fn(&EngineEvent) -> bool,
) -> Vec<EngineEvent> {
    let until = tokio::time::Instant::now() + deadline;
    let mut seen = vec![];
    loop {
        match tokio::time::timeout_at(until, events.next()).await {
            Ok(Some(Ok(event))) => {
                let found = wanted(&event);
                seen.push(event);
                if found {
                    return seen;
                }
            }
            Ok(Some(Err(e))) => panic!("the event stream failed while waiting for {what}: {e}"),
            Ok(None) => panic!("the event stream ended while waiting for {what}"),
            Err(_) => panic!("timed out after {deadline:?} waiting for {what}; saw {seen:?}"),
        }
    }
}

#[tokio::test]
async fn events_report_this_instance_only() {
    let Some(t) = docker_test("events").await else {
        return;
    };
    let rt = &t.rt;
    let image = stub_image().await;
    let acme = tenant("acme");
    let id = create_tenant(&t, "acme", &image).await;
    rt.start_container(&id).await.unwrap();
    // Another instance's container of a tenant with the same name.
    let owner = format!("{TEST_OWNER}={}", t.instance);
    let other_instance = format!("{}={}-other", labels::INSTANCE, t.instance);
    let other_tenant = format!("{}=acme", labels::TENANT);
    let other = docker_ok(&[
        "run",
        "-d",
        "--name",
        &t.name("other"),
        "--label",
        &owner,
        "--label",
        &other_instance,
        "--label",
        &other_tenant,
        &image,
    ])
    .trim()
    .to_string();

    let mut events = rt.events().await.unwrap();
    // Acting before the first poll: the subscription starts at the call, not at the poll.
    docker_ok(&["kill", &id]);
    docker_ok(&["kill", &other]);
    let mut seen =
        read_until(&mut events, "die", Duration::from_secs(20), |e| e.id == id && e.kind == EngineEventKind::Die).await;
    let die = seen.last().unwrap();
    assert_eq!(die.tenant.as_ref(), Some(&acme));

    docker_ok(&["update", "--memory", "96m", "--memory-swap", "96m", &id]);
    docker_ok(&["update", "--memory", "96m", "--memory-swap", "96m", &other]);
    seen.extend(
        read_until(&mut events, "update", Duration::from_secs(20), |e| e.id == id && e.kind == EngineEventKind::Update)
            .await,
    );

    docker_ok(&["rm", "-f", &other]);
    docker_ok(&["rm", "-f", &id]);
    seen.extend(
        read_until(&mut events, "destroy", Duration::from_secs(20), |e| {
            e.id == id && e.kind == EngineEventKind::Destroy
        })
        .await,
    );
    // The engine sends events in order: the other instance's came before the last of ours.
    assert!(seen.iter().all(|e| e.id == id && e.tenant.as_ref() == Some(&acme)), "{seen:?}");
    assert!(!seen.iter().any(|e| matches!(&e.kind, EngineEventKind::Other(a) if a.starts_with("exec_"))), "{seen:?}");
}

#[tokio::test]
async fn the_event_stream_fails_fast_and_ends_when_the_connection_breaks() {
    let instance = docker_support::unique_instance();

    let missing = DockerRuntime::connect(&instance, Some("unix:///nonexistent.sock"), vec![]).unwrap();
    assert!(matches!(
        missing.events().await.err(),
        Some(RuntimeError::Unreachable { reason: UnreachableReason::SocketMissing, .. })
    ));
    for result in [
        missing.observe_tenant(&tenant("acme"), &[], &[]).await.err(),
        missing.stats("x").await.err(),
        missing.rename_container("x", "y").await.err(),
        missing.restart_container("x", 1).await.err(),
    ] {
        assert!(result.as_ref().is_some_and(RuntimeError::is_unreachable), "{result:?}");
    }

    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow = DockerRuntime::connect(&instance, Some(&format!("tcp://{}", silent.local_addr().unwrap())), vec![])
        .unwrap()
        .with_timeouts(Timeouts { call: Duration::from_millis(500), image: Duration::from_secs(5) });
    let asked = Instant::now();
    let timed_out = slow.events().await.err();
    assert!(
        matches!(timed_out, Some(RuntimeError::Unreachable { reason: UnreachableReason::Timeout, .. })),
        "{timed_out:?}"
    );
    assert!(asked.elapsed() < Duration::from_secs(5), "{:?}", asked.elapsed());

    // An engine that sends one event and then drops the connection.
    let event = format!(
        r#"{{"Type":"container","Action":"die","Actor":{{"ID":"c0ffee","Attributes":{{"{}":"{instance}","{}":"acme"}}}},"time":1,"timeNano":1}}"#,
        labels::INSTANCE,
        labels::TENANT
    );
    let engine = FakeEngine::start(vec![event]).await;
    let rt = DockerRuntime::connect(&instance, Some(&engine.address), vec![]).unwrap();
    let mut events = rt.events().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the event arrives")
        .expect("the stream has an item")
        .unwrap();
    assert_eq!(first, EngineEvent { tenant: Some(tenant("acme")), kind: EngineEventKind::Die, id: "c0ffee".into() });
    let broken = tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("the break is reported");
    assert!(matches!(broken, Some(Err(RuntimeError::Unreachable { .. }))), "{broken:?}");
    let end = tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("the stream ends");
    assert!(end.is_none(), "{end:?}");

    // One subscription asked for this instance's containers and networks, the other for every
    // network's attachments, both since the engine's clock at the call.
    let queries: Vec<String> =
        engine.requests().iter().filter(|r| r.contains("/events")).map(|r| decode_query(r)).collect();
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(queries.iter().all(|q| q.contains("since=1767225600.000000001")), "{FAKE_ENGINE_TIME} → {queries:?}");
    let labelled = queries
        .iter()
        .find(|q| q.contains(&format!("{}={instance}", labels::INSTANCE)))
        .unwrap_or_else(|| panic!("no labelled subscription: {queries:?}"));
    assert!(labelled.contains(r#""container""#) && labelled.contains(r#""network""#), "{labelled}");
    let attachments = queries
        .iter()
        .find(|q| q.contains(r#""disconnect""#))
        .unwrap_or_else(|| panic!("no subscription to attachments: {queries:?}"));
    assert!(attachments.contains(r#""connect""#) && !attachments.contains(labels::INSTANCE), "{attachments}");
}

/// Percent-decodes a request line's query, for assertions on its parameters.
fn decode_query(request_line: &str) -> String {
    let mut out = Vec::new();
    let bytes = request_line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
