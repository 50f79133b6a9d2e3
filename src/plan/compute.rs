//! `plan(input) -> Plan`: the pure diff of desired against observed state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::diff::container_diff;
use super::model::*;
use crate::ports::PortAssignments;
use crate::render::{
    aside_name, ContainerRole, DesiredContainer, DesiredTenant, FileHashes, ImageSource, OpenClawFiles,
};
use crate::runtime::{ContainerState, ForeignObject, LimitUpdates, ObservedContainer, ObservedTenant, ObservedWorld};
use crate::spec::{PullPolicy, ReloadPolicy, TenantName};

/// Everything `plan` looks at. No engine, no files, no clock.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// Valid specs, rendered.
    pub desired: &'a BTreeMap<TenantName, Arc<DesiredTenant>>,
    /// Tenants whose spec is invalid, with the messages: left exactly as they are.
    pub invalid: &'a BTreeMap<TenantName, Vec<String>>,
    /// When set, tenants without a spec are not deleted this pass, for this reason.
    pub hold_deletions: Option<&'a str>,
    pub observed: &'a ObservedWorld,
    /// Host ports for tenants that publish one.
    pub ports: &'a PortAssignments,
    /// Desired-state hashes whose replacement was rolled back, by tenant: not tried again until
    /// the spec changes.
    pub rolled_back: &'a BTreeMap<TenantName, RolledBack>,
    /// The runtime files delivered to each tenant, as recorded at delivery.
    pub delivered: &'a BTreeMap<TenantName, FileHashes>,
    /// The tenants to plan; `None`: every tenant named anywhere above. The daemon plans only the
    /// tenants an event touched, against the whole instance's observed state.
    pub only: Option<&'a BTreeSet<TenantName>>,
    /// For a tag built from a context, the tag an earlier release gave the same files (see
    /// `spec::earlier_context_digest`): a container running that image needs no new one.
    pub earlier_builds: &'a BTreeMap<String, String>,
    /// Where each tenant's ingress forwards now (`IP:port`), as its `backend` file says.
    pub ingress_routes: &'a BTreeMap<TenantName, String>,
}

/// A replacement that did not become healthy and was undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    pub spec_hash: String,
    pub reason: String,
}

/// Computes what must change, tenant by tenant, in name order.
pub fn plan(input: PlanInput<'_>) -> Plan {
    let names: BTreeSet<&TenantName> = match input.only {
        Some(only) => only
            .iter()
            .filter(|n| {
                input.desired.contains_key(*n)
                    || input.invalid.contains_key(*n)
                    || input.observed.tenants.contains_key(*n)
            })
            .collect(),
        None => input.desired.keys().chain(input.invalid.keys()).chain(input.observed.tenants.keys()).collect(),
    };
    let tenants = names
        .into_iter()
        .map(|name| {
            let observed = input.observed.tenants.get(name);
            if let Some(messages) = input.invalid.get(name) {
                return blocked(name, Blocked::Invalid { messages: messages.clone() });
            }
            match (input.desired.get(name), observed) {
                (Some(d), _) => match &d.cluster {
                    Some(objects) => super::cluster::plan_tenant(d, objects, observed, input.observed),
                    None => plan_tenant(d, observed, input),
                },
                (None, Some(o)) => match input.hold_deletions {
                    Some(why) => blocked(name, Blocked::DeletionHeld { message: why.to_string() }),
                    None if !o.objects.is_empty() => super::cluster::plan_delete(o),
                    None => plan_delete(o, input.delivered.contains_key(name)),
                },
                (None, None) => unreachable!("every name comes from one of the maps"),
            }
        })
        .collect();
    Plan { tenants, deletions_held: input.hold_deletions.map(str::to_string) }
}

fn blocked(name: &TenantName, why: Blocked) -> TenantPlan {
    TenantPlan::stepless(name, ChangeKind::Blocked, Some(why))
}

