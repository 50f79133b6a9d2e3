//! The HTTP side: the hyper server loop, authentication, routing requests to their handlers,
//! JSON and streaming responses, and the call log.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::errors::{ApiError, ApiResult};
use super::mutations::{self, Request};
use super::routes::{self, Query, Route};
use super::watch::{self, ChannelBody};
use super::{deletes, exec, lock, logs, metrics, reads, Call, Shared};

/// Largest accepted request body.
const MAX_BODY: usize = 8 << 20;

type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

/// Accepts connections until `stop` fires (or its sender is dropped).
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
                    });
                    // A connection error only concerns that client.
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades().await;
                });
            }
            _ = &mut stop => break,
        }
    }
}

/// What a request is answered with.
enum Reply {
    Json(u16, Value),
    Text(&'static str),
    Stream(ChannelBody),
    /// A pod log: text as it is written.
    Log(ChannelBody),
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Self {
        Reply::Json(e.code, e.status())
    }
}

/// The parts of a request the handlers look at.
struct Received {
    method: Method,
    path: String,
    query: Query,
    content_type: Option<String>,
    user_agent: Option<String>,
    authorization: Option<String>,
    /// The client asked for `PartialObjectMetadata` (kube's `*_metadata` calls).
    metadata_only: bool,
    host: String,
    body: Bytes,
}

async fn handle(shared: &Arc<Shared>, req: hyper::Request<Incoming>) -> Response<ResponseBody> {
    if let Some(Route::PodExec { namespace, name }) = routes::route(req.uri().path()) {
        return exec_upgrade(shared, req, &namespace, &name);
    }
    let header = |name| req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_string);
    let (content_type, user_agent, authorization) = (header(CONTENT_TYPE), header(USER_AGENT), header(AUTHORIZATION));
    let host = header(HOST).unwrap_or_default();
    let metadata_only = header(ACCEPT).is_some_and(|a| a.contains("as=PartialObjectMetadata"));
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or_default().to_string();
    let reply = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => {
            let incoming = Received {
                method: method.clone(),
                path: path.clone(),
                query: Query::parse(&raw_query),
                content_type: content_type.clone(),
                user_agent,
                authorization,
                metadata_only,
                host,
                body: collected.to_bytes(),
            };
            match dispatch(shared, &incoming) {
                Reply::Json(code, value) if incoming.metadata_only && code < 300 && value["kind"] != "Status" => {
                    Reply::Json(code, reads::metadata_only(&value))
                }
                reply => reply,
            }
        }
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => ApiError::too_large().into(),
        Err(e) => ApiError::bad_request(format!("reading the request body: {e}")).into(),
    };
    let status = match &reply {
        Reply::Json(code, _) => *code,
        Reply::Text(_) | Reply::Stream(_) | Reply::Log(_) => 200,
    };
    lock(&shared.calls).push(Call {
        method: method.to_string(),
        path,
        field_manager: Query::parse(&raw_query).get("fieldManager").map(str::to_string),
        query: raw_query,
        content_type,
        status,
    });
    respond(reply)
}

/// An exec request: answered with the upgrade to its WebSocket session (see `exec`), or an error.
fn exec_upgrade(
    shared: &Arc<Shared>,
    mut req: hyper::Request<Incoming>,
    namespace: &str,
    name: &str,
) -> Response<ResponseBody> {
    let raw_query = req.uri().query().unwrap_or_default().to_string();
    let authorization = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let received =
        authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")).is_some_and(|t| !t.trim().is_empty());
    let response = if received {
        exec::start(shared, &mut req, namespace, name, &Query::parse(&raw_query))
    } else {
        Err(ApiError::unauthorized())
    };
    let (status, response) = match response {
        Ok(r) => (101, r),
        Err(e) => (e.code, respond(e.into())),
    };
    lock(&shared.calls).push(Call {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        field_manager: None,
        query: raw_query,
        content_type: None,
        status,
    });
    response
}

