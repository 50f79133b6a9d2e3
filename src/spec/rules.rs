//! Rules about a typed spec that JSON Schema cannot say: uniqueness across list items, reserved
//! names, values that must not be blank, and names in `runtimeConfig` that must refer to
//! something that exists.

use std::collections::{BTreeMap, BTreeSet};

use super::names::ByteSize;
use super::openclaw_config::{
    AccountId, AgentName, ChannelKind, OpenClawConfig, AGE_ARMOR_BEGIN, ELEVATED_TOOL, REDACT_SECRETS_EXTENSION,
    RUNTIME_CONFIG_DIR, RUNTIME_SECRETS_DIR,
};
use super::position::escape_segment;
use super::types::{BuildSpec, Health, Resources, TenantFile, TenantSpec, TmpfsMount, VolumeMount};
use super::validate::Violation;

/// The sidecar name taken by the tenant's main container (its network alias).
pub const RESERVED_SIDECAR_NAME: &str = "runtime";
/// The name part of the tenant's ingress container.
pub const INGRESS_SIDECAR_NAME: &str = "ingress";

/// The smallest memory limit a container may have, in bytes (8Mi).
pub const MIN_MEMORY_BYTES: u64 = 8 << 20;

/// The longest string Linux passes to a program (`MAX_ARG_STRLEN`: 32 pages of 4 KiB), counting
/// its terminating NUL: each argument, and each variable of the environment as `NAME=value`.
/// A longer one makes `execve` fail with E2BIG, so the container would never start.
pub const MAX_ARG_STRLEN: usize = 128 << 10;

/// The most a container's arguments and environment may hold together, in bytes (each string with
/// its NUL). `execve` refuses more than a quarter of the stack limit (2 MiB under the usual 8 MiB),
/// which must also hold the image's own environment, the variables the engine adds and the
/// pointers to every string: half of it is left for those.
pub const MAX_ARGS_AND_ENV_BYTES: usize = 1 << 20;

/// The largest uid or gid a container may run as: 4294967295 is `(uid_t)-1`, which the kernel
/// reads as "no user".
pub const MAX_ID: u64 = u32::MAX as u64 - 1;

/// Where no volume or tmpfs may be mounted, nor below: the kernel's filesystems (a mount there
/// would hide or replace what the kernel shows the container, and the engine mounts its own) and
/// the directories tenantd mounts the runtime's files on.
const RESERVED_MOUNTS: [(&str, &str); 5] = [
    ("/proc", "the kernel's process filesystem"),
    ("/sys", "the kernel's sysfs"),
    ("/dev", "the container's devices, which the engine provides"),
    (RUNTIME_CONFIG_DIR, "where tenantd mounts the runtime's generated config"),
    (RUNTIME_SECRETS_DIR, "where tenantd mounts the tenant's secrets"),
];

/// The scratch directory every container gets as a tmpfs of its own.
const TMP: &str = "/tmp";

/// Every rule `file` breaks, each at the pointer of the offending value.
pub fn rule_violations(file: &TenantFile) -> Vec<Violation> {
    let mut out = Vec::new();
    let spec = &file.spec;
    source(spec.image.as_deref(), spec.build.as_ref(), "/spec", &mut out);
    container(&spec.volumes, &spec.tmpfs, &spec.resources, "/spec", &mut out);
    process(spec.args.as_deref(), &spec.env, Some(&spec.health), "/spec", &mut out);
    user(spec.user.as_deref(), "/spec", &mut out);

    let mut sidecar_names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, sidecar) in spec.sidecars.iter().enumerate() {
        let at = format!("/spec/sidecars/{i}");
        let name = sidecar.name.as_str();
        if name == RESERVED_SIDECAR_NAME {
            out.push(Violation::at(
                format!("{at}/name"),
                format!("sidecar name {name:?} is reserved for the tenant's main container"),
            ));
        } else if name == INGRESS_SIDECAR_NAME {
            out.push(Violation::at(
                format!("{at}/name"),
                format!("sidecar name {name:?} is reserved for the tenant's ingress"),
            ));
        } else if let Some(first) = sidecar_names.insert(name, i) {
            sidecar_names.insert(name, first);
            out.push(Violation::at(
                format!("{at}/name"),
                format!("sidecar name {name:?} is already used by /spec/sidecars/{first}"),
            ));
        }
        source(sidecar.image.as_deref(), sidecar.build.as_ref(), &at, &mut out);
        container(&sidecar.volumes, &sidecar.tmpfs, &sidecar.resources, &at, &mut out);
        process(sidecar.args.as_deref(), &sidecar.env, sidecar.health.as_ref(), &at, &mut out);
        user(sidecar.user.as_deref(), &at, &mut out);
    }
    secrets(spec, &mut out);
    rollout(spec, &mut out);
    if let Some(rc) = &spec.openclaw_config {
        openclaw_config(spec, rc, &mut out);
    }
    out
}