fn plan_delete(o: &ObservedTenant, has_files: bool) -> TenantPlan {
    let mut steps: Vec<Step> =
        o.containers.iter().map(|c| Step::RemoveContainer { id: c.id.clone(), name: c.name.clone() }).collect();
    if has_files {
        steps.push(Step::RemoveFiles);
    }
    let diffs = o.containers.iter().map(|c| container_diff(&c.name, Some(c), None, None)).collect();
    if let Some(n) = &o.network {
        steps.push(Step::RemoveNetwork { name: n.name.clone() });
    }
    let mut reasons = vec!["no spec file names this tenant".to_string()];
    if !o.volumes.is_empty() {
        reasons.push(format!("volumes kept: {}", o.volumes.join(", ")));
    }
    TenantPlan {
        tenant: o.name.clone(),
        // Only volumes left: nothing more goes.
        change: if steps.is_empty() { ChangeKind::NoChange } else { ChangeKind::Delete },
        blocked: None,
        replace_fields: vec![],
        strategy: None,
        reasons,
        steps,
        diffs,
        host_port: None,
        desired: None,
    }
}

fn plan_tenant(d: &Arc<DesiredTenant>, o: Option<&ObservedTenant>, input: PlanInput<'_>) -> TenantPlan {
    let empty = ObservedTenant::empty(d.name.clone());
    let o = o.unwrap_or(&empty);
    if let Some(going) = o.containers.iter().find(|c| c.state == ContainerState::Removing) {
        // The engine is removing it (someone ran `docker rm`); its name is still taken. Its
        // `destroy` event, or the next resync, brings the tenant back here once it is gone.
        return TenantPlan {
            reasons: vec![format!("container {} is being removed; waiting for it to go", going.name)],
            desired: Some(Arc::clone(d)),
            ..TenantPlan::stepless(&d.name, ChangeKind::NoChange, None)
        };
    }

    if let Some(rb) = input.rolled_back.get(&d.name).filter(|rb| rb.spec_hash == d.spec_hash) {
        return blocked(
            &d.name,
            Blocked::RolledBack { message: format!("rolled back, not retried until the spec changes: {}", rb.reason) },
        );
    }

    let publishes = d.main().publish_port.is_some();
    let host_port = if publishes {
        match input.ports.get(&d.name) {
            Some(Ok(p)) => Some(*p),
            Some(Err(e)) => return blocked(&d.name, e.clone().into()),
            None => return blocked(&d.name, Blocked::NoPort { message: "no host port was allocated".into() }),
        }
    } else {
        None
    };

    let mut image_steps = Vec::new();
    let mut infra_steps = Vec::new();
    let mut container_steps = Vec::new();
    let mut reasons = Vec::new();
    let mut replace_fields = BTreeSet::new();
    let mut diffs = Vec::new();
    let mut any_replaced = false;
    let mut any_created = false;

    let network_recreated = match &o.network {
        None => {
            infra_steps.push(Step::CreateNetwork { network: d.network.clone() });
            if !o.containers.is_empty() {
                reasons.push(format!("network {} is missing", d.network.name));
            }
            !o.containers.is_empty()
        }
        Some(n) if n.internal != d.network.internal => {
            reasons.push(format!(
                "network {} changes egress ({})",
                n.name,
                if d.network.internal { "deny" } else { "allow" }
            ));
            true
        }
        Some(_) => false,
    };
    for v in &d.volumes {
        if !o.volumes.contains(v) {
            infra_steps.push(Step::CreateVolume { name: v.clone() });
        }
    }

    let files_changed = d.files.as_ref().map(|f| changed_files(f, input.delivered.get(&d.name))).unwrap_or_default();
    let reload = d.files.as_ref().map(|f| f.reload).unwrap_or_default();
    for (file, what) in &files_changed {
        reasons.push(format!("runtime file {file}: {what}"));
    }
    // The main container when it stays as it is: it is told about changed files.
    let mut main_kept: Option<&ObservedContainer> = None;
    // Behind an ingress the main container publishes nothing: the ingress holds the port. One
    // made by a tenantd before ingresses publishes the port itself, and keeps it until it is
    // replaced anyway: an upgrade alone recreates nothing.
    let ingress = d.ingress().is_some();
    let published_main = o
        .containers
        .iter()
        .any(|c| c.role == ContainerRole::Main && c.host_port.is_some() && c.state != ContainerState::Dead);
    let legacy = ingress && published_main && !o.containers.iter().any(|c| c.role == ContainerRole::Ingress);
    let mut legacy_kept = false;
    let mut main_start_first = false;
    let mut main_started = false;
    let serving = serving_main(o, d, input.ingress_routes.get(&d.name));

    let mut kept_ids = BTreeSet::new();
    for c in &d.containers {
        let observed = match (serving, &c.role) {
            (Some(id), ContainerRole::Main) => o.containers.iter().find(|oc| oc.id == id),
            _ => pick_observed(o, &c.role, &c.config_hash),
        };
        let port = match c.role {
            ContainerRole::Main if ingress && !legacy => None,
            ContainerRole::Main | ContainerRole::Ingress => host_port,
            ContainerRole::Sidecar(_) => None,
        };
        if c.role == ContainerRole::Ingress && legacy_kept {
            // The runtime keeps the port it publishes; the ingress comes with its replacement.
            reasons.push(format!(
                "container {} publishes the tenant's port itself (made before ingresses): it keeps it until it \
                 is replaced",
                d.main().name
            ));
            continue;
        }
        let Some(oc) = observed else {
            main_started |= c.role == ContainerRole::Main && !d.suspended;
            any_created = true;
            push_image_step(&mut image_steps, &c.image);
            container_steps.push(create_step(
                c,
                if c.role == ContainerRole::Main && ingress { None } else { port },
                !d.suspended,
            ));
            if !o.containers.is_empty() {
                reasons.push(format!("container {} is missing: create", c.name));
            }
            diffs.push(container_diff(&c.name, None, Some(c), port));
            continue;
        };
        kept_ids.insert(oc.id.as_str());
        let mut fields = replace_reasons(c, oc, port, network_recreated, input.observed, input.earlier_builds);
        if c.role == ContainerRole::Main && !files_changed.is_empty() && reload == ReloadPolicy::Recreate {
            fields.push("runtimeFiles".to_string());
        }
        if c.role == ContainerRole::Main && legacy && fields.is_empty() {
            legacy_kept = true;
        }
        if !fields.is_empty() {
            any_replaced = true;
            replace_fields.extend(fields.iter().cloned());
            reasons.push(format!("container {} is replaced: {} changed", c.name, fields.join(", ")));
            push_image_step(&mut image_steps, &c.image);
            let new_port = if c.role == ContainerRole::Main && ingress { None } else { port };
            if network_recreated || d.suspended || c.role == ContainerRole::Ingress {
                // Nothing to gate on: the old container cannot stay on a network that goes, a
                // suspended tenant starts nothing, and an ingress holds the port the new one needs.
                container_steps.push(Step::RemoveContainer { id: oc.id.clone(), name: oc.name.clone() });
                container_steps.push(create_step(c, new_port, !d.suspended));
                main_started |= c.role == ContainerRole::Main && !d.suspended;
            } else {
                let strategy = if c.role == ContainerRole::Main && ingress {
                    main_start_first = true;
                    ReplaceStrategy::StartFirst
                } else {
                    ReplaceStrategy::StopFirst
                };
                container_steps.push(Step::ReplaceContainer {
                    old_id: oc.id.clone(),
                    old_name: oc.name.clone(),
                    container: Box::new(c.clone()),
                    name: c.name.clone(),
                    image: c.image.reference().to_string(),
                    host_port: c.publish_port.and(new_port),
                    strategy,
                });
            }
            diffs.push(container_diff(&c.name, Some(oc), Some(c), port));
            continue;
        }
        if c.role == ContainerRole::Main {
            main_kept = Some(oc);
        }
        if oc.name != c.name {
            // Left aside by an interrupted replacement: it gets its name back.
            reasons.push(format!("container {} is named {}: rename", c.name, oc.name));
            container_steps.push(Step::RenameContainer {
                id: oc.id.clone(),
                from: oc.name.clone(),
                to: c.name.clone(),
            });
        }
        if !network_recreated {
            attachment_steps(c, oc, &d.network.name, &mut reasons, &mut container_steps);
        }
        let enforced = input.observed.limit_updates != LimitUpdates::Unenforced;
        if let Some(what) = oc.limits.change_to(&c.limits).filter(|_| enforced) {
            reasons.push(format!("container {}: {what} (in place, no restart)", c.name));
            container_steps.push(Step::UpdateLimits {
                id: oc.id.clone(),
                name: oc.name.clone(),
                from: oc.limits,
                to: c.limits,
            });
            diffs.push(container_diff(&c.name, Some(oc), Some(c), port));
        }
        let running = matches!(oc.state, ContainerState::Running | ContainerState::Restarting);
        main_started |= c.role == ContainerRole::Main && !d.suspended && startable(oc.state);
        if d.suspended && running {
            reasons.push(format!("container {}: stop (tenant is suspended)", c.name));
            container_steps.push(Step::StopContainer { id: oc.id.clone(), name: oc.name.clone() });
        } else if !d.suspended && startable(oc.state) {
            reasons.push(format!("container {} is {}: start", c.name, state_word(oc.state)));
            container_steps.push(Step::StartContainer { id: oc.id.clone(), name: oc.name.clone() });
        }
    }
    // Containers of the tenant that no desired container claims: removed sidecars, duplicates.
    let mut removals = Vec::new();
    for oc in o.containers.iter().filter(|oc| !kept_ids.contains(oc.id.as_str())) {
        reasons.push(format!("container {} is not in the spec: remove", oc.name));
        removals.push(Step::RemoveContainer { id: oc.id.clone(), name: oc.name.clone() });
        diffs.push(container_diff(&oc.name, Some(oc), None, None));
    }

    let mut steps = image_steps;
    match (&o.network, network_recreated) {
        (Some(net), true) => {
            // Every container leaves the old network before it can go.
            let mut removes: Vec<Step> =
                container_steps.iter().filter(|s| matches!(s, Step::RemoveContainer { .. })).cloned().collect();
            removes.append(&mut removals);
            container_steps.retain(|s| !matches!(s, Step::RemoveContainer { .. }));
            steps.extend(removes);
            steps.push(Step::RemoveNetwork { name: net.name.clone() });
            steps.push(Step::CreateNetwork { network: d.network.clone() });
        }
        _ => steps.append(&mut removals),
    }
    steps.extend(infra_steps);
    if !files_changed.is_empty() {
        // Before any container is created: its bind mounts need the files.
        steps.push(Step::WriteFiles { files: files_changed.iter().map(|(f, _)| f.clone()).collect() });
    }
    steps.extend(container_steps);
    // A runtime that keeps running is told about its new files; one that is (re)started or
    // recreated reads them anyway.
    if let Some(oc) = main_kept.filter(|oc| !files_changed.is_empty() && oc.state == ContainerState::Running) {
        let starts = steps.iter().any(|s| matches!(s, Step::StartContainer { id, .. } if *id == oc.id));
        match reload {
            _ if starts || d.suspended => {}
            ReloadPolicy::Signal => {
                reasons.push(format!("container {}: reload (SIGHUP)", oc.name));
                steps.push(Step::SignalContainer { id: oc.id.clone(), name: oc.name.clone(), signal: "SIGHUP".into() });
            }
            ReloadPolicy::Restart => {
                reasons.push(format!("container {}: restart to read its files", oc.name));
                steps.push(Step::RestartContainer { id: oc.id.clone(), name: oc.name.clone() });
            }
            ReloadPolicy::Recreate => {}
        }
    }
    if let Some(step) = route_step(d, main_kept, main_started, legacy_kept, input.ingress_routes.get(&d.name)) {
        if let Step::RouteIngress { to, .. } = &step {
            reasons.push(format!("ingress: forward to the running runtime at {to}"));
        }
        steps.push(step);
    }
    // Every name a step gives an object must be free, or nothing is done at all: finding out
    // half-way, after something was stopped, would cost the tenant its runtime.
    let foreign: Vec<ForeignObject> = needed_names(&steps)
        .into_iter()
        .filter_map(|(kind, name)| input.observed.foreign.iter().find(|f| f.kind == kind && f.name == name).cloned())
        .collect();
    if !foreign.is_empty() {
        return blocked(&d.name, Blocked::Conflict { objects: foreign });
    }
    let change = if steps.is_empty() {
        ChangeKind::NoChange
    } else if any_replaced {
        ChangeKind::Replace
    } else if any_created || (o.containers.is_empty() && o.network.is_none()) {
        // A missing container is created, whatever else of the tenant is there.
        ChangeKind::Create
    } else {
        ChangeKind::UpdateInPlace
    };
    TenantPlan {
        tenant: d.name.clone(),
        change,
        blocked: None,
        replace_fields: replace_fields.into_iter().collect(),
        // A main container behind an ingress starts first; anything else stops first, set
        // aside and started again if the new one does not become healthy.
        strategy: (change == ChangeKind::Replace).then_some(if main_start_first {
            ReplaceStrategy::StartFirst
        } else {
            ReplaceStrategy::StopFirst
        }),
        reasons,
        steps,
        diffs,
        host_port,
        desired: Some(Arc::clone(d)),
    }
}

