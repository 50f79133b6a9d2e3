//! `FakeKube`: an in-process **fake** Kubernetes API server for tests (a test double, not a cluster).
//!
//! It serves, over plain HTTP on 127.0.0.1, what tenantd's Kubernetes runtime uses, closely enough
//! that the real `kube` client and the real `tenantd` binary (through a kubeconfig) cannot tell
//! the difference for those calls, and it records every request so tests can assert on them
//! (e.g. "a no-op reconcile made no writes").
//!
//! Served: core/v1 namespaces, serviceaccounts, configmaps, secrets, persistentvolumeclaims,
//! services and pods, with the `log` and `exec` of pods; apps/v1 deployments; networking.k8s.io/v1
//! networkpolicies; metrics.k8s.io/v1beta1 PodMetrics (when switched on); `/version`
//! (v1.37.0-fake); discovery documents. Anything else is a 404 `Status`. Any bearer token is accepted.
//!
//! Like the real server: `Status` errors; uid, resourceVersion (one global counter), generation,
//! creationTimestamp and managedFields; label and field selectors; create / replace (optimistic
//! concurrency) / merge and strategic merge patch / server-side apply with field ownership and
//! conflicts / delete with preconditions; ignored `status` on resources with a status subresource;
//! decoding through the typed structs and Go's `omitempty`; defaulting and quantity
//! canonicalisation; common validation; dry runs; watches with an event history and 410 Gone;
//! new namespaces get a `default` ServiceAccount and `kube-root-ca.crt`, and `default`,
//! `kube-system`, `kube-public` and `kube-node-lease` exist from the start.
//!
//! Simplifications (the modules say more):
//! - lists are atomic for apply and ownership (no associative-list merging, `apply`); strategic
//!   merge patch knows only the common merge keys (`patch`); `managedFields` sent by a client
//!   are ignored (the server keeps its own record);
//! - Go's `omitempty` is approximated by lists of field names (`decode`); `generation` is kept
//!   for every kind (upstream only for some, e.g. Deployments and Pods);
//! - deletion is immediate: no finalizers, grace periods or Terminating phase; deleting a
//!   namespace deletes its contents at once; delete answers as upstream would at the start of it;
//! - Deployments own their Pods directly (no ReplicaSets) and roll out as Recreate; controllers,
//!   scheduler and kubelet are synchronous simulations (`controllers`, `kubelet`); claims bind at
//!   once through a default storage class `standard`;
//! - watch history is kept for the last 10 000 changes (or until `compact`); lists and watches
//!   always serve the latest state (`resourceVersion`/`resourceVersionMatch` on reads are
//!   ignored), and `continue` tokens never expire;
//! - pod exec (`exec`) plays a few simulated commands over the WebSocket stream protocol;
//! - pod logs (`logs`) hold only lines a test wrote; `metrics.k8s.io` PodMetrics (`metrics`)
//!   are served only when switched on, with usage a test set;
//! - no JSON patch (415), no `/status`, `/scale` or other subresource endpoints but `log` and
//!   `exec` (404), no aggregated discovery, protobuf or table output, no authorization (any
//!   token may do anything);
//! - validation covers names, labels/annotations, containers, a Deployment's selector and the
//!   immutable fields of Deployments, Services, PVCs, ConfigMaps and Secrets, not everything
//!   upstream checks;
//! - a write without `fieldManager` is recorded under the User-Agent's product name, as upstream
//!   does; kube sends no User-Agent, so its entry has no `manager`.
#![allow(dead_code)]

mod apply;
mod controllers;
mod decode;
mod defaults;
mod deletes;
mod errors;
mod exec;
mod http;
mod kubelet;
mod logs;
mod metrics;
mod mutations;
mod patch;
mod paths;
mod quantity;
mod reads;
mod resources;
mod routes;
mod selectors;
mod store;
mod validate;
mod watch;
mod writes;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use serde_json::{json, Value};
use tokio::sync::oneshot;

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The raw query string ("" when none).
    pub query: String,
    pub content_type: Option<String>,
    /// The `fieldManager` query parameter.
    pub field_manager: Option<String>,
    /// The HTTP status of the response (200 for a watch that started).
    pub status: u16,
}

/// The simulated nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kubelet {
    /// One ready node: Deployment Pods are created and started.
    Ready,
    /// No nodes: no Pods are ever created for Deployments.
    Off,
}

/// What starting a container with a given image ends in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodOutcome {
    Ready,
    ImagePullBackOff,
    CrashLoopBackOff,
    /// Running, but never passing its readiness probe.
    NotReady,
}