/// The old runtime drains for at least one health check interval: a shorter deadline would stop
/// it before the engine's own check has looked at the new one even once.
fn rollout(spec: &TenantSpec, out: &mut Vec<Violation>) {
    let (Some(drain), interval) = (spec.rollout.drain_timeout, spec.health.interval) else { return };
    if drain < interval {
        out.push(Violation::at(
            "/spec/rollout/drainTimeout",
            format!("drainTimeout {drain} is shorter than the health check interval {interval} (spec.health.interval)"),
        ));
    }
}

/// Each secret value has the shape of age's armor (what is inside is checked when it is decrypted).
fn secrets(spec: &TenantSpec, out: &mut Vec<Violation>) {
    for (name, secret) in &spec.secrets {
        if let Some(problem) = secret.value.armor_problem() {
            out.push(Violation::at(format!("/spec/secrets/{name}/value"), problem));
        }
    }
}

/// Everything `runtimeConfig` names exists; agents are unique; no agent may have the `elevated`
/// tool or share another's workspace; `redact-secrets` stays on; redaction patterns compile.
fn openclaw_config(spec: &TenantSpec, rc: &OpenClawConfig, out: &mut Vec<Violation>) {
    let base = "/spec/runtimeConfig";
    let defined: Vec<&str> = spec.secrets.keys().map(|s| s.as_str()).collect();
    for (pointer, reference) in rc.secret_refs() {
        let name = reference.secret.as_str();
        if !defined.contains(&name) {
            // Not the name itself: what is written in a credential field is never shown (a token
            // pasted there is a valid-looking name).
            let known = if defined.is_empty() { "none".to_string() } else { defined.join(", ") };
            out.push(Violation::at(
                format!("{pointer}/secret"),
                format!("the secret named here is not defined in spec.secrets (defined: {known})"),
            ));
        }
    }

    let mut agents: BTreeMap<&AgentName, usize> = BTreeMap::new();
    let mut workspaces: BTreeMap<String, usize> = BTreeMap::new();
    for (i, agent) in rc.agents.iter().enumerate() {
        let at = format!("{base}/agents/{i}");
        let duplicate = agents.get(&agent.name).copied();
        if let Some(first) = duplicate {
            out.push(Violation::at(
                format!("{at}/name"),
                format!("agent name {:?} is already used by {base}/agents/{first}", agent.name.as_str()),
            ));
        } else {
            agents.insert(&agent.name, i);
        }
        tool_policy(&agent.tools.allow, &agent.tools.deny, &at, out);
        if agent.model.tier.trim().is_empty() {
            out.push(Violation::at(format!("{at}/model/tier"), "the model tier is empty; expected e.g. sonnet"));
        }
        if duplicate.is_some() && agent.workspace.is_none() {
            // Its default workspace is the first one's: the name is the one problem to report.
            continue;
        }
        let workspace = agent.workspace_path();
        if workspace.split('/').any(|s| s == "." || s == "..") {
            out.push(Violation::at(
                format!("{at}/workspace"),
                format!("workspace {workspace:?} has '.' or '..' segments; write the plain absolute path"),
            ));
            continue;
        }
        let normal = normal_mount_path(&workspace);
        if normal == "/" {
            out.push(Violation::at(format!("{at}/workspace"), "an agent's workspace cannot be the root directory"));
        } else if let Some(first) = workspaces.get(&normal) {
            // Agents are isolated from each other; a shared workspace would undo that.
            out.push(Violation::at(
                format!("{at}/workspace"),
                format!("workspace {normal:?} is already the workspace of {base}/agents/{first}"),
            ));
        } else {
            workspaces.insert(normal, i);
        }
    }

    for (kind, channel) in rc.channels.iter() {
        if channel.accounts.is_empty() {
            out.push(Violation::at(
                format!("{base}/channels/{kind}/accounts"),
                format!("channel {kind} has no accounts; add one (e.g. `default`) with its botToken"),
            ));
        }
    }

    let agent_named = |name: &AgentName| agents.contains_key(name);
    let mut bound: BTreeMap<(ChannelKind, &AccountId), usize> = BTreeMap::new();
    for (i, binding) in rc.bindings.iter().enumerate() {
        let at = format!("{base}/bindings/{i}");
        if !agent_named(&binding.agent) {
            out.push(Violation::at(format!("{at}/agent"), unknown_agent(&binding.agent)));
        }
        match rc.channels.get(binding.channel) {
            None => out.push(Violation::at(
                format!("{at}/channel"),
                format!("channel {} is not configured in {base}/channels", binding.channel),
            )),
            Some(channel) if !channel.accounts.contains_key(&binding.account) => out.push(Violation::at(
                format!("{at}/account"),
                format!(
                    "channel {} has no account {:?}; its accounts are: {}",
                    binding.channel,
                    binding.account.as_str(),
                    channel.accounts.keys().map(AccountId::as_str).collect::<Vec<_>>().join(", ")
                ),
            )),
            Some(_) => {}
        }
        // One account, one agent: the runtime would route its messages to whichever came first.
        if let Some(first) = bound.get(&(binding.channel, &binding.account)) {
            out.push(Violation::at(
                at,
                format!(
                    "{} account {:?} is already bound by {base}/bindings/{first}",
                    binding.channel,
                    binding.account.as_str()
                ),
            ));
        } else {
            bound.insert((binding.channel, &binding.account), i);
        }
    }

    for (from, to) in &rc.messaging.allowlist {
        let at = format!("{base}/messaging/allowlist/{from}");
        if !agent_named(from) {
            out.push(Violation::at(at.clone(), unknown_agent(from)));
        }
        for (j, name) in to.iter().enumerate() {
            if !agent_named(name) {
                out.push(Violation::at(format!("{at}/{j}"), unknown_agent(name)));
            }
        }
    }

    for (name, extension) in &rc.extensions {
        let at = format!("{base}/extensions/{name}");
        if name.as_str() == REDACT_SECRETS_EXTENSION && !extension.enabled {
            out.push(Violation::at(
                format!("{at}/enabled"),
                "the redact-secrets extension is always enabled and cannot be turned off",
            ));
        }
        let config = serde_json::Value::Object(extension.config.clone());
        if let Some(pointer) = armored_string(&config, format!("{at}/config")) {
            out.push(Violation::at(
                pointer,
                "extension config is passed to the runtime as it is, so it must not hold a secret; put the \
                 ciphertext in spec.secrets",
            ));
        }
    }

    for (i, pattern) in rc.logging.redact_patterns.iter().enumerate() {
        let at = format!("{base}/logging/redactPatterns/{i}");
        if pattern.trim().is_empty() {
            out.push(Violation::at(at, "the redact pattern is empty"));
        } else if jsonschema::validator_for(&serde_json::json!({ "pattern": pattern })).is_err() {
            // The runtime evaluates these as JavaScript regular expressions; the validator compiles
            // a pattern the way JSON Schema's `pattern` does, which is ECMA-262 syntax (its error
            // says no more than this message).
            out.push(Violation::at(
                at,
                format!("{pattern:?} is not a valid regular expression (JavaScript syntax, e.g. \\bghp_[A-Za-z0-9]{{36}}\\b)"),
            ));
        }
    }
}