/// The names `steps` give objects, by kind (`container`, `network`, `volume`), in step order
/// without repeats.
fn needed_names(steps: &[Step]) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for s in steps {
        let needed = match s {
            Step::CreateNetwork { network } => ("network", network.name.clone()),
            Step::CreateVolume { name } => ("volume", name.clone()),
            Step::CreateContainer { name, .. } => ("container", name.clone()),
            Step::ReplaceContainer { name, .. } => ("container", aside_name(name)),
            Step::RenameContainer { to, .. } => ("container", to.clone()),
            _ => continue,
        };
        if !out.contains(&needed) {
            out.push(needed);
        }
    }
    out
}

/// What brings a kept container's network attachments back to what it was created with:
/// attached to its tenant's network, answering to its alias there, and to no other network.
/// Each is done in place: the container keeps running.
fn attachment_steps(
    c: &DesiredContainer,
    oc: &ObservedContainer,
    network: &str,
    reasons: &mut Vec<String>,
    steps: &mut Vec<Step>,
) {
    let disconnect =
        |from: &str| Step::DisconnectNetwork { id: oc.id.clone(), name: oc.name.clone(), network: from.to_string() };
    for extra in oc.networks.iter().filter(|a| a.network != network) {
        reasons.push(format!(
            "container {} is attached to network {}, which is not its tenant's: disconnect (in place, no restart)",
            c.name, extra.network
        ));
        steps.push(disconnect(&extra.network));
    }
    let connect = Step::ConnectNetwork {
        id: oc.id.clone(),
        name: oc.name.clone(),
        network: network.to_string(),
        aliases: vec![c.alias.clone()],
    };
    match oc.networks.iter().find(|a| a.network == network) {
        None => {
            reasons.push(format!(
                "container {} is not attached to network {network}: connect (alias {}, in place, no restart)",
                c.name, c.alias
            ));
            steps.push(connect);
        }
        Some(a) if !a.aliases.contains(&c.alias) => {
            reasons.push(format!(
                "container {} is on network {network} without its alias {}: reconnect (in place, no restart)",
                c.name, c.alias
            ));
            steps.push(disconnect(network));
            steps.push(connect);
        }
        Some(_) => {}
    }
}

