//! One scenario of one side under load: the window and what it records.

use std::time::{Duration, Instant};

use crate::side::{Scenario, Side};
use crate::traffic::{Seen, Traffic};

/// How long after the action returned the window waits for answers with 200 again.
pub const CAP: Duration = Duration::from_secs(20);
/// How long the window goes on once the clients get answers with 200 again.
pub const TAIL: Duration = Duration::from_secs(2);
/// How long the clients may wait for their first answer with 200 before the action.
const FIRST_ANSWER: Duration = Duration::from_secs(60);

/// What one side did in one scenario of one round.
pub struct Sample {
    /// Per client, in the order of [`crate::traffic::CLIENTS`].
    pub seen: Vec<Seen>,
    /// From the action's start until it returned.
    pub action_s: f64,
    /// From the action's start until both clients got answers with 200 again after it
    /// returned; None when they did not within [`CAP`].
    pub again_s: Option<f64>,
    /// From the action's start until the clients stopped.
    pub window_s: f64,
    /// What the action said.
    pub action_note: String,
    /// What the side did, read after the window.
    pub outcome: String,
}

impl Sample {
    /// One line for the progress output.
    pub fn line(&self) -> String {
        let sent: u64 = self.seen.iter().map(|s| s.sent).sum();
        let failed: usize = self.seen.iter().map(|s| s.failures.len()).sum();
        let gap = self.seen.iter().map(|s| s.longest_gap).max().unwrap_or_default();
        format!(
            "sent {sent}, failed {failed}, longest gap {:.0} ms, action {:.2} s, 200 again {}; {}; {}",
            gap.as_secs_f64() * 1000.0,
            self.action_s,
            self.again_s.map(|s| format!("at {s:.2} s")).unwrap_or_else(|| "never".into()),
            self.action_note,
            self.outcome
        )
    }
}

pub enum Outcome {
    /// Why the side has no such scenario.
    NotApplicable(&'static str),
    Measured(Sample),
}

/// Runs `sc` on `side`: the untimed preparation, both clients until they have `STEADY` of
/// answers, the action, the wait for answers with 200 again (at most [`CAP`] after the action
/// returned) and [`TAIL`] more, then what the side did.
pub fn run(side: &mut dyn Side, sc: Scenario, round: usize) -> Outcome {
    if let Some(why) = side.not_applicable(sc) {
        return Outcome::NotApplicable(why);
    }
    side.before(sc, round);
    let mut traffic = Traffic::start(side.port(), FIRST_ANSWER);
    let t0 = traffic.action();
    let action = side.act(sc);
    let returned = Instant::now();
    let again = traffic.wait_answers_again(returned + CAP);
    if again.is_some() {
        std::thread::sleep(TAIL);
    }
    let window_s = t0.elapsed().as_secs_f64();
    let seen = traffic.stop();
    let outcome = side.after(sc);
    Outcome::Measured(Sample {
        seen,
        action_s: action.took.as_secs_f64(),
        again_s: again.map(|a| a.duration_since(t0).as_secs_f64()),
        window_s,
        action_note: action.note,
        outcome,
    })
}
