//! `plan(desired, actual) -> Plan`: a pure diff with stable ordering, plus its human and JSON
//! renderings.

mod cluster;
mod compare;
mod compute;
mod diff;
mod human;
mod json;
mod model;

pub use compare::differences;
pub use compute::{plan, PlanInput, RolledBack};
pub use human::{describe_step, render_human, render_human_coloured};
pub use json::{plan_document, render_json, PLAN_FORMAT_VERSION};
pub use model::*;

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod drift_tests;
#[cfg(test)]
mod ingress_tests;
#[cfg(test)]
mod tests;
