//! A tenant's phase changing, as the log tells it: once per change, at a level that fits the
//! new phase. [`super::StatusStore::write`] logs it when it writes the status, so every caller
//! that records a status (the daemon, `apply`) tells every change, and only once.

use super::model::{Phase, TenantStatus};

/// The target of transition events. One-shot commands leave it out of their default log filter:
/// they report each tenant on stdout.
pub const TRANSITION_TARGET: &str = "tenantd::transition";

/// How loud a transition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The tenant is where its spec wants it, or on its way there.
    Info,
    /// The tenant needs someone to look: its spec, its image or its runtime is at fault.
    Warning,
}

/// A tenant's phase changed between two statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition<'a> {
    pub tenant: &'a str,
    /// `None` for a tenant's first status.
    pub from: Option<Phase>,
    pub to: Phase,
    /// The spec file the status names, if any.
    pub source: Option<&'a str>,
    /// The status's `lastError`, which names the file and line of an invalid spec.
    pub error: Option<&'a str>,
}

/// The transition from `previous` to `next`, or `None` when the phase stays the same.
pub fn transition<'a>(previous: Option<&TenantStatus>, next: &'a TenantStatus) -> Option<Transition<'a>> {
    let from = previous.map(|p| p.phase);
    (from != Some(next.phase)).then_some(Transition {
        tenant: &next.tenant,
        from,
        to: next.phase,
        source: next.source.as_deref(),
        error: next.last_error.as_deref(),
    })
}

impl Transition<'_> {
    pub fn severity(&self) -> Severity {
        match self.to {
            Phase::Invalid
            | Phase::Failed
            | Phase::ImagePullBackOff
            | Phase::CrashLoopBackOff
            | Phase::Conflict
            | Phase::RolledBack
            | Phase::Degraded => Severity::Warning,
            Phase::Pending | Phase::Running | Phase::Suspended | Phase::Removed => Severity::Info,
        }
    }

    /// What happened, in words.
    pub fn message(&self) -> &'static str {
        match self.to {
            Phase::Pending => "tenant is starting",
            Phase::Running => "tenant is running",
            Phase::Degraded => "tenant is degraded: its runtime is unhealthy or a sidecar is down",
            Phase::Failed => "tenant failed to converge",
            Phase::Invalid => "tenant spec is invalid; what runs is left as it is",
            Phase::Suspended => "tenant is suspended",
            Phase::Removed => "tenant removed (volumes kept)",
            Phase::ImagePullBackOff => "tenant image cannot be pulled",
            Phase::Conflict => "tenant names are held by objects of another owner",
            Phase::RolledBack => {
                "tenant rolled back to its previous container; this spec is not tried again until it changes"
            }
            Phase::CrashLoopBackOff => "tenant runtime keeps failing; waiting before the next start",
        }
    }

    /// Emits the event (target [`TRANSITION_TARGET`]) with the tenant, both phases, the spec
    /// file and the error as fields.
    pub fn log(&self) {
        use tracing::field::display;
        let (tenant, from) = (display(self.tenant), display(self.from.map_or("none", Phase::as_str)));
        let (source, error) = (self.source.map(display), self.error.map(display));
        match self.severity() {
            Severity::Warning => tracing::warn!(
                target: TRANSITION_TARGET, tenant, phase = %self.to, from, source, error, "{}", self.message()
            ),
            Severity::Info => tracing::info!(
                target: TRANSITION_TARGET, tenant, phase = %self.to, from, source, error, "{}", self.message()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(phase: Phase, error: Option<&str>) -> TenantStatus {
        let json = serde_json::json!({
            "tenant": "acme", "phase": phase, "source": "tenants.d/acme.yaml", "conditions": [],
            "health": "down", "restartCount": 0, "lastError": error,
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_change_of_phase_is_a_transition_at_a_level_that_fits_it() {
        let running = status(Phase::Running, None);
        assert_eq!(transition(Some(&running), &running), None, "the same phase is no transition");
        let first = transition(None, &running).unwrap();
        assert_eq!((first.from, first.to, first.severity()), (None, Phase::Running, Severity::Info));
        for phase in Phase::ALL {
            let next = status(phase, None);
            let t = transition(Some(&running), &next);
            let expected = match phase {
                Phase::Running => None,
                Phase::Pending | Phase::Suspended | Phase::Removed => Some(Severity::Info),
                _ => Some(Severity::Warning),
            };
            assert_eq!(t.as_ref().map(Transition::severity), expected, "{phase}");
        }
    }
}
