//! A container's network attachments changed behind tenantd's back are drift: `plan` names the
//! repair and `apply` makes it in place (same container, no restart). Against the real engine,
//! through the real binary.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

/// The networks a container is attached to, with its aliases on each.
fn attachments(env: &Env, container: &str) -> Vec<(String, Vec<String>)> {
    let c = env.inspect(container).expect("the container");
    let mut out: Vec<(String, Vec<String>)> = c["NetworkSettings"]["Networks"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, e)| {
            let aliases = e["Aliases"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from);
            (n.clone(), aliases.collect())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_container_disconnected_from_its_network_is_connected_again_in_place() {
    let Some(env) = Env::new("a_container_disconnected_from_its_network_is_connected_again_in_place") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let (name, network) = (env.container("acme"), env.network("acme"));
    let before = env.inspect(&name).unwrap();
    let port = env.host_port("acme");

    let cut = docker(&["network", "disconnect", "-f", &network, &name]);
    assert!(cut.status.success(), "{}", stderr(&cut));
    // The ingress still answers on the endpoint, but cannot reach the runtime.
    assert_ne!(http_get(port, "/health"), Some(200), "a container off its network is not reachable");

    let plan = env.tenantd(&["plan", "--detailed-exitcode"]);
    let text = stdout(&plan);
    assert_eq!(plan.status.code(), Some(2), "{text}{}", stderr(&plan));
    assert!(text.contains("~ acme: update in place"), "{text}");
    assert!(
        text.contains(&format!("connect container {name} to network {network} (alias runtime; no restart)")),
        "{text}"
    );

    let out = env.apply_ok();
    assert!(out.contains("acme: updated in place"), "{out}");
    let after = env.inspect(&name).unwrap();
    assert_eq!(after["Id"], before["Id"]);
    assert_eq!(after["State"]["StartedAt"], before["State"]["StartedAt"], "the container must not restart");
    let attached = attachments(&env, &name);
    assert_eq!(attached.len(), 1, "{attached:?}");
    assert!(attached[0].0 == network && attached[0].1.contains(&"runtime".to_string()), "{attached:?}");
    eventually("the runtime to answer on its port again", Duration::from_secs(10), || {
        (http_get(port, "/health") == Some(200)).then_some(())
    });
    assert_eq!(env.tenantd(&["plan", "--detailed-exitcode"]).status.code(), Some(0));
}

#[test]
fn an_extra_network_and_a_lost_alias_are_put_right_in_place() {
    let Some(env) = Env::new("an_extra_network_and_a_lost_alias_are_put_right_in_place") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let (name, network) = (env.container("acme"), env.network("acme"));
    let before = env.inspect(&name).unwrap();

    // Onto the engine's default bridge (egress the spec did not ask for), and back onto its own
    // network without the alias its sidecars reach it by.
    for args in [
        &["network", "connect", "bridge", &name][..],
        &["network", "disconnect", &network, &name],
        &["network", "connect", &network, &name],
    ] {
        let o = docker(args);
        assert!(o.status.success(), "docker {args:?}: {}", stderr(&o));
    }
    assert!(!attachments(&env, &name).iter().any(|(_, a)| a.contains(&"runtime".to_string())));

    let plan = env.tenantd(&["plan", "--detailed-exitcode"]);
    let text = stdout(&plan);
    assert_eq!(plan.status.code(), Some(2), "{text}{}", stderr(&plan));
    for line in [
        format!("disconnect container {name} from network bridge (no restart)"),
        format!("disconnect container {name} from network {network} (no restart)"),
        format!("connect container {name} to network {network} (alias runtime; no restart)"),
    ] {
        assert!(text.contains(&line), "{line}: {text}");
    }

    env.apply_ok();
    let after = env.inspect(&name).unwrap();
    assert_eq!(after["Id"], before["Id"]);
    assert_eq!(after["State"]["StartedAt"], before["State"]["StartedAt"], "the container must not restart");
    let attached = attachments(&env, &name);
    assert_eq!(attached.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), [network.as_str()]);
    assert!(attached[0].1.contains(&"runtime".to_string()), "{attached:?}");
    assert_eq!(env.tenantd(&["plan", "--detailed-exitcode"]).status.code(), Some(0));
}
