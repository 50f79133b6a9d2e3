//! The per-tenant ingress: a small HTTP/1.1 reverse proxy that owns a tenant's published port
//! and forwards each request to the tenant's current runtime container. It runs as
//! `tenantd ingress --listen ADDR --dir DIR` in a FROM-scratch container as a non-root user.
//!
//! tenantd switches the backend by rewriting `<dir>/backend` (one `IP:PORT` line; see
//! [`write_backend`]); every request takes the backend current when it arrives, so a client's
//! keep-alive connection moves to the new runtime at its next request while requests already
//! sent finish on the old one. The ingress reports in `<dir>/state.json` (see [`read_state`])
//! which backend it uses and how many requests each backend still has in flight, so tenantd
//! knows when the switch was taken and when the old runtime has drained.
//!
//! Hand-written on hyper: no well-kept embeddable reverse-proxy crate switches the backend per
//! request from a file and accounts in-flight requests per backend for draining; hyper does the
//! HTTP (parsing, framing, keep-alive, upgrades), this module only wires it.
//!
//! Layout: this file serves (accept loop, signals, drain); `backend` watches the backend file
//! and counts requests in flight; `proxy` forwards one request; `report` writes state.json and
//! holds tenantd's side ([`write_backend`], [`read_state`]).

mod backend;
mod proxy;
mod report;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use rustix::fs::{Mode, OFlags};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

pub use report::IngressState;

use backend::Shared;

/// The longest wait, after SIGTERM or SIGINT, for requests in flight to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait for a client's request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The pause after a failed accept (out of file descriptors, say).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Held by every task that serves a client or a request; the drain at shutdown waits until no
/// copy is left.
#[derive(Debug, Clone)]
struct Alive {
    _held: mpsc::Sender<()>,
}

/// Serves on `listen`, forwarding to the backend named in `<dir>/backend` and reporting in
/// `<dir>/state.json`, until SIGTERM or SIGINT; then stops accepting, lets requests in flight
/// finish for at most 10 s and returns `Ok`. Errors: the address cannot be bound, the
/// directory cannot be opened, or the signal handlers cannot be installed.
/// The engine's healthcheck of an ingress: 0 when something accepts a connection on `listen`
/// within 2 s, 1 when not.
pub async fn probe(listen: SocketAddr) -> u8 {
    let connect = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(listen));
    match connect.await {
        Ok(Ok(_)) => 0,
        _ => 1,
    }
}

pub async fn serve(listen: SocketAddr, dir: PathBuf) -> io::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let listener = TcpListener::bind(listen).await?;
    tracing::info!(%listen, dir = %dir.display(), "ingress listening");
    let stop = async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    };
    serve_on(listener, &dir, stop).await
}

/// [`serve`] on a bound listener, until `stop` resolves.
async fn serve_on(listener: TcpListener, dir: &Path, stop: impl Future<Output = ()>) -> io::Result<()> {
    let dirfd = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("{}: {e}", dir.display())))?;
    let dirfd = Arc::new(dirfd);
    let shared = Arc::new(Shared::default());
    // The backend as the file names it before the first request is taken.
    let mut watcher = backend::Watcher::default();
    watcher.check(&dirfd, &shared);
    let watcher = tokio::spawn(backend::watch(watcher, Arc::clone(&dirfd), Arc::clone(&shared)));
    let reporter = tokio::spawn(report::run(Arc::clone(&dirfd), Arc::clone(&shared)));

    let (stopping, stop_rx) = watch::channel(false);
    let (alive_tx, mut drained) = mpsc::channel(1);
    let alive = Alive { _held: alive_tx };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let client = client(stream, peer, Arc::clone(&shared), stop_rx.clone(), alive.clone());
                    tokio::spawn(client);
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    tracing::info!(inflight = shared.total_inflight(), "stopping: no new connections; draining");
    let _ = stopping.send(true);
    drop(alive);
    if tokio::time::timeout(DRAIN_TIMEOUT, drained.recv()).await.is_err() {
        tracing::warn!(inflight = shared.total_inflight(), "stopping with requests still in flight after 10 s");
    }
    watcher.abort();
    reporter.abort();
    if let Err(error) = report::write_state(&dirfd, &shared.snapshot()) {
        tracing::warn!(%error, "cannot write state.json");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Serves one client connection (keep-alive, upgrades) until it closes; at shutdown the
/// request being answered finishes and the connection closes after it.
async fn client(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    alive: Alive,
) {
    let _ = stream.set_nodelay(true);
    let client_ip = peer.ip().to_canonical();
    let service_alive = alive.clone();
    let service = hyper::service::service_fn(move |req| {
        proxy::forward(req, client_ip, Arc::clone(&shared), service_alive.clone())
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    let stopped = async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    let served = tokio::select! {
        served = conn.as_mut() => served,
        () = stopped => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = served {
        tracing::debug!(%peer, %error, "client connection ended with an error");
    }
    drop(alive);
}
