//! Watches: newline-delimited JSON events (`ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`, `ERROR`)
//! replayed from the event history after the requested resourceVersion, then streamed live until
//! `timeoutSeconds` (1800 when absent or 0), the client going away, or the server stopping.
//!
//! Without a resourceVersion (or with "0") the watch starts with an `ADDED` event per existing
//! object; with `sendInitialEvents=true` those are followed by the `k8s.io/initial-events-end`
//! bookmark. A resourceVersion older than the kept history yields one `ERROR` event carrying a
//! 410 Expired `Status`. With `allowWatchBookmarks=true` a `BOOKMARK` is sent as the watch times out.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::errors::{ApiError, ApiResult};
use super::reads::Filter;
use super::resources::Resource;
use super::routes::Query;
use super::store::{Event, EventType, Store};
use super::{lock, Shared};

/// A response body fed by a channel.
pub(crate) struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// What one watch selects.
struct Watch {
    res: &'static Resource,
    namespace: Option<String>,
    filter: Filter,
    /// Objects are sent as `PartialObjectMetadata`.
    metadata_only: bool,
}

impl Watch {
    /// The event `e` as this watch reports it, if at all: objects entering or leaving the
    /// selection are reported as ADDED / DELETED.
    fn translate(&self, e: &Event) -> Option<Bytes> {
        if e.resource != self.res.plural || self.namespace.as_ref().is_some_and(|ns| *ns != e.namespace) {
            return None;
        }
        let now = self.filter.matches(&e.object);
        let before = e.previous.as_ref().is_some_and(|p| self.filter.matches(p));
        let kind = match (e.kind, before, now) {
            (EventType::Added, _, true) => EventType::Added,
            (EventType::Modified, true, true) => EventType::Modified,
            (EventType::Modified, false, true) => EventType::Added,
            (EventType::Modified, true, false) | (EventType::Deleted, true, _) => EventType::Deleted,
            _ => return None,
        };
        Some(self.line(kind.as_str(), &e.object))
    }

    fn line(&self, kind: &str, object: &Value) -> Bytes {
        if self.metadata_only {
            line(kind, &super::reads::metadata_only(object))
        } else {
            line(kind, object)
        }
    }

    fn bookmark(&self, rv: u64, annotations: Value) -> Bytes {
        let object = json!({
            "apiVersion": self.res.api_version(),
            "kind": self.res.kind,
            "metadata": {"resourceVersion": rv.to_string(), "annotations": annotations},
        });
        line("BOOKMARK", &object)
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

/// Starts a watch (called with the state locked); the returned body streams its events.
pub(crate) fn start(
    shared: &Arc<Shared>,
    store: &Store,
    res: &'static Resource,
    namespace: Option<&str>,
    query: &Query,
    metadata_only: bool,
) -> ApiResult<ChannelBody> {
    let filter = Filter::from_query(res, query)?;
    let watch = Watch { res, namespace: namespace.map(str::to_string), filter, metadata_only };
    let timeout = match query.get("timeoutSeconds") {
        None | Some("" | "0") => 1800,
        Some(t) => t.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t:?}")))?,
    };
    let bookmarks = query.flag("allowWatchBookmarks");
    let mut initial = Vec::new();
    let from = match query.get("resourceVersion").filter(|rv| !rv.is_empty() && *rv != "0") {
        None => {
            let objects = store.list(res, namespace).filter(|o| watch.filter.matches(o));
            initial.extend(objects.map(|o| watch.line("ADDED", o)));
            if query.flag("sendInitialEvents") {
                initial.push(watch.bookmark(store.rv(), json!({"k8s.io/initial-events-end": "true"})));
            }
            store.rv()
        }
        Some(rv) => {
            let rv = rv.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            match store.events_after(rv) {
                Ok(events) => initial.extend(events.filter_map(|e| watch.translate(e))),
                Err(oldest) => {
                    let status = ApiError::expired(format!("too old resource version: {rv} ({oldest})")).status();
                    initial.push(line("ERROR", &status));
                    let (tx, rx) = mpsc::channel(initial.len());
                    for chunk in initial {
                        let _ = tx.try_send(chunk);
                    }
                    return Ok(ChannelBody(rx));
                }
            }
            store.rv()
        }
    };
    let (tx, rx) = mpsc::channel(256);
    let changes = store.subscribe();
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let _ = stream(shared, watch, tx, changes, initial, from, Duration::from_secs(timeout), bookmarks).await;
    });
    Ok(ChannelBody(rx))
}

/// Sends the replayed events, then live ones; `Err` when the client went away.
#[allow(clippy::too_many_arguments)]
async fn stream(
    shared: Arc<Shared>,
    watch: Watch,
    tx: mpsc::Sender<Bytes>,
    mut changes: tokio::sync::watch::Receiver<u64>,
    initial: Vec<Bytes>,
    mut seen: u64,
    timeout: Duration,
    bookmarks: bool,
) -> Result<(), mpsc::error::SendError<Bytes>> {
    for chunk in initial {
        tx.send(chunk).await?;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tx.closed() => return Ok(()),
            changed = changes.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let (chunks, expired, rv) = {
                    let state = lock(&shared.state);
                    let replay = match state.store.events_after(seen) {
                        Ok(events) => {
                            let chunks = events.filter_map(|e| watch.translate(e)).collect::<Vec<_>>();
                            (chunks, false, state.store.rv())
                        }
                        Err(oldest) => {
                            let why = format!("too old resource version: {seen} ({oldest})");
                            let status = ApiError::expired(why).status();
                            (vec![line("ERROR", &status)], true, seen)
                        }
                    };
                    replay
                };
                seen = rv;
                for chunk in chunks {
                    tx.send(chunk).await?;
                }
                if expired {
                    return Ok(());
                }
            }
        }
    }
    if bookmarks {
        tx.send(watch.bookmark(seen, json!({}))).await?;
    }
    Ok(())
}
