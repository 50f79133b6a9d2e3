//! One request forwarded: to the backend current when it arrives, on a connection of its own;
//! hop-by-hop headers dropped, `X-Forwarded-For`/`-Proto` added, an upgrade (WebSocket)
//! tunnelled once the backend answers 101.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use hyper::upgrade::OnUpgrade;
use hyper::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::backend::{Inflight, Shared};
use super::Alive;

/// The body of a response to a client: the backend's, streamed, or a short text of our own.
pub(super) type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// The longest wait for a connection to the backend (and the HTTP handshake on it).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub(super) const NO_BACKEND: &str = "no runtime is serving this tenant yet\n";
const BAD_GATEWAY: &str = "the tenant's runtime cannot be reached\n";

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// Forwards `req` from a client at `client_ip` to the current backend and answers with the
/// backend's response (or 503 without a backend, 502 when it cannot be reached).
pub(super) async fn forward(
    mut req: Request<Incoming>,
    client_ip: IpAddr,
    shared: Arc<Shared>,
    alive: Alive,
) -> Result<Response<ProxyBody>, Infallible> {
    if req.method() == Method::CONNECT {
        return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, "CONNECT is not supported\n"));
    }
    let Some(backend) = shared.current() else {
        return Ok(plain(StatusCode::SERVICE_UNAVAILABLE, NO_BACKEND));
    };
    let client_upgrade = is_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
    prepare_request(&mut req, client_ip, client_upgrade.is_some());

    let (mut sender, inflight) = match tokio::time::timeout(CONNECT_TIMEOUT, connect(backend, &shared, &alive)).await {
        Ok(Ok(connected)) => connected,
        Ok(Err(error)) => {
            tracing::warn!(%backend, %error, "cannot connect to the backend");
            return Ok(plain(StatusCode::BAD_GATEWAY, BAD_GATEWAY));
        }
        Err(_) => {
            tracing::warn!(%backend, "cannot connect to the backend: no answer within 2 s");
            return Ok(plain(StatusCode::BAD_GATEWAY, BAD_GATEWAY));
        }
    };
    let response = sender.send_request(req).await;
    // Without a sender the connection closes once the response body is delivered.
    drop(sender);
    let mut response = match response {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%backend, %error, "the backend did not answer");
            return Ok(plain(StatusCode::BAD_GATEWAY, BAD_GATEWAY));
        }
    };
    let tunnel = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    if tunnel {
        let Some(client_upgrade) = client_upgrade else {
            tracing::warn!(%backend, "the backend switched protocols on a request that asked for no upgrade");
            return Ok(plain(StatusCode::BAD_GATEWAY, BAD_GATEWAY));
        };
        let backend_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(tunnel_bytes(backend, client_upgrade, backend_upgrade, inflight, alive));
    }
    strip_hop_by_hop(response.headers_mut(), tunnel);
    *response.version_mut() = Version::HTTP_11;
    Ok(response.map(BodyExt::boxed_unsync))
}

/// A new HTTP/1.1 connection to `backend`, driven by a task of its own that holds the request's
/// in-flight count until the connection closes: after the response body, or at an upgrade, when
/// the tunnel holds the count on.
async fn connect(
    backend: SocketAddr,
    shared: &Arc<Shared>,
    alive: &Alive,
) -> Result<(SendRequest<Incoming>, Arc<Inflight>), String> {
    let stream = TcpStream::connect(backend).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    let inflight = Arc::new(shared.begin(backend));
    let (held, alive) = (Arc::clone(&inflight), alive.clone());
    tokio::spawn(async move {
        if let Err(error) = conn.with_upgrades().await {
            tracing::debug!(%backend, %error, "backend connection ended with an error");
        }
        drop((held, alive));
    });
    Ok((sender, inflight))
}

/// Copies bytes both ways between the client and the backend once both sides have switched
/// protocols, until either closes; the request counts in flight until then.
async fn tunnel_bytes(
    backend: SocketAddr,
    client: OnUpgrade,
    upstream: OnUpgrade,
    inflight: Arc<Inflight>,
    alive: Alive,
) {
    match tokio::try_join!(client, upstream) {
        Ok((client, upstream)) => {
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!(%backend, %error, "upgraded connection ended with an error");
            }
        }
        Err(error) => tracing::debug!(%backend, %error, "upgrade failed"),
    }
    drop((inflight, alive));
}

/// Whether `headers` ask for a protocol upgrade: `Connection: upgrade` and an `Upgrade` header.
fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(UPGRADE) && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

/// The request as it goes to the backend: origin-form target, HTTP/1.1, hop-by-hop headers
/// dropped, `X-Forwarded-For` and `X-Forwarded-Proto` set; `Host` kept.
fn prepare_request(req: &mut Request<Incoming>, client_ip: IpAddr, upgrade: bool) {
    if let Some(target) = req.uri().path_and_query().cloned() {
        *req.uri_mut() = Uri::from(target);
    }
    *req.version_mut() = Version::HTTP_11;
    let headers = req.headers_mut();
    strip_hop_by_hop(headers, upgrade);
    add_forwarded_for(headers, client_ip);
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
}

/// Drops the hop-by-hop headers (RFC 9110 7.6.1): those `Connection` names, `Connection`
/// itself, `Keep-Alive`, `Proxy-*`, `TE`, `Trailer`, `Transfer-Encoding` (hyper frames the body
/// anew) and `Upgrade`. With `upgrade`, `Upgrade` stays and `Connection: upgrade` is set.
pub(super) fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> =
        connection_tokens(headers).filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok()).collect();
    let proxy: Vec<HeaderName> = headers.keys().filter(|n| n.as_str().starts_with("proxy-")).cloned().collect();
    for name in named.into_iter().chain(proxy) {
        if name != HOST && name != UPGRADE {
            headers.remove(&name);
        }
    }
    for name in [CONNECTION, KEEP_ALIVE, TE, TRAILER, TRANSFER_ENCODING] {
        headers.remove(name);
    }
    if upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(UPGRADE);
    }
}

/// The comma-separated tokens of every `Connection` header.
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Appends `client_ip` to `X-Forwarded-For` (all of its lines joined into one).
pub(super) fn add_forwarded_for(headers: &mut HeaderMap, client_ip: IpAddr) {
    let mut value = Vec::new();
    for line in headers.get_all(&X_FORWARDED_FOR) {
        value.extend_from_slice(line.as_bytes());
        value.extend_from_slice(b", ");
    }
    value.extend_from_slice(client_ip.to_string().as_bytes());
    // Joined header values and an address are always a valid value; the address alone otherwise.
    let value = HeaderValue::from_bytes(&value).or_else(|_| HeaderValue::try_from(client_ip.to_string()));
    if let Ok(value) = value {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

/// A response of our own: `status` with a short plain-text body.
fn plain(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut response =
        Response::new(Full::new(Bytes::from_static(text.as_bytes())).map_err(|n| match n {}).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}