/// Allow and deny lists of tools: never `elevated` allowed, no tool both allowed and denied, no
/// blank names.
fn tool_policy(allow: &[String], deny: &[String], at: &str, out: &mut Vec<Violation>) {
    let denied: BTreeSet<&str> = deny.iter().map(String::as_str).collect();
    for (j, tool) in allow.iter().enumerate() {
        let pointer = format!("{at}/tools/allow/{j}");
        if tool.trim().is_empty() {
            out.push(Violation::at(pointer, "the tool name is empty"));
        } else if tool == ELEVATED_TOOL {
            out.push(Violation::at(
                pointer,
                "the elevated tool is always denied (it would let the agent leave its sandbox); remove it from allow",
            ));
        } else if denied.contains(tool.as_str()) {
            out.push(Violation::at(pointer, format!("tool {tool:?} is both allowed and denied")));
        }
    }
    for (j, tool) in deny.iter().enumerate() {
        if tool.trim().is_empty() {
            out.push(Violation::at(format!("{at}/tools/deny/{j}"), "the tool name is empty"));
        }
    }
}

fn unknown_agent(name: &AgentName) -> String {
    format!("agent {:?} is not defined in /spec/runtimeConfig/agents", name.as_str())
}

/// The pointer of the first string below `value` (at `pointer`) that holds age armor.
fn armored_string(value: &serde_json::Value, pointer: String) -> Option<String> {
    /// The path to it, innermost segment first: spelt out only once found, as a pointer per node
    /// would cost the length of every key above it.
    fn path(value: &serde_json::Value) -> Option<Vec<String>> {
        match value {
            serde_json::Value::String(s) => s.contains(AGE_ARMOR_BEGIN).then(Vec::new),
            serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
                let mut p = path(v)?;
                p.push(i.to_string());
                Some(p)
            }),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                let mut p = path(v)?;
                p.push(escape_segment(k));
                Some(p)
            }),
            _ => None,
        }
    }
    let segments = path(value)?;
    Some(segments.iter().rev().fold(pointer, |p, s| p + "/" + s))
}

