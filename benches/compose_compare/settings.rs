//! The settings every side's containers must share, read back from the engine, and where one
//! side's differ from tenantd's. Read once per run, so that the comparison is checked rather
//! than assumed.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::engine::{self, STUB_PORT};

/// `path = value` of everything the engine reports of a container's configuration, its endpoint
/// and its network, except what names the side's own objects and so must differ.
pub type Settings = BTreeMap<String, String>;

/// The settings of the container `name` and of its one network.
pub fn of(name: &str) -> Settings {
    let (code, c) = engine::engine("GET", &format!("/containers/{name}/json"), None);
    assert!(code == 200, "cannot inspect {name}: {code} {c}");
    let mut out = Settings::new();
    let mut config = c["Config"].clone();
    if let Some(env) = config["Env"].as_array_mut() {
        env.sort_by_key(|e| e.to_string());
    }
    flatten("Config", &config, &mut out);
    flatten("HostConfig", &c["HostConfig"], &mut out);
    let short_id: String = c["Id"].as_str().unwrap_or_default().chars().take(12).collect();
    for (network, endpoint) in c["NetworkSettings"]["Networks"].as_object().into_iter().flatten() {
        // The engine adds the container's short id to the aliases of every container.
        let mut aliases: Vec<&str> = endpoint["Aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|a| *a != short_id)
            .collect();
        aliases.sort();
        out.insert("Endpoint.Aliases".into(), aliases.join(","));
        let (_, n) = engine::engine("GET", &format!("/networks/{network}"), None);
        for key in ["Driver", "Scope", "Internal", "Attachable", "Ingress", "EnableIPv6", "Options"] {
            flatten(&format!("Network.{key}"), &n[key], &mut out);
        }
        flatten("Network.IPAM.Driver", &n["IPAM"]["Driver"], &mut out);
        flatten("Network.IPAM.Options", &n["IPAM"]["Options"], &mut out);
        for (i, conf) in n["IPAM"]["Config"].as_array().into_iter().flatten().enumerate() {
            let prefix = conf["Subnet"].as_str().and_then(|s| s.split_once('/')).map(|(_, p)| p.to_string());
            out.insert(format!("Network.IPAM.Config.{i}.Subnet prefix length"), prefix.unwrap_or_default());
        }
    }
    let own = [
        "Config.Hostname".to_string(),
        "Config.Labels.".to_string(),
        "HostConfig.NetworkMode".to_string(),
        format!("HostConfig.PortBindings.{STUB_PORT}/tcp.0.HostPort"),
    ];
    out.retain(|k, _| !own.iter().any(|o| k == o || (o.ends_with('.') && k.starts_with(o.as_str()))));
    out
}

/// `what: tenantd's value vs this side's value` for every setting in which `side` differs from
/// `tenantd`.
pub fn differences(tenantd: &Settings, side: &Settings) -> Vec<String> {
    let unset = String::from("(unset)");
    let mut keys: Vec<&String> = tenantd.keys().chain(side.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| tenantd.get(*k) != side.get(*k))
        .map(|k| format!("{k}: {} vs {}", tenantd.get(k).unwrap_or(&unset), side.get(k).unwrap_or(&unset)))
        .collect()
}

/// Leaves of `v` as `prefix.key.index = value`; null, empty arrays and empty objects are left
/// out, so that "not set" reads the same however an engine or client spells it.
fn flatten(prefix: &str, v: &Value, out: &mut Settings) {
    match v {
        Value::Null => {}
        Value::Object(m) => m.iter().for_each(|(k, v)| flatten(&format!("{prefix}.{k}"), v, out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| flatten(&format!("{prefix}.{i}"), v, out)),
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}
