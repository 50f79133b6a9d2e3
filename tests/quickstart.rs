//! `scripts/quickstart.sh` for real, under the test's own instance, ports and local directory
//! (so it never touches a person's quickstart): the samples and an OpenClaw tenant come up under
//! the daemon the script runs in the foreground; the gateway token reaches the runtime only
//! through tmpfs; SIGINT (Ctrl-C) stops the daemon and leaves the tenants running; `down`
//! removes them.

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::*;

const TENANTS: [&str; 3] = ["acme", "globex", "openclaw"];

/// The script with the test's settings; its output goes to `log`.
fn quickstart(env: &Env, local: &Path, token: &str, args: &[&str], log: &Path) -> Command {
    let mut cmd = Command::new(repo_root().join("scripts/quickstart.sh"));
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    cmd.args(args)
        .env("TENANTD_QUICKSTART_DIR", local)
        .env("TENANTD_QUICKSTART_INSTANCE", &env.instance)
        .env("TENANTD_QUICKSTART_PORTS", format!("{}-{}", env.ports.0, env.ports.1))
        .env("TENANTD_QUICKSTART_BIN", env!("CARGO_BIN_EXE_tenantd"))
        .env("TENANTD_QUICKSTART_GATEWAY_TOKEN", token)
        .env_remove("CONTAINER_RUNTIME")
        .env_remove("TENANTD_CONFIG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    cmd
}

/// The script's process (the daemon, once it has exec'd it), killed if the test ends early; and
/// the tmpfs directories the script may have chosen for the instance, removed.
struct Running {
    child: Child,
    instance: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for base in ["/run", "/dev/shm"] {
            let _ = std::fs::remove_dir_all(format!("{base}/tenantd-{}", self.instance));
        }
    }
}

fn status(local: &Path, tenant: &str) -> Option<Value> {
    let text = std::fs::read_to_string(local.join(format!("state/status/{tenant}.json"))).ok()?;
    serde_json::from_str(&text).ok()
}

/// `[secrets] dir` of the config the script wrote.
fn secrets_dir(local: &Path) -> PathBuf {
    let text = std::fs::read_to_string(local.join("tenantd.toml")).unwrap();
    let config: toml::Value = toml::from_str(&text).unwrap();
    PathBuf::from(config["secrets"]["dir"].as_str().expect("[secrets] dir in the quickstart's config"))
}

#[test]
fn the_quickstart_runs_the_samples_and_an_openclaw_tenant_under_its_daemon() {
    let Some(env) = Env::new("the_quickstart_runs_the_samples_and_an_openclaw_tenant_under_its_daemon") else {
        return;
    };
    let local = env.path("quickstart");
    let log = env.path("quickstart.log");
    let token = format!("gateway-token-of-{}", env.instance);
    let child = quickstart(&env, &local, &token, &[], &log).spawn().expect("the quickstart runs");
    let mut run = Running { child, instance: env.instance.clone() };
    let pid = run.child.id();
    let output = || std::fs::read_to_string(&log).unwrap_or_default();

    // Up, and the daemon (the script's own process, exec'd) is what keeps them so.
    eventually("the quickstart's daemon to run", Duration::from_secs(600), || {
        if let Some(code) = run.child.try_wait().unwrap() {
            panic!("the quickstart exited ({code}) instead of running the daemon:\n{}", output());
        }
        output().contains("tenantd is running").then_some(())
    });
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap().replace('\0', " ");
    assert!(cmdline.contains("tenantd.toml run"), "the script's process is the daemon: {cmdline}");
    for tenant in TENANTS {
        eventually(&format!("{tenant} Running and healthy"), Duration::from_secs(120), || {
            let s = status(&local, tenant)?;
            (s["phase"] == "Running" && s["health"] == "healthy").then_some(())
        });
    }

    // The runtime reads a generated openclaw.json whose gateway token resolves to a file on
    // tmpfs, as seen from inside its container; the very file tenantd wrote on the host.
    let openclaw = status(&local, "openclaw").unwrap();
    let port = openclaw["hostPort"].as_u64().expect("a host port") as u16;
    let (code, body) = http_body(port, "/debug/runtime").expect("the runtime answers");
    assert_eq!(code, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["config"]["present"], true, "{seen}");
    assert_eq!(seen["gatewayToken"], "resolved", "{seen}");
    assert_eq!(seen["secretsFs"], "tmpfs", "{seen}");
    let file = secrets_dir(&local).join("openclaw/GATEWAY_TOKEN");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), token);
    let inode = std::fs::metadata(&file).unwrap().ino();
    assert_eq!(seen["secrets"], serde_json::json!([{"name": "GATEWAY_TOKEN", "inode": inode}]), "{seen}");

    // The plaintext is nowhere else: not in the spec, the engine's record of the container, the
    // status file or the daemon's environment.
    let spec = std::fs::read_to_string(local.join("tenants.d/openclaw.yaml")).unwrap();
    assert!(spec.contains("-----BEGIN AGE ENCRYPTED FILE-----") && !spec.contains(&token), "{spec}");
    let id = openclaw["containerId"].as_str().expect("a container id");
    let inspect = stdout(&docker(&["inspect", id]));
    assert!(inspect.contains("/run/secrets/openclaw") && !inspect.contains(&token), "{inspect}");
    let status_text = std::fs::read_to_string(local.join("state/status/openclaw.json")).unwrap();
    assert!(!status_text.contains(&token), "{status_text}");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    assert!(!String::from_utf8_lossy(&environ).contains(&token), "the daemon's environment holds the token");

    // Ctrl-C stops the daemon; the tenants keep running.
    let interrupted = Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    assert!(interrupted.success());
    let exit = eventually("the daemon to exit after SIGINT", Duration::from_secs(60), || run.child.try_wait().unwrap());
    assert!(exit.success(), "{exit}:\n{}", output());
    for tenant in TENANTS {
        let running = env.inspect(&env.container(tenant)).map(|c| c["State"]["Running"].clone());
        assert_eq!(running, Some(Value::Bool(true)), "{tenant} still runs after the daemon stopped");
    }

    // `down` removes every tenant of the instance and the delivered secret.
    let down = quickstart(&env, &local, &token, &["down"], &log).status().unwrap();
    assert!(down.success(), "{}", output());
    let filter = format!("label=io.tenantd.instance={}", env.instance);
    let left = stdout(&docker(&["ps", "-aq", "--filter", &filter]));
    assert!(left.trim().is_empty(), "containers left after down: {left}");
    assert!(!file.exists(), "the delivered secret is removed with its tenant");
}
