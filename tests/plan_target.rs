//! `tenantd plan --target`: only the targeted tenants are observed and shown.

mod support;

use serde_json::Value;
use support::*;

fn planned(out: &std::process::Output) -> Vec<(String, String)> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)));
    v["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tenant"].as_str().unwrap().to_string(), t["change"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn only_the_targets_are_planned_and_an_unknown_target_fails() {
    let Some(env) = Env::new("only_the_targets_are_planned_and_an_unknown_target_fails") else {
        return;
    };
    env.spec("acme.yaml", &stub_spec("acme", ""));
    env.spec("beta.yaml", &stub_spec("beta", ""));
    env.apply_ok();
    env.spec("beta.yaml", &stub_spec("beta", "").replace("memory: 64Mi", "memory: 96Mi"));

    // acme has no change; beta's does not show when only acme is targeted.
    let acme = env.tenantd(&["plan", "--target", "acme", "--detailed-exitcode"]);
    assert_eq!(acme.status.code(), Some(0), "{}{}", stdout(&acme), stderr(&acme));
    assert!(stdout(&acme).contains("= acme: no change") && !stdout(&acme).contains("beta"), "{}", stdout(&acme));
    let beta = env.tenantd(&["plan", "--target", "beta", "--detailed-exitcode"]);
    assert_eq!(beta.status.code(), Some(2), "{}{}", stdout(&beta), stderr(&beta));
    assert!(stdout(&beta).contains("~ beta: update in place") && !stdout(&beta).contains("acme"), "{}", stdout(&beta));
    let both = env.tenantd(&["plan", "--target", "beta", "--target", "acme", "--output", "json"]);
    assert_eq!(planned(&both), [("acme".into(), "noChange".into()), ("beta".into(), "updateInPlace".into())]);

    // A tenant with objects on the engine but no spec is a valid target: it would be deleted.
    env.remove_spec("beta.yaml");
    let gone = env.tenantd(&["plan", "--target", "beta", "--output", "json"]);
    assert_eq!(planned(&gone), [("beta".into(), "delete".into())], "{}", stderr(&gone));

    let typo = env.tenantd(&["plan", "--target", "acmee"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(
        stderr(&typo).contains("no tenant \"acmee\"") && stderr(&typo).contains("did you mean \"acme\""),
        "{}",
        stderr(&typo)
    );
    assert!(stdout(&typo).is_empty(), "nothing is planned when a target is unknown: {}", stdout(&typo));
    let invalid = env.tenantd(&["plan", "--target", "Not_A_Name"]);
    assert_eq!(invalid.status.code(), Some(1));
    assert!(stderr(&invalid).contains("is not a tenant name"), "{}", stderr(&invalid));
}
