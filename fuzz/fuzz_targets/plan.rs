//! Plans of edited sample specs against a runtime that converged to other specs and then drifted,
//! on Docker (the recording fake, applied through the real executor) or on a cluster (applied by
//! a model of server-side apply). A plan is deterministic and stays within each tenant's own
//! objects; no plan removes a volume or a volume claim, nor does applying it; a blocked tenant
//! gets no steps; and once a plan is applied, planning again changes nothing.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use tenantd::plan::{plan, render_human, render_json, Blocked, Plan, PlanInput, RolledBack, Step};
use tenantd::ports::allocate;
use tenantd::reconcile::{execute, WaitPolicy};
use tenantd::render::kubernetes::{namespace_name, DesiredObject, KubeOptions, ObjectKind};
use tenantd::render::{object_name, render_for, ContainerRole, DesiredTenant, FileHashes, FileRoots};
use tenantd::runtime::fake::FakeRuntime;
use tenantd::runtime::{ContainerState, ForeignObject, ObservedObject, ObservedTenant, ObservedWorld, Runtime};
use tenantd::spec::TenantName;
use tenantd::status::ApplyFact;
use tenantd_fuzz::edit::{SpecChoice, NAMES};
use tenantd_fuzz::hardening::{check_docker, check_kubernetes, secret_lines};

const PORTS: RangeInclusive<u16> = 19000..=19999;
const MAX_TENANTS: usize = 5;
const MAX_DRIFT: usize = 8;

#[derive(Arbitrary, Debug)]
struct Input {
    cluster: bool,
    /// What the runtime converged to before.
    before: Vec<SpecChoice>,
    /// What changed on the runtime since, behind tenantd's back.
    drift: Vec<Drift>,
    /// The specs now.
    after: Vec<SpecChoice>,
    /// Tenants whose spec file is now invalid (by name pool index).
    invalid: Vec<u8>,
    hold_deletions: bool,
    /// Runtime files delivered before: per name pool index, whether what was delivered is what
    /// the spec says now (`true`) or something older (`false`).
    delivered: Vec<(u8, bool)>,
    /// A tenant whose current desired state was rolled back.
    rolled_back: Option<u8>,
    /// Plan only these tenants (name pool indexes).
    only: Option<Vec<u8>>,
}

/// A change on the runtime. `tenant` and `item` pick among what exists, modulo its count.
#[derive(Arbitrary, Debug)]
enum Drift {
    RemoveItem { tenant: u8, item: u8 },
    State { tenant: u8, item: u8, state: u8 },
    Limits { tenant: u8, item: u8, memory_mib: u16 },
    ForgetHashes { tenant: u8, item: u8 },
    SetAside { tenant: u8, item: u8 },
    Duplicate { tenant: u8, item: u8 },
    HostPort { tenant: u8, item: u8, port: Option<u16> },
    ChangeLive { tenant: u8, item: u8, whole: bool },
    SecretValues { tenant: u8 },
    RemoveNetwork { tenant: u8 },
    FlipNetwork { tenant: u8 },
    AddVolume { tenant: u8, name: u8 },
    NewImage { tenant: u8, item: u8 },
    Stray { tenant: u8, kind: u8, name: u8 },
    Foreign { name: u8, part: Option<u8> },
}

const STATES: [ContainerState; 8] = [
    ContainerState::Created,
    ContainerState::Running,
    ContainerState::Paused,
    ContainerState::Restarting,
    ContainerState::Exited { code: 0 },
    ContainerState::Exited { code: 137 },
    ContainerState::Removing,
    ContainerState::Dead,
];

fn instance() -> TenantName {
    "tenantd".parse().expect("valid")
}

