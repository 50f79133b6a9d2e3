//! The `exec` subresource of pods (`…/pods/{name}/exec`), over a WebSocket speaking the
//! `v5.channel.k8s.io` (or `v4`) stream protocol: binary messages whose first byte is the
//! channel (0 stdin, 1 stdout, 2 stderr, 3 the closing `Status`, 4 terminal size, 255 the end
//! of a stream, v5 only). Simulated: nothing runs, so a few commands are played:
//! - `echo ARGS…`: prints its arguments on stdout, exits 0;
//! - `cat`: copies stdin to stdout until stdin ends, exits 0;
//! - `fail N`: prints `failing` on stderr (stdout with a terminal), exits N;
//! - anything else does not start: the status is the runtime's "executable file not found".
//!
//! A `container` that is not in the pod is a 400, an unknown pod a 404, both before the upgrade.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, UPGRADE,
};
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::errors::{ApiError, ApiResult};
use super::resources;
use super::routes::Query;
use super::{lock, Shared};

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
const CLOSE: u8 = 255;

/// What one exec request asked for.
#[derive(Debug, Clone)]
struct Command {
    argv: Vec<String>,
    tty: bool,
    /// `v5.channel.k8s.io` (stream ends are signalled) rather than v4.
    v5: bool,
}

/// Checks the request; on success the 101 answer to send, and the session to run once the
/// connection is upgraded.
pub(crate) fn start(
    shared: &Arc<Shared>,
    req: &mut hyper::Request<Incoming>,
    namespace: &str,
    name: &str,
    query: &Query,
) -> ApiResult<Response<http_body_util::combinators::UnsyncBoxBody<Bytes, std::convert::Infallible>>> {
    let pods = resources::by_plural("pods").expect("pods are served");
    let containers: Vec<String> = {
        let state = lock(&shared.state);
        let pod = state.store.get(pods, namespace, name).ok_or_else(|| ApiError::not_found(pods, name))?;
        pod.pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect()
    };
    let container = query.get("container").map(str::to_string).or_else(|| containers.first().cloned());
    if !container.as_ref().is_some_and(|c| containers.contains(c)) {
        return Err(ApiError::bad_request(format!(
            "container {} is not valid for pod {name}",
            container.unwrap_or_default()
        )));
    }
    let argv: Vec<String> = query.all("command");
    if argv.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    let header = |h| req.headers().get(h).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_string);
    let key = header(SEC_WEBSOCKET_KEY).ok_or_else(|| ApiError::bad_request("Upgrade request required"))?;
    let offered = header(SEC_WEBSOCKET_PROTOCOL).unwrap_or_default();
    let v5 = offered.split(',').any(|p| p.trim() == "v5.channel.k8s.io");
    let protocol = if v5 { "v5.channel.k8s.io" } else { "v4.channel.k8s.io" };
    let command = Command { argv, tty: query.flag("tty"), v5 };
    let upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        session(socket, command).await;
    });
    let mut response = Response::new(http_body_util::Empty::new().boxed_unsync());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocol));
    let accept = derive_accept_key(key.as_bytes());
    headers.insert(SEC_WEBSOCKET_ACCEPT, HeaderValue::from_str(&accept).expect("base64 is a header value"));
    Ok(response)
}

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

async fn send(socket: &mut Socket, channel: u8, data: &[u8]) -> bool {
    let mut frame = vec![channel];
    frame.extend_from_slice(data);
    socket.send(Message::binary(frame)).await.is_ok()
}

/// Plays the command, then sends its closing status and closes the connection.
async fn session(mut socket: Socket, command: Command) {
    let err_channel = if command.tty { STDOUT } else { STDERR };
    let status = match command.argv[0].as_str() {
        "echo" => {
            let line = format!("{}\n", command.argv[1..].join(" "));
            send(&mut socket, STDOUT, line.as_bytes()).await;
            Some(0)
        }
        "cat" => {
            while let Some(Ok(message)) = socket.next().await {
                let Message::Binary(data) = message else { continue };
                match data.first() {
                    // The client went away: nothing to report to.
                    Some(&STDIN) if !send(&mut socket, STDOUT, &data[1..]).await => return,
                    Some(&STDIN) => {}
                    Some(&CLOSE) if command.v5 && data.get(1) == Some(&STDIN) => break,
                    _ => {}
                }
            }
            Some(0)
        }
        "fail" => {
            send(&mut socket, err_channel, b"failing\n").await;
            Some(command.argv.get(1).and_then(|n| n.parse::<i64>().ok()).unwrap_or(1))
        }
        _ => None,
    };
    let status = match status {
        Some(0) => json!({"metadata": {}, "status": "Success"}),
        Some(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!(
                "command terminated with non-zero exit code: error executing command {:?}, exit code {code}",
                command.argv
            ),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        None => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!(
                "failed to exec in container: exec: \"{}\": executable file not found in $PATH",
                command.argv[0]
            ),
            "reason": "InternalError",
        }),
    };
    send(&mut socket, STATUS, status.to_string().as_bytes()).await;
    let _ = socket.close(None).await;
}
