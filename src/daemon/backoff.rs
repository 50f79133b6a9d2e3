//! Per-tenant exponential backoff on the monotonic clock: 10 s doubling to a 5 min cap, forgotten
//! after 10 min without a failure.

use std::time::Duration;

use tokio::time::Instant;

pub const BASE: Duration = Duration::from_secs(10);
pub const CAP: Duration = Duration::from_secs(300);
pub const RESET_AFTER: Duration = Duration::from_secs(600);

/// Failures so far and when the next try may happen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
    last_failure: Option<Instant>,
    until: Option<Instant>,
}

impl Backoff {
    /// Records a failure at `now`; returns how long to wait before the next try.
    pub fn failed(&mut self, now: Instant) -> Duration {
        self.forget_if_quiet(now);
        let delay = BASE.saturating_mul(1u32 << self.failures.min(5)).min(CAP);
        self.failures = self.failures.saturating_add(1);
        self.last_failure = Some(now);
        self.until = Some(now + delay);
        delay
    }

    /// A success ends the wait; the failure count is kept until `RESET_AFTER` has passed without
    /// a failure, so a runtime that crashes a minute after every start still backs off.
    pub fn succeeded(&mut self) {
        self.until = None;
    }

    /// Whether a try may happen at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        self.until.is_none_or(|u| now >= u)
    }

    /// When the wait ends, while there is one.
    pub fn until(&self, now: Instant) -> Option<Instant> {
        self.until.filter(|u| *u > now)
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    fn forget_if_quiet(&mut self, now: Instant) {
        if self.last_failure.is_some_and(|t| now.duration_since(t) >= RESET_AFTER) {
            *self = Backoff::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn doubles_from_ten_seconds_to_a_five_minute_cap() {
        let mut b = Backoff::default();
        let delays: Vec<u64> = (0..7).map(|_| b.failed(Instant::now()).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_until_the_delay_has_passed() {
        let mut b = Backoff::default();
        b.failed(Instant::now());
        assert!(!b.ready(Instant::now()));
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!b.ready(Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(b.ready(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn ten_quiet_minutes_reset_the_count_but_a_quick_relapse_does_not() {
        let mut b = Backoff::default();
        b.failed(Instant::now());
        b.failed(Instant::now());
        b.succeeded();
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(b.failed(Instant::now()), Duration::from_secs(40), "a relapse after a minute keeps doubling");
        b.succeeded();
        tokio::time::advance(RESET_AFTER).await;
        assert_eq!(b.failed(Instant::now()), BASE);
    }
}
