//! The generated runtime config (`openclaw.json`): every sample spec with a `runtimeConfig`
//! renders to a file that matches `schemas/openclaw.schema.json` and holds no secret, the schema
//! refuses configs that break tenantd's security defaults, and `tenantd render` prints it.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use tenantd::render::openclaw::{config_hash, render_config, render_pretty, SCHEMA};
use tenantd::spec::{load_file, parse_str, SpecError, TenantFile};

use support::*;

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the openclaw schema is JSON");
    jsonschema::validator_for(&schema).expect("the openclaw schema compiles")
}

fn schema_errors(config: &Value) -> Vec<String> {
    validator().iter_errors(config).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

const ARMOR: &str =
    "\"-----BEGIN AGE ENCRYPTED FILE-----\\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCg==\\n-----END AGE ENCRYPTED FILE-----\\n\"";

/// A spec with secrets `GW`, `BOT` and `APP`, and `rc` as the body of its runtimeConfig
/// (indented four spaces).
fn spec_text(rc: &str) -> String {
    format!(
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{name: acme}}\nspec:\n  image: x\n  secrets:\n    GW: {{value: {ARMOR}}}\n    BOT: {{value: {ARMOR}}}\n    APP: {{value: {ARMOR}}}\n  runtimeConfig:\n    gatewayToken: {{secret: GW}}\n{rc}"
    )
}

fn parse(rc: &str) -> Result<TenantFile, Vec<SpecError>> {
    parse_str(&spec_text(rc), Path::new("acme.yaml"))
}

fn example() -> TenantFile {
    let path = repo_root().join("examples/tenants/openclaw-agents.yaml");
    load_file(&path).unwrap_or_else(|e| panic!("{e:#?}")).file
}

#[test]
fn every_sample_with_a_runtime_config_renders_a_config_the_schema_accepts() {
    let mut files = yaml_files(&repo_root().join("tenants.d"));
    files.extend(yaml_files(&repo_root().join("examples")));
    let mut rendered = 0;
    for path in files {
        if !std::fs::read_to_string(&path).unwrap().contains("kind: Tenant") {
            continue;
        }
        let file = load_file(&path).unwrap_or_else(|e| panic!("{}: {e:#?}", path.display())).file;
        let Some(config) = render_config(&file.spec) else { continue };
        rendered += 1;
        assert_eq!(schema_errors(&config), Vec::<String>::new(), "{}", path.display());
        let text = render_pretty(&config);
        assert!(!text.contains("BEGIN AGE"), "{}: {text}", path.display());
        for secret in file.spec.secrets.values() {
            for line in secret.value.expose().lines().filter(|l| !l.starts_with("-----")) {
                assert!(!text.contains(line), "{}: ciphertext {line:?} in the config", path.display());
            }
        }
    }
    assert!(rendered >= 1, "no sample has a runtimeConfig");
}

#[test]
fn the_example_renders_as_pinned() {
    let config = render_config(&example().spec).expect("the example has a runtimeConfig");
    insta::assert_snapshot!("example_config", render_pretty(&config));
    insta::assert_snapshot!("example_config_hash", config_hash(&config));
}

#[test]
fn hand_made_specs_render_configs_the_schema_accepts() {
    let specs = [
        String::new(),
        "    agents: [{name: solo, model: {tier: haiku, temperature: 0}}]\n".to_string(),
        "    agents:\n      - {name: a, model: {tier: sonnet, temperature: 2}, sandbox: {mode: 'off', workspaceAccess: none}, tools: {deny: [elevated, elevated]}}\n      - {name: b, model: {tier: opus, temperature: 0.5, thinkingMode: extended}, workspace: /srv/b}\n    channels:\n      discord: {accounts: {default: {botToken: {secret: BOT}, dmPolicy: open}}}\n      slack: {accounts: {ops: {botToken: {secret: BOT}, appToken: {secret: APP}}, sales: {botToken: {secret: BOT}}}}\n      teams: {accounts: {default: {botToken: {secret: BOT}}}}\n      telegram: {accounts: {default: {botToken: {secret: BOT}, dmPolicy: closed}}}\n    bindings:\n      - {agent: a, channel: discord}\n      - {agent: b, channel: slack, account: ops}\n      - {agent: a, channel: slack, account: sales}\n      - {agent: b, channel: teams}\n      - {agent: a, channel: telegram}\n    messaging: {allowlist: {a: [b], b: []}}\n    extensions: {redact-secrets: {enabled: true, config: {mask: '***'}}, memory: {enabled: false}, search: {enabled: true, config: {nested: {list: [1, 2.5, null, true]}}}}\n    logging: {redactPatterns: ['token=[^&]+', '\\bsk-[A-Za-z0-9_-]{20,}\\b']}\n".to_string(),
    ];
    for rc in &specs {
        let file = parse(rc).unwrap_or_else(|e| panic!("{e:#?}\n{rc}"));
        let config = render_config(&file.spec).unwrap();
        assert_eq!(schema_errors(&config), Vec::<String>::new(), "{}", render_pretty(&config));
        assert!(!render_pretty(&config).contains("BEGIN AGE"));
    }
    // A default pattern given again in the spec is not repeated.
    let file = parse(&specs[2]).unwrap();
    let config = render_config(&file.spec).unwrap();
    assert_eq!(config["logging"]["redactPatterns"].as_array().unwrap().len(), 4);
    assert_eq!(config["agents"]["list"]["a"]["tools"], json!({"deny": ["elevated"]}));
}