/// The runtime files whose delivered hash differs from the desired one, with what happens to
/// each: a secret's value is never shown, only that it changed.
fn changed_files(files: &OpenClawFiles, delivered: Option<&FileHashes>) -> Vec<(String, String)> {
    let empty = FileHashes::new();
    let delivered = delivered.unwrap_or(&empty);
    let mut out = Vec::new();
    for (key, hash) in &files.hashes {
        let secret = key.starts_with("secret/");
        match delivered.get(key) {
            Some(h) if h == hash => {}
            Some(_) if secret => out.push((key.clone(), "(sensitive value changed)".to_string())),
            Some(_) => out.push((key.clone(), "changed".to_string())),
            None => out.push((key.clone(), "new".to_string())),
        }
    }
    for key in delivered.keys().filter(|k| !files.hashes.contains_key(*k)) {
        out.push((key.clone(), "removed".to_string()));
    }
    out
}

/// The observed container to compare with: same role, preferring one whose hash matches.
fn pick_observed<'a>(o: &'a ObservedTenant, role: &ContainerRole, hash: &str) -> Option<&'a ObservedContainer> {
    let mut same_role = o.containers.iter().filter(|c| &c.role == role);
    let first = same_role.clone().next();
    same_role.find(|c| c.config_hash.as_deref() == Some(hash)).or(first)
}

