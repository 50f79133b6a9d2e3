//! tenantd's own HTTP health probe of a tenant's runtime: healthy (2xx), degraded (answers, but
//! not 2xx), down (timeout, refused, reset).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    Healthy {
        latency: Duration,
    },
    /// It answered, with a status that is not 2xx (e.g. 503 while degraded).
    Degraded {
        status: u16,
        latency: Duration,
    },
    /// No answer: refused, reset or timed out.
    Down {
        reason: String,
    },
}

impl ProbeOutcome {
    pub fn is_healthy(&self) -> bool {
        matches!(self, ProbeOutcome::Healthy { .. })
    }
}

/// GETs `path` on `addr` with an overall `timeout`.
pub async fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> ProbeOutcome {
    let started = Instant::now();
    match tokio::time::timeout(timeout, get(addr, path)).await {
        Err(_) => ProbeOutcome::Down { reason: format!("no answer within {} ms", timeout.as_millis()) },
        Ok(Err(reason)) => ProbeOutcome::Down { reason },
        Ok(Ok(status)) if (200..300).contains(&status) => ProbeOutcome::Healthy { latency: started.elapsed() },
        Ok(Ok(status)) => ProbeOutcome::Degraded { status, latency: started.elapsed() },
    }
}

async fn get(addr: SocketAddr, path: &str) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect to {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("bad request for {path}: {e}"))?;
    let res = sender.send_request(req).await.map_err(|e| format!("GET {path}: {e}"));
    conn.abort();
    Ok(res?.status().as_u16())
}
