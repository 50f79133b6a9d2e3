//! `tenantd apply`'s progress where no person watches a terminal (CI, Ansible, a pipe): one
//! plain line per tenant step, and while one step lasts, a line every [`STILL_EVERY`] with the
//! time the tenant has taken so far, as Terraform's "Still creating... [10s elapsed]". Nothing
//! is redrawn, so a log keeps every line.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::plan::describe_step;
use crate::reconcile::{ExecEvent, ProgressSink};
use crate::spec::TenantName;

/// How long one step may last before a line says it still does.
pub const STILL_EVERY: Duration = Duration::from_secs(10);

/// Where the lines go: stdout with the plain summary, stderr when stdout holds a document.
#[derive(Debug, Clone, Copy)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// What one tenant is doing, and since when.
struct Doing {
    started: Instant,
    activity: String,
    last_line: Instant,
}

/// The lines' writer; a ticker, spawned by [`ApplyLog::start`], adds the "still" lines until
/// the log is dropped.
pub struct ApplyLog {
    stream: LogStream,
    doing: Mutex<HashMap<TenantName, Doing>>,
}

impl ApplyLog {
    pub fn start(stream: LogStream) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let log = Arc::new(Self { stream, doing: Mutex::new(HashMap::new()) });
        let ticking = Arc::downgrade(&log);
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                match ticking.upgrade() {
                    Some(log) => log.still(Instant::now()),
                    None => return,
                }
            }
        });
        (log, ticker)
    }

    pub fn sink(self: &Arc<Self>) -> ProgressSink {
        let me = Arc::clone(self);
        ProgressSink::new(move |event| me.on(event, Instant::now()))
    }

    fn on(&self, event: &ExecEvent<'_>, now: Instant) {
        let Ok(mut doing) = self.doing.lock() else { return };
        let mut set = |tenant: &TenantName, activity: String| {
            let started = doing.get(tenant).map_or(now, |d| d.started);
            self.line(&format!("{tenant}: {activity}"));
            doing.insert(tenant.clone(), Doing { started, activity, last_line: now });
        };
        match event {
            ExecEvent::Started { tenant, steps } => set(tenant, format!("converging ({steps} step(s))")),
            ExecEvent::Step { tenant, index, total, step } => {
                set(tenant, format!("[{index}/{total}] {}", describe_step(step)))
            }
            ExecEvent::WaitingHealthy { tenant } => set(tenant, "waiting for it to become healthy".to_string()),
            ExecEvent::Finished { tenant, .. } => {
                if let Some(d) = doing.remove(*tenant) {
                    self.line(&format!("{tenant}: finished after {}", elapsed(now - d.started)));
                }
            }
        }
    }

    /// A line for each tenant whose step has lasted [`STILL_EVERY`] since its last line.
    fn still(&self, now: Instant) {
        let Ok(mut doing) = self.doing.lock() else { return };
        let mut due: Vec<(&TenantName, &mut Doing)> =
            doing.iter_mut().filter(|(_, d)| now.duration_since(d.last_line) >= STILL_EVERY).collect();
        due.sort_by(|a, b| a.0.cmp(b.0));
        for (tenant, d) in due {
            d.last_line = now;
            self.line(&format!("{tenant}: still {} [{} elapsed]", d.activity, elapsed(now - d.started)));
        }
    }

    fn line(&self, text: &str) {
        // A closed pipe must not end the apply: the lines are a courtesy, the result is not.
        let _ = match self.stream {
            LogStream::Stdout => writeln!(std::io::stdout().lock(), "{text}"),
            LogStream::Stderr => writeln!(std::io::stderr().lock(), "{text}"),
        };
    }
}

/// Whole seconds, as `12s`, or `2m5s` past a minute.
fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_reads_in_seconds_then_minutes() {
        assert_eq!(elapsed(Duration::from_millis(10_900)), "10s");
        assert_eq!(elapsed(Duration::from_secs(125)), "2m5s");
    }

    #[tokio::test]
    async fn a_long_step_is_said_to_last_every_interval_and_a_finished_one_not() {
        let (log, ticker) = ApplyLog::start(LogStream::Stderr);
        ticker.abort();
        let t0 = Instant::now();
        let acme: TenantName = "acme".parse().unwrap();
        let beta: TenantName = "beta".parse().unwrap();
        log.on(&ExecEvent::Started { tenant: &acme, steps: 2 }, t0);
        log.on(&ExecEvent::WaitingHealthy { tenant: &acme }, t0);
        log.on(&ExecEvent::Started { tenant: &beta, steps: 1 }, t0 + Duration::from_secs(5));
        let last = |log: &ApplyLog, t: &TenantName| log.doing.lock().unwrap().get(t).map(|d| d.last_line);
        log.still(t0 + Duration::from_secs(9));
        assert_eq!(last(&log, &acme), Some(t0), "not yet due");
        log.still(t0 + Duration::from_secs(10));
        assert_eq!(last(&log, &acme), Some(t0 + Duration::from_secs(10)), "due after the interval");
        assert_eq!(last(&log, &beta), Some(t0 + Duration::from_secs(5)), "beta started later");
        let d = log.doing.lock().unwrap().get(&acme).map(|d| d.activity.clone());
        assert_eq!(d.as_deref(), Some("waiting for it to become healthy"));
        assert!(log.doing.lock().unwrap().contains_key(&acme));
    }
}
