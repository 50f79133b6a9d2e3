//! `spec.runtimeConfig` → the runtime's `openclaw.json`, with tenantd's security defaults always
//! applied. Pure: no files, no secrets. A credential appears only as the placeholder
//! `${secret:<name>}`, which the runtime resolves from `/run/secrets/openclaw/<name>`.
//!
//! What a caller may rely on, whatever the spec says:
//! - the gateway binds to the tenant network (`lan`) with token auth, and its control UI is off;
//! - every agent is sandboxed by default (`mode: all`, `scope: agent`, read-only workspace), and
//!   sandboxes cannot read `~/.openclaw/**` or `/run/secrets/**`;
//! - `elevated` is denied globally and to every agent (and never in an agent's allow list), and
//!   `exec` and `process` are denied inside sandboxes;
//! - the `redact-secrets` extension is enabled, tool output is redacted, and the default redaction
//!   patterns come first;
//! - the output is deterministic: keys in a fixed order, lists from the spec sorted where their
//!   order means nothing, so equal specs give equal bytes and equal [`config_hash`]es.
//!
//! The shape is published as `schemas/openclaw.schema.json` ([`SCHEMA`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::hash::versioned_hash;
use crate::spec::{
    AgentSpec, OpenClawConfig, SecretRef, TenantSpec, ELEVATED_TOOL, REDACT_SECRETS_EXTENSION, RUNTIME_SECRETS_DIR,
};

/// The JSON Schema of the generated file (`schemas/openclaw.schema.json`).
pub const SCHEMA: &str = include_str!("../../schemas/openclaw.schema.json");

/// Redaction patterns every runtime gets, before the spec's own: OpenAI-style API keys, Slack bot
/// tokens, Telegram bot tokens.
pub const DEFAULT_REDACT_PATTERNS: [&str; 3] =
    [r"\bsk-[A-Za-z0-9_-]{20,}\b", r"\bxoxb-[A-Za-z0-9-]+\b", r"\b[0-9]+:[A-Za-z0-9_-]{35}\b"];

/// Paths no sandboxed tool may touch: the runtime's own state and the secrets tmpfs.
pub const SANDBOX_DENY_PATHS: [&str; 2] = ["~/.openclaw/**", "/run/secrets/**"];

/// Tools denied inside every sandbox.
pub const SANDBOX_DENIED_TOOLS: [&str; 2] = ["exec", "process"];

/// The placeholder for a secret in generated config: `${secret:<name>}`.
pub fn secret_placeholder(reference: &SecretRef) -> String {
    format!("${{secret:{}}}", reference.secret)
}

/// Where the runtime reads the secret a placeholder names.
pub fn secret_path(reference: &SecretRef) -> String {
    format!("{RUNTIME_SECRETS_DIR}/{}", reference.secret)
}

/// The runtime's `openclaw.json` for `spec`, or `None` when the spec has no `runtimeConfig` (the
/// image then brings its own). Meant for valid specs; on any spec, the invariants in the module
/// documentation hold.
pub fn render_config(spec: &TenantSpec) -> Option<Value> {
    let rc = spec.openclaw_config.as_ref()?;
    Some(json!({
        "gateway": {
            "bind": "lan",
            "port": spec.port,
            "auth": { "mode": "token", "token": secret_placeholder(&rc.gateway_token) },
            "controlUi": { "enabled": false }
        },
        "agents": {
            "defaults": {
                "sandbox": { "mode": "all", "scope": "agent", "workspaceAccess": "ro" },
                "tools": { "sandbox": { "denyPaths": SANDBOX_DENY_PATHS } }
            },
            "list": agents(rc)
        },
        "bindings": bindings(rc),
        "channels": channels(rc),
        "messaging": { "allowlist": allowlist(rc) },
        "extensions": extensions(rc),
        "logging": { "redactSensitive": "tools", "redactPatterns": redact_patterns(rc) },
        "tools": {
            "deny": [ELEVATED_TOOL],
            "sandbox": { "tools": { "deny": SANDBOX_DENIED_TOOLS } }
        }
    }))
}

/// `v1:` and the SHA-256 (hex) of the compact JSON of `config`: equal for equal configs, since
/// [`render_config`] fixes the order of every key and list.
pub fn config_hash(config: &Value) -> String {
    versioned_hash(config)
}

/// `config` as the file is written and printed: pretty JSON with a trailing newline.
pub fn render_pretty(config: &Value) -> String {
    let mut text = serde_json::to_string_pretty(config).expect("JSON values serialize");
    text.push('\n');
    text
}

