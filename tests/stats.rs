//! `tenantd stats`: per-tenant resource use from the real engine, in every output format.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

fn usage_of<'a>(list: &'a Value, tenant: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|u| u["tenant"] == tenant))
        .unwrap_or_else(|| panic!("{tenant} in {list}"))
}

#[test]
fn a_running_tenant_shows_its_memory_and_the_limit_from_its_spec() {
    let Some(env) = Env::new("a_running_tenant_shows_its_memory_and_the_limit_from_its_spec") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();

    let out = env.tenantd(&["stats", "--no-stream", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_slice(&out.stdout).expect("stats -o json is JSON");
    assert_eq!(list.as_array().unwrap().len(), 1, "only this instance's tenants: {list}");
    let acme = usage_of(&list, "acme");
    assert_eq!(acme["containers"], 1, "{acme}");
    assert!(acme["memoryBytes"].as_u64().unwrap() > 0, "{acme}");
    assert_eq!(acme["memoryLimitBytes"], 64u64 << 20, "the limit of `memory: 64Mi`: {acme}");
    let percent = acme["memoryPercent"].as_f64().unwrap();
    assert!(percent > 0.0 && percent < 100.0, "{acme}");
    assert!(acme["cpuPercent"].as_f64().is_some_and(|c| c >= 0.0), "two samples give a CPU figure: {acme}");
    assert!(acme["networkRxBytes"].is_u64() && acme["networkTxBytes"].is_u64(), "{acme}");

    let out = env.tenantd(&["stats", "acme", "--no-stream", "-o", "yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_yaml::from_slice(&out.stdout).expect("stats -o yaml is YAML");
    assert_eq!(usage_of(&list, "acme")["memoryLimitBytes"], 64u64 << 20, "{list}");

    let out = env.tenantd(&["stats", "--no-stream"]);
    let table = stdout(&out);
    assert!(table.starts_with("TENANT"), "{table}");
    assert!(table.lines().nth(1).is_some_and(|l| l.starts_with("acme ") && l.contains("/ 64.0MiB")), "{table}");
    assert!(!table.contains('\u{1b}'), "no colour without a terminal: {table:?}");
}

#[test]
fn a_named_tenant_that_does_not_exist_is_an_error() {
    let Some(env) = Env::new("a_named_tenant_that_does_not_exist_is_an_error") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let out = env.tenantd(&["stats", "--no-stream", "acme", "acmee"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("no tenant \"acmee\"") && err.contains("did you mean \"acme\""), "{err}");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn streaming_without_a_terminal_prints_one_json_document_per_interval() {
    let Some(env) = Env::new("streaming_without_a_terminal_prints_one_json_document_per_interval") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.apply_ok();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .arg("--config")
        .arg(&env.config)
        .args(["stats", "-o", "json"])
        .env_remove("CONTAINER_RUNTIME")
        .env_remove("TENANTD_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    while lines.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(lines.len(), 2, "two samples within 30 s: {lines:?}");
    for line in &lines {
        let list: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(usage_of(&list, "acme")["memoryLimitBytes"], 64u64 << 20);
    }
}
