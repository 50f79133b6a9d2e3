//! Shared helpers for tests of the Docker runtime against the real engine: a per-test instance
//! whose objects are removed when the test ends (also when it fails), the skip-or-panic rule
//! when no engine answers, and a tiny build context (a static C program) for the build path.
#![allow(dead_code)]

use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tenantd::render::labels;
use tenantd::runtime::docker::DockerRuntime;
use tenantd::runtime::Runtime;
use tenantd::spec::TenantName;

/// Label put on objects a test creates behind tenantd's back (foreign objects), so the guard
/// can remove them too.
pub const TEST_OWNER: &str = "io.tenantd.test-owner";

/// A test with its own instance. Dropping it removes every object of that instance and every
/// object labelled [`TEST_OWNER`]`=<instance>`, plus the images registered with `remove_image`.
pub struct DockerTest {
    pub rt: DockerRuntime,
    pub instance: TenantName,
    images: Mutex<Vec<String>>,
}

/// A runtime for a fresh instance, or `None` (after a visible `SKIPPED` line) when no engine
/// answers; with `TENANTD_REQUIRE_DOCKER=1` a missing engine fails the test instead.
pub async fn docker_test(test: &str) -> Option<DockerTest> {
    let instance = unique_instance();
    // This test program embeds tenantd's library; the ingress image is made from tenantd itself.
    std::env::set_var("TENANTD_INGRESS_PROGRAM", env!("CARGO_BIN_EXE_tenantd"));
    let rt = DockerRuntime::connect(&instance, None, vec![]).expect("default endpoint parses");
    if let Err(e) = rt.ping().await {
        if std::env::var("TENANTD_REQUIRE_DOCKER").as_deref() == Ok("1") {
            panic!("{test}: docker is required (TENANTD_REQUIRE_DOCKER=1) but does not answer: {e}");
        }
        // Straight to the stream, not `eprintln!`: the test harness captures that and shows it
        // only for failures, and a skip must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {test}: docker does not answer ({e}); set TENANTD_REQUIRE_DOCKER=1 to fail instead"
        );
        return None;
    }
    Some(DockerTest { rt, instance, images: Mutex::new(vec![]) })
}

impl DockerTest {
    /// `<instance>-<suffix>`, the way tenantd names objects.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.instance)
    }

    /// Removes `reference` when the test ends.
    pub fn remove_image(&self, reference: &str) {
        self.images.lock().unwrap_or_else(|p| p.into_inner()).push(reference.to_string());
    }
}

impl Drop for DockerTest {
    fn drop(&mut self) {
        for label in [format!("{}={}", labels::INSTANCE, self.instance), format!("{TEST_OWNER}={}", self.instance)] {
            let filter = format!("label={label}");
            let containers = docker_lines(&["ps", "-aq", "--filter", &filter]);
            if !containers.is_empty() {
                docker_quiet(&[&["rm", "-f"][..], &to_refs(&containers)].concat());
            }
            let networks = docker_lines(&["network", "ls", "-q", "--filter", &filter]);
            if !networks.is_empty() {
                docker_quiet(&[&["network", "rm"][..], &to_refs(&networks)].concat());
            }
            let volumes = docker_lines(&["volume", "ls", "-q", "--filter", &filter]);
            if !volumes.is_empty() {
                docker_quiet(&[&["volume", "rm", "-f"][..], &to_refs(&volumes)].concat());
            }
        }
        let images = std::mem::take(&mut *self.images.lock().unwrap_or_else(|p| p.into_inner()));
        for image in images {
            docker_quiet(&["rmi", "-f", &image]);
        }
    }
}

fn to_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A DNS label unique to this process and call, at most 30 characters.
pub fn unique_instance() -> TenantName {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // `rt…`, not the `t…` of `support::Env`, so the two never meet even in one process.
    format!("rt{}x{n}", std::process::id()).parse().expect("a valid instance name")
}

