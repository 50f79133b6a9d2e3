//! The daemon's Prometheus metrics and the optional HTTP endpoint that exposes them
//! (`GET /metrics`, OpenMetrics text).
//!
//! Every series tells what is true now: each phase of `tenantd_tenants` is present (0 when no
//! tenant is in it), and a tenant's own series go when the tenant does.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use tokio::net::{TcpListener, TcpStream};

use crate::status::Phase;

/// The content type of [`Metrics::encode`]'s output, as Prometheus negotiates it.
pub const CONTENT_TYPE_OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Reconcile durations: 5 ms to 60 s.
const RECONCILE_BUCKETS: [f64; 13] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Health probe latencies: 1 ms to 5 s.
const PROBE_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// A client that has not sent its request headers by then is disconnected, so a stalled
/// client cannot hold a task for ever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// After a failed `accept` (e.g. out of file descriptors), wait this long before the next one
/// instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How one reconcile of one tenant ended; the `result` label of `tenantd_reconciles_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReconcileResult {
    /// The runtime now matches the spec.
    Success,
    /// Applying failed.
    Failure,
    /// Nothing was applied because something outside tenantd stands in the way (e.g. a name
    /// held by another owner).
    Blocked,
    /// The runtime already matched; nothing to do.
    Noop,
}

impl ReconcileResult {
    const ALL: [ReconcileResult; 4] =
        [ReconcileResult::Success, ReconcileResult::Failure, ReconcileResult::Blocked, ReconcileResult::Noop];

    /// The label value: `success`, `failure`, `blocked` or `noop`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileResult::Success => "success",
            ReconcileResult::Failure => "failure",
            ReconcileResult::Blocked => "blocked",
            ReconcileResult::Noop => "noop",
        }
    }
}

impl EncodeLabelValue for ReconcileResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabel {
    result: ReconcileResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PhaseLabel {
    phase: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TenantLabel {
    tenant: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProbeLabels {
    tenant: String,
    verdict: String,
}

/// The verdicts [`Metrics::health_probe`] is given.
const PROBE_VERDICTS: [&str; 3] = ["healthy", "degraded", "down"];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    /// The CPU architecture the binary was built for (`x86_64`, `aarch64`).
    arch: &'static str,
}

/// The daemon's metrics. Cheap to clone (an `Arc` inside; clones share the same values);
/// every method is safe to call from any task or thread and never blocks for long.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    reconcile_duration: Histogram,
    tenants: Family<PhaseLabel, Gauge>,
    /// Held while the phase gauge is replaced and while encoding, so a scrape sees either the
    /// old phase set or the new one, never a half-replaced one.
    phases: Mutex<()>,
    probe_duration: Family<TenantLabel, Histogram, fn() -> Histogram>,
    probes: Family<ProbeLabels, Counter>,
    restarts: Family<TenantLabel, Counter>,
    status_write_errors: Counter,
    engine_up: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics, registered under the `tenantd_` prefix. `tenantd_reconciles_total` starts
    /// at 0 for each result and `tenantd_tenants` at 0 for each phase, so rates and counts are
    /// defined from the first scrape; the per-tenant series appear at their first observation.
    /// `tenantd_build_info` is 1 with the version; `tenantd_engine_up` is 0 until
    /// [`Metrics::set_engine_up`] says otherwise.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tenantd");
        let reconciles = Family::<ResultLabel, Counter>::default();
        for result in ReconcileResult::ALL {
            // Creates the series at 0; the guard is only a read lock on the family.
            drop(reconciles.get_or_create(&ResultLabel { result }));
        }
        let reconcile_duration = Histogram::new(RECONCILE_BUCKETS);
        let tenants = Family::<PhaseLabel, Gauge>::default();
        for phase in Phase::ALL {
            drop(tenants.get_or_create(&PhaseLabel { phase: phase.as_str().to_owned() }));
        }
        let probe_duration: Family<TenantLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(PROBE_BUCKETS));
        let probes = Family::<ProbeLabels, Counter>::default();
        let restarts = Family::<TenantLabel, Counter>::default();
        let status_write_errors = Counter::default();
        let engine_up = Gauge::default();

        registry.register("reconciles", "Reconciles of one tenant, by result", reconciles.clone());
        registry.register_with_unit(
            "reconcile_duration",
            "How long one reconcile of one tenant took",
            Unit::Seconds,
            reconcile_duration.clone(),
        );
        registry.register("tenants", "Tenants by phase", tenants.clone());
        registry.register_with_unit(
            "health_probe_duration",
            "Latency of tenantd's health probes, by tenant",
            Unit::Seconds,
            probe_duration.clone(),
        );
        registry.register("health_probes", "Health probes, by tenant and verdict", probes.clone());
        registry.register(
            "restarts",
            "Container restarts by tenantd's health supervision, by tenant",
            restarts.clone(),
        );
        registry.register(
            "status_write_errors",
            "Status files that could not be written (read-only or full status directory)",
            status_write_errors.clone(),
        );
        registry.register(
            "build",
            "This tenantd's version and architecture",
            Info::new(BuildLabels { version: env!("CARGO_PKG_VERSION"), arch: std::env::consts::ARCH }),
        );
        registry.register(
            "engine_up",
            "1 while the container engine or cluster answers, 0 while it does not",
            engine_up.clone(),
        );

