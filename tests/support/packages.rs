//! The packages the systemd machines install: this build's (the debug binary the tests run),
//! and an earlier commit's, built from that commit's own sources and packaging, for the upgrade
//! test. Each is made by that checkout's `scripts/package-deb.sh --profile dev --no-build`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{stderr, stdout};

/// The package of this build: the debug binary the tests run, packaged by
/// `scripts/package-deb.sh --profile dev --no-build` once per test process.
pub fn current_deb() -> PathBuf {
    static DEB: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DEB.get_or_init(|| {
        let target_dir = target_dir();
        package(super::repo_root(), target_dir, &target_dir.join("systemd-machine"), None)
    })
    .clone()
}

/// This build's package under another version, so that dpkg sees an upgrade from (or a
/// downgrade to) a package of the same Cargo.toml version.
pub fn current_deb_as(version: &str) -> PathBuf {
    let target_dir = target_dir();
    package(super::repo_root(), target_dir, &target_dir.join(format!("systemd-machine/{version}")), Some(version))
}

/// The package of an earlier commit of this repository, built from that commit's own sources
/// and packaging (its Cargo.lock, unit, maintainer scripts) under
/// `target/upgrade-from/<commit>/`, once: a later run reuses the package. Its build shares this
/// build's intermediate artifacts (`build.build-dir`), so what did not change is not compiled
/// again.
/// Panics when the commit is not in this clone's history.
pub fn earlier_deb(commit: &str) -> PathBuf {
    let root = super::repo_root();
    let work = target_dir().join("upgrade-from").join(commit);
    let deb_dir = work.join("deb");
    if let Some(deb) = std::fs::read_dir(&deb_dir).ok().and_then(|mut d| d.find_map(|e| e.ok())) {
        return deb.path();
    }
    let has = || {
        let object = format!("{commit}^{{commit}}");
        let out = Command::new("git").arg("-C").arg(root).args(["cat-file", "-e", &object]).output();
        out.is_ok_and(|o| o.status.success())
    };
    if !has() {
        // A shallow clone: ask its origin for that one commit.
        let _ = Command::new("git").arg("-C").arg(root).args(["fetch", "--quiet", "origin", commit]).output();
    }
    assert!(
        has(),
        "commit {commit} is not in this clone's history; the upgrade test builds its package from it \
         (a shallow clone? git fetch --unshallow)"
    );
    let src = work.join("src");
    let target = work.join("target");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).unwrap();
    let sh = |script: &str| {
        let out = Command::new("bash").args(["-euo", "pipefail", "-c", script]).output().expect("bash runs");
        assert!(out.status.success(), "{script}\n{}{}", stdout(&out), stderr(&out));
    };
    sh(&format!("git -C '{}' archive --format=tar {commit} | tar -x -C '{}'", root.display(), src.display()));
    let out = Command::new("cargo")
        .args(["build", "--locked", "--bin", "tenantd"])
        .current_dir(&src)
        .env("CARGO_TARGET_DIR", &target)
        // Intermediate artifacts in this build's directory: the dependencies both commits
        // share are compiled once, and cargo's lock there keeps the two builds apart.
        .env("CARGO_BUILD_BUILD_DIR", target_dir())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "building {commit}: {}", stderr(&out));
    package(&src, &target, &deb_dir, None)
}

/// The target directory of this build: where its debug binary, the one the tests run, is.
fn target_dir() -> &'static Path {
    let binary = Path::new(env!("CARGO_BIN_EXE_tenantd"));
    let profile_dir = binary.parent().unwrap();
    assert_eq!(profile_dir.file_name().unwrap(), "debug", "the tests run a debug build: {}", binary.display());
    profile_dir.parent().unwrap()
}

/// Runs `<checkout>/scripts/package-deb.sh --profile dev --no-build` on the debug binary in
/// `target_dir`; returns the package's path.
fn package(checkout: &Path, target_dir: &Path, out_dir: &Path, version: Option<&str>) -> PathBuf {
    let mut cmd = Command::new(checkout.join("scripts/package-deb.sh"));
    cmd.args(["--profile", "dev", "--no-build", "--output"]).arg(out_dir).env("CARGO_TARGET_DIR", target_dir);
    if let Some(version) = version {
        cmd.args(["--deb-version", version]);
    }
    let out = cmd.output().expect("scripts/package-deb.sh runs");
    assert!(out.status.success(), "{}/scripts/package-deb.sh: {}{}", checkout.display(), stdout(&out), stderr(&out));
    PathBuf::from(stdout(&out).trim())
}
