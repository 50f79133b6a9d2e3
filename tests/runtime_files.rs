//! Runtime config and secrets end to end: tenantd generates the runtime's config, decrypts its
//! age-encrypted secrets into tmpfs, and a config edit or a rotated secret reaches the running
//! runtime (the stub runtime reports what it read) without a new container. A canary secret
//! value is then looked for in everything tenantd wrote.

mod support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use support::daemon::*;
use support::secrets::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);

fn spec_with(gateway: &str, redact: &str) -> String {
    stub_spec(
        "acme",
        &format!(
            "  secrets:\n    GW:\n{gateway}  runtimeConfig:\n    gatewayToken: {{ secret: GW }}\n    logging:\n      redactPatterns: ['{redact}']\n"
        ),
    )
}

/// Two agents, a Telegram bot bound to one of them, a gateway token and a bot token.
fn agents_spec(gateway: &str, bot: &str, temperature: &str) -> String {
    stub_spec(
        "acme",
        &format!(
            "  secrets:\n    GW:\n{gateway}    TG:\n{bot}  runtimeConfig:
    gatewayToken: {{ secret: GW }}
    agents:
      - name: support
        model: {{ tier: sonnet, temperature: {temperature} }}
        tools: {{ allow: [read, message] }}
      - name: research
        model: {{ tier: opus, temperature: 0.7 }}
    channels:
      telegram:
        accounts:
          default: {{ botToken: {{ secret: TG }}, dmPolicy: allowlist }}
    bindings:
      - {{ agent: support, channel: telegram }}
"
        ),
    )
}

/// The inode the stub reported for secret `name`.
fn inode(seen: &serde_json::Value, name: &str) -> serde_json::Value {
    seen["secrets"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .map(|s| s["inode"].clone())
        .unwrap_or_default()
}

fn debug_runtime(port: u16) -> Option<serde_json::Value> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET /debug/runtime HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut s, &mut text).ok()?;
    serde_json::from_str(text.split("\r\n\r\n").nth(1)?).ok()
}

fn fnv64(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    format!("{h:016x}")
}

