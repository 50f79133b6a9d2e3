//! Waiting for a started runtime to answer its health check, within a budget.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::health::{probe, ProbeOutcome};
use crate::render::Healthcheck;

/// How long a new runtime gets to become healthy: its start period plus `retries` intervals.
pub fn health_budget(health: Option<&Healthcheck>, max: Duration) -> Duration {
    health
        .map(|h| Duration::from_millis(h.start_period_ms + h.interval_ms * u64::from(h.retries)))
        .unwrap_or(Duration::from_secs(30))
        .min(max)
}

/// Polls the runtime's health endpoint until it answers 2xx or its budget runs out; the error
/// says what the last probe found.
pub(super) async fn wait_healthy(addr: SocketAddr, health: Option<&Healthcheck>, max: Duration) -> Result<(), String> {
    let budget = health_budget(health, max);
    let path = health.map(|h| h.path.as_str()).unwrap_or("/");
    let timeout = health.map(|h| Duration::from_millis(h.timeout_ms)).unwrap_or(Duration::from_secs(5));
    let deadline = Instant::now() + budget;
    // A runtime usually answers within a second of its start: poll often at first, then
    // every 100 ms. A probe is one loopback connection.
    let mut pause = Duration::from_millis(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
        let last = match probe(addr, path, timeout.min(left)).await {
            ProbeOutcome::Healthy { .. } => return Ok(()),
            ProbeOutcome::Degraded { status, .. } => format!("last answer: HTTP {status}"),
            ProbeOutcome::Down { reason } => reason,
        };
        if Instant::now() >= deadline {
            return Err(format!("the runtime did not become healthy within {} s ({last})", budget.as_secs()));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(Duration::from_millis(100));
    }
}