/// Runs the docker CLI; panics when it cannot be started, returns (success, stdout, stderr).
pub fn docker(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("docker").args(args).output().expect("the docker CLI runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the docker CLI and requires success; returns stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let (ok, out, err) = docker(args);
    assert!(ok, "docker {args:?} failed: {err}");
    out
}

fn docker_quiet(args: &[&str]) {
    if let Ok(out) = Command::new("docker").args(args).output() {
        if !out.status.success() {
            eprintln!("cleanup: docker {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
    }
}

fn docker_lines(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// `docker inspect` of one object, as JSON.
pub fn inspect(id: &str) -> serde_json::Value {
    let out = docker_ok(&["inspect", id]);
    let mut v: Vec<serde_json::Value> = serde_json::from_str(&out).expect("inspect output is JSON");
    v.remove(0)
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Polls `check` until it returns `Some` or `deadline` passes.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < until, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A static HTTP server for build tests: `stub` serves `GET` with 200 on port 18789;
/// `stub probe http://127.0.0.1:PORT/path` exits 0 when that answers 200.
pub const STUB_C: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int probe(const char *url) {
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *colon = strchr(host, ':');
    int port = colon ? atoi(colon + 1) : 80;
    const char *path = strchr(host, '/');
    if (!path) path = "/";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return 1;
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    if (write(fd, req, n) != n) return 1;
    char buf[64];
    memset(buf, 0, sizeof buf);
    if (read(fd, buf, sizeof buf - 1) <= 0) return 1;
    return strstr(buf, " 200 ") ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "probe") == 0) return probe(argv[2]);
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(18789);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0) {
        perror("listen");
        return 1;
    }
    const char *reply = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
    for (;;) {
        int c = accept(s, 0, 0);
        if (c < 0) continue;
        char buf[1024];
        if (read(c, buf, sizeof buf) > 0) {
            if (write(c, reply, strlen(reply)) < 0) perror("write");
        }
        close(c);
    }
}
"#;

pub const STUB_DOCKERFILE: &str = "FROM scratch\nCOPY stub /stub\nUSER 10001:10001\nENTRYPOINT [\"/stub\"]\n";

/// A build context (temp dir) holding the statically linked stub and its Dockerfile.
pub fn stub_context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("stub.c"), STUB_C).expect("write stub.c");
    std::fs::write(dir.path().join("Dockerfile"), STUB_DOCKERFILE).expect("write Dockerfile");
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(dir.path().join("stub"))
        .arg(dir.path().join("stub.c"))
        .output()
        .expect("gcc runs");
    assert!(out.status.success(), "gcc -static failed: {}", String::from_utf8_lossy(&out.stderr));
    dir
}

/// A pretend engine on 127.0.0.1 that answers `/version` and `/info` (with a fixed clock), and
/// answers `/events` with `events` (JSON lines) and then drops the connection mid-stream, the
/// way an engine that dies does. Records each request line.
pub struct FakeEngine {
    pub address: String,
    pub requests: std::sync::Arc<Mutex<Vec<String>>>,
}

/// The clock [`FakeEngine`] reports in `/info`.
pub const FAKE_ENGINE_TIME: &str = "2026-01-01T00:00:00.000000001Z";

impl FakeEngine {
    pub async fn start(events: Vec<String>) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = format!("tcp://{}", listener.local_addr().expect("address"));
        let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let events = events.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_string();
                    seen.lock().unwrap_or_else(|p| p.into_inner()).push(line.clone());
                    let path = line.split_whitespace().nth(1).unwrap_or_default();
                    let reply = if path.contains("/events") {
                        // Chunked and never finished: the last chunk is missing.
                        let mut r =
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                .to_string();
                        for e in &events {
                            let chunk = format!("{e}\n");
                            r.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
                        }
                        r
                    } else {
                        let body = if path.contains("/version") {
                            r#"{"ApiVersion":"1.41","Version":"20.10.24"}"#.to_string()
                        } else if path.contains("/info") {
                            format!(r#"{{"SystemTime":"{FAKE_ENGINE_TIME}"}}"#)
                        } else {
                            "OK".to_string()
                        };
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    // A client that went away needs no reply; dropping the socket closes the
                    // connection either way.
                    socket.write_all(reply.as_bytes()).await.ok();
                });
            }
        });
        Self { address, requests }
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
