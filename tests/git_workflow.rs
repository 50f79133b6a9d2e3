//! The git workflow examples (`examples/git/`): the pre-commit hook validates what is staged,
//! not what is in the working tree; `ci-plan.sh` turns `tenantd plan --detailed-exitcode
//! --output json` into a CI step's result, against the real engine.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::*;

/// A spec that needs no engine to validate, with a build context relative to the spec.
const VALID: &str = "apiVersion: tenantd/v1
kind: Tenant
metadata: { name: acme }
spec:
  build: { context: ../runtime }
  resources: { memory: 64Mi, cpus: 0.25, pids: 64 }
";

fn git(repo: &Path, args: &[&str]) -> Output {
    // The PATH with tenantd's directory first: the hook's default is `tenantd` from PATH.
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_tenantd")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("git")
        .current_dir(repo)
        .args(args)
        .env("PATH", path)
        // Nothing of the caller's git identity or config.
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "tenantd tests")
        .env("GIT_AUTHOR_EMAIL", "tests@tenantd.invalid")
        .env("GIT_COMMITTER_NAME", "tenantd tests")
        .env("GIT_COMMITTER_EMAIL", "tests@tenantd.invalid")
        .output()
        .expect("git runs")
}

fn git_ok(repo: &Path, args: &[&str]) -> String {
    let o = git(repo, args);
    assert!(o.status.success(), "git {args:?}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// A temp repository with the hook installed as the example's README says.
fn repo_with_hook(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join(".githooks")).unwrap();
    git_ok(&repo, &["init", "-q"]);
    std::fs::copy(repo_root().join("examples/git/pre-commit"), repo.join(".githooks/pre-commit")).unwrap();
    git_ok(&repo, &["config", "core.hooksPath", ".githooks"]);
    std::fs::create_dir_all(repo.join("tenants.d")).unwrap();
    std::fs::create_dir_all(repo.join("runtime")).unwrap();
    std::fs::write(repo.join("runtime/Dockerfile"), "FROM scratch\n").unwrap();
    repo
}

#[test]
fn the_pre_commit_hook_checks_the_staged_specs() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with_hook(dir.path());
    let spec = repo.join("tenants.d/acme.yaml");

    // A valid spec (its build context resolved in the staged tree) commits.
    std::fs::write(&spec, VALID).unwrap();
    git_ok(&repo, &["add", "-A"]);
    git_ok(&repo, &["commit", "-q", "-m", "acme"]);
    let head = git_ok(&repo, &["rev-parse", "HEAD"]);

    // A misspelt field staged, then fixed in the working tree only: the staged copy is what
    // would be committed, so the commit is refused with tenantd's error at the repo path.
    std::fs::write(&spec, VALID.replace("memory:", "memroy:")).unwrap();
    git_ok(&repo, &["add", "tenants.d/acme.yaml"]);
    std::fs::write(&spec, VALID).unwrap();
    let o = git(&repo, &["commit", "-q", "-m", "typo"]);
    assert!(!o.status.success(), "the commit must be refused: {}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("/spec/resources/memroy: unknown field"), "{err}");
    assert!(err.contains("--> tenants.d/acme.yaml:6:16"), "{err}");
    assert!(!err.contains("tenantd-pre-commit."), "errors name the repo path, not the exported copy: {err}");
    assert!(err.contains("git add them again"), "{err}");
    assert_eq!(git_ok(&repo, &["rev-parse", "HEAD"]), head, "nothing was committed");

    // A changed spec whose staged build context is gone is refused too, though the working
    // tree still has the context.
    std::fs::write(&spec, VALID.replace("name: acme }", "name: acme, labels: { plan: pro } }")).unwrap();
    git_ok(&repo, &["add", "tenants.d/acme.yaml"]);
    git_ok(&repo, &["rm", "-q", "--cached", "runtime/Dockerfile"]);
    let o = git(&repo, &["commit", "-q", "-m", "no dockerfile"]);
    assert!(!o.status.success(), "the commit must be refused: {}", stderr(&o));
    assert!(stderr(&o).contains("tenants.d/acme.yaml:5:"), "{}", stderr(&o));
    git_ok(&repo, &["add", "runtime/Dockerfile"]);

    // Fixed and staged: the commit goes through. Other files and deletions need no tenantd.
    git_ok(&repo, &["add", "-A"]);
    std::fs::write(repo.join("README"), "tenants\n").unwrap();
    git_ok(&repo, &["add", "-A"]);
    git_ok(&repo, &["commit", "-q", "-m", "readme"]);

    // A new spec naming a tenant an unchanged staged spec names: both would be rejected by the
    // daemon, so the commit is refused, naming both files.
    std::fs::write(repo.join("tenants.d/acme-copy.yaml"), VALID).unwrap();
    git_ok(&repo, &["add", "tenants.d/acme-copy.yaml"]);
    let o = git(&repo, &["commit", "-q", "-m", "a copy"]);
    assert!(!o.status.success(), "the commit must be refused: {}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("tenants.d/acme-copy.yaml: tenant \"acme\" is also defined in tenants.d/acme.yaml"), "{err}");
    git_ok(&repo, &["rm", "-q", "--cached", "tenants.d/acme-copy.yaml"]);
    std::fs::remove_file(repo.join("tenants.d/acme-copy.yaml")).unwrap();

    git_ok(&repo, &["rm", "-q", "tenants.d/acme.yaml"]);
    git_ok(&repo, &["commit", "-q", "-m", "acme removed"]);
    assert_eq!(git_ok(&repo, &["rev-list", "--count", "HEAD"]).trim(), "3");
}

