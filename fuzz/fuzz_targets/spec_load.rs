//! Any bytes as a spec file. The loader never panics and returns its errors as values; reading
//! a file (alone or from its directory) agrees with parsing its text; a spec that loads prints
//! back to itself and renders.

#![no_main]

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tenantd::render::kubernetes::{to_yaml, KubeOptions};
use tenantd::render::openclaw::{render_config, render_pretty};
use tenantd::render::{render_for, FileRoots};
use tenantd::spec::{load_dir, load_file, parse_str, SpecError, TenantFile, TenantName};
use tenantd_fuzz::samples::loaded;

/// A tenants directory holding the spec under test and a build context `ctx` beside it.
fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tenantd-fuzz-spec-load-{}", std::process::id()));
        fs::create_dir_all(dir.join("ctx")).expect("temp dir");
        fs::write(dir.join("ctx/Dockerfile"), "FROM scratch\n").expect("Dockerfile");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let path = dir().join("spec.yaml");
    let text = std::str::from_utf8(data).ok();
    let parsed = text.map(|t| parse_str(t, &path));
    if let Some(Err(errors)) = &parsed {
        assert!(!errors.is_empty(), "an error result without errors");
        errors.iter().for_each(|e| drop(e.to_string()));
    }

    // Reading from a directory resolves build contexts; those outside it are not followed here,
    // since digesting an arbitrary host directory is slow rather than wrong.
    let contexts_inside = match &parsed {
        Some(Ok(file)) => builds(file)
            .all(|c| Path::new(c).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))),
        _ => true,
    };
    if contexts_inside {
        fs::write(&path, data).expect("write spec");
        let set = load_dir(dir()).expect("the directory is readable");
        let single = load_file(&path);
        match (&single, set.valid.values().find(|s| s.path == path)) {
            (Ok(one), Some(listed)) => assert_eq!(one.file, listed.file, "load_file and load_dir disagree"),
            (Err(errors), None) => {
                let listed = set.invalid.iter().find(|i| i.path == path).map(|i| &i.errors);
                assert_eq!(Some(errors), listed, "load_file and load_dir disagree");
            }
            (one, listed) => panic!("load_file says {one:?}, load_dir {listed:?}"),
        }
        match &parsed {
            None => {
                let invalid = set.invalid.iter().find(|i| i.path == path).expect("non-UTF-8 is invalid");
                assert!(matches!(invalid.errors[..], [SpecError::Syntax { .. }]), "{:?}", invalid.errors);
            }
            Some(Err(errors)) => {
                let invalid = set.invalid.iter().find(|i| i.path == path).expect("invalid text is an invalid file");
                assert_eq!(&invalid.errors, errors, "reading the file and parsing its text disagree");
            }
            Some(Ok(file)) => {
                let from_dir = set.valid.values().find(|s| s.path == path).map(|s| &s.file);
                let refused = set.invalid.iter().find(|i| i.path == path);
                match (from_dir, refused) {
                    (Some(read), None) => assert_eq!(read, file),
                    // Only a build context can fail on disk.
                    (None, Some(i)) => assert!(builds(file).next().is_some(), "{:?}", i.errors),
                    other => panic!("the file is both or neither valid and invalid: {other:?}"),
                }
            }
        }
    }

    if let Some(Ok(file)) = parsed {
        loads_back(&file, &path);
        let instance: TenantName = "tenantd".parse().expect("valid");
        let roots = FileRoots {
            config: "/var/lib/tenantd/runtime-config".into(),
            secrets: "/run/tenantd/secrets".into(),
            ingress: "/var/lib/tenantd/ingress".into(),
        };
        if let Some(config) = render_config(&file.spec) {
            drop(render_pretty(&config));
        }
        let d = render_for(&loaded(&path, file), &instance, &roots, Some(&KubeOptions::default()));
        drop(to_yaml(d.cluster.as_deref().unwrap_or_default()));
        drop(serde_json::to_string(&d).expect("a desired tenant serializes"));
    }
});

fn builds(file: &TenantFile) -> impl Iterator<Item = &str> {
    file.spec.build.iter().chain(file.spec.sidecars.iter().filter_map(|s| s.build.as_ref())).map(|b| b.context.as_str())
}

/// A valid spec printed as YAML and as JSON reads back as the same spec.
fn loads_back(file: &TenantFile, path: &Path) {
    let yaml = serde_yaml::to_string(file).expect("a spec serializes to YAML");
    let json = serde_json::to_string(file).expect("a spec serializes to JSON");
    for text in [yaml, json] {
        match parse_str(&text, path) {
            Ok(again) => assert_eq!(&again, file, "printed as\n{text}"),
            Err(e) => panic!("a valid spec printed as\n{text}\nis refused: {e:?}"),
        }
    }
}
