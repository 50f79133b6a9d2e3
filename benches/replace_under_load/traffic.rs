//! The load of one scenario: two steady clients of `RATE_PER_CLIENT` requests/s on GET /health
//! of the tenant's endpoint, one opening a connection per request, one keeping its
//! connections, and what each of them saw, split at the action.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::load::{Connections, LoadConfig, SteadyClient};

pub const RATE_PER_CLIENT: u32 = 100;
/// Answers wanted before the action, and the part of the window the steady p99 comes from.
pub const STEADY: Duration = Duration::from_secs(2);
/// Each request's deadline (connect, send, whole answer).
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// The clients, in the order of [`Traffic::stop`]'s result.
pub const CLIENTS: [(Connections, &str); 2] =
    [(Connections::PerRequest, "per-request"), (Connections::KeepAlive, "keep-alive")];
/// How many answers with 200 each client must get after the action returned for the endpoint
/// to count as answering again.
const AGAIN: u64 = 3;

/// What one client saw in one window.
#[derive(Clone, Default)]
pub struct Seen {
    pub sent: u64,
    pub ok: u64,
    /// When each failed request started, in seconds from the action's start (negative before
    /// it), and why it failed.
    pub failures: Vec<(f64, String)>,
    /// Of every OK request of the window.
    pub latencies: Vec<Duration>,
    /// Of the OK requests that completed in the `STEADY` before the action.
    pub steady: Vec<Duration>,
    pub longest_gap: Duration,
}

struct Client {
    started: Instant,
    client: SteadyClient,
    /// OK answers when the steady part began and when the action began.
    steady_from: u64,
    steady_to: u64,
}

pub struct Traffic {
    clients: Vec<Client>,
    action: Option<Instant>,
}

impl Traffic {
    /// Starts both clients and waits until both answer with 200, then `STEADY` more. Panics
    /// when they get no 200 within `within`.
    pub fn start(port: u16, within: Duration) -> Traffic {
        let clients: Vec<Client> = CLIENTS
            .iter()
            .map(|&(connections, _)| {
                let started = Instant::now();
                let client = SteadyClient::start(LoadConfig {
                    addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                    path: "/health".into(),
                    rate_per_sec: RATE_PER_CLIENT,
                    connections,
                    timeout: TIMEOUT,
                });
                Client { started, client, steady_from: 0, steady_to: 0 }
            })
            .collect();
        let mut t = Traffic { clients, action: None };
        let deadline = Instant::now() + within;
        while t.clients.iter().any(|c| c.client.ok() == 0) {
            assert!(Instant::now() < deadline, "the clients got no 200 from 127.0.0.1:{port} within {within:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
        for c in &mut t.clients {
            c.steady_from = c.client.ok();
        }
        std::thread::sleep(STEADY);
        t
    }

    /// Marks the start of the action and returns it.
    pub fn action(&mut self) -> Instant {
        let now = Instant::now();
        for c in &mut self.clients {
            c.steady_to = c.client.ok();
        }
        self.action = Some(now);
        now
    }

    /// Waits until every client got `AGAIN` answers with 200 since this call; when that
    /// happens by `deadline`, the time it happened.
    pub fn wait_answers_again(&self, deadline: Instant) -> Option<Instant> {
        let from: Vec<u64> = self.clients.iter().map(|c| c.client.ok()).collect();
        loop {
            if self.clients.iter().zip(&from).all(|(c, f)| c.client.ok() >= f + AGAIN) {
                return Some(Instant::now());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops both clients; what each saw, in the order of [`CLIENTS`].
    pub fn stop(self) -> Vec<Seen> {
        let action = self.action.expect("the action was marked");
        self.clients
            .into_iter()
            .map(|c| {
                let offset = action.saturating_duration_since(c.started).as_secs_f64();
                let report = c.client.stop();
                let steady = report.latencies
                    [c.steady_from as usize..(c.steady_to as usize).min(report.latencies.len())]
                    .to_vec();
                Seen {
                    sent: report.sent,
                    ok: report.ok,
                    failures: report.failures.iter().map(|f| (f.at.as_secs_f64() - offset, f.what.clone())).collect(),
                    latencies: report.latencies,
                    steady,
                    longest_gap: report.longest_gap_without_ok,
                }
            })
            .collect()
    }
}
