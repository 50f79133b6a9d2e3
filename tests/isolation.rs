//! Tenants are isolated from each other on the real engine: a tenant's container reaches no
//! other tenant's container, neither on its private network nor through the host, and sees no
//! other tenant's config or secrets.

mod support;

use serde_json::Value;
use support::secrets::*;
use support::*;

/// A tenant with a generated config and one secret, so it has runtime files to mount.
fn tenant_with_files(env: &Env, name: &str, recipient: &str) -> String {
    let secret = encrypt(env, recipient, &format!("{name}-token-value"));
    stub_spec(name, &format!("  secrets:\n    GW:\n{secret}  runtimeConfig:\n    gatewayToken: {{ secret: GW }}\n"))
}

/// `docker exec` of the stub's own HTTP probe inside `container`; whether it got a 2xx answer.
fn probe_from(container: &str, url: &str) -> bool {
    docker(&["exec", container, "/stub-runtime", "probe", url]).status.success()
}

/// The container's address and gateway on its tenant's network.
fn address(c: &Value, network: &str) -> (String, String) {
    let n = &c["NetworkSettings"]["Networks"][network];
    (n["IPAddress"].as_str().unwrap().to_string(), n["Gateway"].as_str().unwrap().to_string())
}

#[test]
fn a_tenant_reaches_neither_another_tenants_containers_nor_its_files() {
    let Some(env) = Env::new("a_tenant_reaches_neither_another_tenants_containers_nor_its_files") else {
        return;
    };
    let tmpfs = Tmpfs::new(&env);
    let secrets_config = format!("[secrets]\nidentity_file = {:?}\ndir = {:?}\n", env.path("age.key"), tmpfs.0);
    env.write_config(&secrets_config);
    let recipient = keygen(&env, "age.key");
    env.spec("acme.yaml", &tenant_with_files(&env, "acme", &recipient));
    env.spec(
        "beta.yaml",
        &tenant_with_files(&env, "beta", &recipient).replace("  volumes:", "  sidecars: [ { name: helper, image: tenantd-stub:test, pullPolicy: Never, env: { PORT: \"8080\" } } ]\n  volumes:"),
    );
    env.apply_ok();

    let (acme, beta) = (env.inspect(&env.container("acme")).unwrap(), env.inspect(&env.container("beta")).unwrap());
    let helper = env.inspect(&format!("{}_beta_helper", env.instance)).unwrap();
    let (acme_ip, acme_gateway) = address(&acme, &env.network("acme"));
    let (beta_ip, _) = address(&beta, &env.network("beta"));
    let (helper_ip, _) = address(&helper, &env.network("beta"));
    let beta_port = env.host_port("beta");
    // The tenant's ingress (which holds its published port) is one of its containers like the others.
    let beta_ingress = env.inspect(&format!("{}_ingress", env.container("beta"))).unwrap();
    let (beta_ingress_ip, _) = address(&beta_ingress, &env.network("beta"));

    // The probe works: a tenant reaches itself, and a tenant's own sidecar reaches its runtime.
    let (acme_name, beta_name) = (env.container("acme"), env.container("beta"));
    assert!(probe_from(&acme_name, &format!("http://{acme_ip}:18789/health")), "acme reaches itself");
    assert!(probe_from(&beta_name, &format!("http://{helper_ip}:8080/health")), "beta reaches its own sidecar");

    // Another tenant's runtime and sidecar, directly or through the host's published port: never.
    for url in [
        format!("http://{beta_ip}:18789/health"),
        format!("http://{helper_ip}:8080/health"),
        format!("http://{acme_gateway}:{beta_port}/health"),
        format!("http://{beta_ingress_ip}:8080/health"),
    ] {
        assert!(!probe_from(&acme_name, &url), "acme reached {url}");
    }
    assert!(!probe_from(&beta_name, &format!("http://{acme_ip}:18789/health")), "beta reached acme");
    let nets = |c: &Value| c["NetworkSettings"]["Networks"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(nets(&acme), [env.network("acme")], "acme is on its own network only");
    assert_eq!(nets(&beta), [env.network("beta")]);
    assert_eq!(nets(&beta_ingress), [env.network("beta")], "beta's ingress is on beta's network only");
    let ingress_mounts = beta_ingress["Mounts"].as_array().unwrap();
    assert_eq!(ingress_mounts.len(), 1, "the ingress mounts its own directory only: {ingress_mounts:#?}");
    let source = ingress_mounts[0]["Source"].as_str().unwrap();
    assert!(source.ends_with("/ingress/beta"), "{source}");

    // Files: each tenant mounts only its own volumes, config and secrets, nothing of the other.
    for (tenant, other, c) in [("acme", "beta", &acme), ("beta", "acme", &beta)] {
        let mounts = c["Mounts"].as_array().unwrap();
        assert!(mounts.len() >= 3, "{tenant}: a volume, its config and its secrets: {mounts:#?}");
        for m in mounts {
            let source = m["Source"].as_str().unwrap_or_default();
            let name = m["Name"].as_str().unwrap_or_default();
            let own = format!("/{tenant}");
            assert!(
                (m["Type"] == "volume" && name.starts_with(&format!("{}_{tenant}_", env.instance)))
                    || (m["Type"] == "bind" && (source.ends_with(&own) || source.contains(&format!("{own}/")))),
                "{tenant} mounts something not its own: {m}"
            );
            assert!(!source.contains(&format!("/{other}")) && !name.contains(&format!("_{other}_")), "{tenant}: {m}");
            if m["Type"] == "bind" {
                assert_eq!(m["RW"], false, "{tenant}: runtime files are read-only: {m}");
            }
        }
    }
}
