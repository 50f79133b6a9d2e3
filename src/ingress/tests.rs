//! The ingress on real sockets on 127.0.0.1: test backends are hyper servers (or raw TCP for the
//! upgrade), clients are hyper client connections; waits poll with a deadline.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, HOST};
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::backend::{Shared, Watcher};
use super::proxy::{add_forwarded_for, strip_hop_by_hop, NO_BACKEND};
use super::*;

/// tenantd's side of the directory, as the tests drive it.
fn write_backend(dir: &Path, addr: SocketAddr) -> io::Result<()> {
    crate::reconcile::ingress::write_route(dir, &addr.to_string()).map_err(io::Error::other)
}

fn read_state(dir: &Path) -> io::Result<Option<IngressState>> {
    let link = rustix::fs::lstat(dir.join("state.json"))
        .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink);
    if link {
        return Err(io::Error::other("a link"));
    }
    Ok(crate::reconcile::ingress::read_report(dir))
}

const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `probe` until it gives a value, failing after [`DEADLINE`].
async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until state.json satisfies `pred`, and returns it.
async fn state_where(dir: &Path, what: &str, pred: impl Fn(&IngressState) -> bool) -> IngressState {
    eventually(what, || read_state(dir).ok().flatten().filter(|s| pred(s))).await
}

fn inflight(state: &IngressState, addr: SocketAddr) -> u64 {
    state.inflight.get(&addr.to_string()).copied().unwrap_or(0)
}

/// An ingress serving a temporary directory until dropped or stopped.
struct Ingress {
    addr: SocketAddr,
    dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Ingress {
    async fn start() -> Ingress {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let path = dir.path().to_path_buf();
        let task = tokio::spawn(async move {
            serve_on(listener, &path, async move {
                let _ = stopped.await;
            })
            .await
        });
        Ingress { addr, dir, stop: Some(stop), task }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `addr` as the backend and waits until state.json shows it taken.
    async fn switch_to(&self, addr: SocketAddr) {
        write_backend(self.dir(), addr).unwrap();
        let want = addr.to_string();
        state_where(self.dir(), "the switch", |s| s.backend.as_deref() == Some(&want)).await;
    }
}

impl Drop for Ingress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A test backend: answers every request with its name, `/slow` only once `gate` is notified;
/// remembers the headers of the last request.
struct Backend {
    addr: SocketAddr,
    gate: Arc<Notify>,
    seen: Arc<Mutex<Option<HeaderMap>>>,
}

async fn backend(name: &'static str) -> Backend {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gate = Arc::new(Notify::new());
    let seen = Arc::new(Mutex::new(None));
    let (g, s) = (Arc::clone(&gate), Arc::clone(&seen));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (gate, seen) = (Arc::clone(&g), Arc::clone(&s));
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (gate, seen) = (Arc::clone(&gate), Arc::clone(&seen));
                async move {
                    *seen.lock().unwrap() = Some(req.headers().clone());
                    if req.uri().path() == "/slow" {
                        gate.notified().await;
                    }
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(name))))
                }
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    Backend { addr, gate, seen }
}

/// A keep-alive client connection to `addr`.
async fn client(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    sender
}

