//! Host ports: on 127.0.0.1, inside the range, stable, and a clear error when the range is exhausted.

mod support;

use support::*;

#[test]
fn host_ports_are_stable_and_exhaustion_is_a_per_tenant_error() {
    let Some(env) = Env::new("host_ports_are_stable_and_exhaustion_is_a_per_tenant_error") else {
        return;
    };
    env.write_config(""); // default slice of 20 ports
                          // A port range of two: two tenants fit, a third does not.
    let lo = env.ports.0;
    std::fs::write(
        &env.config,
        std::fs::read_to_string(&env.config).unwrap().replace(
            &format!("port_range = [{}, {}]", env.ports.0, env.ports.1),
            &format!("port_range = [{lo}, {}]", lo + 1),
        ),
    )
    .unwrap();
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.spec("beta.yaml", &stub_spec("beta", ""));
    env.apply_ok();
    let (a, b) = (env.host_port("acme"), env.host_port("beta"));
    assert_ne!(a, b);
    // The ingress holds the tenant's port, on loopback only.
    let ingress = format!("{}_ingress", env.container("acme"));
    let bindings = &env.inspect(&ingress).unwrap()["HostConfig"]["PortBindings"]["8080/tcp"][0];
    assert_eq!((&bindings["HostIp"], &bindings["HostPort"]), (&"127.0.0.1".into(), &a.to_string().into()));

    env.spec("gamma.yaml", &stub_spec("gamma", ""));
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1));
    let s = env.status("gamma").unwrap();
    assert!(s["lastError"].as_str().unwrap().contains("no free host port"), "{s:#}");
    assert_eq!((env.host_port("acme"), env.host_port("beta")), (a, b), "existing tenants keep their ports");

    // Removing and re-adding other tenants does not move acme.
    env.remove_spec("gamma.yaml");
    env.remove_spec("beta.yaml");
    env.apply_ok();
    assert_eq!(env.host_port("acme"), a);
}

#[test]
fn a_foreign_container_holding_a_tenants_name_is_never_touched() {
    let Some(env) = Env::new("a_foreign_container_holding_a_tenants_name_is_never_touched") else {
        return;
    };
    let name = env.container("acme");
    let created = docker(&["create", "--name", &name, &stub::stub_image()]);
    assert!(created.status.success(), "{}", stderr(&created));
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(env.status("acme").unwrap()["phase"], "Conflict");
    let still = env.inspect(&name).expect("the foreign container is still there");
    assert!(still["Config"]["Labels"].get("io.tenantd.instance").is_none());
    docker(&["rm", "-f", &name]);
}

#[test]
fn a_host_port_held_by_another_process_is_skipped() {
    let Some(env) = Env::new("a_host_port_held_by_another_process_is_skipped") else {
        return;
    };
    let range = env.ports.0..=env.ports.1;
    let preferred = tenantd::ports::preferred_port(&"acme".parse().unwrap(), &range);
    let _held = std::net::TcpListener::bind(("127.0.0.1", preferred)).expect("preferred port is free before the test");
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let port = env.host_port("acme");
    assert_ne!(port, preferred);
    assert!(range.contains(&port));
    assert_eq!(http_get(port, "/health"), Some(200));
}