/// Exactly one image source (the schema says so too; typed callers may not have been through it),
/// and a build context that is not blank.
fn source(image: Option<&str>, build: Option<&BuildSpec>, at: &str, out: &mut Vec<Violation>) {
    match (image, build) {
        (Some(_), Some(_)) => out.push(Violation::at(at, "give either image or build, not both")),
        (None, None) => out.push(Violation::at(at, "one of image or build is required")),
        _ => {}
    }
    if let Some(b) = build {
        if b.context.trim().is_empty() {
            out.push(Violation::at(
                format!("{at}/build/context"),
                "the build context is empty; expected a directory path",
            ));
        }
        if b.dockerfile.trim().is_empty() {
            out.push(Violation::at(
                format!("{at}/build/dockerfile"),
                "the dockerfile is empty; expected a path inside the context",
            ));
        }
    }
}

/// Per container: each mount point used once, each volume mounted once, clean mount paths, and a
/// workable memory limit.
fn container(volumes: &[VolumeMount], tmpfs: &[TmpfsMount], resources: &Resources, at: &str, out: &mut Vec<Violation>) {
    if resources.memory.bytes() < MIN_MEMORY_BYTES {
        let min = ByteSize::from_bytes(MIN_MEMORY_BYTES);
        out.push(Violation::at(
            format!("{at}/resources/memory"),
            format!("{} is below the minimum memory limit of {min}", resources.memory),
        ));
    }
    let mounts = volumes
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("{at}/volumes/{i}/mountPath"), v.mount_path.as_str()))
        .chain(tmpfs.iter().enumerate().map(|(i, t)| (format!("{at}/tmpfs/{i}/mountPath"), t.mount_path.as_str())));
    let mut targets: BTreeMap<String, String> = BTreeMap::new();
    for (pointer, path) in mounts {
        if path.split('/').any(|s| s == "." || s == "..") {
            out.push(Violation::at(
                pointer,
                format!("mount path {path:?} has '.' or '..' segments; write the plain absolute path"),
            ));
            continue;
        }
        let normal = normal_mount_path(path);
        let reserved = RESERVED_MOUNTS.iter().find(|(dir, _)| normal == *dir || normal.starts_with(&format!("{dir}/")));
        if normal == "/" {
            out.push(Violation::at(pointer, "cannot mount over the container's root directory"));
        } else if let Some((dir, what)) = reserved {
            let place = if normal == *dir { "is".to_string() } else { format!("is under {dir},") };
            out.push(Violation::at(pointer, format!("mount path {normal:?} {place} {what}; mount it elsewhere")));
        } else if normal == TMP {
            out.push(Violation::at(
                pointer,
                format!("{TMP} is already a tmpfs of every container (64Mi); mount below it or elsewhere"),
            ));
        } else if let Some(first) = targets.get(&normal) {
            out.push(Violation::at(pointer, format!("mount path {normal:?} is already used by {first}")));
        } else {
            targets.insert(normal, pointer);
        }
    }
    // One volume is one directory of data; mounting it twice in the same container gives two
    // paths to the same files, which is almost always a copy-paste slip. Sharing a volume between
    // containers is what names are for, and is fine.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, v) in volumes.iter().enumerate() {
        if let Some(first) = seen.get(v.name.as_str()) {
            out.push(Violation::at(
                format!("{at}/volumes/{i}/name"),
                format!("volume {:?} is already mounted in this container by {at}/volumes/{first}", v.name.as_str()),
            ));
        } else {
            seen.insert(v.name.as_str(), i);
        }
    }
}