pub(crate) struct State {
    pub store: store::Store,
    pub sim: controllers::Sim,
    pub logs: logs::Logs,
    pub metrics: metrics::Metrics,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub calls: Mutex<Vec<Call>>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The current time as the API server writes it (RFC 3339, seconds, UTC).
pub(crate) fn now() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: SERVER
users:
- name: fake
  user:
    token: fake-token
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
current-context: fake
";

/// The fake API server, serving on its own thread until dropped.
pub struct FakeKube {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeKube {
    /// Binds 127.0.0.1:0 and starts serving. The server runs on a dedicated thread with its own
    /// runtime, so it keeps answering (e.g. a tenantd subprocess) whatever the caller's runtime does.
    pub async fn start() -> FakeKube {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("fake-kube: bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("fake-kube: non-blocking listener");
        let addr = listener.local_addr().expect("fake-kube: local address");
        let mut state = State {
            store: store::Store::new(),
            sim: controllers::Sim::default(),
            logs: logs::Logs::default(),
            metrics: metrics::Metrics::default(),
        };
        bootstrap(&mut state);
        let shared = Arc::new(Shared { state: Mutex::new(state), calls: Mutex::new(Vec::new()) });
        let (stop, stopped) = oneshot::channel();
        let server = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("fake-kube-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake-kube: server runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("fake-kube: listener");
                    http::serve(listener, server, stopped).await;
                });
            })
            .expect("fake-kube: server thread");
        FakeKube { addr, shared, stop: Some(stop), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig with one cluster (this server), one user (token `fake-token`) and the current context `fake`.
    pub fn kubeconfig_yaml(&self) -> String {
        KUBECONFIG.replace("SERVER", &self.url())
    }

    pub fn write_kubeconfig(&self, path: &Path) {
        std::fs::write(path, self.kubeconfig_yaml())
            .unwrap_or_else(|e| panic!("fake-kube: writing {}: {e}", path.display()));
    }

    /// A `kube::Client` for this server, for tests acting as "someone else".
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml()).expect("fake-kube: kubeconfig");
        let options = kube::config::KubeConfigOptions::default();
        let mut config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.expect("fake-kube: client config");
        // The fake is on loopback: never go through an HTTPS_PROXY from the environment.
        config.proxy_url = None;
        kube::Client::try_from(config).expect("fake-kube: client")
    }

    /// Every request so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.shared.calls).clone()
    }

    /// The calls that are not GETs (gets, lists and watches excluded).
    pub fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.method != "GET").collect()
    }

    pub fn clear_calls(&self) {
        lock(&self.shared.calls).clear();
    }

    /// The stored object, as the API would return it. `resource` is the plural ("deployments", "namespaces", …).
    pub fn get(&self, resource: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let res = resources::by_plural(resource)?;
        lock(&self.shared.state).store.get(res, namespace.unwrap_or_default(), name).cloned()
    }

    /// Every stored object of `resource`, in all namespaces, sorted by namespace then name.
    pub fn list(&self, resource: &str) -> Vec<Value> {
        let Some(res) = resources::by_plural(resource) else { return Vec::new() };
        lock(&self.shared.state).store.list(res, None).cloned().collect()
    }

    /// Turns the simulated node on or off. Turning it on starts what was waiting for a node.
    pub fn set_kubelet(&self, mode: Kubelet) {
        let mut state = lock(&self.shared.state);
        state.sim.kubelet = mode;
        if mode == Kubelet::Ready {
            controllers::resync(&mut state);
        }
    }

    /// How containers with `image` end up, for Pods created from now on (default `PodOutcome::Ready`).
    pub fn set_image_outcome(&self, image: &str, outcome: PodOutcome) {
        lock(&self.shared.state).sim.outcomes.insert(image.to_string(), outcome);
    }

    /// Appends `text` as a line written now by `container` of pod `pod` in `namespace`, as
    /// the simulated kubelet would keep the container's output (see `logs`).
    pub fn log(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        self.log_at(namespace, pod, container, time::OffsetDateTime::now_utc(), text);
    }

    /// Like `log`, written at `at`.
    pub fn log_at(&self, namespace: &str, pod: &str, container: &str, at: time::OffsetDateTime, text: &str) {
        lock(&self.shared.state).logs.write(namespace, pod, container, at, text);
    }

    /// Serves `metrics.k8s.io` (as a cluster with metrics-server does) or not (every path of
    /// the group is a 404). Off at start.
    pub fn serve_metrics(&self, on: bool) {
        lock(&self.shared.state).metrics.served = on;
    }

    /// The usage the metrics API reports for `container` of the pods in `namespace` (quantities:
    /// `cpu` like "250m", `memory` like "40Mi"); zero when not set.
    pub fn set_usage(&self, namespace: &str, container: &str, cpu: &str, memory: &str) {
        let key = (namespace.to_string(), container.to_string());
        lock(&self.shared.state).metrics.usage.insert(key, (cpu.to_string(), memory.to_string()));
    }

    /// Forgets the watch event history (like etcd compaction): watches from an older
    /// resourceVersion get 410 Gone and clients must list again.
    pub fn compact(&self) {
        lock(&self.shared.state).store.compact();
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The namespaces every cluster starts with.
fn bootstrap(state: &mut State) {
    let res = resources::by_plural("namespaces").expect("namespaces are served");
    let (now, api_version) = (now(), res.api_version());
    for name in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        let writer = apply::Writer {
            manager: "kube-apiserver",
            operation: apply::Operation::Update,
            subresource: None,
            api_version: &api_version,
            now: &now,
        };
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        let change = writes::Change { res, writer, dry_run: false };
        writes::update(state, &change, None, namespace).expect("fake-kube: bootstrap namespaces");
    }
}