/// Agents by name (sorted).
fn agents(rc: &OpenClawConfig) -> Map<String, Value> {
    let sorted: BTreeMap<&str, &AgentSpec> = rc.agents.iter().map(|a| (a.name.as_str(), a)).collect();
    sorted.into_iter().map(|(name, agent)| (name.to_string(), agent_entry(agent))).collect()
}

fn agent_entry(agent: &AgentSpec) -> Value {
    let mut model = json!({ "tier": agent.model.tier, "temperature": agent.model.temperature });
    if let Some(mode) = agent.model.thinking_mode {
        model["thinkingMode"] = json!(mode.as_str());
    }
    // Tool lists are sets: sorted, so reordering them in the spec changes nothing.
    let allow: BTreeSet<&str> = agent.tools.allow.iter().map(String::as_str).filter(|t| *t != ELEVATED_TOOL).collect();
    let deny: BTreeSet<&str> =
        agent.tools.deny.iter().map(String::as_str).chain(std::iter::once(ELEVATED_TOOL)).collect();
    let mut tools = Map::new();
    // No allow list means the runtime's defaults; an empty one would allow nothing.
    if !allow.is_empty() {
        tools.insert("allow".into(), json!(allow));
    }
    tools.insert("deny".into(), json!(deny));
    json!({
        "model": model,
        "tools": tools,
        "sandbox": {
            "mode": agent.sandbox.mode.as_str(),
            "workspaceAccess": agent.sandbox.workspace_access.as_str()
        },
        "workspace": agent.workspace_path()
    })
}

/// Bindings sorted by channel, account and agent (an account has one agent, so their order in the
/// spec means nothing).
fn bindings(rc: &OpenClawConfig) -> Vec<Value> {
    let mut sorted: Vec<_> = rc.bindings.iter().collect();
    sorted.sort_by(|a, b| (a.channel, &a.account, &a.agent).cmp(&(b.channel, &b.account, &b.agent)));
    sorted
        .into_iter()
        .map(|b| {
            json!({
                "agentId": b.agent.as_str(),
                "match": { "channel": b.channel.as_str(), "accountId": b.account.as_str() }
            })
        })
        .collect()
}

/// Channels by kind, each account's credentials as placeholders.
fn channels(rc: &OpenClawConfig) -> Map<String, Value> {
    rc.channels
        .iter()
        .map(|(kind, channel)| {
            let accounts: Map<String, Value> = channel
                .accounts
                .iter()
                .map(|(id, account)| {
                    let mut entry = Map::new();
                    entry.insert("botToken".into(), json!(secret_placeholder(&account.bot_token)));
                    if let Some(app) = &account.app_token {
                        entry.insert("appToken".into(), json!(secret_placeholder(app)));
                    }
                    entry.insert("dmPolicy".into(), json!(account.dm_policy.as_str()));
                    (id.to_string(), Value::Object(entry))
                })
                .collect();
            (kind.as_str().to_string(), json!({ "accounts": accounts }))
        })
        .collect()
}

/// Who may message whom: sorted, without repeats.
fn allowlist(rc: &OpenClawConfig) -> Map<String, Value> {
    rc.messaging
        .allowlist
        .iter()
        .map(|(from, to)| {
            let to: BTreeSet<&str> = to.iter().map(|a| a.as_str()).collect();
            (from.to_string(), json!(to))
        })
        .collect()
}