fn respond(reply: Reply) -> Response<ResponseBody> {
    let (code, content_type, body) = match reply {
        Reply::Json(code, value) => {
            (code, "application/json", Full::new(Bytes::from(value.to_string())).boxed_unsync())
        }
        Reply::Text(text) => {
            (200, "text/plain; charset=utf-8", Full::new(Bytes::from_static(text.as_bytes())).boxed_unsync())
        }
        Reply::Stream(stream) => (200, "application/json", stream.boxed_unsync()),
        Reply::Log(stream) => (200, "text/plain", stream.boxed_unsync()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Any bearer token is accepted; anonymous requests only reach the public endpoints.
fn authorized(req: &Received) -> bool {
    req.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")).is_some_and(|t| !t.trim().is_empty())
}

fn dispatch(shared: &Arc<Shared>, req: &Received) -> Reply {
    let Some(route) = routes::route(&req.path) else { return ApiError::no_route().into() };
    let public = matches!(route, Route::Version | Route::Health);
    if !public && !authorized(req) {
        return ApiError::unauthorized().into();
    }
    let get = req.method == Method::GET;
    match route {
        Route::Version if get => Reply::Json(200, routes::version()),
        Route::Health if get => Reply::Text("ok"),
        Route::Discovery(doc) if get => Reply::Json(200, routes::discovery(doc, &req.host)),
        Route::Collection { res, namespace } if get => {
            let state = lock(&shared.state);
            if req.query.flag("watch") {
                match watch::start(shared, &state.store, res, namespace.as_deref(), &req.query, req.metadata_only) {
                    Ok(stream) => Reply::Stream(stream),
                    Err(e) => e.into(),
                }
            } else {
                json(reads::list(&state, res, namespace.as_deref(), &req.query).map(|v| (200, v)))
            }
        }
        Route::Object { res, namespace, name } if get => {
            let state = lock(&shared.state);
            json(reads::get(&state, res, namespace.as_deref().unwrap_or_default(), &name).map(|v| (200, v)))
        }
        Route::Collection { res, namespace } => {
            if res.namespaced && namespace.is_none() {
                return ApiError::method_not_allowed().into();
            }
            let request = write_request(req, res, namespace.as_deref());
            let mut state = lock(&shared.state);
            match req.method {
                Method::POST => json(mutations::create(&mut state, &request)),
                Method::DELETE => json(deletes::delete_collection(&mut state, &request)),
                _ => ApiError::method_not_allowed().into(),
            }
        }
        Route::Object { res, namespace, name } => {
            let request = write_request(req, res, namespace.as_deref());
            let mut state = lock(&shared.state);
            match req.method {
                Method::PUT => json(mutations::replace(&mut state, &request, &name)),
                Method::PATCH => json(mutations::patch(&mut state, &request, &name)),
                Method::DELETE => json(deletes::delete(&mut state, &request, &name)),
                _ => ApiError::method_not_allowed().into(),
            }
        }
        Route::PodLog { namespace, name } if get => {
            let state = lock(&shared.state);
            match logs::read(shared, &state, &namespace, &name, &req.query) {
                Ok(body) => Reply::Log(body),
                Err(e) => e.into(),
            }
        }
        Route::PodMetrics { namespace, name } if get => {
            json(metrics::read(&lock(&shared.state), namespace.as_deref(), name.as_deref()))
        }
        Route::Version
        | Route::Health
        | Route::Discovery(_)
        | Route::PodLog { .. }
        | Route::PodMetrics { .. }
        | Route::PodExec { .. } => ApiError::method_not_allowed().into(),
    }
}

fn json(result: ApiResult<(u16, Value)>) -> Reply {
    match result {
        Ok((code, value)) => Reply::Json(code, value),
        Err(e) => e.into(),
    }
}

fn write_request<'a>(
    req: &'a Received,
    res: &'static super::resources::Resource,
    namespace: Option<&'a str>,
) -> Request<'a> {
    // Upstream derives a missing field manager from the User-Agent's product name.
    let manager = req
        .query
        .get("fieldManager")
        .filter(|m| !m.is_empty())
        .or_else(|| req.user_agent.as_deref().and_then(|ua| ua.split('/').next()))
        .unwrap_or_default();
    Request {
        res,
        namespace: namespace.unwrap_or_default(),
        query: &req.query,
        content_type: req.content_type.as_deref(),
        body: &req.body,
        manager,
    }
}
