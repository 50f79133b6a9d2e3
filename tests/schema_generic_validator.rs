//! The published schema as another JSON Schema validator reads it: `check-jsonschema` accepts
//! `schemas/tenant.schema.json` as a 2020-12 schema, validates every sample spec with it, and
//! answers a wrong enum value with the allowed values (not "not valid under any of the given
//! schemas").
//!
//! Needs `check-jsonschema` (from PyPI; `TENANTD_CHECK_JSONSCHEMA` names another binary): the
//! tests fail without it when `TENANTD_REQUIRE_CHECK_JSONSCHEMA=1`, else they are skipped with a
//! message.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{repo_root, yaml_files};

fn schema() -> PathBuf {
    repo_root().join("schemas/tenant.schema.json")
}

/// The check-jsonschema binary, or None (skipped) when it is missing and not required.
fn check_jsonschema(test: &str) -> Option<PathBuf> {
    let bin = PathBuf::from(std::env::var_os("TENANTD_CHECK_JSONSCHEMA").unwrap_or_else(|| "check-jsonschema".into()));
    let found = Command::new(&bin).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if found {
        return Some(bin);
    }
    if std::env::var("TENANTD_REQUIRE_CHECK_JSONSCHEMA").as_deref() == Ok("1") {
        panic!("{test}: {} does not run and TENANTD_REQUIRE_CHECK_JSONSCHEMA=1", bin.display());
    }
    eprintln!(
        "SKIPPED {test}: {} not found (pip install check-jsonschema; set TENANTD_REQUIRE_CHECK_JSONSCHEMA=1 to make \
         this a failure)",
        bin.display()
    );
    None
}

fn run(bin: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(bin).arg("--color").arg("never").args(args).output().expect("check-jsonschema runs")
}

fn output(o: &Output) -> String {
    format!("exit {:?}\n{}{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Every tenant spec shipped: `tenants.d/` and the specs under `examples/`.
fn sample_specs() -> Vec<PathBuf> {
    let mut files = yaml_files(&repo_root().join("tenants.d"));
    files.extend(
        yaml_files(&repo_root().join("examples"))
            .into_iter()
            .filter(|p| std::fs::read_to_string(p).unwrap().contains("kind: Tenant")),
    );
    files
}

#[test]
fn the_published_schema_is_a_valid_2020_12_schema() {
    let Some(bin) = check_jsonschema("the_published_schema_is_a_valid_2020_12_schema") else { return };
    let o = run(&bin, &["--check-metaschema".as_ref(), schema().as_os_str()]);
    assert!(o.status.success(), "{}", output(&o));
}

#[test]
fn every_sample_spec_validates_with_a_generic_validator() {
    let Some(bin) = check_jsonschema("every_sample_spec_validates_with_a_generic_validator") else { return };
    let specs = sample_specs();
    assert!(specs.len() >= 5, "samples went missing: {specs:?}");
    for spec in &specs {
        let o = run(&bin, &["--schemafile".as_ref(), schema().as_os_str(), spec.as_os_str()]);
        assert!(o.status.success(), "{}: {}", spec.display(), output(&o));
    }
}

#[test]
fn a_wrong_enum_value_is_answered_with_the_allowed_values() {
    let Some(bin) = check_jsonschema("a_wrong_enum_value_is_answered_with_the_allowed_values") else { return };
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("  image: nginx\n  pullPolicy: Sometimes\n", ["IfNotPresent", "Always", "Never"].as_slice()),
        ("  image: nginx\n  network: {egress: Allow}\n", ["allow", "deny"].as_slice()),
        (
            "  image: nginx\n  runtimeConfig:\n    gatewayToken: {secret: T}\n    agents: [{name: a, model: {tier: sonnet, \
             temperature: 0.3}, sandbox: {mode: never}}]\n",
            ["all", "non-main", "off"].as_slice(),
        ),
    ];
    for (i, (spec, allowed)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("case{i}.yaml"));
        std::fs::write(&file, format!("apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: acme\nspec:\n{spec}"))
            .unwrap();
        let o = run(&bin, &["--schemafile".as_ref(), schema().as_os_str(), file.as_os_str()]);
        let text = output(&o);
        assert!(!o.status.success(), "a wrong enum value passed:\n{spec}\n{text}");
        assert!(!text.contains("is not valid under any of the given schemas"), "{text}");
        assert!(text.contains("is not one of"), "{text}");
        for value in *allowed {
            assert!(text.contains(&format!("'{value}'")), "{value} is not named:\n{text}");
        }
    }
}
