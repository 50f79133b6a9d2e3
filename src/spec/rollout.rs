//! `spec.rollout`: how a replacement swaps the running runtime for a new one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::names::SpecDuration;

/// The order in which a replacement swaps the old runtime for the new one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RolloutStrategy {
    /// The new runtime starts and passes its health check while the old one keeps serving; then
    /// the tenant's endpoint switches to it and the old one drains and stops. For a moment two
    /// runtimes share the tenant's volumes.
    #[default]
    StartFirst,
    /// The old runtime stops before the new one starts: never two on the same volumes, at the
    /// cost of a window in which neither serves.
    StopFirst,
}

/// How a replacement swaps the running runtime for a new one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rollout {
    /// `startFirst` (the default) or `stopFirst`.
    #[serde(default)]
    #[schemars(extend("examples" = ["startFirst", "stopFirst"]))]
    pub strategy: RolloutStrategy,
    /// How long the old runtime may finish the requests it already has after the switch, before
    /// it is stopped. At least the health check interval; without it, 30 s or the health check
    /// interval, whichever is longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = ["30s", "2m"]))]
    pub drain_timeout: Option<SpecDuration>,
}

/// The drain deadline when the spec names none (and the least a health check interval allows).
pub const DEFAULT_DRAIN_TIMEOUT: SpecDuration = SpecDuration::from_secs(30);

impl Rollout {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The drain deadline for a runtime checked every `health_interval`.
    pub fn drain(&self, health_interval: SpecDuration) -> SpecDuration {
        self.drain_timeout.unwrap_or(DEFAULT_DRAIN_TIMEOUT.max(health_interval))
    }
}
