//! Images: pulled from a real local registry (Debian's docker-registry on 127.0.0.1), a failed
//! pull leaves the running container untouched, and a missing local image is a clear error.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::*;

/// A private registry on 127.0.0.1 for one test, removed on drop.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let bin = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("docker-registry is installed (Debian package docker-registry; .ci/run installs it)");
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{ level: error }}\nstorage: {{ filesystem: {{ rootdirectory: {} }} }}\nhttp: {{ addr: 127.0.0.1:{port} }}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child =
            Command::new(bin).arg("serve").arg(&config).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        eventually("the registry answers", Duration::from_secs(20), || http_get(port, "/v2/").filter(|c| *c == 200));
        Registry { child, port, _dir: dir }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn images_are_pulled_from_a_registry_and_a_failed_pull_touches_nothing() {
    let Some(env) = Env::new("images_are_pulled_from_a_registry_and_a_failed_pull_touches_nothing") else {
        return;
    };
    let mut registry = Registry::start();
    let reference = format!("127.0.0.1:{}/stub-{}:v1", registry.port, env.instance);
    assert!(docker(&["tag", &stub::stub_image(), &reference]).status.success());
    let push = docker(&["push", &reference]);
    assert!(push.status.success(), "{}", stderr(&push));
    assert!(docker(&["rmi", &reference]).status.success());

    let spec = stub_spec("acme", "")
        .replace(&format!("image: {}", stub::stub_image()), &format!("image: {reference}"))
        .replace("pullPolicy: Never", "pullPolicy: IfNotPresent");
    env.spec("acme.yaml", &spec);
    env.apply_ok();
    let id = env.container_id("acme").unwrap();
    assert_eq!(env.inspect(&env.container("acme")).unwrap()["Config"]["Image"], reference.as_str());

    // The registry goes away; a new tag cannot be pulled. The running container stays.
    let _ = registry.child.kill();
    let _ = registry.child.wait();
    let v2 = reference.replace(":v1", ":v2");
    env.spec("acme.yaml", &spec.replace(&reference, &v2));
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(env.container_id("acme").as_deref(), Some(id.as_str()));
    assert_eq!(env.inspect(&env.container("acme")).unwrap()["State"]["Running"], true);
    let s = env.status("acme").unwrap();
    assert_eq!(s["phase"], "ImagePullBackOff", "{s:#}");
    assert!(s["lastError"].as_str().unwrap().contains(&v2), "{s:#}");
    docker(&["rmi", &reference]);
}

#[test]
fn a_missing_local_image_with_pull_policy_never_is_a_clear_error() {
    let Some(env) = Env::new("a_missing_local_image_with_pull_policy_never_is_a_clear_error") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", "").replace(&stub::stub_image(), "tenantd-stub:does-not-exist"));
    env.spec("beta.yaml", &stub_spec("beta", ""));
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("tenantd-stub:does-not-exist is not present locally"), "{}", stdout(&o));
    assert_eq!(env.status("beta").unwrap()["phase"], "Running");
}
