//! Objects of other owners holding a name a step needs: found by `plan`, shown as a conflict,
//! and never the cause of an outage. Against the real engine, through the real binary.

mod support;

use serde_json::Value;
use support::*;

/// An object created behind tenantd's back (no instance label), removed when the test ends.
struct Foreign {
    kind: &'static str,
    name: String,
}

impl Foreign {
    fn container(name: String) -> Foreign {
        let o = docker(&["create", "--name", &name, &stub::stub_image()]);
        assert!(o.status.success(), "docker create {name}: {}", stderr(&o));
        Foreign { kind: "container", name }
    }

    fn volume(name: String) -> Foreign {
        let o = docker(&["volume", "create", &name]);
        assert!(o.status.success(), "docker volume create {name}: {}", stderr(&o));
        Foreign { kind: "volume", name }
    }

    fn inspect(&self) -> Value {
        let o = docker(&[self.kind, "inspect", &self.name]);
        assert!(o.status.success(), "{} {} is gone: {}", self.kind, self.name, stderr(&o));
        serde_json::from_slice::<Value>(&o.stdout).unwrap()[0].clone()
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        match self.kind {
            "container" => docker(&["rm", "-f", &self.name]),
            _ => docker(&["volume", "rm", "-f", &self.name]),
        };
    }
}

#[test]
fn a_foreign_container_on_the_aside_name_blocks_the_replacement_and_the_tenant_keeps_running() {
    let Some(env) =
        Env::new("a_foreign_container_on_the_aside_name_blocks_the_replacement_and_the_tenant_keeps_running")
    else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let id = env.container_id("acme").unwrap();
    let port = env.host_port("acme");
    let aside = format!("{}.previous", env.container("acme"));
    let squatter = Foreign::container(aside.clone());
    let squatter_id = squatter.inspect()["Id"].clone();

    // With nothing to replace, the name is needed by no step.
    let plan = env.tenantd(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}{}", stdout(&plan), stderr(&plan));

    env.spec("acme.yaml", &stub_spec("acme", "").replace("GREETING: hello", "GREETING: bonjour"));
    let plan = env.tenantd(&["plan", "--detailed-exitcode"]);
    let text = stdout(&plan);
    assert_eq!(plan.status.code(), Some(1), "{text}{}", stderr(&plan));
    assert!(text.contains("! acme: conflict: left alone"), "{text}");
    assert!(text.contains(&format!("container {aside} exists and is not this instance's")), "{text}");
    let json = env.tenantd(&["plan", "--output", "json"]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["tenants"][0]["blocked"]["reason"], "conflict");
    assert_eq!(v["tenants"][0]["blocked"]["objects"], serde_json::json!([{"kind": "container", "name": aside}]));

    for _ in 0..2 {
        let apply = env.tenantd(&["apply"]);
        assert_eq!(apply.status.code(), Some(1), "{}{}", stdout(&apply), stderr(&apply));
        assert!(stdout(&apply).contains("acme: left as it is"), "{}", stdout(&apply));
        let c = env.inspect(&env.container("acme")).unwrap();
        assert_eq!((&c["Id"], &c["State"]["Running"]), (&Value::from(id.clone()), &Value::Bool(true)));
        assert_eq!(http_get(port, "/health"), Some(200));
    }
    assert_eq!(env.status("acme").unwrap()["phase"], "Conflict");
    let after = squatter.inspect();
    assert_eq!((&after["Id"], &after["State"]["Status"]), (&squatter_id, &Value::from("created")));
    assert_eq!(after["Name"], format!("/{aside}"));
}

#[test]
fn an_unlabelled_volume_with_a_tenants_volume_name_is_a_conflict_in_plan() {
    let Some(env) = Env::new("an_unlabelled_volume_with_a_tenants_volume_name_is_a_conflict_in_plan") else {
        return;
    };
    let volume = Foreign::volume(env.volume("acme", "data"));
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.spec("beta.yaml", &stub_spec("beta", ""));

    let plan = env.tenantd(&["plan"]);
    let text = stdout(&plan);
    assert_eq!(plan.status.code(), Some(1), "{text}{}", stderr(&plan));
    assert!(text.contains("! acme: conflict: left alone"), "{text}");
    assert!(text.contains(&format!("volume {} exists and is not this instance's", volume.name)), "{text}");
    assert!(text.contains("+ beta: create"), "{text}");

    let apply = env.tenantd(&["apply"]);
    assert_eq!(apply.status.code(), Some(1), "{}{}", stdout(&apply), stderr(&apply));
    assert!(stdout(&apply).contains("acme: left as it is") && stdout(&apply).contains("beta: created"));
    // Nothing of acme was made, and the volume is as it was.
    assert!(env.inspect(&env.container("acme")).is_none());
    assert!(env.inspect(&env.network("acme")).is_none());
    assert_eq!(volume.inspect()["Labels"], Value::Null);
    assert_eq!(env.status("acme").unwrap()["phase"], "Conflict");
    assert_eq!(env.status("beta").unwrap()["phase"], "Running");
}
