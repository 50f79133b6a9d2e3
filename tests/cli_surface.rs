//! One command-line surface for people and tools: `-o table|json|yaml` on `plan`, `validate`
//! and `apply`; `apply --target`; progress lines when no terminal watches `apply`; `tenantd
//! wait`; durations with units; "did you mean" wherever a name is given. Run against the real
//! engine, with the real binary.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout(o), stderr(o)))
}

#[test]
fn apply_without_a_terminal_prints_each_step_as_it_begins_and_how_long_a_wait_lasts() {
    let Some(env) = Env::new("apply_without_a_terminal_prints_each_step_as_it_begins_and_how_long_a_wait_lasts") else {
        return;
    };
    // Never healthy, and the engine gives up on it only after 22 s: apply waits out its whole
    // --wait-timeout.
    let spec = stub_spec("acme", "").replace("GREETING: hello", "GREETING: hello, STUB_HEALTH: down");
    env.spec("acme.yaml", &spec.replace("retries: 3", "retries: 10"));
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .arg("--config")
        .arg(&env.config)
        .args(["apply", "--wait-timeout", "13s"])
        .env_remove("TENANTD_CONFIG")
        .env_remove("CONTAINER_RUNTIME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tenantd runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    assert!(first.starts_with("acme: converging ("), "{first}");
    assert!(child.try_wait().unwrap().is_none(), "the first step is told while apply still runs, not at its end");
    let mut seen = vec![first];
    for line in lines {
        seen.push(line.unwrap());
    }
    let status = child.wait().unwrap();
    let text = seen.join("\n");
    assert_eq!(status.code(), Some(1), "never healthy, so apply fails:\n{text}");
    assert!(started.elapsed() >= Duration::from_secs(13), "it waited the timeout out:\n{text}");
    assert!(seen.iter().any(|l| l.starts_with("acme: [1/") && l.contains("ensure image")), "{text}");
    assert!(seen.iter().any(|l| l.starts_with("acme: [") && l.contains("] create container")), "{text}");
    assert!(seen.iter().any(|l| l == "acme: waiting for it to become healthy"), "{text}");
    let still = seen
        .iter()
        .find(|l| l.starts_with("acme: still waiting for it to become healthy ["))
        .unwrap_or_else(|| panic!("a line says the wait goes on:\n{text}"));
    assert!(still.ends_with("s elapsed]"), "{still}");
    assert!(seen.iter().any(|l| l.starts_with("acme: finished after ")), "{text}");
    assert!(seen.last().unwrap().starts_with("acme: failed: "), "the summary comes last:\n{text}");
}

#[test]
fn apply_target_converges_only_its_tenants_and_every_command_prints_json_or_yaml() {
    let Some(env) = Env::new("apply_target_converges_only_its_tenants_and_every_command_prints_json_or_yaml") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.spec("beta.yaml", &stub_spec("beta", ""));

    // A misspelt target changes nothing and says what was meant.
    let typo = env.tenantd(&["apply", "--target", "acmee"]);
    assert_eq!(typo.status.code(), Some(1), "{}", stderr(&typo));
    assert!(stderr(&typo).contains("did you mean \"acme\""), "{}", stderr(&typo));
    assert!(env.container_id("acme").is_none() && env.container_id("beta").is_none());

    let only = env.tenantd(&["apply", "--target", "acme", "-o", "json", "--wait-timeout", "1m"]);
    assert_eq!(only.status.code(), Some(0), "{}{}", stdout(&only), stderr(&only));
    let doc = json(&only);
    assert_eq!(doc["formatVersion"], 1);
    assert_eq!(doc["failed"], 0);
    let tenants = doc["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 1, "{doc}");
    assert_eq!((tenants[0]["tenant"].as_str(), tenants[0]["result"].as_str()), (Some("acme"), Some("created")));
    assert!(stderr(&only).contains("acme: [1/"), "progress goes to stderr with -o json: {}", stderr(&only));
    assert!(env.container_id("acme").is_some(), "acme is created");
    assert!(env.container_id("beta").is_none(), "beta was not targeted");

    // plan: -o yaml and -o json are the same document; `--output human` still reads as before.
    let yaml = env.tenantd(&["plan", "-o", "yaml"]);
    let from_yaml: Value = serde_yaml::from_slice(&yaml.stdout).unwrap();
    let from_json = json(&env.tenantd(&["plan", "-o", "json"]));
    assert_eq!(from_yaml, from_json);
    let changes: Vec<(&str, &str)> = from_json["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tenant"].as_str().unwrap(), t["change"].as_str().unwrap()))
        .collect();
    assert_eq!(changes, [("acme", "noChange"), ("beta", "create")]);
    let human = env.tenantd(&["plan", "--output", "human"]);
    assert!(stdout(&human).contains("+ beta: create"), "{}", stdout(&human));

    // apply -o yaml: the rest converges; acme is reported unchanged.
    let rest = env.tenantd(&["apply", "-o", "yaml"]);
    assert_eq!(rest.status.code(), Some(0), "{}", stderr(&rest));
    let doc: Value = serde_yaml::from_slice(&rest.stdout).unwrap();
    let results: Vec<(&str, &str)> = doc["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tenant"].as_str().unwrap(), t["result"].as_str().unwrap()))
        .collect();
    assert_eq!(results, [("acme", "unchanged"), ("beta", "created")]);

    // validate: the valid tenants, then a problem with where it is.
    let valid = json(&env.tenantd(&["validate", "-o", "json"]));
    let names: Vec<&str> = valid["valid"].as_array().unwrap().iter().map(|v| v["tenant"].as_str().unwrap()).collect();
    assert_eq!(names, ["acme", "beta"]);
    assert_eq!(valid["problems"], Value::Array(vec![]));
    env.spec("beta.yaml", &stub_spec("beta", "").replace("memory: 64Mi", "memory: lots"));
    let bad = env.tenantd(&["validate", "-o", "yaml"]);
    assert_eq!(bad.status.code(), Some(1));
    let doc: Value = serde_yaml::from_slice(&bad.stdout).unwrap();
    let problem = &doc["problems"][0];
    assert_eq!(problem["kind"], "invalid", "{doc}");
    assert_eq!(problem["pointer"], "/spec/resources/memory", "{doc}");
    assert!(problem["line"].as_u64().unwrap() > 1 && problem["file"].as_str().unwrap().ends_with("beta.yaml"));

    // "Did you mean" for status, stats and render as for plan --target.
    for args in [&["status", "acmee"][..], &["stats", "--no-stream", "acmee"], &["render", "acmee"]] {
        let o = env.tenantd(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains("did you mean \"acme\""), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn wait_returns_once_the_spec_on_disk_runs_healthy_and_fails_at_its_timeout_or_at_once() {
    let Some(env) = Env::new("wait_returns_once_the_spec_on_disk_runs_healthy_and_fails_at_its_timeout_or_at_once")
    else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    // Not yet applied: converged is not reached, and the timeout says what is waited for.
    let early = env.tenantd(&["wait", "acme", "--for", "converged", "--timeout", "2s"]);
    assert_eq!(early.status.code(), Some(1), "{}", stderr(&early));
    assert!(stderr(&early).contains("timed out after 2s waiting for acme (create pending)"), "{}", stderr(&early));

    // An apply running alongside: wait returns once the tenant is healthy by its status.
    let apply = std::thread::spawn({
        let config = env.config.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_tenantd"))
                .arg("--config")
                .arg(config)
                .arg("apply")
                .env_remove("TENANTD_CONFIG")
                .env_remove("CONTAINER_RUNTIME")
                .output()
                .unwrap()
        }
    });
    let healthy = env.tenantd(&["wait", "--for", "healthy", "--timeout", "2m"]);
    assert_eq!(healthy.status.code(), Some(0), "{}", stderr(&healthy));
    assert_eq!(stdout(&healthy), "acme: healthy\n");
    let status = env.status("acme").expect("a status");
    assert_eq!((status["phase"].as_str(), status["health"].as_str()), (Some("Running"), Some("healthy")));
    assert!(apply.join().unwrap().status.success());

    // A changed spec: its old healthy status does not count.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi"));
    let stale = env.tenantd(&["wait", "acme", "--timeout", "2s"]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(stderr(&stale).contains("acme (update pending)"), "{}", stderr(&stale));

    // An invalid spec cannot converge on its own: the wait fails at once, not at its timeout.
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: lots"));
    let started = Instant::now();
    let invalid = env.tenantd(&["wait", "acme", "--timeout", "10m"]);
    assert_eq!(invalid.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(60), "failed at once");
    assert!(
        stderr(&invalid).contains("acme will not become healthy: its spec file is invalid"),
        "{}",
        stderr(&invalid)
    );

    let typo = env.tenantd(&["wait", "acmee", "--timeout", "2s"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(stderr(&typo).contains("did you mean \"acme\""), "{}", stderr(&typo));
}

#[test]
fn durations_take_units_and_config_keys_get_a_suggestion() {
    let env = Env::without_docker();
    let bad = env.tenantd(&["apply", "--wait-timeout", "2 minutes"]);
    assert_eq!(bad.status.code(), Some(64), "a usage error: {}", stderr(&bad));
    assert!(stderr(&bad).contains("is not a duration") && stderr(&bad).contains("30s"), "{}", stderr(&bad));
    let bad = env.tenantd(&["wait", "--timeout", "1h30m"]);
    assert_eq!(bad.status.code(), Some(64), "{}", stderr(&bad));

    std::fs::write(&env.config, "tenant_dir = \"/srv/tenants.d\"\n").unwrap();
    let o = env.tenantd(&["status"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown field `tenant_dir`"), "{}", stderr(&o));
    assert!(stderr(&o).contains("did you mean `tenants_dir`?"), "{}", stderr(&o));
    std::fs::write(&env.config, "tenants_dir = \"t\"\n[daemon]\nresync_intervall = \"1s\"\n").unwrap();
    let o = env.tenantd(&["status"]);
    assert!(stderr(&o).contains("did you mean `resync_interval`?"), "{}", stderr(&o));
}