        Metrics {
            inner: Arc::new(Inner {
                registry,
                reconciles,
                reconcile_duration,
                tenants,
                phases: Mutex::new(()),
                probe_duration,
                probes,
                restarts,
                status_write_errors,
                engine_up,
            }),
        }
    }

    /// One reconcile of one tenant finished: counts it under its result and records its
    /// duration in `tenantd_reconcile_duration_seconds` (whatever the result).
    pub fn reconcile_done(&self, result: ReconcileResult, duration: Duration) {
        self.inner.reconciles.get_or_create(&ResultLabel { result }).inc();
        self.inner.reconcile_duration.observe(duration.as_secs_f64());
    }

    /// Replaces the whole `tenantd_tenants{phase}` gauge with `counts` (phases as strings, as
    /// [`Phase::as_str`] spells them). Every phase is present: one absent from `counts` reads
    /// 0. A name that is no phase is shown while it is given. Counts above `i64::MAX` read as
    /// `i64::MAX`.
    pub fn set_tenant_phases(&self, counts: &BTreeMap<String, u64>) {
        let _replacing = self.inner.phases.lock().unwrap_or_else(PoisonError::into_inner);
        self.inner.tenants.clear();
        for phase in Phase::ALL {
            drop(self.inner.tenants.get_or_create(&PhaseLabel { phase: phase.as_str().to_owned() }));
        }
        for (phase, count) in counts {
            let label = PhaseLabel { phase: phase.clone() };
            self.inner.tenants.get_or_create(&label).set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
    }

    /// One health probe of a tenant: counts it under its verdict (`"healthy"`, `"degraded"`,
    /// `"down"`: the verdicts [`Metrics::forget_tenant`] removes) and records its latency in
    /// `tenantd_health_probe_duration_seconds`.
    pub fn health_probe(&self, tenant: &str, verdict: &str, latency: Duration) {
        self.inner.probes.get_or_create(&ProbeLabels { tenant: tenant.to_owned(), verdict: verdict.to_owned() }).inc();
        self.inner
            .probe_duration
            .get_or_create(&TenantLabel { tenant: tenant.to_owned() })
            .observe(latency.as_secs_f64());
    }

    /// tenantd restarted a tenant's container (health supervision).
    pub fn restart(&self, tenant: &str) {
        self.inner.restarts.get_or_create(&TenantLabel { tenant: tenant.to_owned() }).inc();
    }

    /// A status file could not be written.
    pub fn status_write_failed(&self) {
        self.inner.status_write_errors.inc();
    }

    /// The tenant is gone (its status says `Removed`): its probe, probe latency and restart
    /// series are removed from the exposition. A later observation of the same name starts
    /// them anew.
    pub fn forget_tenant(&self, tenant: &str) {
        let label = TenantLabel { tenant: tenant.to_owned() };
        self.inner.probe_duration.remove(&label);
        self.inner.restarts.remove(&label);
        for verdict in PROBE_VERDICTS {
            self.inner.probes.remove(&ProbeLabels { tenant: tenant.to_owned(), verdict: verdict.to_owned() });
        }
    }

    /// Whether the engine (or cluster) answers: `tenantd_engine_up` 1 or 0.
    pub fn set_engine_up(&self, up: bool) {
        self.inner.engine_up.set(i64::from(up));
    }

    /// The whole exposition in the OpenMetrics text format ([`CONTENT_TYPE_OPENMETRICS`]),
    /// ending with `# EOF`. Series within a family are in no particular order.
    pub fn encode(&self) -> String {
        let _consistent = self.inner.phases.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)
            .expect("writing to a String cannot fail and no label encoder here fails");
        text
    }
}

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot serve metrics on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Serves `GET /metrics` on `addr` until `shutdown` resolves; any other method or path gets
/// 404. Binds exactly `addr` (there is no default address), spawns the accept loop on the
/// current tokio runtime and returns the bound address once listening, so a test can pass
/// port 0.
///
/// Guarantees: one request per connection (the server closes it after answering); an error
/// on one connection is logged and never stops the server; once `shutdown` resolves the
/// listening socket is closed, while requests already being answered finish.
pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<SocketAddr, MetricsError> {
    let bind_error = |source| MetricsError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    tokio::spawn(accept_loop(listener, metrics, shutdown));
    Ok(bound)
}