/// The fields that force `oc` to be recreated to become `c`; empty when it can stay.
fn replace_reasons(
    c: &DesiredContainer,
    oc: &ObservedContainer,
    host_port: Option<u16>,
    network_recreated: bool,
    world: &ObservedWorld,
    earlier_builds: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut fields = BTreeSet::new();
    // Built by an earlier release from the files the context holds now: the same image.
    let earlier_build = earlier_builds.get(c.image.reference()) == Some(&oc.image_ref);
    if oc.config_hash.as_deref() != Some(c.config_hash.as_str()) {
        if oc.field_hashes.is_empty() {
            fields.insert("unknown (no recorded settings)".to_string());
        }
        for (k, v) in &c.field_hashes {
            // The ingress's image is tenantd's: a new tenantd does not recreate a running one.
            let own_image = k == "image" && (earlier_build || c.role == ContainerRole::Ingress);
            if oc.field_hashes.get(k) != Some(v) && !own_image {
                fields.insert(k.clone());
            }
        }
        if fields.is_empty() && !earlier_build && c.role != ContainerRole::Ingress {
            fields.insert("settings".to_string());
        }
    }
    if network_recreated {
        fields.insert("network".to_string());
    }
    if c.publish_port.is_some() && oc.host_port != host_port && !(c.role == ContainerRole::Main && host_port.is_none())
    {
        fields.insert("hostPort".to_string());
    }
    if matches!(oc.state, ContainerState::Dead | ContainerState::Removing) {
        fields.insert("state".to_string());
    }
    if world.limit_updates == LimitUpdates::Recreate && oc.limits.change_to(&c.limits).is_some() {
        fields.insert("limits".to_string());
    }
    // The same reference now names different content (a newer pull, a rebuilt tag).
    if let Some(Some(local_id)) = world.images.get(c.image.reference()) {
        if *local_id != oc.image_id && oc.image_ref == c.image.reference() && pulls_matter(&c.image) {
            fields.insert("imageContent".to_string());
        }
    }
    fields.into_iter().collect()
}