/// What the container's process is started with fits what the kernel passes to a program: each
/// argument and variable at most [`MAX_ARG_STRLEN`], all of them at most
/// [`MAX_ARGS_AND_ENV_BYTES`]. The health probe command is run the same way.
fn process(
    args: Option<&[String]>,
    env: &BTreeMap<String, String>,
    health: Option<&Health>,
    at: &str,
    out: &mut Vec<Violation>,
) {
    let too_long = |what: &str, bytes: usize| {
        format!(
            "{what} is {bytes} bytes; a program is given at most {MAX_ARG_STRLEN} bytes per argument or variable \
             (Linux's MAX_ARG_STRLEN, counting the terminating NUL), so the container would not start"
        )
    };
    let mut total = 0;
    for (i, arg) in args.unwrap_or_default().iter().enumerate() {
        let bytes = arg.len() + 1;
        total += bytes;
        if bytes > MAX_ARG_STRLEN {
            out.push(Violation::at(format!("{at}/args/{i}"), too_long("the argument", bytes)));
        }
    }
    for (name, value) in env {
        let bytes = name.len() + 1 + value.len() + 1;
        total += bytes;
        if bytes > MAX_ARG_STRLEN {
            let pointer = format!("{at}/env/{}", escape_segment(name));
            out.push(Violation::at(pointer, too_long("the variable, as NAME=value,", bytes)));
        }
    }
    if total > MAX_ARGS_AND_ENV_BYTES {
        let pointer = if env.is_empty() { format!("{at}/args") } else { format!("{at}/env") };
        out.push(Violation::at(
            pointer,
            format!(
                "the arguments and environment total {total} bytes; at most {MAX_ARGS_AND_ENV_BYTES} are allowed \
                 (the kernel refuses a program more than 2 MiB of them, which must also hold the image's own \
                 environment)"
            ),
        ));
    }
    for (i, word) in health.map(|h| h.probe_command.as_slice()).unwrap_or_default().iter().enumerate() {
        let bytes = word.len() + 1;
        if bytes > MAX_ARG_STRLEN {
            out.push(Violation::at(format!("{at}/health/probeCommand/{i}"), too_long("the argument", bytes)));
        }
    }
}

