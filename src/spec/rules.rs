//! Rules about a typed spec that JSON Schema cannot say: uniqueness across list items, reserved
//! names, values that must not be blank.

use std::collections::BTreeMap;

use super::names::ByteSize;
use super::types::{BuildSpec, Resources, TenantFile, TmpfsMount, VolumeMount};
use super::validate::Violation;

/// The sidecar name taken by the tenant's main container (its network alias).
pub const RESERVED_SIDECAR_NAME: &str = "runtime";

/// The smallest memory limit a container may have, in bytes (8Mi).
pub const MIN_MEMORY_BYTES: u64 = 8 << 20;

/// Every rule `file` breaks, each at the pointer of the offending value.
pub fn rule_violations(file: &TenantFile) -> Vec<Violation> {
    let mut out = Vec::new();
    let spec = &file.spec;
    source(spec.image.as_deref(), spec.build.as_ref(), "/spec", &mut out);
    container(&spec.volumes, &spec.tmpfs, &spec.resources, "/spec", &mut out);

    let mut sidecar_names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, sidecar) in spec.sidecars.iter().enumerate() {
        let at = format!("/spec/sidecars/{i}");
        let name = sidecar.name.as_str();
        if name == RESERVED_SIDECAR_NAME {
            out.push(Violation::at(
                format!("{at}/name"),
                format!("sidecar name {name:?} is reserved for the tenant's main container"),
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
    }
    out
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
        if normal == "/" {
            out.push(Violation::at(pointer, "cannot mount over the container's root directory"));
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

    #[test]
    fn blank_build_fields_and_tiny_memory_are_refused() {
        let f = spec("  build: {context: '  ', dockerfile: ' '}\n  resources: {memory: 4Mi}\n");
        assert_eq!(pointers(&f), ["/spec/build/context", "/spec/build/dockerfile", "/spec/resources/memory"]);
        let f = spec("  image: x\n  build: {context: .}\n");
        assert_eq!(pointers(&f), ["/spec"]);
    }
}
