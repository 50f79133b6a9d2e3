//! Against a real cluster, when `TENANTD_TEST_KUBECONFIG` names its kubeconfig: a tenant is
//! applied, comes up Running, plans clean, is deleted, and its namespace (kept by tenantd, as
//! it holds the tenant's claims) is removed by the test. Skipped with a visible message
//! without that variable; a failure when `TENANTD_REQUIRE_KUBERNETES=1`.
//!
//! The image must serve HTTP on its port as a non-root user with a read-only root filesystem:
//! `TENANTD_TEST_IMAGE` (default `nginxinc/nginx-unprivileged:1.27-alpine`) on
//! `TENANTD_TEST_IMAGE_PORT` (default 8080).

use std::path::PathBuf;
use std::process::{Command, Output};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn expect_exit(o: &Output, code: i32, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{what}:\n--- stdout\n{}\n--- stderr\n{err}", stdout(o));
}

fn kubeconfig(test: &str) -> Option<PathBuf> {
    match std::env::var("TENANTD_TEST_KUBECONFIG") {
        Ok(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            if std::env::var("TENANTD_REQUIRE_KUBERNETES").as_deref() == Ok("1") {
                panic!("{test}: TENANTD_TEST_KUBECONFIG is not set and TENANTD_REQUIRE_KUBERNETES=1");
            }
            eprintln!("SKIPPED {test}: no real cluster (set TENANTD_TEST_KUBECONFIG to a kubeconfig to run it)");
            None
        }
    }
}

/// Removes the test's namespaces, whatever happened.
struct Cleanup {
    client: kube::Client,
    namespaces: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (client, namespaces) = (self.client.clone(), self.namespaces.clone());
        let _ = std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async move {
                let api: Api<Namespace> = Api::all(client);
                for ns in namespaces {
                    let _ = api.delete(&ns, &DeleteParams::default()).await;
                }
            })
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_comes_up_on_a_real_cluster_and_goes_again() {
    let Some(kubeconfig) = kubeconfig("a_tenant_comes_up_on_a_real_cluster_and_goes_again") else { return };
    let image =
        std::env::var("TENANTD_TEST_IMAGE").unwrap_or_else(|_| "nginxinc/nginx-unprivileged:1.27-alpine".into());
    let port = std::env::var("TENANTD_TEST_IMAGE_PORT").unwrap_or_else(|_| "8080".into());
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.d");
    std::fs::create_dir_all(&tenants).unwrap();
    let instance = format!("kt{}", std::process::id());
    let config = dir.path().join("tenantd.toml");
    std::fs::write(
        &config,
        format!(
            "tenants_dir = {tenants:?}\nstate_dir = {:?}\ninstance = {instance:?}\nruntime = \"kubernetes\"\n\
             [kubernetes]\nkubeconfig = {kubeconfig:?}\n",
            dir.path().join("state")
        ),
    )
    .unwrap();
    std::fs::write(
        tenants.join("acme.yaml"),
        format!(
            "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{ name: acme }}\nspec:\n  image: {image}\n  port: {port}\n  \
             resources: {{ memory: 64Mi, cpus: 0.1, pids: 64 }}\n  health: {{ path: /, interval: 5s, timeout: 2s }}\n  \
             tmpfs: [ {{ mountPath: /var/cache/nginx, size: 16Mi }} ]\n  volumes: [ {{ name: data, mountPath: /data }} ]\n"
        ),
    )
    .unwrap();
    let kube_config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    // The tenant's namespace, and the one that records which state directory owns the instance.
    let _cleanup = Cleanup {
        client: kube::Client::try_from(kube_config).unwrap(),
        namespaces: vec![format!("{instance}-acme"), format!("{instance}--owner")],
    };
    let tenantd = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantd"));
        cmd.arg("--config").arg(&config).args(args).env_remove("CONTAINER_RUNTIME");
        tokio::task::block_in_place(|| cmd.output().unwrap())
    };

    expect_exit(&tenantd(&["apply", "--wait-timeout", "300"]), 0, "apply on a real cluster");
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("state/status/acme.json")).unwrap()).unwrap();
    assert_eq!(status["phase"], "Running", "{status}");
    expect_exit(&tenantd(&["plan", "--detailed-exitcode"]), 0, "a converged tenant plans clean on a real cluster");

    std::fs::remove_file(tenants.join("acme.yaml")).unwrap();
    let down = tenantd(&["apply", "--allow-empty"]);
    expect_exit(&down, 0, "delete");
    assert!(stdout(&down).contains("acme: deleted"), "{}", stdout(&down));
}
