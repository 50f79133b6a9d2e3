//! A literal written where a credential belongs (a secret reference in `runtimeConfig`) is an
//! error that never shows the value: not in `validate`'s excerpts or messages, not in `plan`,
//! not in `apply`'s output or logs, and not in the status file that records the error.

mod support;

use support::*;

/// In every credential field, a value that must never be printed back.
const CANARY: &str = "CANARY-4f9c";

fn spec_with_literals(name: &str) -> String {
    let image = stub::stub_image();
    format!(
        "apiVersion: tenantd/v1
kind: Tenant
metadata: {{name: {name}}}
spec:
  image: {image}
  pullPolicy: Never
  runtimeConfig:
    gatewayToken: \"gw-{CANARY}\"
    agents: [{{name: a, model: {{tier: sonnet, temperature: 0}}}}]
    channels:
      slack:
        accounts:
          default:
            botToken: bot-{CANARY}
            appToken: {{value: app-{CANARY}}}
      telegram: {{accounts: {{default: {{botToken: {{secret: tg_{}}}, dmPolicy: open}}}}}}
      discord:
        accounts:
          default:
            botToken: |
              discord-{CANARY}
      teams: {{accounts: {{default: {{botToken: teams-{CANARY}}}}}, extra: 1}}
",
        CANARY.replace('-', "_")
    )
}

fn assert_no_canary(what: &str, text: &str) {
    assert!(!text.contains("CANARY"), "{what} shows a credential:\n{text}");
}

#[test]
fn validate_never_shows_a_literal_written_in_a_credential_field() {
    let env = Env::without_docker();
    env.spec("acme.yaml", &spec_with_literals("acme"));
    let o = env.tenantd(&["validate"]);
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_no_canary("validate", &out);
    // Each field is refused, at its place.
    for (pointer, line) in [
        ("/spec/runtimeConfig/gatewayToken", 8),
        ("/spec/runtimeConfig/channels/slack/accounts/default/botToken", 14),
        ("/spec/runtimeConfig/channels/slack/accounts/default/appToken", 15),
        ("/spec/runtimeConfig/channels/discord/accounts/default/botToken", 21),
    ] {
        assert!(out.contains(&format!("error: {pointer}")), "{pointer}:\n{out}");
        assert!(out.contains(&format!("acme.yaml:{line}:")), "{pointer} at line {line}:\n{out}");
    }
    assert!(out.contains("    gatewayToken: (redacted)"), "{out}");
    // An error beside a credential on one line does not show the line either.
    assert!(out.contains("error: /spec/runtimeConfig/channels/teams/extra"), "{out}");
    assert!(out.contains("      teams: (redacted)"), "{out}");
}

#[test]
fn plan_and_apply_never_show_a_literal_written_in_a_credential_field() {
    let Some(env) = Env::new("plan_and_apply_never_show_a_literal_written_in_a_credential_field") else {
        return;
    };
    env.spec("acme.yaml", &spec_with_literals("acme"));
    let o = env.tenantd(&["plan"]);
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert_ne!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("acme"), "{out}");
    assert_no_canary("plan", &out);
    let o = env.tenantd(&["plan", "--output", "json"]);
    assert_no_canary("plan --output json", &format!("{}{}", stdout(&o), stderr(&o)));

    let o = env.tenantd_with_env(&["apply"], &[("RUST_LOG", "debug")]);
    let out = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_no_canary("apply", &out);
    let status = std::fs::read_to_string(env.status_path("acme")).expect("a status file records the error");
    assert!(status.contains("gatewayToken"), "the status names the field:\n{status}");
    assert_no_canary("the status file", &status);
}
