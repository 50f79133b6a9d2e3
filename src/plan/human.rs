//! The plan as a reviewer reads it: a summary, one block per tenant, and a diff of settings.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::diff::unified;
use super::model::*;

/// Like Terraform: + green, - red, ~ yellow; replacing is both a removal and a creation.
fn change_style(kind: ChangeKind) -> Style {
    match kind {
        ChangeKind::NoChange => Style::new(),
        ChangeKind::UpdateInPlace => AnsiColor::Yellow.on_default(),
        ChangeKind::Create => AnsiColor::Green.on_default(),
        ChangeKind::Replace => AnsiColor::Magenta.on_default(),
        ChangeKind::Delete | ChangeKind::Blocked => AnsiColor::Red.on_default(),
    }
}

/// The style of one line of a unified diff.
fn diff_line_style(line: &str) -> Style {
    if line.starts_with("+++") || line.starts_with("---") {
        Style::new().bold()
    } else if line.starts_with("@@") {
        AnsiColor::Cyan.on_default()
    } else if line.starts_with('+') {
        AnsiColor::Green.on_default()
    } else if line.starts_with('-') {
        AnsiColor::Red.on_default()
    } else {
        Style::new()
    }
}

/// `text` in `style` when `colour`; the text itself is never changed, so output without colour
/// is the same whether or not a caller could have had it.
fn paint(text: &str, style: Style, colour: bool) -> String {
    if colour && style != Style::new() {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

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
            let strategy = t.strategy.map(|s| format!("{}, ", s.words())).unwrap_or_default();
            format!("replace ({strategy}because of: {})", t.replace_fields.join(", "))
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

/// One line saying what a step does (`create container acme from …`), as the plan shows it.
pub fn describe_step(s: &Step) -> String {
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
        Step::ReplaceContainer { name, image, host_port, strategy: ReplaceStrategy::StopFirst, .. } => {
            let port = host_port.map(|p| format!(", published on 127.0.0.1:{p}")).unwrap_or_default();
            format!("replace container {name} with one from {image}{port} (the old one is kept until the new one is healthy)")
        }
        Step::ReplaceContainer { name, image, strategy: ReplaceStrategy::StartFirst, .. } => {
            format!(
                "replace container {name} with one from {image}, started first (the old one serves until the new \
                 one is healthy, then drains)"
            )
        }
        Step::RouteIngress { name, to } => format!("point ingress {name} at {to}"),
        Step::RenameContainer { from, to, .. } => format!("rename container {from} to {to}"),
        Step::RemoveContainer { name, .. } => {
            format!("stop and remove container {name} (volumes kept)")
        }
        Step::StartContainer { name, .. } => format!("start container {name}"),
        Step::StopContainer { name, .. } => format!("stop container {name}"),
        Step::UpdateLimits { name, .. } => format!("update limits of container {name} in place"),
        Step::ConnectNetwork { name, network, aliases, .. } => {
            format!("connect container {name} to network {network} (alias {}; no restart)", aliases.join(", "))
        }
        Step::DisconnectNetwork { name, network, .. } => {
            format!("disconnect container {name} from network {network} (no restart)")
        }
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
    render_human_coloured(plan, false)
}

/// [`render_human`] with the change symbols, headlines and diff lines coloured when `colour`
/// (for a terminal). Without colour the text is exactly that of [`render_human`].
pub fn render_human_coloured(plan: &Plan, colour: bool) -> String {
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
        let head = format!("{} {}: {}", symbol(t.change), t.tenant, headline(t));
        let _ = writeln!(out, "\n{}", paint(&head, change_style(t.change), colour));
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
            let _ = writeln!(out, "    {}", describe_step(s));
        }
        for d in &t.diffs {
            for line in unified(d).lines() {
                let _ = writeln!(out, "      {}", paint(line, diff_line_style(line), colour));
            }
        }
    }
    out
}