async fn get(sender: &mut SendRequest<Empty<Bytes>>, path: &str) -> (StatusCode, String) {
    sender.ready().await.unwrap();
    let req = Request::get(path).header(HOST, "tenant.example").body(Empty::new()).unwrap();
    let response = sender.send_request(req).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Writes `content` to `<dir>/backend` by rename, as tenantd would, but unchecked.
fn write_raw_backend(dir: &Path, content: &str) {
    std::fs::write(dir.join(".raw.tmp"), content).unwrap();
    std::fs::rename(dir.join(".raw.tmp"), dir.join("backend")).unwrap();
}

#[tokio::test]
async fn without_a_backend_file_requests_get_503() {
    let ingress = Ingress::start().await;
    let state = state_where(ingress.dir(), "a first state.json", |_| true).await;
    assert_eq!(state, IngressState { backend: None, inflight: Default::default() });
    let raw = std::fs::read_to_string(ingress.dir().join("state.json")).unwrap();
    assert!(raw.contains(&format!("\"pid\":{}", std::process::id())), "{raw}");

    let mut client = client(ingress.addr).await;
    assert_eq!(get(&mut client, "/").await, (StatusCode::SERVICE_UNAVAILABLE, NO_BACKEND.to_string()));
}

#[tokio::test]
async fn a_switch_moves_the_next_request_of_a_keep_alive_connection() {
    let (a, b) = (backend("A").await, backend("B").await);
    let ingress = Ingress::start().await;
    ingress.switch_to(a.addr).await;
    let mut client = client(ingress.addr).await;
    assert_eq!(get(&mut client, "/x?y=1").await, (StatusCode::OK, "A".to_string()));

    // What A was sent: Host kept, X-Forwarded-* added.
    let seen = a.seen.lock().unwrap().take().unwrap();
    assert_eq!(seen.get(HOST).unwrap(), "tenant.example");
    assert_eq!(seen.get("x-forwarded-for").unwrap(), "127.0.0.1");
    assert_eq!(seen.get("x-forwarded-proto").unwrap(), "http");

    write_backend(ingress.dir(), b.addr).unwrap();
    let state = state_where(ingress.dir(), "backend B", |s| s.backend == Some(b.addr.to_string())).await;
    assert_eq!(inflight(&state, b.addr), 0);
    assert!(state.inflight.contains_key(&b.addr.to_string()), "the current backend is listed at 0: {state:?}");
    assert_eq!(get(&mut client, "/x").await, (StatusCode::OK, "B".to_string()));
}

#[tokio::test]
async fn a_request_in_flight_on_the_old_backend_completes_after_a_switch() {
    let (a, b) = (backend("A").await, backend("B").await);
    let ingress = Ingress::start().await;
    ingress.switch_to(a.addr).await;

    let mut slow_client = client(ingress.addr).await;
    let slow = tokio::spawn(async move { get(&mut slow_client, "/slow").await });
    state_where(ingress.dir(), "A's request in flight", |s| inflight(s, a.addr) == 1).await;

    ingress.switch_to(b.addr).await;
    let state = read_state(ingress.dir()).unwrap().unwrap();
    assert_eq!(inflight(&state, a.addr), 1, "{state:?}");
    let mut client = client(ingress.addr).await;
    assert_eq!(get(&mut client, "/").await, (StatusCode::OK, "B".to_string()));

    a.gate.notify_one();
    assert_eq!(slow.await.unwrap(), (StatusCode::OK, "A".to_string()));
    let state = state_where(ingress.dir(), "A drained", |s| inflight(s, a.addr) == 0).await;
    assert!(!state.inflight.contains_key(&a.addr.to_string()), "{state:?}");
    assert_eq!(state.backend, Some(b.addr.to_string()));
}

/// A backend that answers the first request head with 101 and then echoes every byte.
async fn echo_upgrade_backend() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request head ended early");
            head.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        assert!(text.contains("connection: upgrade") && text.contains("upgrade: websocket"), "{text}");
        stream
            .write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            .await
            .unwrap();
        let (mut read, mut write) = stream.split();
        let _ = tokio::io::copy(&mut read, &mut write).await;
    });
    addr
}

#[tokio::test]
async fn an_upgrade_is_tunnelled_and_counted_until_it_closes() {
    let backend = echo_upgrade_backend().await;
    let ingress = Ingress::start().await;
    ingress.switch_to(backend).await;

    let mut stream = TcpStream::connect(ingress.addr).await.unwrap();
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nHost: tenant.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.to_ascii_lowercase().contains("upgrade: websocket"), "{head}");

    for message in [&b"ping"[..], b"hello, tunnel"] {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        stream.read_exact(&mut echoed).await.unwrap();
        assert_eq!(echoed, message);
    }
    state_where(ingress.dir(), "the tunnel in flight", |s| inflight(s, backend) == 1).await;
    drop(stream);
    state_where(ingress.dir(), "the tunnel closed", |s| inflight(s, backend) == 0).await;
}