#[test]
fn config_and_secret_changes_reach_the_runtime_without_a_new_container_and_no_value_leaks() {
    let Some(env) = Env::new("config_and_secret_changes_reach_the_runtime_without_a_new_container_and_no_value_leaks")
    else {
        return;
    };
    let tmpfs = Tmpfs::new(&env);
    env.write_config(&format!(
        "[secrets]\nidentity_file = {:?}\ndir = {:?}\n",
        env.path("age.key"),
        tmpfs.0.join("secrets")
    ));
    let recipient = keygen(&env, "age.key");
    let (canary_gw, canary, canary2) = ("canary-gw-77c1e0a9", "canary-3f9a1c77e2", "canary-rotated-51b0d4e8");
    let gateway = encrypt(&env, &recipient, canary_gw);
    let bot = encrypt(&env, &recipient, canary);

    // The spec as committed: agents, a channel, and only ciphertext.
    env.spec("acme.yaml", &agents_spec(&gateway, &bot, "0.3"));
    let committed = std::fs::read_to_string(env.tenants.join("acme.yaml")).unwrap();
    assert!(!committed.contains(canary) && !committed.contains(canary_gw));
    let plan = env.tenantd(&["plan"]);
    let plan_text = format!("{}{}", stdout(&plan), stderr(&plan));
    assert!(plan_text.contains("write runtime files: openclaw.json, secret/GW, secret/TG"), "{plan_text}");

    // acme is the only tenant, and its deletion below empties the directory.
    let daemon = Daemon::start_with(&env, &["--allow-empty"], &[]);
    let status = daemon.await_running(&env, "acme", CONVERGE);
    let port = status["hostPort"].as_u64().unwrap() as u16;
    let id = container_id(&env, "acme").unwrap();
    let config_file = env.state.join("runtime-config/acme/openclaw.json");
    let bot_file = tmpfs.0.join("secrets/acme/TG");

    // Delivered: the config as generated, each secret on tmpfs for the container's user only.
    let seen = debug_runtime(port).expect("the stub answers /debug/runtime");
    let config = std::fs::read(&config_file).expect("the generated config");
    assert_eq!(seen["config"]["fnv64"], fnv64(&config), "{seen}");
    let config_text = String::from_utf8_lossy(&config).into_owned();
    assert!(config_text.contains("${secret:TG}") && config_text.contains("research"), "{config_text}");
    assert_eq!(std::fs::read_to_string(&bot_file).unwrap(), canary);
    let meta = std::fs::metadata(&bot_file).unwrap();
    assert_eq!(
        (
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
            std::os::unix::fs::MetadataExt::uid(&meta)
        ),
        (0o400, 10001)
    );
    let (gw_inode, tg_inode) = (inode(&seen, "GW"), inode(&seen, "TG"));
    assert!(gw_inode.is_u64() && tg_inode.is_u64(), "{seen}");

    // An agent edited: the same container reloads (SIGHUP) and reads the new config; the
    // secrets, unchanged, are not rewritten.
    env.spec("acme.yaml", &agents_spec(&gateway, &bot, "0.5"));
    let seen = eventually("the runtime to read the edited config", CONVERGE, || {
        let config = std::fs::read(&config_file).ok()?;
        let seen = debug_runtime(port)?;
        (String::from_utf8_lossy(&config).contains("0.5") && seen["config"]["fnv64"] == fnv64(&config)).then_some(seen)
    });
    assert!(seen["reloads"].as_u64().unwrap() >= 1, "{seen}");
    assert_eq!((inode(&seen, "GW"), inode(&seen, "TG")), (gw_inode.clone(), tg_inode.clone()));
    assert_eq!(container_id(&env, "acme").as_deref(), Some(id.as_str()), "an agent edit keeps the container");

    // The bot token rotated: a new TG file (new inode), GW untouched, same container.
    env.spec("acme.yaml", &agents_spec(&gateway, &encrypt(&env, &recipient, canary2), "0.5"));
    let seen = eventually("the runtime to see the rotated token", CONVERGE, || {
        let seen = debug_runtime(port)?;
        (inode(&seen, "TG") != tg_inode).then_some(seen)
    });
    assert_eq!(inode(&seen, "GW"), gw_inode, "only the rotated secret is rewritten");
    assert_eq!(std::fs::read_to_string(&bot_file).unwrap(), canary2);
    assert_eq!(container_id(&env, "acme").as_deref(), Some(id.as_str()), "a rotated token keeps the container");
    daemon.await_running(&env, "acme", CONVERGE);

    // With `reload: restart`, an agent edit restarts the same container instead of signalling it.
    let started = container(&env, "acme").unwrap()["State"]["StartedAt"].clone();
    let restart_spec = agents_spec(&gateway, &encrypt(&env, &recipient, canary2), "0.9")
        .replace("  secrets:", "  reload: restart\n  secrets:");
    env.spec("acme.yaml", &restart_spec);
    let c = await_container(&env, "acme", "acme's container to be restarted", CONVERGE, |c| {
        c["State"]["StartedAt"] != started && c["State"]["Running"] == true
    });
    assert_eq!(c["Id"], id.as_str(), "a restart keeps the container");
    let seen = eventually("the restarted runtime to read the edited config", CONVERGE, || {
        let config = std::fs::read(&config_file).ok()?;
        let seen = debug_runtime(port)?;
        (String::from_utf8_lossy(&config).contains("0.9") && seen["config"]["fnv64"] == fnv64(&config)).then_some(seen)
    });
    assert_eq!(seen["reloads"], 0, "a fresh process, not a signalled one: {seen}");
    daemon.await_running(&env, "acme", CONVERGE);

    // No value anywhere tenantd wrote outside tmpfs, nor in what the engine shows.
    let mut written: Vec<(String, String)> = files_under(&env.state)
        .into_iter()
        .map(|p| (p.display().to_string(), String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned()))
        .collect();
    written.push(("daemon logs".into(), daemon.logs()));
    written.push(("plan".into(), plan_text));
    written.push(("docker inspect".into(), env.inspect(&env.container("acme")).unwrap().to_string()));
    for (what, text) in &written {
        for value in [canary_gw, canary, canary2] {
            assert!(!text.contains(value), "a secret value in {what}");
        }
    }

    // Deleted: the plaintext goes with the tenant.
    env.remove_spec("acme.yaml");
    daemon.await_phase(&env, "acme", "Removed", CONVERGE);
    eventually("acme's plaintext to be removed", CONVERGE, || (!bot_file.parent().unwrap().exists()).then_some(()));
    assert!(!config_file.exists(), "its generated config is removed too");
}