async fn accept_loop(listener: TcpListener, metrics: Metrics, shutdown: impl Future<Output = ()> + Send) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(serve_connection(stream, peer, metrics.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "metrics endpoint: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    tracing::debug!("metrics endpoint stopped");
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, metrics: Metrics) {
    let service = hyper::service::service_fn(move |request| {
        let metrics = metrics.clone();
        async move { Ok::<_, Infallible>(answer(&request, &metrics)) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(error) = served {
        tracing::debug!(%peer, %error, "metrics endpoint: connection failed");
    }
}

fn answer(request: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    if request.method() == Method::GET && request.uri().path() == "/metrics" {
        let mut response = Response::new(Full::new(Bytes::from(metrics.encode())));
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_OPENMETRICS));
        response
    } else {
        let mut response = Response::new(Full::new(Bytes::from_static(b"not found\n")));
        *response.status_mut() = StatusCode::NOT_FOUND;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    fn phases(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(p, n)| (p.to_string(), *n)).collect()
    }

    #[test]
    fn a_fresh_exposition_has_every_result_at_zero_and_ends_with_eof() {
        let text = Metrics::new().encode();
        let lines = lines(&text);
        for result in ["success", "failure", "blocked", "noop"] {
            let line = format!("tenantd_reconciles_total{{result=\"{result}\"}} 0");
            assert!(lines.contains(&line.as_str()), "{line} missing:\n{text}");
        }
        assert!(lines.contains(&"# TYPE tenantd_reconciles counter"));
        // No phase set yet: every phase reads 0.
        for phase in Phase::ALL {
            let line = format!("tenantd_tenants{{phase=\"{phase}\"}} 0");
            assert!(lines.contains(&line.as_str()), "{line} missing:\n{text}");
        }
        assert!(lines.contains(&"tenantd_engine_up 0"), "{text}");
        assert!(lines.contains(&"# TYPE tenantd_reconcile_duration_seconds histogram"));
        assert!(lines.contains(&"# UNIT tenantd_reconcile_duration_seconds seconds"));
        assert_eq!(lines.last(), Some(&"# EOF"));
    }

    #[test]
    fn reconciles_are_counted_by_result_and_timed() {
        let metrics = Metrics::new();
        metrics.reconcile_done(ReconcileResult::Success, Duration::from_millis(20));
        metrics.reconcile_done(ReconcileResult::Success, Duration::from_millis(30));
        metrics.reconcile_done(ReconcileResult::Blocked, Duration::from_secs(2));
        let text = metrics.encode();
        let lines = lines(&text);

        assert!(lines.contains(&"tenantd_reconciles_total{result=\"success\"} 2"));
        assert!(lines.contains(&"tenantd_reconciles_total{result=\"blocked\"} 1"));
        assert!(lines.contains(&"tenantd_reconciles_total{result=\"failure\"} 0"));
        assert!(lines.contains(&"tenantd_reconciles_total{result=\"noop\"} 0"));

        assert!(lines.contains(&"tenantd_reconcile_duration_seconds_count 3"));
        assert!(lines.contains(&"tenantd_reconcile_duration_seconds_sum 2.05"));
        // Cumulative buckets, from 5 ms to 60 s.
        assert!(lines.contains(&"tenantd_reconcile_duration_seconds_bucket{le=\"0.005\"} 0"));
        assert!(lines.contains(&"tenantd_reconcile_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(lines.contains(&"tenantd_reconcile_duration_seconds_bucket{le=\"60.0\"} 3"));
        assert!(lines.contains(&"tenantd_reconcile_duration_seconds_bucket{le=\"+Inf\"} 3"));
    }

    #[test]
    fn health_probes_and_restarts_are_per_tenant() {
        let metrics = Metrics::new();
        metrics.health_probe("acme", "healthy", Duration::from_millis(3));
        metrics.health_probe("acme", "healthy", Duration::from_millis(4));
        metrics.health_probe("acme", "down", Duration::from_secs(5));
        metrics.health_probe("globex", "degraded", Duration::from_millis(12));
        metrics.restart("acme");
        metrics.restart("acme");
        let text = metrics.encode();
        let lines = lines(&text);

        assert!(lines.contains(&"tenantd_health_probes_total{tenant=\"acme\",verdict=\"healthy\"} 2"));
        assert!(lines.contains(&"tenantd_health_probes_total{tenant=\"acme\",verdict=\"down\"} 1"));
        assert!(lines.contains(&"tenantd_health_probes_total{tenant=\"globex\",verdict=\"degraded\"} 1"));
        assert!(lines.contains(&"tenantd_restarts_total{tenant=\"acme\"} 2"));
        assert!(!text.contains("tenantd_restarts_total{tenant=\"globex\"}"));

        assert!(lines.contains(&"tenantd_health_probe_duration_seconds_count{tenant=\"acme\"} 3"));
        assert!(lines.contains(&"tenantd_health_probe_duration_seconds_count{tenant=\"globex\"} 1"));
        assert!(text.contains("tenantd_health_probe_duration_seconds_sum{tenant=\"acme\"} "));
        assert!(lines.contains(&"tenantd_health_probe_duration_seconds_bucket{le=\"0.001\",tenant=\"acme\"} 0"));
        assert!(lines.contains(&"tenantd_health_probe_duration_seconds_bucket{le=\"0.005\",tenant=\"acme\"} 2"));
        assert!(lines.contains(&"tenantd_health_probe_duration_seconds_bucket{le=\"5.0\",tenant=\"acme\"} 3"));
    }

    /// The `tenantd_tenants` samples, sorted.
    fn tenant_lines(metrics: &Metrics) -> Vec<String> {
        let mut v: Vec<String> =
            metrics.encode().lines().filter(|l| l.starts_with("tenantd_tenants{")).map(str::to_string).collect();
        v.sort();
        v
    }

    #[test]
    fn set_tenant_phases_replaces_the_whole_set_and_every_phase_reads_at_least_0() {
        let metrics = Metrics::new();
        metrics.set_tenant_phases(&phases(&[("Running", 3), ("CrashLoopBackOff", 1), ("Pending", 0)]));
        let text = metrics.encode();
        let lines = lines(&text);
        assert!(lines.contains(&"tenantd_tenants{phase=\"Running\"} 3"));
        assert!(lines.contains(&"tenantd_tenants{phase=\"CrashLoopBackOff\"} 1"));
        assert!(lines.contains(&"tenantd_tenants{phase=\"Pending\"} 0"));

        // The crash-looping tenant is gone: its phase reads 0 rather than vanishing.
        metrics.set_tenant_phases(&phases(&[("Running", 4)]));
        let mut expected: Vec<String> = Phase::ALL
            .iter()
            .map(|p| format!("tenantd_tenants{{phase=\"{p}\"}} {}", if *p == Phase::Running { 4 } else { 0 }))
            .collect();
        expected.sort();
        assert_eq!(tenant_lines(&metrics), expected);

        metrics.set_tenant_phases(&BTreeMap::new());
        assert!(tenant_lines(&metrics).iter().all(|l| l.ends_with(" 0")));
        assert_eq!(tenant_lines(&metrics).len(), Phase::ALL.len());
    }

    #[test]
    fn a_removed_tenant_leaves_no_series_and_the_others_keep_theirs() {
        let metrics = Metrics::new();
        for tenant in ["acme", "globex"] {
            metrics.health_probe(tenant, "healthy", Duration::from_millis(3));
            metrics.health_probe(tenant, "degraded", Duration::from_millis(3));
            metrics.health_probe(tenant, "down", Duration::from_secs(1));
            metrics.restart(tenant);
        }
        metrics.forget_tenant("acme");
        let text = metrics.encode();
        assert!(!text.contains("tenant=\"acme\""), "acme's series are gone:\n{text}");
        let lines = lines(&text);
        assert!(lines.contains(&"tenantd_health_probes_total{tenant=\"globex\",verdict=\"down\"} 1"));
        assert!(lines.contains(&"tenantd_restarts_total{tenant=\"globex\"} 1"));
        assert!(lines.contains(&"tenantd_health_probe_duration_seconds_count{tenant=\"globex\"} 3"));

        // A tenant of the same name later starts from nothing.
        metrics.restart("acme");
        assert!(lines_of(&metrics).contains(&"tenantd_restarts_total{tenant=\"acme\"} 1".to_string()));
    }

    fn lines_of(metrics: &Metrics) -> Vec<String> {
        metrics.encode().lines().map(str::to_string).collect()
    }

    #[test]
    fn build_info_and_engine_up_are_exposed() {
        let metrics = Metrics::new();
        let text = metrics.encode();
        let info = format!(
            "tenantd_build_info{{version=\"{}\",arch=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH
        );
        assert!(lines(&text).contains(&info.as_str()), "{info} missing:\n{text}");
        assert!(lines(&text).contains(&"# TYPE tenantd_build info"), "{text}");
        assert!(lines(&text).contains(&"# TYPE tenantd_engine_up gauge"), "{text}");
        metrics.set_engine_up(true);
        assert!(lines_of(&metrics).contains(&"tenantd_engine_up 1".to_string()));
        metrics.set_engine_up(false);
        assert!(lines_of(&metrics).contains(&"tenantd_engine_up 0".to_string()));
    }

    #[test]
    fn clones_share_their_values() {
        let metrics = Metrics::new();
        metrics.clone().restart("acme");
        assert!(lines(&metrics.encode()).contains(&"tenantd_restarts_total{tenant=\"acme\"} 1"));
    }
}