fn pulls_matter(image: &ImageSource) -> bool {
    !matches!(image, ImageSource::Registry { pull_policy: PullPolicy::Never, .. } | ImageSource::Ingress { .. })
}

/// The step that points the ingress at a main container that stays, when its `backend` file
/// names another address. A main container that is created, replaced or started gets its route
/// from the executor, which knows its address only then.
fn route_step(
    d: &DesiredTenant,
    main_kept: Option<&ObservedContainer>,
    main_started: bool,
    legacy_kept: bool,
    route: Option<&String>,
) -> Option<Step> {
    let ingress = d.ingress()?;
    if legacy_kept || main_started || d.suspended {
        return None;
    }
    let main = main_kept.filter(|m| matches!(m.state, ContainerState::Running))?;
    let to = main_address(main, &d.network.name, d.main().port?)?;
    (route != Some(&to)).then(|| Step::RouteIngress { name: ingress.name.clone(), to })
}

/// `IP:port` of a main container on its tenant's network.
pub fn main_address(main: &ObservedContainer, network: &str, port: u16) -> Option<String> {
    let ip = main.networks.iter().find(|n| n.network == network)?.address?;
    Some(format!("{ip}:{port}"))
}

/// The main container that serves, when there are two: after a start-first replacement was
/// cut short (tenantd killed), both the old main container (set aside) and the new one run. The
/// one the ingress forwards to serves; it is the one kept, and the other goes.
fn serving_main<'a>(o: &'a ObservedTenant, d: &DesiredTenant, route: Option<&String>) -> Option<&'a str> {
    let (route, port) = (route?, d.main().port?);
    let mut mains = o.containers.iter().filter(|c| c.role == ContainerRole::Main);
    if mains.clone().count() < 2 {
        return None;
    }
    mains.find(|c| main_address(c, &d.network.name, port).as_ref() == Some(route)).map(|c| c.id.as_str())
}

fn startable(state: ContainerState) -> bool {
    matches!(state, ContainerState::Created | ContainerState::Exited { .. })
}

fn state_word(state: ContainerState) -> String {
    match state {
        ContainerState::Exited { code } => format!("exited (code {code})"),
        ContainerState::Created => "created but not started".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn push_image_step(steps: &mut Vec<Step>, image: &ImageSource) {
    if !steps.iter().any(|s| matches!(s, Step::EnsureImage { image: i } if i == image)) {
        steps.push(Step::EnsureImage { image: image.clone() });
    }
}

fn create_step(c: &DesiredContainer, host_port: Option<u16>, start: bool) -> Step {
    Step::CreateContainer {
        container: Box::new(c.clone()),
        name: c.name.clone(),
        image: c.image.reference().to_string(),
        host_port: if c.publish_port.is_some() { host_port } else { None },
        start,
    }
}