/// A uid and gid that fit the kernel's 32 bits (the schema's pattern already refuses root).
fn user(user: Option<&str>, at: &str, out: &mut Vec<Violation>) {
    let Some(user) = user else { return };
    for (what, id) in ["uid", "gid"].into_iter().zip(user.split(':')) {
        if id.parse::<u64>().is_ok_and(|n| n > MAX_ID) {
            out.push(Violation::at(
                format!("{at}/user"),
                format!(
                    "{what} {id} is out of range: uids and gids are at most {MAX_ID} (32 bits, and {} means no user)",
                    MAX_ID + 1
                ),
            ));
        }
    }
}

/// `/data//x/` and `/data/x` are the same mount point.
fn normal_mount_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml_spec: &str) -> TenantFile {
        let text = format!("apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{name: acme}}\nspec:\n{yaml_spec}");
        serde_yaml::from_str(&text).unwrap()
    }

    fn pointers(file: &TenantFile) -> Vec<String> {
        rule_violations(file).into_iter().map(|v| v.pointer).collect()
    }

    #[test]
    fn a_plain_spec_breaks_no_rule() {
        let f = spec("  image: x\n  volumes: [{name: data, mountPath: /data}]\n  sidecars:\n    - {name: db, image: pg, volumes: [{name: data, mountPath: /data}]}\n");
        assert_eq!(rule_violations(&f), []);
    }

    #[test]
    fn sidecar_names_are_unique_and_not_runtime() {
        let f = spec("  image: x\n  sidecars:\n    - {name: db, image: a}\n    - {name: runtime, image: b}\n    - {name: db, image: c}\n");
        let v = rule_violations(&f);
        assert_eq!(pointers(&f), ["/spec/sidecars/1/name", "/spec/sidecars/2/name"]);
        assert!(v[0].message.contains("reserved"), "{}", v[0].message);
        assert!(v[1].message.contains("/spec/sidecars/0"), "{}", v[1].message);
    }

    #[test]
    fn mount_paths_are_unique_per_container_across_volumes_and_tmpfs() {
        let f = spec("  image: x\n  volumes: [{name: a, mountPath: /data}, {name: b, mountPath: /data/}]\n  tmpfs: [{mountPath: //data}, {mountPath: /x/../y}, {mountPath: /}]\n  sidecars: [{name: s, image: y, tmpfs: [{mountPath: /data}]}]\n");
        assert_eq!(
            pointers(&f),
            [
                "/spec/volumes/1/mountPath",
                "/spec/tmpfs/0/mountPath",
                "/spec/tmpfs/1/mountPath",
                "/spec/tmpfs/2/mountPath"
            ]
        );
    }

    #[test]
    fn a_volume_is_mounted_once_per_container() {
        let f =
            spec("  image: x\n  volumes: [{name: a, mountPath: /one}, {name: a, mountPath: /two, readOnly: true}]\n");
        assert_eq!(pointers(&f), ["/spec/volumes/1/name"]);
    }

    const ARMOR: &str = "'-----BEGIN AGE ENCRYPTED FILE-----\n\n  YWdl\n\n  -----END AGE ENCRYPTED FILE-----\n'";

    /// A spec with secrets `G` and `T` and a runtimeConfig made of `rc` (indented YAML lines).
    fn with_openclaw_config(rc: &str) -> TenantFile {
        spec(&format!(
            "  image: x\n  secrets:\n    G: {{value: {ARMOR}}}\n    T: {{value: {ARMOR}}}\n  runtimeConfig:\n    gatewayToken: {{secret: G}}\n{rc}"
        ))
    }

    fn messages(file: &TenantFile) -> Vec<(String, String)> {
        rule_violations(file).into_iter().map(|v| (v.pointer, v.message)).collect()
    }

    const TWO_AGENTS: &str = "    agents:\n      - {name: a, model: {tier: sonnet, temperature: 0.3}}\n      - {name: b, model: {tier: opus, temperature: 1}}\n    channels:\n      telegram: {accounts: {default: {botToken: {secret: T}}}}\n";

    #[test]
    fn a_complete_runtime_config_breaks_no_rule() {
        let f = with_openclaw_config(&format!(
            "{TWO_AGENTS}    bindings: [{{agent: a, channel: telegram}}]\n    messaging: {{allowlist: {{a: [b], b: [a]}}}}\n    extensions: {{redact-secrets: {{enabled: true}}, memory: {{enabled: false, config: {{depth: 3}}}}}}\n    logging: {{redactPatterns: ['\\bghp_[A-Za-z0-9]{{36}}\\b']}}\n"
        ));
        assert_eq!(messages(&f), []);
    }

    #[test]
    fn secret_references_must_name_a_secret_of_the_spec() {
        let f = spec("  image: x\n  runtimeConfig:\n    gatewayToken: {secret: NOPE}\n    channels: {slack: {accounts: {ops: {botToken: {secret: NOPE}, appToken: {secret: ALSO}}}}}\n");
        assert_eq!(
            messages(&f),
            [
                (
                    "/spec/runtimeConfig/gatewayToken/secret".into(),
                    "the secret named here is not defined in spec.secrets (defined: none)".into()
                ),
                (
                    "/spec/runtimeConfig/channels/slack/accounts/ops/botToken/secret".into(),
                    "the secret named here is not defined in spec.secrets (defined: none)".into()
                ),
                (
                    "/spec/runtimeConfig/channels/slack/accounts/ops/appToken/secret".into(),
                    "the secret named here is not defined in spec.secrets (defined: none)".into()
                ),
            ]
        );
    }

    #[test]
    fn secret_values_must_be_age_armor() {
        let f = spec("  image: x\n  secrets: {PLAIN: {value: hunter2}}\n");
        let v = messages(&f);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].0, "/spec/secrets/PLAIN/value");
        assert!(v[0].1.contains("age ciphertext in ASCII armor"), "{}", v[0].1);
        assert!(!v[0].1.contains("hunter2"), "the message must not repeat the value: {}", v[0].1);
    }

    #[test]
    fn agent_names_are_unique_and_workspaces_not_shared() {
        let f = with_openclaw_config(
            "    agents:\n      - {name: a, model: {tier: sonnet, temperature: 0}}\n      - {name: a, model: {tier: sonnet, temperature: 0}}\n      - {name: c, model: {tier: sonnet, temperature: 0}, workspace: /home/node/.openclaw/workspaces/a/}\n      - {name: d, model: {tier: ' ', temperature: 0}, workspace: /w/../x}\n",
        );
        let v = messages(&f);
        let pointers: Vec<&str> = v.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/spec/runtimeConfig/agents/1/name",
                "/spec/runtimeConfig/agents/2/workspace",
                "/spec/runtimeConfig/agents/3/model/tier",
                "/spec/runtimeConfig/agents/3/workspace",
            ],
            "{v:#?}"
        );
        assert_eq!(v[0].1, r#"agent name "a" is already used by /spec/runtimeConfig/agents/0"#);
        assert!(v[1].1.contains("already the workspace of /spec/runtimeConfig/agents/0"), "{}", v[1].1);
    }

    #[test]
    fn the_elevated_tool_cannot_be_allowed() {
        let f = with_openclaw_config(
            "    agents:\n      - {name: a, model: {tier: sonnet, temperature: 0}, tools: {allow: [read, elevated, exec], deny: [exec]}}\n",
        );
        let v = messages(&f);
        assert_eq!(
            v.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            ["/spec/runtimeConfig/agents/0/tools/allow/1", "/spec/runtimeConfig/agents/0/tools/allow/2"]
        );
        assert!(v[0].1.starts_with("the elevated tool is always denied"), "{}", v[0].1);
        assert_eq!(v[1].1, r#"tool "exec" is both allowed and denied"#);
    }

    #[test]
    fn bindings_name_an_agent_a_configured_channel_and_one_of_its_accounts() {
        let f = with_openclaw_config(&format!(
            "{TWO_AGENTS}    bindings:\n      - {{agent: ghost, channel: telegram}}\n      - {{agent: a, channel: slack}}\n      - {{agent: b, channel: telegram, account: ops}}\n      - {{agent: b, channel: telegram}}\n"
        ));
        assert_eq!(
            messages(&f),
            [
                (
                    "/spec/runtimeConfig/bindings/0/agent".into(),
                    r#"agent "ghost" is not defined in /spec/runtimeConfig/agents"#.into()
                ),
                (
                    "/spec/runtimeConfig/bindings/1/channel".into(),
                    "channel slack is not configured in /spec/runtimeConfig/channels".into()
                ),
                (
                    "/spec/runtimeConfig/bindings/2/account".into(),
                    r#"channel telegram has no account "ops"; its accounts are: default"#.into()
                ),
                (
                    "/spec/runtimeConfig/bindings/3".into(),
                    r#"telegram account "default" is already bound by /spec/runtimeConfig/bindings/0"#.into()
                ),
            ]
        );
    }

    #[test]
    fn messaging_allowlists_name_agents_that_exist() {
        let f =
            with_openclaw_config(&format!("{TWO_AGENTS}    messaging: {{allowlist: {{a: [b, zed], ghost: [a]}}}}\n"));
        assert_eq!(
            messages(&f).into_iter().map(|(p, _)| p).collect::<Vec<_>>(),
            ["/spec/runtimeConfig/messaging/allowlist/a/1", "/spec/runtimeConfig/messaging/allowlist/ghost"]
        );
    }

    #[test]
    fn redact_secrets_cannot_be_disabled_and_extension_config_holds_no_ciphertext() {
        let f = with_openclaw_config(&format!(
            "    extensions:\n      redact-secrets: {{enabled: false}}\n      memory: {{enabled: true, config: {{keys: [{{k: {ARMOR}}}]}}}}\n"
        ));
        let v = messages(&f);
        assert_eq!(
            v.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            [
                "/spec/runtimeConfig/extensions/memory/config/keys/0/k",
                "/spec/runtimeConfig/extensions/redact-secrets/enabled"
            ]
        );
        assert_eq!(v[1].1, "the redact-secrets extension is always enabled and cannot be turned off");
    }

    #[test]
    fn redact_patterns_must_compile() {
        let f = with_openclaw_config("    logging: {redactPatterns: ['sk-[a-z', ' ', '\\d+']}\n");
        let v = messages(&f);
        assert_eq!(
            v.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            ["/spec/runtimeConfig/logging/redactPatterns/0", "/spec/runtimeConfig/logging/redactPatterns/1"]
        );
        assert!(v[0].1.starts_with(r#""sk-[a-z" is not a valid regular expression"#), "{}", v[0].1);
    }

    #[test]
    fn a_channel_needs_an_account() {
        let f = with_openclaw_config("    channels: {discord: {accounts: {}}}\n");
        assert_eq!(
            messages(&f).into_iter().map(|(p, _)| p).collect::<Vec<_>>(),
            ["/spec/runtimeConfig/channels/discord/accounts"]
        );
    }

    #[test]
    fn blank_build_fields_and_tiny_memory_are_refused() {
        let f = spec("  build: {context: '  ', dockerfile: ' '}\n  resources: {memory: 4Mi}\n");
        assert_eq!(pointers(&f), ["/spec/build/context", "/spec/build/dockerfile", "/spec/resources/memory"]);
        let f = spec("  image: x\n  build: {context: .}\n");
        assert_eq!(pointers(&f), ["/spec"]);
    }
}