#[test]
fn a_secret_that_cannot_be_opened_or_a_disk_directory_leaves_the_tenant_as_it_was() {
    let Some(env) = Env::new("a_secret_that_cannot_be_opened_or_a_disk_directory_leaves_the_tenant_as_it_was") else {
        return;
    };
    let tmpfs = Tmpfs::new(&env);
    // The identity comes as systemd hands over a credential (LoadCredential=age-identity:…).
    let config = |dir: &Path| format!("[secrets]\ndir = {dir:?}\n");
    env.write_config(&config(&tmpfs.0.join("secrets")));
    std::fs::create_dir_all(env.path("credentials")).unwrap();
    let recipient = keygen(&env, "credentials/age-identity");
    let stranger = keygen(&env, "other.key");
    let credentials = env.path("credentials").display().to_string();
    let apply = || env.tenantd_with_env(&["apply"], &[("CREDENTIALS_DIRECTORY", credentials.as_str())]);
    // Encrypted to the config's recipients, as an operator would without naming one.
    env.write_config(&format!("{}recipients = [{recipient:?}]\n", config(&tmpfs.0.join("secrets"))));
    env.spec("acme.yaml", &spec_with(&encrypt(&env, "", "good-value"), "first"));
    let first = apply();
    assert!(first.status.success(), "{}{}", stdout(&first), stderr(&first));
    let id = container_id(&env, "acme").unwrap();
    let secret_file = tmpfs.0.join("secrets/acme/GW");

    // Encrypted to someone else: the spec is invalid, naming the secret and where it is in the
    // file; the tenant keeps running as it was.
    env.spec("acme.yaml", &spec_with(&encrypt(&env, &stranger, "wrong-key-value"), "second"));
    assert!(!apply().status.success());
    let status = env.status("acme").unwrap();
    assert_eq!(status["phase"], "Invalid", "{status}");
    let error = status["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("secret GW") && error.contains("no configured age identity"), "{status}");
    assert!(error.contains("acme.yaml:") && error.contains("/spec/secrets/GW/value"), "{status}");
    assert_eq!(container_id(&env, "acme").as_deref(), Some(id.as_str()));
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), "good-value");

    // A flipped bit in the ciphertext: refused the same way.
    let good = encrypt(&env, &recipient, "tampered-value");
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    let i = lines.len() - 2;
    let flipped = if lines[i].trim_start().starts_with('A') { "B" } else { "A" };
    let at = lines[i].len() - lines[i].trim_start().len();
    lines[i].replace_range(at..at + 1, flipped);
    env.spec("acme.yaml", &spec_with(&(lines.join("\n") + "\n"), "second"));
    assert!(!apply().status.success());
    let status = env.status("acme").unwrap();
    assert_eq!(status["phase"], "Invalid", "{status}");
    let error = status["lastError"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("secret GW") && error.contains("cannot be decrypted"), "{error}");
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), "good-value");
    assert!(files_under(&tmpfs.0).iter().all(|p| !p.display().to_string().ends_with(".tmp")), "no partial file");

    // Truncated: the last line of ciphertext lost (a copy-paste cut short). Refused the same way.
    let mut lines: Vec<String> = encrypt(&env, &recipient, "truncated-value").lines().map(str::to_string).collect();
    let end = lines.len() - 1;
    lines.remove(end - 1);
    env.spec("acme.yaml", &spec_with(&(lines.join("\n") + "\n"), "second"));
    assert!(!apply().status.success());
    let status = env.status("acme").unwrap();
    let error = status["lastError"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("secret GW") && error.contains("cannot be decrypted"), "{error}");
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), "good-value", "no partial plaintext");
    assert_eq!(container_id(&env, "acme").as_deref(), Some(id.as_str()));

    // A secrets directory on disk is refused before any plaintext is written there.
    let disk = env.path("disk-secrets");
    env.write_config(&config(&disk));
    env.spec(
        "beta.yaml",
        &spec_with(&encrypt(&env, &recipient, "beta-value"), "x").replace("name: acme", "name: beta"),
    );
    assert!(!apply().status.success());
    let error = env.status("beta").unwrap()["lastError"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("not on tmpfs"), "{error}");
    assert!(files_under(&disk).is_empty(), "nothing written on disk: {:?}", files_under(&disk));
    assert!(container_id(&env, "beta").is_none());
    assert_eq!(container_id(&env, "acme").as_deref(), Some(id.as_str()));
}
