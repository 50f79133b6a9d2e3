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
pub(crate) struct ChannelBody(pub(crate) mpsc::Receiver<Bytes>);

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
    timeout: Duration,
    /// Send a BOOKMARK as the watch times out.
    bookmarks: bool,
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

    /// The events after `seen` as this watch reports them, whether the history no longer reaches
    /// back that far (then the only event is an ERROR), and the resourceVersion they lead to.
    fn catch_up(&self, store: &Store, seen: u64) -> (Vec<Bytes>, bool, u64) {
        match store.events_after(seen) {
            Ok(events) => (events.filter_map(|e| self.translate(e)).collect(), false, store.rv()),
            Err(oldest) => {
                let status = ApiError::expired(format!("too old resource version: {seen} ({oldest})")).status();
                (vec![line("ERROR", &status)], true, seen)
            }
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
    let timeout = match query.get("timeoutSeconds") {
        None | Some("" | "0") => 1800,
        Some(t) => t.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t:?}")))?,
    };
    let watch = Watch {
        res,
        namespace: namespace.map(str::to_string),
        filter,
        metadata_only,
        timeout: Duration::from_secs(timeout),
        bookmarks: query.flag("allowWatchBookmarks"),
    };
    let mut initial = Vec::new();
    let seen = match query.get("resourceVersion").filter(|rv| !rv.is_empty() && *rv != "0") {
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
            let (events, expired, seen) = watch.catch_up(store, rv);
            if expired {
                let (tx, rx) = mpsc::channel(events.len());
                events.into_iter().for_each(|e| drop(tx.try_send(e)));
                return Ok(ChannelBody(rx));
            }
            initial.extend(events);
            seen
        }
    };
    let (tx, rx) = mpsc::channel(256);
    let changes = store.subscribe();
    tokio::spawn(stream(Arc::clone(shared), watch, tx, changes, initial, seen));
    Ok(ChannelBody(rx))
}

/// Sends the replayed events, then live ones, until the timeout, the client going away (the
/// receiver dropped), or history expiring under the watch.
async fn stream(
    shared: Arc<Shared>,
    watch: Watch,
    tx: mpsc::Sender<Bytes>,
    mut changes: tokio::sync::watch::Receiver<u64>,
    initial: Vec<Bytes>,
    mut seen: u64,
) {
    for chunk in initial {
        if tx.send(chunk).await.is_err() {
            return;
        }
    }
    let deadline = tokio::time::Instant::now() + watch.timeout;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tx.closed() => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                let (chunks, expired, now) = watch.catch_up(&lock(&shared.state).store, seen);
                seen = now;
                for chunk in chunks {
                    if tx.send(chunk).await.is_err() {
                        return;
                    }
                }
                if expired {
                    return;
                }
            }
        }
    }
    if watch.bookmarks {
        let _ = tx.send(watch.bookmark(seen, json!({}))).await;
    }
}
