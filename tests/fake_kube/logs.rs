//! Pod logs (`GET …/pods/{name}/log`), as a kubelet would serve them. Simulated: nothing runs
//! in the fake, so a container's log holds only the lines a test wrote (`FakeKube::log`).
//! Served: `container` (required when the pod has more than one), `tailLines`,
//! `sinceSeconds`, `sinceTime`, `timestamps` (an RFC 3339 time with nanoseconds before each
//! line) and `follow` (lines written later stream on until the pod is deleted or replaced).
//! Not served: `previous`, `limitBytes`, `insecureSkipTLSVerifyBackend`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

use super::errors::{ApiError, ApiResult};
use super::resources;
use super::routes::Query;
use super::watch::ChannelBody;
use super::{lock, Shared, State};

/// One line of a container's output.
#[derive(Debug, Clone)]
struct Line {
    at: OffsetDateTime,
    text: String,
}

/// Every container's log, by (namespace, pod, container).
pub(crate) struct Logs {
    lines: BTreeMap<(String, String, String), Vec<Line>>,
    /// Bumped on every line written, for followers.
    written: watch::Sender<u64>,
}

impl Default for Logs {
    fn default() -> Self {
        Logs { lines: BTreeMap::new(), written: watch::Sender::new(0) }
    }
}

impl Logs {
    pub fn write(&mut self, namespace: &str, pod: &str, container: &str, at: OffsetDateTime, text: &str) {
        let key = (namespace.to_string(), pod.to_string(), container.to_string());
        self.lines.entry(key).or_default().push(Line { at, text: text.to_string() });
        self.written.send_modify(|n| *n += 1);
    }

    fn of(&self, key: &(String, String, String)) -> &[Line] {
        self.lines.get(key).map(Vec::as_slice).unwrap_or_default()
    }
}

/// What a log request selects.
struct Selection {
    key: (String, String, String),
    uid: Value,
    since: Option<OffsetDateTime>,
    timestamps: bool,
}

impl Selection {
    fn render(&self, line: &Line) -> Bytes {
        let text = if self.timestamps {
            format!("{} {}\n", line.at.format(&Rfc3339).unwrap_or_default(), line.text)
        } else {
            format!("{}\n", line.text)
        };
        Bytes::from(text)
    }

    fn wants(&self, line: &Line) -> bool {
        self.since.is_none_or(|since| line.at >= since)
    }
}

/// Answers a log request (called with the state locked).
pub(crate) fn read(
    shared: &Arc<Shared>,
    state: &State,
    namespace: &str,
    name: &str,
    query: &Query,
) -> ApiResult<ChannelBody> {
    let pods = resources::by_plural("pods").expect("pods are served");
    let pod = state.store.get(pods, namespace, name).ok_or_else(|| ApiError::not_found(pods, name))?;
    let containers: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let container = match (query.get("container"), containers.as_slice()) {
        (Some(c), _) if !c.is_empty() => c.to_string(),
        (_, [only]) => only.to_string(),
        _ => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )))
        }
    };
    if !containers.contains(&container.as_str()) {
        return Err(ApiError::bad_request(format!("container {container} is not valid for pod {name}")));
    }
    if pod.pointer("/status/startTime").is_none() {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    }
    let number = |key: &str| -> ApiResult<Option<i64>> {
        query
            .get(key)
            .map(|v| v.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid {key}: {v:?}"))))
            .transpose()
    };
    let since = match (number("sinceSeconds")?, query.get("sinceTime")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("at most one of sinceTime or sinceSeconds may be specified"))
        }
        (Some(s), None) if s < 1 => return Err(ApiError::bad_request("sinceSeconds: must be greater than 0")),
        (Some(s), None) => Some(OffsetDateTime::now_utc() - time::Duration::seconds(s)),
        (None, Some(t)) => Some(
            OffsetDateTime::parse(t, &Rfc3339).map_err(|_| ApiError::bad_request(format!("invalid sinceTime: {t}")))?,
        ),
        (None, None) => None,
    };
    let selection = Selection {
        key: (namespace.to_string(), name.to_string(), container),
        uid: pod["metadata"]["uid"].clone(),
        since,
        timestamps: query.flag("timestamps"),
    };
    let all = state.logs.of(&selection.key);
    let wanted: Vec<&Line> = all.iter().filter(|l| selection.wants(l)).collect();
    let skip = match number("tailLines")? {
        Some(n) => wanted.len().saturating_sub(usize::try_from(n.max(0)).unwrap_or(usize::MAX)),
        None => 0,
    };
    let first: Vec<Bytes> = wanted[skip..].iter().map(|l| selection.render(l)).collect();
    let (tx, rx) = mpsc::channel(first.len().max(1) + 64);
    if query.flag("follow") {
        let (sent, written, changes) = (all.len(), state.logs.written.subscribe(), state.store.subscribe());
        tokio::spawn(follow(Arc::clone(shared), selection, tx, first, sent, written, changes));
    } else {
        first.into_iter().for_each(|line| drop(tx.try_send(line)));
    }
    Ok(ChannelBody(rx))
}

/// Sends `first`, then each line written after the first `sent`, until the pod is deleted or
/// replaced, or the client goes away.
async fn follow(
    shared: Arc<Shared>,
    selection: Selection,
    tx: mpsc::Sender<Bytes>,
    first: Vec<Bytes>,
    mut sent: usize,
    mut written: watch::Receiver<u64>,
    mut changes: watch::Receiver<u64>,
) {
    for line in first {
        if tx.send(line).await.is_err() {
            return;
        }
    }
    let pods = resources::by_plural("pods").expect("pods are served");
    loop {
        let (lines, gone) = {
            let state = lock(&shared.state);
            let (namespace, name, _) = &selection.key;
            let pod = state.store.get(pods, namespace, name);
            let gone = pod.is_none_or(|p| p["metadata"]["uid"] != selection.uid);
            let lines: Vec<Bytes> = state.logs.of(&selection.key)[sent..].iter().map(|l| selection.render(l)).collect();
            sent += lines.len();
            (lines, gone)
        };
        for line in lines {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        if gone {
            return;
        }
        tokio::select! {
            _ = tx.closed() => return,
            changed = written.changed() => if changed.is_err() { return },
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}
