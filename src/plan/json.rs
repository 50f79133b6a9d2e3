//! The plan as stable JSON for tools (`tenantd plan --output json`).
//!
//! Shape (version 1): `{"formatVersion": 1, "summary": {"create": n, "updateInPlace": n,
//! "replace": n, "delete": n, "noChange": n, "blocked": n}, "deletionsHeld": string?, "tenants":
//! [TenantPlan…]}` with tenants sorted by name; each has `tenant`, `change` (`noChange`,
//! `updateInPlace`, `create`, `replace`, `delete`, `blocked`) and, when not empty, `blocked`,
//! `replaceFields`, `reasons`, `steps` (each with an `action`), `diffs` and `hostPort`.
//! Fields are only ever added within a format version.

use serde_json::json;

use super::model::*;

pub const PLAN_FORMAT_VERSION: u32 = 1;

pub fn render_json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(&plan_document(plan)).expect("plans serialize");
    s.push('\n');
    s
}

/// The plan as the document [`render_json`] prints, for a caller that prints it in another form
/// (YAML).
pub fn plan_document(plan: &Plan) -> serde_json::Value {
    json!({
        "formatVersion": PLAN_FORMAT_VERSION,
        "summary": {
            "create": plan.count(ChangeKind::Create),
            "updateInPlace": plan.count(ChangeKind::UpdateInPlace),
            "replace": plan.count(ChangeKind::Replace),
            "delete": plan.count(ChangeKind::Delete),
            "noChange": plan.count(ChangeKind::NoChange),
            "blocked": plan.count(ChangeKind::Blocked),
        },
        "deletionsHeld": plan.deletions_held,
        "tenants": plan.tenants,
    })
}
