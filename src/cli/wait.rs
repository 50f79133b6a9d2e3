//! `tenantd wait [TENANT…] --for converged|healthy --timeout 2m`: for scripts and playbooks that
//! drop a spec in place and must know when it runs.
//!
//! Each round runs the same pass `plan` runs (nothing is changed) and reads the status files:
//! - converged: the plan has nothing left to do for the tenant;
//! - healthy: converged, and its status file says Running and healthy (or, for a runtime with no
//!   health check at all, Running) for the very spec on disk now (its `specHash`), so a status
//!   written before the spec changed never counts.
//!
//! A tenant that cannot get there without a person (its spec is invalid, another owner holds
//! its names, this spec was rolled back) fails the wait at once rather than at the timeout.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use clap::ValueEnum;

use super::scope::{check_targets_exist, parse_targets};
use crate::config::DaemonConfig;
use crate::plan::{Blocked, ChangeKind, TenantPlan};
use crate::reconcile::{run_pass, PassMemory, PassMode, PassOptions, PassScope};
use crate::spec::TenantName;
use crate::status::{Health, Phase, StatusStore, TenantStatus};

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Condition {
    /// The runtime matches the spec: `plan` shows no change.
    Converged,
    /// Converged, and Running and healthy by its status.
    Healthy,
}

/// Where one tenant stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Ready,
    /// Still on its way; what it waits for.
    Waiting(String),
    /// It cannot get there on its own.
    Never(String),
}

/// How often the plan and the statuses are looked at again.
const POLL: Duration = Duration::from_secs(1);
/// How often a line says who is still waited for.
const STILL_EVERY: Duration = Duration::from_secs(10);

pub async fn run(cfg: &DaemonConfig, names: &[String], condition: Condition, timeout: Duration) -> anyhow::Result<u8> {
    let only = parse_targets(names)?;
    let runtime = super::connect(cfg).await?;
    let store = StatusStore::new(cfg.status_dir());
    let started = Instant::now();
    let mut last_line = started;
    let mut ready: BTreeSet<TenantName> = BTreeSet::new();
    loop {
        let mut memory = PassMemory::default();
        let scope = PassScope { only: only.clone(), specs_read: false, opts: PassOptions { allow_empty: true } };
        let plan = run_pass(cfg, runtime.as_ref(), &mut memory, scope, PassMode::Preview).await?.plan;
        let desired = memory.desired.unwrap_or_default();
        if let Some(only) = &only {
            check_targets_exist(&desired, &memory.world, only)?;
        }
        let wanted: BTreeSet<TenantName> = match &only {
            Some(only) => only.clone(),
            None => desired.tenants.keys().chain(desired.invalid.keys()).cloned().collect(),
        };
        if wanted.is_empty() {
            anyhow::bail!("no tenant to wait for: {} holds no spec file", cfg.tenants_dir.display());
        }
        let plans: BTreeMap<&TenantName, &TenantPlan> = plan.tenants.iter().map(|t| (&t.tenant, t)).collect();
        let mut waiting = Vec::new();
        for name in &wanted {
            let status = store.read(name).ok().flatten();
            let invalid = desired.invalid.get(name).map(|m| m.join("; "));
            match judge(plans.get(name).copied(), invalid.as_deref(), status.as_ref(), condition) {
                Verdict::Ready => {
                    if ready.insert(name.clone()) {
                        println!("{name}: {}", condition_word(condition));
                    }
                }
                Verdict::Never(why) => anyhow::bail!("{name} will not become {}: {why}", condition_word(condition)),
                Verdict::Waiting(what) => {
                    ready.remove(name);
                    waiting.push(format!("{name} ({what})"));
                }
            }
        }
        if waiting.is_empty() {
            return Ok(super::exit::SUCCESS);
        }
        let now = Instant::now();
        if now.duration_since(started) >= timeout {
            eprintln!("error: timed out after {} waiting for {}", super::duration::show(timeout), waiting.join(", "));
            return Ok(super::exit::FAILURE);
        }
        if now.duration_since(last_line) >= STILL_EVERY {
            last_line = now;
            eprintln!("still waiting for {} [{}s elapsed]", waiting.join(", "), now.duration_since(started).as_secs());
        }
        tokio::time::sleep(POLL.min(timeout.saturating_sub(now.duration_since(started)))).await;
    }
}

fn condition_word(c: Condition) -> &'static str {
    match c {
        Condition::Converged => "converged",
        Condition::Healthy => "healthy",
    }
}

/// Where a tenant stands, from its plan (none: nothing to do and nothing there), whether its
/// spec file is invalid, and its status file.
fn judge(plan: Option<&TenantPlan>, invalid: Option<&str>, status: Option<&TenantStatus>, c: Condition) -> Verdict {
    if let Some(messages) = invalid {
        return Verdict::Never(format!("its spec file is invalid ({messages})"));
    }
    let Some(plan) = plan else { return Verdict::Ready };
    match (&plan.change, &plan.blocked) {
        (ChangeKind::NoChange, _) => {}
        (_, Some(Blocked::Invalid { messages })) => {
            return Verdict::Never(format!("its spec file is invalid ({})", messages.join("; ")))
        }
        (_, Some(Blocked::Conflict { .. })) => {
            return Verdict::Never("objects of another owner hold its names (see `tenantd plan`)".into())
        }
        (_, Some(Blocked::RolledBack { message })) => {
            return Verdict::Never(format!("this spec was rolled back ({message}); change the spec to try again"))
        }
        (_, Some(Blocked::NoPort { message })) => return Verdict::Waiting(format!("no host port: {message}")),
        (_, Some(Blocked::DeletionHeld { .. })) => return Verdict::Waiting("deletion held back".into()),
        (change, None) => {
            // What the last try of this very spec ended in, when a status says so.
            let tried = status
                .filter(|s| plan.desired.as_ref().is_some_and(|d| s.spec_hash.as_deref() == Some(d.spec_hash.as_str())))
                .map(|s| match &s.last_error {
                    Some(e) => format!("; phase {}: {e}", s.phase),
                    None => format!("; phase {}", s.phase),
                })
                .unwrap_or_default();
            return Verdict::Waiting(format!("{} pending{tried}", change_word(*change)));
        }
    }
    let Some(desired) = plan.desired.as_ref() else { return Verdict::Ready };
    if c == Condition::Converged {
        return Verdict::Ready;
    }
    let Some(status) = status else { return Verdict::Waiting("no status yet".into()) };
    if status.spec_hash.as_deref() != Some(desired.spec_hash.as_str()) {
        return Verdict::Waiting("its status is of an earlier spec".into());
    }
    match (status.phase, status.health) {
        // Unknown: the runtime has no health check at all; running is all there is to wait for.
        (Phase::Running, Health::Healthy | Health::Unknown) => Verdict::Ready,
        (Phase::Suspended, _) => Verdict::Never("its spec suspends it".into()),
        (phase, health) => Verdict::Waiting(format!("phase {phase}, health {}", format!("{health:?}").to_lowercase())),
    }
}

fn change_word(c: ChangeKind) -> &'static str {
    match c {
        ChangeKind::Create => "create",
        ChangeKind::UpdateInPlace => "update",
        ChangeKind::Replace => "replacement",
        ChangeKind::Delete => "deletion",
        ChangeKind::NoChange => "nothing",
        ChangeKind::Blocked => "blocked",
    }
}