/// The spec's extensions, and `redact-secrets` enabled whatever the spec says (the rules refuse a
/// spec that disables it; this holds for any spec).
fn extensions(rc: &OpenClawConfig) -> Map<String, Value> {
    let mut sorted: BTreeMap<&str, Value> = BTreeMap::new();
    for (name, extension) in &rc.extensions {
        let mut entry = Map::new();
        entry.insert("enabled".into(), json!(extension.enabled));
        if !extension.config.is_empty() {
            entry.insert("config".into(), Value::Object(extension.config.clone()));
        }
        sorted.insert(name.as_str(), Value::Object(entry));
    }
    sorted
        .entry(REDACT_SECRETS_EXTENSION)
        .and_modify(|e| e["enabled"] = json!(true))
        .or_insert_with(|| json!({ "enabled": true }));
    sorted.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The defaults, then the spec's patterns in its order, each once.
fn redact_patterns(rc: &OpenClawConfig) -> Vec<&str> {
    let mut out: Vec<&str> = DEFAULT_REDACT_PATTERNS.to_vec();
    for p in &rc.logging.redact_patterns {
        if !out.contains(&p.as_str()) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::spec::{parse_str, TenantFile, AGE_ARMOR_BEGIN};

    const ARMOR: &str = "|\n        -----BEGIN AGE ENCRYPTED FILE-----\n        YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBzZWNyZXQtY2lwaGVydGV4\n        dA==\n        -----END AGE ENCRYPTED FILE-----";

    fn tenant(spec_body: &str) -> TenantFile {
        let text = format!(
            "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{name: acme}}\nspec:\n  image: x\n  secrets:\n    GW:\n      value: {ARMOR}\n    TG:\n      value: {ARMOR}\n    SL:\n      value: {ARMOR}\n    SA:\n      value: {ARMOR}\n{spec_body}"
        );
        parse_str(&text, Path::new("acme.yaml")).unwrap_or_else(|e| panic!("{e:#?}"))
    }

    fn full() -> TenantFile {
        tenant(
            "  port: 18800\n  runtimeConfig:\n    gatewayToken: {secret: GW}\n    agents:\n      - name: support\n        model: {tier: sonnet, temperature: 0.3, thinkingMode: standard}\n        tools: {allow: [read, web_search], deny: [browser]}\n      - name: ops\n        model: {tier: opus, temperature: 1}\n        sandbox: {mode: non-main, workspaceAccess: rw}\n        workspace: /data/ops\n    channels:\n      telegram: {accounts: {default: {botToken: {secret: TG}}}}\n      slack: {accounts: {ops: {botToken: {secret: SL}, appToken: {secret: SA}, dmPolicy: closed}}}\n    bindings:\n      - {agent: support, channel: telegram}\n      - {agent: ops, channel: slack, account: ops}\n    messaging: {allowlist: {support: [ops], ops: [support, support]}}\n    extensions: {memory: {enabled: true, config: {depth: 3}}}\n    logging: {redactPatterns: ['\\bghp_[A-Za-z0-9]{36}\\b']}\n",
        )
    }

    fn config(file: &TenantFile) -> Value {
        render_config(&file.spec).expect("the spec has a runtimeConfig")
    }

    #[test]
    fn no_runtime_config_renders_nothing() {
        let file = tenant("");
        assert_eq!(render_config(&file.spec), None);
    }

    #[test]
    fn the_full_config_is_what_the_spec_says_with_the_defaults() {
        insta::assert_snapshot!("full_config", render_pretty(&config(&full())));
    }

    #[test]
    fn the_gateway_uses_the_spec_port_token_auth_and_no_control_ui() {
        let c = config(&full());
        assert_eq!(c["gateway"]["bind"], "lan");
        assert_eq!(c["gateway"]["port"], 18800);
        assert_eq!(c["gateway"]["auth"], json!({"mode": "token", "token": "${secret:GW}"}));
        assert_eq!(c["gateway"]["controlUi"]["enabled"], false);
    }

    #[test]
    fn elevated_is_denied_everywhere_even_when_a_typed_spec_allows_it() {
        // The rules refuse `elevated` in an allow list; a spec built in code skips them.
        let mut file = full();
        let rc = file.spec.openclaw_config.as_mut().unwrap();
        rc.agents[0].tools.allow.push("elevated".into());
        rc.agents[1].tools.deny.clear();
        let c = config(&file);
        assert_eq!(c["tools"]["deny"], json!(["elevated"]));
        for (name, agent) in c["agents"]["list"].as_object().unwrap() {
            let deny = agent["tools"]["deny"].as_array().unwrap();
            assert!(deny.contains(&json!("elevated")), "{name}: {agent}");
            let allow = agent["tools"].get("allow").and_then(Value::as_array).cloned().unwrap_or_default();
            assert!(!allow.contains(&json!("elevated")), "{name}: {agent}");
        }
        assert_eq!(
            c["agents"]["list"]["support"]["tools"],
            json!({"allow": ["read", "web_search"], "deny": ["browser", "elevated"]})
        );
    }

    #[test]
    fn sandboxes_deny_exec_process_and_the_secret_paths() {
        let c = config(&full());
        assert_eq!(c["tools"]["sandbox"]["tools"]["deny"], json!(["exec", "process"]));
        assert_eq!(
            c["agents"]["defaults"]["sandbox"],
            json!({"mode": "all", "scope": "agent", "workspaceAccess": "ro"})
        );
        assert_eq!(
            c["agents"]["defaults"]["tools"]["sandbox"]["denyPaths"],
            json!(["~/.openclaw/**", "/run/secrets/**"])
        );
        assert_eq!(c["agents"]["list"]["support"]["sandbox"], json!({"mode": "all", "workspaceAccess": "ro"}));
        assert_eq!(c["agents"]["list"]["ops"]["sandbox"], json!({"mode": "non-main", "workspaceAccess": "rw"}));
        assert_eq!(c["agents"]["list"]["support"]["workspace"], "/home/node/.openclaw/workspaces/support");
        assert_eq!(c["agents"]["list"]["ops"]["workspace"], "/data/ops");
    }

    #[test]
    fn redact_secrets_is_on_even_when_a_typed_spec_turns_it_off() {
        let mut file = full();
        let rc = file.spec.openclaw_config.as_mut().unwrap();
        let off: crate::spec::Extension =
            serde_json::from_value(json!({"enabled": false, "config": {"x": 1}})).unwrap();
        rc.extensions.insert("redact-secrets".parse().unwrap(), off);
        let c = config(&file);
        assert_eq!(c["extensions"]["redact-secrets"], json!({"enabled": true, "config": {"x": 1}}));
        assert_eq!(config(&full())["extensions"]["redact-secrets"], json!({"enabled": true}));
        assert_eq!(c["extensions"]["memory"], json!({"enabled": true, "config": {"depth": 3}}));
    }

    #[test]
    fn logging_redacts_tools_with_the_default_patterns_first() {
        let c = config(&full());
        assert_eq!(c["logging"]["redactSensitive"], "tools");
        let patterns = c["logging"]["redactPatterns"].as_array().unwrap();
        assert_eq!(patterns[..3], DEFAULT_REDACT_PATTERNS.map(|p| json!(p)));
        assert_eq!(patterns[3], r"\bghp_[A-Za-z0-9]{36}\b");
        assert_eq!(patterns.len(), 4);
    }

    #[test]
    fn credentials_are_placeholders_and_no_ciphertext_gets_through() {
        let file = full();
        let c = config(&file);
        let text = render_pretty(&c);
        assert!(!text.contains("BEGIN AGE"), "{text}");
        assert!(!text.contains(AGE_ARMOR_BEGIN), "{text}");
        for secret in file.spec.secrets.values() {
            let body = secret.value.expose().lines().nth(1).unwrap();
            assert!(!text.contains(body), "ciphertext {body} in {text}");
        }
        assert_eq!(
            c["channels"],
            json!({
                "slack": {"accounts": {"ops": {"botToken": "${secret:SL}", "appToken": "${secret:SA}", "dmPolicy": "closed"}}},
                "telegram": {"accounts": {"default": {"botToken": "${secret:TG}", "dmPolicy": "allowlist"}}}
            })
        );
        assert_eq!(secret_path(&file.spec.openclaw_config.as_ref().unwrap().gateway_token), "/run/secrets/openclaw/GW");
    }

    #[test]
    fn bindings_and_allowlists_use_the_runtime_names() {
        let c = config(&full());
        assert_eq!(
            c["bindings"],
            json!([
                {"agentId": "ops", "match": {"channel": "slack", "accountId": "ops"}},
                {"agentId": "support", "match": {"channel": "telegram", "accountId": "default"}}
            ])
        );
        assert_eq!(c["messaging"]["allowlist"], json!({"ops": ["support"], "support": ["ops"]}));
    }

    #[test]
    fn the_hash_is_stable_and_ignores_the_order_of_sets_in_the_spec() {
        let a = config(&full());
        assert_eq!(config_hash(&a), config_hash(&config(&full())));
        assert!(config_hash(&a).starts_with("v1:") && config_hash(&a).len() == 3 + 64, "{}", config_hash(&a));
        let mut file = full();
        let rc = file.spec.openclaw_config.as_mut().unwrap();
        rc.agents.reverse();
        rc.bindings.reverse();
        rc.agents.iter_mut().for_each(|a| a.tools.allow.reverse());
        let b = config(&file);
        assert_eq!(render_pretty(&a), render_pretty(&b));
        assert_eq!(config_hash(&a), config_hash(&b));
        // And a change that matters changes it.
        file.spec.port = 18801;
        assert_ne!(config_hash(&a), config_hash(&config(&file)));
    }

    #[test]
    fn the_top_level_keys_come_in_a_fixed_order() {
        let c = config(&tenant("  runtimeConfig: {gatewayToken: {secret: GW}}\n"));
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["gateway", "agents", "bindings", "channels", "messaging", "extensions", "logging", "tools"]);
        assert_eq!(c["agents"]["list"], json!({}));
        assert_eq!(c["extensions"], json!({"redact-secrets": {"enabled": true}}));
    }

    #[test]
    fn the_output_matches_the_published_schema() {
        let schema: Value = serde_json::from_str(SCHEMA).expect("the openclaw schema is JSON");
        let validator = jsonschema::validator_for(&schema).expect("the openclaw schema compiles");
        for file in [full(), tenant("  runtimeConfig: {gatewayToken: {secret: GW}}\n")] {
            let c = config(&file);
            let errors: Vec<String> =
                validator.iter_errors(&c).map(|e| format!("{}: {e}", e.instance_path())).collect();
            assert!(errors.is_empty(), "{errors:#?}\n{}", render_pretty(&c));
        }
    }
}