#[tokio::test]
async fn a_malformed_backend_file_keeps_the_previous_backend() {
    let dir = tempfile::tempdir().unwrap();
    let dirfd = rustix::fs::open(dir.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
    let shared = Shared::default();
    let mut watcher = Watcher::default();
    let a: SocketAddr = "10.213.0.3:18789".parse().unwrap();

    watcher.check(&dirfd, &shared);
    assert_eq!(shared.current(), None, "no file, no backend");
    write_backend(dir.path(), a).unwrap();
    watcher.check(&dirfd, &shared);
    assert_eq!(shared.current(), Some(a));

    let too_long = "1".repeat(5000);
    for bad in ["not an address\n", "10.213.0.4\n", "10.213.0.4:80\n10.213.0.5:80\n", "", too_long.as_str()] {
        write_raw_backend(dir.path(), bad);
        watcher.check(&dirfd, &shared);
        assert_eq!(shared.current(), Some(a), "after {bad:?}");
    }
    std::fs::remove_file(dir.path().join("backend")).unwrap();
    std::os::unix::fs::symlink(dir.path().join(".elsewhere"), dir.path().join("backend")).unwrap();
    std::fs::write(dir.path().join(".elsewhere"), "10.213.0.9:80\n").unwrap();
    watcher.check(&dirfd, &shared);
    assert_eq!(shared.current(), Some(a), "a link is not followed");

    // IPv6, surrounding whitespace.
    write_raw_backend(dir.path(), " [fd00::7]:8080 \n");
    watcher.check(&dirfd, &shared);
    assert_eq!(shared.current(), Some("[fd00::7]:8080".parse().unwrap()));
    std::fs::remove_file(dir.path().join("backend")).unwrap();
    watcher.check(&dirfd, &shared);
    assert_eq!(shared.current(), None, "a removed file is no backend");
}

#[tokio::test]
async fn a_malformed_backend_file_does_not_stop_the_proxy() {
    let a = backend("A").await;
    let ingress = Ingress::start().await;
    ingress.switch_to(a.addr).await;
    write_raw_backend(ingress.dir(), "garbage\n");
    let mut client = client(ingress.addr).await;
    for _ in 0..5 {
        assert_eq!(get(&mut client, "/").await, (StatusCode::OK, "A".to_string()));
    }
    assert_eq!(read_state(ingress.dir()).unwrap().unwrap().backend, Some(a.addr.to_string()));
}

#[tokio::test]
async fn an_unreachable_backend_gets_502() {
    let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap().local_addr().unwrap();
    let ingress = Ingress::start().await;
    ingress.switch_to(closed).await;
    let mut client = client(ingress.addr).await;
    let (status, body) = get(&mut client, "/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body.lines().count(), 1, "{body:?}");
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_requests_in_flight_finish() {
    let a = backend("A").await;
    let mut ingress = Ingress::start().await;
    ingress.switch_to(a.addr).await;
    let mut slow_client = client(ingress.addr).await;
    let slow = tokio::spawn(async move { get(&mut slow_client, "/slow").await });
    state_where(ingress.dir(), "the request in flight", |s| inflight(s, a.addr) == 1).await;

    ingress.stop.take().unwrap().send(()).unwrap();
    // The listener is closed at once...
    let deadline = Instant::now() + DEADLINE;
    while TcpStream::connect(ingress.addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ...but serving goes on until the request in flight is answered.
    assert!(!ingress.task.is_finished());
    a.gate.notify_one();
    assert_eq!(slow.await.unwrap(), (StatusCode::OK, "A".to_string()));
    (&mut ingress.task).await.unwrap().unwrap();
    let state = read_state(ingress.dir()).unwrap().unwrap();
    assert_eq!(inflight(&state, a.addr), 0, "{state:?}");
}

#[test]
fn hop_by_hop_headers_are_dropped() {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("connection", "keep-alive, X-Private, host"),
        ("keep-alive", "timeout=5"),
        ("x-private", "1"),
        ("proxy-authorization", "Basic eA=="),
        ("proxy-connection", "keep-alive"),
        ("te", "trailers"),
        ("trailer", "x-checksum"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("host", "tenant.example"),
        ("x-kept", "yes"),
    ] {
        headers.append(name, HeaderValue::from_static(value));
    }
    let mut upgrade = headers.clone();
    strip_hop_by_hop(&mut headers, false);
    let mut names: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["host", "x-kept"]);

    strip_hop_by_hop(&mut upgrade, true);
    let mut names: Vec<&str> = upgrade.keys().map(|n| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["connection", "host", "upgrade", "x-kept"]);
    assert_eq!(upgrade.get("connection").unwrap(), "upgrade");
}

#[test]
fn x_forwarded_for_is_appended_to() {
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    let mut headers = HeaderMap::new();
    add_forwarded_for(&mut headers, client);
    assert_eq!(headers.get("x-forwarded-for").unwrap(), "192.0.2.7");

    let mut headers = HeaderMap::new();
    headers.append("x-forwarded-for", HeaderValue::from_static("203.0.113.1"));
    headers.append("x-forwarded-for", HeaderValue::from_static("198.51.100.2, 10.0.0.1"));
    add_forwarded_for(&mut headers, client);
    let all: Vec<_> = headers.get_all("x-forwarded-for").iter().collect();
    assert_eq!(all, ["203.0.113.1, 198.51.100.2, 10.0.0.1, 192.0.2.7"]);
}

#[test]
fn write_backend_and_read_state_refuse_links() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_state(dir.path()).unwrap(), None, "no state.json yet");
    let addr: SocketAddr = "10.213.0.3:18789".parse().unwrap();
    write_backend(dir.path(), addr).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("backend")).unwrap(), "10.213.0.3:18789\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("backend")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);

    std::fs::write(dir.path().join("real.json"), r#"{"backend":null,"inflight":{},"pid":1}"#).unwrap();
    std::os::unix::fs::symlink(dir.path().join("real.json"), dir.path().join("state.json")).unwrap();
    assert!(read_state(dir.path()).is_err(), "a link is not followed");
    std::fs::remove_file(dir.path().join("state.json")).unwrap();
    std::fs::write(
        dir.path().join("state.json"),
        r#"{"backend":"10.213.0.3:18789","inflight":{"10.213.0.2:18789":2,"10.213.0.3:18789":0},"pid":7}"#,
    )
    .unwrap();
    let state = read_state(dir.path()).unwrap().unwrap();
    assert_eq!(state.backend.as_deref(), Some("10.213.0.3:18789"));
    assert_eq!(state.inflight.get("10.213.0.2:18789"), Some(&2));
}