/// The schema holds the security defaults: a config that breaks one is refused.
#[test]
fn the_schema_refuses_a_config_without_the_security_defaults() {
    let good = render_config(&example().spec).unwrap();
    assert_eq!(schema_errors(&good), Vec::<String>::new());
    let breaks: [(&str, Value); 12] = [
        ("/gateway/controlUi/enabled", json!(true)),
        ("/gateway/auth/mode", json!("none")),
        ("/gateway/auth/token", json!("plaintext-token")),
        ("/gateway/bind", json!("0.0.0.0")),
        ("/agents/defaults/sandbox/mode", json!("off")),
        ("/agents/list/support/tools/allow/0", json!("elevated")),
        ("/agents/list/support/tools/deny", json!(["browser"])),
        ("/channels/telegram/accounts/default/botToken", json!("123456:ABCDEF")),
        ("/extensions/redact-secrets/enabled", json!(false)),
        ("/logging/redactPatterns/0", json!("x")),
        ("/tools/deny", json!([])),
        ("/tools/sandbox/tools/deny", json!(["exec"])),
    ];
    for (pointer, value) in breaks {
        let mut bad = good.clone();
        *bad.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer} is not in the config")) = value;
        assert!(!schema_errors(&bad).is_empty(), "the schema accepts a config with {pointer} changed");
    }
    let mut no_redact = good.clone();
    no_redact["extensions"].as_object_mut().unwrap().remove("redact-secrets");
    assert!(!schema_errors(&no_redact).is_empty());
    let mut extra = good;
    extra["gateway"]["tls"] = json!({});
    assert!(!schema_errors(&extra).is_empty());
}

/// The errors a spec gets, as (pointer, message).
fn errors(rc: &str) -> Vec<(String, String)> {
    parse(rc)
        .expect_err("the spec must be refused")
        .into_iter()
        .map(|e| match e {
            SpecError::Invalid { pointer, message, .. } => (pointer, message),
            e => panic!("expected an Invalid error, got {e:?}"),
        })
        .collect()
}

