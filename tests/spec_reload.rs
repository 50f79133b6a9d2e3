//! A full pass of the daemon re-reads the tenants directory; files nobody touched since the last
//! read are taken over without being read or rendered again, and every change is still seen.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use tenantd::config::DaemonConfig;
use tenantd::reconcile::{Desired, PassOptions};

fn spec(name: &str, image: &str) -> String {
    format!("apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  image: {image}\n")
}

fn config(dir: &Path) -> DaemonConfig {
    let text = format!("tenants_dir = {:?}\nstate_dir = {:?}\n", dir.join("tenants.d"), dir.join("state"));
    DaemonConfig::parse(&text, &dir.join("tenantd.toml"), None).unwrap()
}

fn same(a: &Desired, b: &Desired, tenant: &str) -> bool {
    let t = tenant.parse().unwrap();
    Arc::ptr_eq(&a.tenants[&t], &b.tenants[&t])
}

#[test]
fn unchanged_files_are_taken_over_and_every_change_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.d");
    fs::create_dir_all(&tenants).unwrap();
    fs::write(tenants.join("acme.yaml"), spec("acme", "example/app:1")).unwrap();
    fs::write(tenants.join("beta.yaml"), spec("beta", "example/app:1")).unwrap();
    let cfg = config(dir.path());
    let first = Desired::load(&cfg, PassOptions::default()).unwrap();

    // Nothing touched: both taken over.
    let second = Desired::reload(&cfg, PassOptions::default(), &first).unwrap();
    assert!(same(&first, &second, "acme") && same(&first, &second, "beta"));

    // acme rewritten in place (same size), beta replaced by a rename with the same content.
    fs::write(tenants.join("acme.yaml"), spec("acme", "example/app:2")).unwrap();
    let tmp = dir.path().join("beta.tmp");
    fs::write(&tmp, spec("beta", "example/app:1")).unwrap();
    fs::rename(&tmp, tenants.join("beta.yaml")).unwrap();
    let third = Desired::reload(&cfg, PassOptions::default(), &second).unwrap();
    assert!(!same(&second, &third, "acme") && !same(&second, &third, "beta"), "both read again");
    let acme = &third.tenants[&"acme".parse().unwrap()];
    assert_eq!(acme.main().image.reference(), "example/app:2");
    assert_eq!(third.tenants[&"beta".parse().unwrap()].spec_hash, second.tenants[&"beta".parse().unwrap()].spec_hash);

    // A new file naming a tenant that is taken over: both files are refused, as on a first read.
    fs::write(tenants.join("zeta.yaml"), spec("beta", "example/app:3")).unwrap();
    let fourth = Desired::reload(&cfg, PassOptions::default(), &third).unwrap();
    assert!(!fourth.tenants.contains_key(&"beta".parse().unwrap()));
    assert_eq!(fourth.invalid_files.len(), 2, "{:?}", fourth.invalid_files);

    // A removed file is gone, not taken over.
    fs::remove_file(tenants.join("zeta.yaml")).unwrap();
    fs::remove_file(tenants.join("acme.yaml")).unwrap();
    let fifth = Desired::reload(&cfg, PassOptions::default(), &fourth).unwrap();
    let names: Vec<&str> = fifth.tenants.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["beta"]);
}

#[test]
fn a_spec_with_a_build_context_is_always_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.d");
    let context = dir.path().join("ctx");
    fs::create_dir_all(&tenants).unwrap();
    fs::create_dir_all(&context).unwrap();
    fs::write(context.join("Dockerfile"), "FROM scratch\n").unwrap();
    let text = format!(
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: built\nspec:\n  build:\n    context: {}\n",
        context.display()
    );
    fs::write(tenants.join("built.yaml"), text).unwrap();
    let cfg = config(dir.path());
    let first = Desired::load(&cfg, PassOptions::default()).unwrap();
    assert!(first.tenants.contains_key(&"built".parse().unwrap()), "{:?}", first.invalid);
    // The context changes while the spec file does not: the new image tag must be seen.
    fs::write(context.join("Dockerfile"), "FROM scratch\nLABEL v=2\n").unwrap();
    let second = Desired::reload(&cfg, PassOptions::default(), &first).unwrap();
    assert!(!same(&first, &second, "built"));
    let tag = |d: &Desired| d.tenants[&"built".parse().unwrap()].main().image.reference().to_string();
    assert_ne!(tag(&first), tag(&second));
}

#[test]
fn a_file_invalid_by_its_text_is_not_read_again_while_its_stamp_stays_the_same() {
    use tenantd::spec::{load_dir_reusing, Known, SpecError};
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.d");
    fs::create_dir_all(&tenants).unwrap();
    fs::write(
        tenants.join("bad.yaml"),
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: { name: bad }\nspec: { imagee: x }\n",
    )
    .unwrap();
    let no_context =
        "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: { name: ctx }\nspec:\n  build: { context: missing }\n";
    fs::write(tenants.join("ctx.yaml"), no_context).unwrap();
    let first = load_dir_reusing(&tenants, &|_, _| None).unwrap();
    assert_eq!(first.invalid.len(), 2, "{:?}", first.invalid);
    // Only the file whose text is invalid is remembered: a missing build context may appear.
    let known: Vec<&str> = first.invalid_texts.keys().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
    assert_eq!(known, ["bad.yaml"]);
    let remembered = first.invalid_texts.values().next().unwrap().clone();
    assert_eq!(remembered.declared.as_ref().map(|n| n.as_str()), Some("bad"));

    // Taken over as it was remembered (a marker error shows it was not read), while the stamp
    // is the same; read again once it changes.
    let marker = SpecError::Read { path: tenants.join("bad.yaml"), message: "remembered".into() };
    let mut taken = remembered.clone();
    taken.errors = vec![marker];
    let reuse = |path: &Path, stamp: &tenantd::spec::FileStamp| {
        (path.ends_with("bad.yaml") && *stamp == taken.stamp).then(|| Known::Invalid(taken.clone()))
    };
    let second = load_dir_reusing(&tenants, &reuse).unwrap();
    let bad = second.invalid.iter().find(|i| i.path.ends_with("bad.yaml")).unwrap();
    assert_eq!(bad.tenant.as_ref().map(|n| n.as_str()), Some("bad"));
    assert!(bad.errors.iter().all(|e| e.to_string().contains("remembered")), "{:?}", bad.errors);
    fs::write(tenants.join("bad.yaml"), "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: { name: bad }\nspec: [\n")
        .unwrap();
    let third = load_dir_reusing(&tenants, &reuse).unwrap();
    let bad = third.invalid.iter().find(|i| i.path.ends_with("bad.yaml")).unwrap();
    assert!(bad.errors.iter().all(|e| !e.to_string().contains("remembered")), "{:?}", bad.errors);
}
