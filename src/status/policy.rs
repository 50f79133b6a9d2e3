//! What a pass that found nothing to do says about a tenant whose last verdict still stands: a
//! failed apply the daemon is waiting to retry, or a replacement that was rolled back. Pure;
//! [`super::derive`] applies it, so the CLI and the daemon keep verdicts alike.

use super::facts::{ApplyFact, SpecFact};
use super::model::{Phase, TenantStatus};
use crate::plan::Blocked;

/// The apply fact a status is derived from. `apply` is what this pass did; `retrying` is the
/// spec hash whose apply failed and is being retried after a backoff (the daemon's; `None` for
/// a one-shot pass).
///
/// "Nothing to do" is no news about a verdict that still stands, so it does not replace:
/// - a failure (`Failed`, `ImagePullBackOff`) of the spec that is still being retried: it stays
///   visible, with its message, until the retry or a new spec says otherwise;
/// - a rollback of the spec asked for now: the plan never finds nothing to do for a rolled-back
///   spec, so a probe or sample of the restored runtime leaves the verdict as it was.
///
/// Every other fact is taken as it is.
pub fn settle(apply: ApplyFact, previous: Option<&TenantStatus>, spec: &SpecFact, retrying: Option<&str>) -> ApplyFact {
    let (ApplyFact::NothingToDo, Some(p)) = (&apply, previous) else { return apply };
    if keeps_failure(p, retrying) {
        return ApplyFact::Failed {
            message: p.last_error.clone().unwrap_or_default(),
            image_pull: p.phase == Phase::ImagePullBackOff,
        };
    }
    if keeps_rollback(p, spec) {
        return ApplyFact::Blocked(Blocked::RolledBack { message: p.last_error.clone().unwrap_or_default() });
    }
    apply
}

/// Whether the failure `previous` shows is that of the spec being retried.
fn keeps_failure(previous: &TenantStatus, retrying: Option<&str>) -> bool {
    retrying.is_some()
        && retrying == previous.spec_hash.as_deref()
        && matches!(previous.phase, Phase::Failed | Phase::ImagePullBackOff)
}

/// Whether the spec asking for it now is the one whose replacement was rolled back.
fn keeps_rollback(previous: &TenantStatus, spec: &SpecFact) -> bool {
    match spec {
        SpecFact::Valid { spec_hash, .. } => previous.rolled_back.as_ref().is_some_and(|rb| rb.spec_hash == *spec_hash),
        SpecFact::Invalid { .. } | SpecFact::Absent => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::RolledBackStatus;

    fn previous(phase: Phase, spec_hash: &str) -> TenantStatus {
        let json = serde_json::json!({
            "tenant": "acme", "phase": phase, "specHash": spec_hash, "conditions": [], "health": "down",
            "restartCount": 0, "lastError": "boom",
        });
        serde_json::from_value(json).unwrap()
    }

    fn valid(hash: &str) -> SpecFact {
        SpecFact::Valid { spec_hash: hash.into(), source: "acme.yaml".into(), suspended: false }
    }

    #[test]
    fn a_failure_being_retried_stays_until_the_retry_or_a_new_spec() {
        let failed = previous(Phase::Failed, "v1:a");
        let kept = settle(ApplyFact::NothingToDo, Some(&failed), &valid("v1:a"), Some("v1:a"));
        assert!(matches!(kept, ApplyFact::Failed { ref message, image_pull: false } if message == "boom"), "{kept:?}");
        let pull = previous(Phase::ImagePullBackOff, "v1:a");
        let kept = settle(ApplyFact::NothingToDo, Some(&pull), &valid("v1:a"), Some("v1:a"));
        assert!(matches!(kept, ApplyFact::Failed { image_pull: true, .. }), "{kept:?}");

        // Not retried (a one-shot pass, or the backoff was forgotten), or another spec: news.
        for retrying in [None, Some("v1:b")] {
            let fact = settle(ApplyFact::NothingToDo, Some(&failed), &valid("v1:a"), retrying);
            assert!(matches!(fact, ApplyFact::NothingToDo), "{retrying:?}: {fact:?}");
        }
        // A tenant that is not failed keeps no failure.
        let running = previous(Phase::Running, "v1:a");
        assert!(matches!(
            settle(ApplyFact::NothingToDo, Some(&running), &valid("v1:a"), Some("v1:a")),
            ApplyFact::NothingToDo
        ));
        // What the pass did is never overridden.
        assert!(matches!(settle(ApplyFact::Applied, Some(&failed), &valid("v1:a"), Some("v1:a")), ApplyFact::Applied));
        assert!(matches!(settle(ApplyFact::NothingToDo, None, &valid("v1:a"), Some("v1:a")), ApplyFact::NothingToDo));
    }

    #[test]
    fn a_rollback_stands_while_the_spec_asks_for_what_was_rolled_back() {
        let mut rolled = previous(Phase::RolledBack, "v1:a");
        rolled.rolled_back = Some(RolledBackStatus { spec_hash: "v1:a".into(), reason: "503".into() });
        let kept = settle(ApplyFact::NothingToDo, Some(&rolled), &valid("v1:a"), None);
        assert!(
            matches!(kept, ApplyFact::Blocked(Blocked::RolledBack { ref message }) if message == "boom"),
            "{kept:?}"
        );
        for spec in [valid("v1:b"), SpecFact::Absent, SpecFact::Invalid { messages: vec![], source: None }] {
            assert!(matches!(settle(ApplyFact::NothingToDo, Some(&rolled), &spec, None), ApplyFact::NothingToDo));
        }
    }
}