/// Runs examples/git/ci-plan.sh in `dir` with the environment's config.
fn ci_plan(env: &Env, dir: &Path, fail_on_changes: bool) -> Output {
    Command::new(repo_root().join("examples/git/ci-plan.sh"))
        .current_dir(dir)
        .env("TENANTD_BIN", env!("CARGO_BIN_EXE_tenantd"))
        .env("TENANTD_CONFIG", &env.config)
        .env("FAIL_ON_CHANGES", if fail_on_changes { "1" } else { "0" })
        .env("GITHUB_OUTPUT", dir.join("github-output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env_remove("CONTAINER_RUNTIME")
        .env_remove("PLAN_JSON")
        .env_remove("PLAN_TEXT")
        .output()
        .expect("ci-plan.sh runs")
}

/// ci-plan.sh with a tenantd that refuses its command line (a flag it does not know, as an
/// older tenantd would): an error, not "changes pending".
#[test]
fn ci_plan_fails_when_tenantd_refuses_its_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let shim = dir.path().join("tenantd");
    let script = format!("#!/bin/sh\nexec '{}' \"$@\" --no-such-flag\n", env!("CARGO_BIN_EXE_tenantd"));
    std::fs::write(&shim, script).unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new(repo_root().join("examples/git/ci-plan.sh"))
        .current_dir(dir.path())
        .env("TENANTD_BIN", &shim)
        .env("GITHUB_OUTPUT", dir.path().join("github-output"))
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("ci-plan.sh runs");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("unexpected argument '--no-such-flag'"), "{log}");
    assert!(!log.contains("changes pending"), "{log}");
    let outputs = std::fs::read_to_string(dir.path().join("github-output")).unwrap_or_default();
    assert!(!outputs.contains("changes=true"), "{outputs}");
}

fn plan_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("plan.json")).expect("plan.json written");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("plan.json is JSON ({e}): {text}"))
}

#[test]
fn ci_plan_reports_pending_changes_then_none_after_apply_and_fails_on_errors() {
    let Some(env) = Env::new("ci_plan_reports_pending_changes_then_none_after_apply_and_fails_on_errors") else {
        return;
    };
    let run = |n: &str| {
        let d = env.path(n);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));

    // A new tenant: changes pending, exit 0 for review; 2 for a drift check.
    let d = run("new");
    let o = ci_plan(&env, &d, false);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("tenantd plan: changes pending"), "{}", stdout(&o));
    let plan = plan_json(&d);
    assert_eq!(plan["summary"]["create"], 1, "{plan:#}");
    assert_eq!(plan["tenants"][0]["tenant"], "acme");
    assert_eq!(plan["tenants"][0]["change"], "create");
    let text = std::fs::read_to_string(d.join("plan.txt")).unwrap();
    assert!(text.contains("acme"), "the human plan is kept for the review: {text}");
    assert!(stdout(&o).contains(&text), "and printed in the job log");
    assert_eq!(std::fs::read_to_string(d.join("github-output")).unwrap(), "changes=true\n");
    let summary = std::fs::read_to_string(d.join("summary.md")).unwrap();
    assert!(summary.starts_with("### tenantd plan: changes pending") && summary.contains(&text), "{summary}");
    let d = run("drift");
    assert_eq!(ci_plan(&env, &d, true).status.code(), Some(2), "FAIL_ON_CHANGES=1 turns changes into exit 2");
    assert!(env.container_id("acme").is_none(), "planning changes nothing");

    // Applied: no changes, whatever FAIL_ON_CHANGES says.
    env.apply_ok();
    let d = run("applied");
    let o = ci_plan(&env, &d, true);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("tenantd plan: no changes"), "{}", stdout(&o));
    let plan = plan_json(&d);
    assert_eq!(plan["summary"]["noChange"], 1, "{plan:#}");
    assert_eq!(plan["summary"]["create"], 0, "{plan:#}");
    assert_eq!(std::fs::read_to_string(d.join("github-output")).unwrap(), "changes=false\n");

    // An invalid spec: the job fails, with tenantd's error in its log.
    env.spec("acme.yaml", &stub_spec("acme", "  imagee: typo\n"));
    let d = run("invalid");
    let o = ci_plan(&env, &d, false);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("tenantd plan: error"), "{}", stdout(&o));
    let log = format!("{}{}", stdout(&o), stderr(&o));
    assert!(log.contains("/spec/imagee"), "{log}");
}
