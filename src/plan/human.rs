//! The plan as a reviewer reads it: a summary, one block per tenant, and a diff of settings.

use std::fmt::Write;

use super::diff::unified;
use super::model::*;

fn symbol(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::NoChange => "=",
        ChangeKind::UpdateInPlace => "~",
        ChangeKind::Create => "+",
        ChangeKind::Replace => "-/+",
        ChangeKind::Delete => "-",
        ChangeKind::Blocked => "!",
    }
}

fn headline(t: &TenantPlan) -> String {
    match (&t.change, &t.blocked) {
        (ChangeKind::NoChange, _) => "no change".into(),
        (ChangeKind::UpdateInPlace, _) => "update in place".into(),
        (ChangeKind::Create, _) => "create".into(),
        (ChangeKind::Replace, _) => {
            format!("replace (because of: {})", t.replace_fields.join(", "))
        }
        (ChangeKind::Delete, _) => "delete".into(),
        (ChangeKind::Blocked, Some(Blocked::Invalid { .. })) => "invalid spec: left exactly as it is".into(),
        (ChangeKind::Blocked, Some(Blocked::Conflict { .. })) => "conflict: left alone".into(),
        (ChangeKind::Blocked, Some(Blocked::NoPort { .. })) => "no host port: not applied".into(),
        (ChangeKind::Blocked, Some(Blocked::DeletionHeld { .. })) => "no spec, but deletion is held back".into(),
        (ChangeKind::Blocked, Some(Blocked::RolledBack { .. })) => {
            "rolled back earlier: not retried until the spec changes".into()
        }
        (ChangeKind::Blocked, None) => "blocked".into(),
    }
}

fn step_line(s: &Step) -> String {
    match s {
        Step::EnsureImage { image } => format!("ensure image {}", image.reference()),
        Step::CreateNetwork { network } => {
            format!("create network {}{}", network.name, if network.internal { " (internal: no egress)" } else { "" })
        }
        Step::RemoveNetwork { name } => format!("remove network {name}"),
        Step::CreateVolume { name } => format!("create volume {name}"),
        Step::CreateContainer { name, image, host_port, start, .. } => {
            let port = host_port.map(|p| format!(", published on 127.0.0.1:{p}")).unwrap_or_default();
            let start = if *start { " and start" } else { " (not started: suspended)" };
            format!("create container {name} from {image}{port}{start}")
        }
        Step::ReplaceContainer { name, image, host_port, .. } => {
            let port = host_port.map(|p| format!(", published on 127.0.0.1:{p}")).unwrap_or_default();
            format!("replace container {name} with one from {image}{port} (the old one is kept until the new one is healthy)")
        }
        Step::RenameContainer { from, to, .. } => format!("rename container {from} to {to}"),
        Step::RemoveContainer { name, .. } => {
            format!("stop and remove container {name} (volumes kept)")
        }
        Step::StartContainer { name, .. } => format!("start container {name}"),
        Step::StopContainer { name, .. } => format!("stop container {name}"),
        Step::UpdateLimits { name, .. } => format!("update limits of container {name} in place"),
        Step::WriteFiles { files } => format!("write runtime files: {}", files.join(", ")),
        Step::RemoveFiles => "remove runtime files (plaintext secrets included)".into(),
        Step::SignalContainer { name, signal, .. } => format!("send {signal} to container {name} (reload its files)"),
        Step::RestartContainer { name, .. } => format!("restart container {name} (read its files again)"),
        Step::ApplyObject { kind, name, .. } => format!("apply {kind} {name} (server-side, field manager tenantd)"),
        Step::DeleteObject { kind, name, .. } => format!("delete {kind} {name}"),
    }
}

/// Renders the plan for a terminal or a review comment. Deterministic for a given plan.
pub fn render_human(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan: {} to create, {} to update in place, {} to replace, {} to delete, {} unchanged, {} blocked.",
        plan.count(ChangeKind::Create),
        plan.count(ChangeKind::UpdateInPlace),
        plan.count(ChangeKind::Replace),
        plan.count(ChangeKind::Delete),
        plan.count(ChangeKind::NoChange),
        plan.count(ChangeKind::Blocked),
    );
    if let Some(why) = &plan.deletions_held {
        let _ = writeln!(out, "Deletions are held back: {why}");
    }
    for t in &plan.tenants {
        let _ = writeln!(out, "\n{} {}: {}", symbol(t.change), t.tenant, headline(t));
        match &t.blocked {
            Some(Blocked::Invalid { messages }) => messages.iter().for_each(|m| {
                let _ = writeln!(out, "    {m}");
            }),
            Some(Blocked::Conflict { objects }) => objects.iter().for_each(|o| {
                let _ = writeln!(out, "    {} {} exists and is not this instance's", o.kind, o.name);
            }),
            Some(Blocked::NoPort { message })
            | Some(Blocked::DeletionHeld { message })
            | Some(Blocked::RolledBack { message }) => {
                let _ = writeln!(out, "    {message}");
            }
            None => {}
        }
        for r in &t.reasons {
            let _ = writeln!(out, "    # {r}");
        }
        for s in &t.steps {
            let _ = writeln!(out, "    {}", step_line(s));
        }
        for d in &t.diffs {
            for line in unified(d).lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    out
}