#[test]
fn the_loader_refuses_what_the_config_cannot_be_generated_from() {
    let agents = "    agents:\n      - {name: a, model: {tier: sonnet, temperature: 0.3}}\n";
    assert_eq!(
        errors(&format!("{agents}    channels: {{telegram: {{accounts: {{default: {{botToken: {{secret: BOT}}}}}}}}}}\n    bindings: [{{agent: ghost, channel: telegram}}]\n")),
        [(
            "/spec/runtimeConfig/bindings/0/agent".to_string(),
            r#"agent "ghost" is not defined in /spec/runtimeConfig/agents"#.to_string()
        )]
    );
    assert_eq!(
        errors("    channels: {telegram: {accounts: {default: {botToken: {secret: MISSING}}}}}\n"),
        [(
            "/spec/runtimeConfig/channels/telegram/accounts/default/botToken/secret".to_string(),
            "the secret named here is not defined in spec.secrets (defined: APP, BOT, GW)".to_string()
        )]
    );
    assert_eq!(
        errors(&format!("{agents}      - {{name: a, model: {{tier: opus, temperature: 1}}}}\n")),
        [(
            "/spec/runtimeConfig/agents/1/name".to_string(),
            r#"agent name "a" is already used by /spec/runtimeConfig/agents/0"#.to_string()
        )]
    );
    let bad_regex = errors("    logging: {redactPatterns: ['sk-(unclosed']}\n");
    assert_eq!(bad_regex.len(), 1);
    assert_eq!(bad_regex[0].0, "/spec/runtimeConfig/logging/redactPatterns/0");
    assert!(bad_regex[0].1.contains("is not a valid regular expression"), "{}", bad_regex[0].1);
    let elevated =
        errors("    agents:\n      - {name: a, model: {tier: sonnet, temperature: 0.3}, tools: {allow: [elevated]}}\n");
    assert_eq!(elevated.len(), 1);
    assert_eq!(elevated[0].0, "/spec/runtimeConfig/agents/0/tools/allow/0");
    assert!(elevated[0].1.starts_with("the elevated tool is always denied"), "{}", elevated[0].1);
    assert_eq!(
        errors("    extensions: {redact-secrets: {enabled: false}}\n"),
        [(
            "/spec/runtimeConfig/extensions/redact-secrets/enabled".to_string(),
            "the redact-secrets extension is always enabled and cannot be turned off".to_string()
        )]
    );
    // A credential is a reference, never a literal.
    let literal = errors("    channels: {telegram: {accounts: {default: {botToken: '123456:ABC'}}}}\n");
    assert_eq!(literal[0].0, "/spec/runtimeConfig/channels/telegram/accounts/default/botToken");
    // The gateway token is required with a runtimeConfig.
    let text = spec_text("").replace("    gatewayToken: {secret: GW}\n", "    agents: []\n");
    let e = parse_str(&text, Path::new("acme.yaml")).unwrap_err();
    assert!(format!("{e:?}").contains(r#"missing required field \"gatewayToken\""#), "{e:#?}");
}

#[test]
fn specs_without_the_new_sections_serialize_as_before() {
    for name in ["acme.yaml", "globex.yaml"] {
        let text = std::fs::read_to_string(repo_root().join("tenants.d").join(name)).unwrap();
        let file = parse_str(&text, Path::new(name)).unwrap();
        assert_eq!(render_config(&file.spec), None);
        let json = serde_json::to_value(&file).unwrap();
        for key in ["runtimeConfig", "secrets", "reload"] {
            assert!(json["spec"].get(key).is_none(), "{name}: {key} in {json}");
        }
    }
}

#[test]
fn tenantd_render_prints_the_config_with_secret_references_only() {
    let env = Env::without_docker();
    let text = std::fs::read_to_string(repo_root().join("examples/tenants/openclaw-agents.yaml")).unwrap();
    env.spec("umbrella.yaml", &text);
    let plain = std::fs::read_to_string(repo_root().join("tenants.d/acme.yaml")).unwrap();
    env.spec("acme.yaml", &plain.replace("build: { context: ../examples/stub-runtime }", "image: x"));
    env.spec(
        "broken.yaml",
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {name: broken}\nspec: {image: x, runtimeConfig: {}}\n",
    );

    // From the configured tenants_dir.
    let o = env.tenantd(&["render", "umbrella"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let printed: Value = serde_json::from_str(&stdout(&o)).expect("render prints JSON");
    assert_eq!(printed, render_config(&example().spec).unwrap());
    assert_eq!(stdout(&o), render_pretty(&printed));
    assert!(!stdout(&o).contains("BEGIN AGE"));
    assert!(stdout(&o).contains("\"${secret:TELEGRAM_BOT_TOKEN}\""));

    // From --dir, with no config file needed.
    let dir = env.tenants.to_str().unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .args(["--config", "/nonexistent/tenantd.toml", "render", "umbrella", "--dir", dir])
        .env_remove("TENANTD_CONFIG")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(serde_json::from_slice::<Value>(&o.stdout).unwrap(), printed);

    for (tenant, expected) in [
        ("acme", "tenant acme"),
        ("broken", "tenant broken"),
        ("nobody", "no tenant named nobody in"),
        ("Not_A_Name", "is not a valid tenant name"),
    ] {
        let o = env.tenantd(&["render", tenant, "--dir", dir]);
        assert_eq!(o.status.code(), Some(1), "{tenant}: {}{}", stdout(&o), stderr(&o));
        assert_eq!(stdout(&o), "", "{tenant}: nothing goes to stdout on failure");
        assert!(stderr(&o).contains(expected), "{tenant}: {}", stderr(&o));
    }
    let o = env.tenantd(&["render", "acme"]);
    assert!(stderr(&o).contains("has no spec.runtimeConfig"), "{}", stderr(&o));
    let o = env.tenantd(&["render", "broken"]);
    assert!(stderr(&o).contains(r#"missing required field "gatewayToken""#), "{}", stderr(&o));
    assert!(stderr(&o).contains("is invalid"), "{}", stderr(&o));
}
