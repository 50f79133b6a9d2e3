//! `docker inspect` of a tenant container shows every hardening default.

mod support;

use serde_json::Value;
use support::*;

#[test]
fn tenant_containers_are_hardened_by_default() {
    let Some(env) = Env::new("tenant_containers_are_hardened_by_default") else {
        return;
    };
    env.spec(
        "acme.yaml",
        &stub_spec("acme", "  sidecars: [ { name: helper, image: tenantd-stub:test, pullPolicy: Never } ]\n"),
    );
    env.apply_ok();
    for name in [env.container("acme"), format!("{}_acme_helper", env.instance)] {
        let v = env.inspect(&name).unwrap_or_else(|| panic!("{name} exists"));
        let hc = &v["HostConfig"];
        assert_eq!(hc["CapDrop"], serde_json::json!(["ALL"]), "{name}");
        assert!(hc["CapAdd"].is_null() || hc["CapAdd"].as_array().unwrap().is_empty(), "{name}");
        assert_eq!(hc["Privileged"], false);
        assert_eq!(hc["ReadonlyRootfs"], true);
        assert!(hc["SecurityOpt"].as_array().unwrap().iter().any(|o| o == "no-new-privileges"), "{name}");
        assert!(!hc["SecurityOpt"].as_array().unwrap().iter().any(|o| o.as_str().unwrap().contains("unconfined")));
        assert_eq!(hc["Init"], true);
        assert!(
            hc["Memory"].as_i64().unwrap() > 0 && hc["Memory"] == hc["MemorySwap"],
            "{name}: no swap beyond the limit"
        );
        assert!(hc["NanoCpus"].as_i64().unwrap() > 0);
        assert!(hc["PidsLimit"].as_i64().unwrap() > 0);
        assert!(hc["Tmpfs"].get("/tmp").is_some(), "{name}: scratch space");
        let ulimits: Vec<&str> =
            hc["Ulimits"].as_array().unwrap().iter().map(|u| u["Name"].as_str().unwrap()).collect();
        assert!(ulimits.contains(&"nofile") && ulimits.contains(&"nproc"), "{ulimits:?}");
        assert_eq!(hc["LogConfig"]["Type"], "json-file");
        assert!(hc["LogConfig"]["Config"]["max-size"].is_string() && hc["LogConfig"]["Config"]["max-file"].is_string());
        assert_eq!(hc["NetworkMode"], env.network("acme").as_str(), "never the default bridge");
        for ns in ["PidMode", "IpcMode", "UTSMode", "UsernsMode"] {
            assert_ne!(hc[ns], "host", "{name}: {ns}");
        }
        assert!(hc["Binds"].is_null() || hc["Binds"].as_array().unwrap().is_empty(), "{name}: no host paths");
        for m in v["Mounts"].as_array().unwrap() {
            assert_eq!(m["Type"], "volume", "{name}: only named volumes: {m}");
            assert!(!m["Source"].as_str().unwrap_or("").contains("docker.sock"));
        }
        assert_eq!(hc["RestartPolicy"]["Name"], "on-failure");
        let user = v["Config"]["User"].as_str().unwrap();
        assert!(!user.is_empty() && !user.starts_with("0") && user != "root", "{name}: user {user:?}");
        for (_, bindings) in hc["PortBindings"].as_object().into_iter().flatten() {
            for b in bindings.as_array().unwrap() {
                assert_eq!(b["HostIp"], "127.0.0.1", "{name}: published only on loopback");
                assert!(b["HostPort"].as_str().unwrap().parse::<u16>().unwrap() >= 1025);
            }
        }
    }
    let main = env.inspect(&env.container("acme")).unwrap();
    let hc: &Value = &main["Config"]["Healthcheck"];
    let test: Vec<&str> = hc["Test"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(test, ["CMD", "/stub-runtime", "probe", "http://127.0.0.1:18789/health"]);
}
