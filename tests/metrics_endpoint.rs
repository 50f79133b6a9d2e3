//! The metrics endpoint over real TCP: what it answers, that it stops on shutdown, and that a
//! taken address is reported by name.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use tenantd::daemon::metrics::{serve, Metrics, MetricsError, ReconcileResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::{timeout, Instant};

const DEADLINE: Duration = Duration::from_secs(10);

fn loopback_any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A shutdown future for `serve`: it resolves when the sender sends or is dropped.
fn stop_signal() -> (oneshot::Sender<()>, impl std::future::Future<Output = ()> + Send + 'static) {
    let (stop, stopped) = oneshot::channel::<()>();
    (stop, async move {
        // Sent or dropped (the test is over): either way, stop.
        stopped.await.ok();
    })
}

/// Sends one HTTP/1.1 request and reads until the server closes; returns (status, head, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.expect("read");
        raw
    };
    let raw = timeout(DEADLINE, exchange).await.expect("answer in time");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
    (status, head.to_owned(), body.to_owned())
}

#[tokio::test]
async fn get_metrics_answers_the_exposition() {
    let metrics = Metrics::new();
    metrics.reconcile_done(ReconcileResult::Success, Duration::from_millis(40));
    let (_stop, stopped) = stop_signal();
    let addr = serve(loopback_any_port(), metrics, stopped).await.expect("serve");
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    let (status, head, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/openmetrics-text; version=1.0.0"), "{head}");
    assert!(body.contains("tenantd_reconciles_total"), "{body}");
    assert!(body.lines().any(|l| l == "tenantd_reconciles_total{result=\"success\"} 1"), "{body}");
}

#[tokio::test]
async fn anything_but_get_metrics_is_404_and_the_server_keeps_going() {
    let (_stop, stopped) = stop_signal();
    let addr = serve(loopback_any_port(), Metrics::new(), stopped).await.expect("serve");

    assert_eq!(get(addr, "/other").await.0, 404);
    assert_eq!(get(addr, "/").await.0, 404);

    // A connection that sends garbage and one that hangs up early do not stop the server.
    let mut garbage = TcpStream::connect(addr).await.expect("connect");
    garbage.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.expect("write");
    drop(garbage);
    drop(TcpStream::connect(addr).await.expect("connect"));

    assert_eq!(get(addr, "/metrics").await.0, 200);
}

#[tokio::test]
async fn the_port_stops_accepting_once_shutdown_resolves() {
    let (stop, stopped) = stop_signal();
    let addr = serve(loopback_any_port(), Metrics::new(), stopped).await.expect("serve");
    assert_eq!(get(addr, "/metrics").await.0, 200);

    stop.send(()).expect("the server is still waiting");
    let deadline = Instant::now() + DEADLINE;
    loop {
        match TcpStream::connect(addr).await {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
            // Connected, or reset while the listening socket was being closed: not yet.
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("unexpected error connecting to {addr}: {e}"),
        }
        assert!(Instant::now() < deadline, "{addr} still accepts {DEADLINE:?} after shutdown");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn an_address_in_use_is_an_error_naming_it() {
    let taken = std::net::TcpListener::bind(loopback_any_port()).expect("bind");
    let addr = taken.local_addr().expect("local addr");

    let err = serve(addr, Metrics::new(), std::future::pending()).await.expect_err("the address is taken");
    let MetricsError::Bind { addr: named, source } = &err;
    assert_eq!(*named, addr);
    assert_eq!(source.kind(), ErrorKind::AddrInUse);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}