fn roots() -> FileRoots {
    FileRoots {
        config: "/var/lib/tenantd/runtime-config".into(),
        secrets: "/run/tenantd/secrets".into(),
        ingress: "/var/lib/tenantd/ingress".into(),
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime"))
}

type DesiredSet = BTreeMap<TenantName, Arc<DesiredTenant>>;

fn desired(choices: &[SpecChoice], cluster: bool) -> DesiredSet {
    let opts = KubeOptions::default();
    choices
        .iter()
        .take(MAX_TENANTS)
        .filter_map(SpecChoice::load)
        .map(|spec| {
            let d = render_for(&spec, &instance(), &roots(), cluster.then_some(&opts));
            (d.name.clone(), Arc::new(d))
        })
        .collect()
}

fn name_at(i: u8) -> TenantName {
    NAMES[usize::from(i) % NAMES.len()].parse().expect("pool names are valid")
}

/// Where each tenant's ingress forwards after an apply on the fake (which writes no host files):
/// to its running runtime, as the executor points it.
fn routes_as_observed(desired: &DesiredSet, observed: &ObservedWorld) -> BTreeMap<TenantName, String> {
    desired
        .values()
        .filter_map(|d| {
            d.ingress()?;
            let o = observed.tenants.get(&d.name)?;
            let main =
                o.containers.iter().find(|c| c.role == ContainerRole::Main && c.state == ContainerState::Running)?;
            let ip = main.networks.iter().find(|n| n.network == d.network.name)?.address?;
            Some((d.name.clone(), format!("{ip}:{}", d.main().port?)))
        })
        .collect()
}

/// Everything `plan` takes besides the observed world.
struct Context {
    desired: DesiredSet,
    invalid: BTreeMap<TenantName, Vec<String>>,
    hold: Option<&'static str>,
    rolled_back: BTreeMap<TenantName, RolledBack>,
    delivered: BTreeMap<TenantName, FileHashes>,
    only: Option<BTreeSet<TenantName>>,
}

impl Context {
    fn plan(&self, observed: &ObservedWorld) -> Plan {
        let ports = allocate(&self.desired.keys().cloned().collect(), &observed.host_ports(), &PORTS, |_| true);
        plan(PlanInput {
            desired: &self.desired,
            invalid: &self.invalid,
            hold_deletions: self.hold,
            observed,
            ports: &ports,
            rolled_back: &self.rolled_back,
            delivered: &self.delivered,
            only: self.only.as_ref(),
            earlier_builds: &BTreeMap::new(),
            ingress_routes: &routes_as_observed(&self.desired, observed),
        })
    }

    /// What the daemon asks the runtime about: the desired images and names.
    fn asked(&self) -> (Vec<String>, Vec<String>) {
        let images = self.desired.values().flat_map(|d| d.images()).collect();
        let names = self.desired.values().flat_map(|d| d.wanted_names()).collect();
        (images, names)
    }
}

/// The files each tenant of `set` has, as delivered.
fn delivered_as_desired(set: &DesiredSet) -> BTreeMap<TenantName, FileHashes> {
    set.iter().filter_map(|(n, d)| d.files.as_ref().map(|f| (n.clone(), f.hashes.clone()))).collect()
}

fuzz_target!(|input: Input| {
    let before = desired(&input.before, input.cluster);
    let mut after = desired(&input.after, input.cluster);
    let invalid: BTreeMap<TenantName, Vec<String>> =
        input.invalid.iter().take(2).map(|i| (name_at(*i), vec!["invalid".to_string()])).collect();
    after.retain(|n, _| !invalid.contains_key(n));

    let mut delivered = BTreeMap::new();
    for (i, current) in input.delivered.iter().take(MAX_TENANTS) {
        let name = name_at(*i);
        if let Some(files) = after.get(&name).and_then(|d| d.files.as_ref()) {
            let mut hashes = files.hashes.clone();
            if !current {
                hashes.values_mut().for_each(|h| h.push_str("-old"));
            }
            delivered.insert(name, hashes);
        }
    }
    let rolled_back = input
        .rolled_back
        .and_then(|i| after.get(&name_at(i)))
        .map(|d| (d.name.clone(), RolledBack { spec_hash: d.spec_hash.clone(), reason: "unhealthy".into() }))
        .into_iter()
        .collect();
    let ctx = Context {
        desired: after,
        invalid,
        hold: input.hold_deletions.then_some("an invalid file names no tenant"),
        rolled_back,
        delivered,
        only: input.only.as_ref().map(|o| o.iter().take(3).map(|i| name_at(*i)).collect()),
    };

    if input.cluster {
        for d in ctx.desired.values() {
            check_kubernetes(d);
        }
        on_cluster(&before, &input.drift, &ctx);
    } else {
        for d in ctx.desired.values() {
            check_docker(d, &instance(), &roots(), Some(*PORTS.start()));
        }
        runtime().block_on(on_docker(&before, &input.drift, &ctx));
    }
});

async fn on_docker(before: &DesiredSet, drift: &[Drift], ctx: &Context) {
    let fake = FakeRuntime::new();
    let no_wait = WaitPolicy { enabled: false, max: std::time::Duration::ZERO };
    let first = Context {
        desired: before.clone(),
        invalid: BTreeMap::new(),
        hold: None,
        rolled_back: BTreeMap::new(),
        delivered: delivered_as_desired(before),
        only: None,
    };
    let (images, names) = first.asked();
    let seed = first.plan(&fake.observe(&images, &names).await.expect("the fake observes"));
    execute(&fake, &seed, 4, &PORTS, no_wait, None).await;
    fake.with_world(|w| drift.iter().take(MAX_DRIFT).for_each(|d| drift_docker(w, d)));

    let (images, names) = ctx.asked();
    let observed = fake.observe(&images, &names).await.expect("the fake observes");
    let p = ctx.plan(&observed);
    check_plan(&p, ctx, &observed, false);

    let outcomes = execute(&fake, &p, 4, &PORTS, no_wait, None).await;
    let applied = fake.observe(&images, &names).await.expect("the fake observes");
    volumes_kept(&observed, &applied);

    let again = ctx.plan(&applied);
    for tp in &again.tenants {
        let converged =
            matches!(outcomes.get(&tp.tenant).map(|o| &o.fact), Some(ApplyFact::Applied | ApplyFact::NothingToDo));
        if converged && tp.blocked.is_none() {
            assert!(tp.steps.is_empty(), "{} not converged after its plan was applied: {tp:#?}", tp.tenant);
        }
    }
}

fn on_cluster(before: &DesiredSet, drift: &[Drift], ctx: &Context) {
    let mut world = ObservedWorld::default();
    for d in before.values() {
        let mut t = ObservedTenant::empty(d.name.clone());
        t.objects = d.cluster.iter().flatten().map(as_applied).collect();
        world.tenants.insert(d.name.clone(), t);
    }
    drift.iter().take(MAX_DRIFT).for_each(|d| drift_cluster(&mut world, d));
    world.tenants.retain(|_, t| !t.objects.is_empty());

    let p = ctx.plan(&world);
    check_plan(&p, ctx, &world, true);
    let observed = world.clone();
    for tp in p.tenants.iter().filter(|tp| tp.blocked.is_none()) {
        let t = world.tenants.entry(tp.tenant.clone()).or_insert_with(|| ObservedTenant::empty(tp.tenant.clone()));
        for step in &tp.steps {
            match step {
                Step::ApplyObject { object, .. } => {
                    t.objects.retain(|o| (o.kind, &o.name) != (object.kind, &object.name));
                    t.objects.push(as_applied(object));
                }
                Step::DeleteObject { kind, name, uid } => {
                    t.objects.retain(|o| (o.kind, &o.name, &o.uid) != (*kind, name, uid));
                }
                other => panic!("{}: a cluster plan with an engine step {other:?}", tp.tenant),
            }
        }
    }
    volumes_kept(&observed, &world);

    let again = ctx.plan(&world);
    for tp in again.tenants.iter().filter(|tp| tp.blocked.is_none()) {
        assert!(tp.steps.is_empty(), "{} not converged after its plan was applied: {tp:#?}", tp.tenant);
    }
}

/// An object as the API server holds it after a server-side apply of `o`.
fn as_applied(o: &DesiredObject) -> ObservedObject {
    let uid = format!("uid-{}-{}-{}", o.kind, o.name, o.hash);
    let mut live = o.manifest.clone();
    live["metadata"]["uid"] = json!(uid);
    if let Some(map) = live.as_object_mut().filter(|_| o.kind == ObjectKind::Secret) {
        // The server turns `stringData` into `data`.
        map.remove("stringData");
    }
    ObservedObject {
        kind: o.kind,
        name: o.name.clone(),
        uid,
        applied_hash: Some(o.hash.clone()),
        live,
        values_intact: true,
    }
}

fn pick<T>(items: &mut [T], i: u8) -> Option<&mut T> {
    let n = items.len();
    (n > 0).then(|| &mut items[usize::from(i) % n])
}

fn tenant(world: &mut ObservedWorld, i: u8) -> Option<&mut ObservedTenant> {
    let n = world.tenants.len();
    (n > 0).then(|| world.tenants.values_mut().nth(usize::from(i) % n)).flatten()
}

fn drift_docker(w: &mut ObservedWorld, d: &Drift) {
    match *d {
        Drift::RemoveItem { tenant: t, item } => {
            if let Some(t) = tenant(w, t).filter(|t| !t.containers.is_empty()) {
                let at = usize::from(item) % t.containers.len();
                t.containers.remove(at);
            }
        }
        Drift::State { tenant: t, item, state } => {
            if let Some(c) = tenant(w, t).and_then(|t| pick(&mut t.containers, item)) {
                c.state = STATES[usize::from(state) % STATES.len()];
            }
        }
        Drift::Limits { tenant: t, item, memory_mib } => {
            if let Some(c) = tenant(w, t).and_then(|t| pick(&mut t.containers, item)) {
                c.limits.memory_bytes = i64::from(memory_mib) << 20;
            }
        }
        Drift::ForgetHashes { tenant: t, item } => {
            if let Some(c) = tenant(w, t).and_then(|t| pick(&mut t.containers, item)) {
                c.config_hash = None;
                c.field_hashes.clear();
            }
        }
        Drift::SetAside { tenant: t, item } => {
            if let Some(c) = tenant(w, t).and_then(|t| pick(&mut t.containers, item)) {
                c.name.push_str(".previous");
            }
        }
        Drift::Duplicate { tenant: t, item } => {
            if let Some(t) = tenant(w, t).filter(|t| !t.containers.is_empty()) {
                let mut c = t.containers[usize::from(item) % t.containers.len()].clone();
                c.id.push_str("-aside");
                c.name.push_str(".previous");
                c.state = ContainerState::Exited { code: 0 };
                t.containers.push(c);
            }
        }
        Drift::HostPort { tenant: t, item, port } => {
            // Only a main container publishes a port; the engine's labels say which.
            let main =
                tenant(w, t).and_then(|t| pick(&mut t.containers, item)).filter(|c| c.role == ContainerRole::Main);
            if let Some(c) = main {
                c.host_port = port;
            }
        }
        Drift::RemoveNetwork { tenant: t } => {
            if let Some(t) = tenant(w, t) {
                t.network = None;
            }
        }
        Drift::FlipNetwork { tenant: t } => {
            if let Some(n) = tenant(w, t).and_then(|t| t.network.as_mut()) {
                n.internal = !n.internal;
            }
        }
        Drift::AddVolume { tenant: t, name } => {
            if let Some(t) = tenant(w, t) {
                let volume = object_name(&instance(), &t.name, Some(&format!("vol-old{name}")));
                if !t.volumes.contains(&volume) {
                    t.volumes.push(volume);
                    t.volumes.sort();
                }
            }
        }
        Drift::NewImage { tenant: t, item } => {
            let reference = tenant(w, t).and_then(|t| pick(&mut t.containers, item)).map(|c| c.image_ref.clone());
            if let Some(r) = reference {
                w.images.insert(r, Some("sha256:rebuilt".into()));
            }
        }
        Drift::Stray { name, kind, .. } => {
            // A tenant of this instance whose spec is gone, left with a stopped container.
            let name = name_at(name);
            let t = w.tenants.entry(name.clone()).or_insert_with(|| ObservedTenant::empty(name.clone()));
            if t.containers.is_empty() {
                let mut c = stray_container(&name);
                c.state = STATES[usize::from(kind) % STATES.len()];
                t.containers.push(c);
            }
        }
        Drift::Foreign { name, part } => {
            let tenant = name_at(name);
            let (kind, part) = match part {
                Some(p) => ("container", Some(["cache", "proxy", "db"][usize::from(p) % 3])),
                None => ("network", None),
            };
            let name = object_name(&instance(), &tenant, part);
            w.foreign.push(ForeignObject { kind: kind.into(), name });
        }
        Drift::ChangeLive { .. } | Drift::SecretValues { .. } => {}
    }
}

fn stray_container(tenant: &TenantName) -> tenantd::runtime::ObservedContainer {
    tenantd::runtime::ObservedContainer {
        id: format!("stray-{tenant}"),
        name: object_name(&instance(), tenant, None),
        role: ContainerRole::Main,
        image_ref: "busybox".into(),
        image_id: "sha256:busybox".into(),
        config_hash: None,
        field_hashes: BTreeMap::new(),
        spec_hash: None,
        applied: None,
        state: ContainerState::Exited { code: 0 },
        health: tenantd::runtime::EngineHealth::None,
        limits: tenantd::render::Limits { memory_bytes: 64 << 20, nano_cpus: 100_000_000, pids: 64 },
        host_port: None,
        restart_count: 0,
        started_at: None,
        networks: vec![],
        problem: None,
    }
}

fn drift_cluster(w: &mut ObservedWorld, d: &Drift) {
    match *d {
        Drift::RemoveItem { tenant: t, item } => {
            if let Some(t) = tenant(w, t).filter(|t| !t.objects.is_empty()) {
                let at = usize::from(item) % t.objects.len();
                t.objects.remove(at);
            }
        }
        Drift::ForgetHashes { tenant: t, item } => {
            if let Some(o) = tenant(w, t).and_then(|t| pick(&mut t.objects, item)) {
                o.applied_hash = None;
            }
        }
        Drift::ChangeLive { tenant: t, item, whole } => {
            if let Some(o) = tenant(w, t).and_then(|t| pick(&mut t.objects, item)) {
                match o.live.get_mut("spec") {
                    Some(spec) if whole => *spec = json!({}),
                    _ => {
                        if let Some(m) = o.live["metadata"].as_object_mut() {
                            m.remove("labels");
                        }
                    }
                }
            }
        }
        Drift::SecretValues { tenant: t } => {
            if let Some(t) = tenant(w, t) {
                t.objects.iter_mut().filter(|o| o.kind == ObjectKind::Secret).for_each(|o| o.values_intact = false);
            }
        }
        Drift::Stray { tenant: t, kind, name } => {
            if let Some(t) = tenant(w, t) {
                let kind = ObjectKind::ALL[usize::from(kind) % ObjectKind::ALL.len()];
                let name = format!("stray-{name}");
                let uid = format!("uid-stray-{kind}-{name}");
                t.objects.push(ObservedObject {
                    kind,
                    name,
                    uid,
                    applied_hash: Some("v1:stray".into()),
                    live: json!({}),
                    values_intact: true,
                });
            }
        }
        Drift::Foreign { name, .. } => {
            let name = namespace_name(&instance(), &name_at(name));
            w.foreign.push(ForeignObject { kind: "Namespace".into(), name });
        }
        _ => {}
    }
}

/// No volume (Docker) and no volume claim or namespace (cluster) that was there is gone.
fn volumes_kept(before: &ObservedWorld, after: &ObservedWorld) {
    for (name, t) in &before.tenants {
        let now = after.tenants.get(name);
        for v in &t.volumes {
            assert!(now.is_some_and(|n| n.volumes.contains(v)), "{name}: volume {v} was removed");
        }
        for o in t.objects.iter().filter(|o| o.kind.kept_on_delete()) {
            let kept = now.is_some_and(|n| n.objects.iter().any(|x| x.kind == o.kind && x.name == o.name));
            assert!(kept, "{name}: {} {} was removed", o.kind, o.name);
        }
    }
}

fn check_plan(p: &Plan, ctx: &Context, observed: &ObservedWorld, cluster: bool) {
    assert_eq!(p, &ctx.plan(observed), "the same input planned twice differs");
    assert!(p.tenants.windows(2).all(|w| w[0].tenant < w[1].tenant), "tenants out of order or repeated");
    let human = render_human(p);
    let json = render_json(p);
    assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok_and(|v| v.is_object()), "the JSON plan");
    // A secret's value, even encrypted, shows in no plan.
    for line in ctx.desired.values().flat_map(|d| secret_lines(d)) {
        assert!(!human.contains(line) && !json.contains(line), "a secret shows in the plan: {line}");
    }

    for tp in &p.tenants {
        let name = &tp.tenant;
        if let Some(only) = &ctx.only {
            assert!(only.contains(name), "{name} planned though not asked for");
        }
        if ctx.invalid.contains_key(name) {
            assert!(matches!(tp.blocked, Some(Blocked::Invalid { .. })), "{name}: invalid spec not blocked");
        }
        let desired = ctx.desired.get(name);
        if desired.is_none() && ctx.hold.is_some() && !ctx.invalid.contains_key(name) {
            assert!(matches!(tp.blocked, Some(Blocked::DeletionHeld { .. })), "{name}: deletion not held");
        }
        if tp.blocked.is_some() {
            assert!(tp.steps.is_empty(), "{name}: blocked, yet steps {:?}", tp.steps);
        } else {
            assert_eq!(
                tp.change.is_change(),
                !tp.steps.is_empty(),
                "{name}: {:?} with steps {:?}",
                tp.change,
                tp.steps
            );
        }

        let empty = ObservedTenant::empty(name.clone());
        let o = observed.tenants.get(name).unwrap_or(&empty);
        let own_container = |id: &str| o.containers.iter().any(|c| c.id == id);
        let wanted = |n: &str| desired.is_some_and(|d| d.containers.iter().any(|c| c.name == n));
        for step in &tp.steps {
            let engine_step = !matches!(step, Step::ApplyObject { .. } | Step::DeleteObject { .. });
            assert_eq!(engine_step, !cluster, "{name}: {step:?} on the wrong kind of runtime");
            // Every kind of step, by name: a new kind must be placed here, as removing data or not.
            match step {
                Step::EnsureImage { .. } | Step::WriteFiles { .. } => assert!(desired.is_some(), "{name}: {step:?}"),
                Step::CreateNetwork { network } => {
                    assert_eq!(Some(&network.name), desired.map(|d| &d.network.name), "{name}: {step:?}")
                }
                Step::RemoveNetwork { name: n } => {
                    assert_eq!(Some(n), o.network.as_ref().map(|x| &x.name), "{name}: {step:?}")
                }
                Step::CreateVolume { name: v } => {
                    assert!(desired.is_some_and(|d| d.volumes.contains(v)), "{name}: {step:?}")
                }
                Step::CreateContainer { name: n, .. } | Step::RouteIngress { name: n, .. } => {
                    assert!(wanted(n), "{name}: {step:?}")
                }
                Step::ReplaceContainer { old_id, name: n, .. } => {
                    assert!(own_container(old_id) && wanted(n), "{name}: {step:?}")
                }
                Step::RenameContainer { id, to, .. } => assert!(own_container(id) && wanted(to), "{name}: {step:?}"),
                Step::RemoveContainer { id, .. }
                | Step::StartContainer { id, .. }
                | Step::StopContainer { id, .. }
                | Step::UpdateLimits { id, .. }
                | Step::SignalContainer { id, .. }
                | Step::RestartContainer { id, .. }
                | Step::DisconnectNetwork { id, .. } => assert!(own_container(id), "{name}: {step:?}"),
                Step::ConnectNetwork { id, network, .. } => {
                    let own_network = desired.is_some_and(|d| d.network.name == *network);
                    assert!(own_container(id) && own_network, "{name}: {step:?}")
                }
                Step::RemoveFiles => assert!(desired.is_none(), "{name}: {step:?}"),
                Step::ApplyObject { object, .. } => {
                    let ours = desired.and_then(|d| d.cluster.as_ref()).is_some_and(|c| c.contains(object));
                    assert!(ours, "{name}: {step:?}");
                }
                Step::DeleteObject { kind, uid, .. } => {
                    assert!(!kind.kept_on_delete(), "{name}: deletes a {kind}, which holds data");
                    assert!(o.objects.iter().any(|x| x.uid == *uid), "{name}: {step:?}");
                }
            }
        }
    }
}
