//! How `tenantd validate` shows a bad spec: the file, line and column, the source line with a
//! caret under the offending token, a "did you mean" for misspellings, colour only at a terminal
//! without `NO_COLOR`, and never a secret's value.

mod support;

use std::process::{Command, Output};

use support::*;

const HEAD: &str = "apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: acme\nspec:\n  image: x\n";

fn write(env: &Env, name: &str, spec: &str) -> String {
    let path = env.path(name);
    std::fs::write(&path, format!("{HEAD}{spec}")).unwrap();
    path.to_str().unwrap().to_string()
}

/// The column (0-based, in characters) at which `needle` starts in the output line holding
/// `source_line`, and where the caret run starts in the line after it.
fn caret_under(out: &str, source_line: &str) -> (usize, usize, usize) {
    let lines: Vec<&str> = out.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.ends_with(&format!("| {source_line}")))
        .unwrap_or_else(|| panic!("no excerpt of {source_line:?} in:\n{out}"));
    let carets = lines[i + 1];
    let start = carets.find('^').unwrap_or_else(|| panic!("no caret under {source_line:?} in:\n{out}"));
    let len = carets[start..].chars().take_while(|c| *c == '^').count();
    let text_start = lines[i].len() - source_line.len();
    (text_start, start, len)
}

#[test]
fn a_misspelt_field_is_shown_in_its_line_with_a_caret_and_a_suggestion() {
    let env = Env::without_docker();
    let file = write(&env, "acme.yaml", "  resources:\n    memroy: 1Gi\n  pullPolicy: always\n");
    let o = env.tenantd(&["validate", &file]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);

    assert!(out.contains(&format!("--> {file}:8:5\n")), "{out}");
    assert!(out.contains(r#"unknown field "memroy" (did you mean "memory"?)"#), "{out}");
    let (text, caret, len) = caret_under(&out, "    memroy: 1Gi");
    assert_eq!((caret, len), (text + 4, "memroy".len()), "the caret is under the key:\n{out}");

    assert!(out.contains(&format!("--> {file}:9:15\n")), "{out}");
    assert!(out.contains(r#""always" is not one of: IfNotPresent, Always, Never (did you mean "Always"?)"#), "{out}");
    let (text, caret, len) = caret_under(&out, "  pullPolicy: always");
    assert_eq!((caret, len), (text + 14, "always".len()), "the caret is under the value:\n{out}");

    assert!(!out.contains('\u{1b}'), "no colour when stdout is not a terminal:\n{out}");
}

#[test]
fn a_syntax_error_is_shown_where_it_is() {
    let env = Env::without_docker();
    let file = write(&env, "acme.yaml", "  env: {A: b\n");
    let o = env.tenantd(&["validate", &file]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("error: YAML syntax error:"), "{out}");
    assert!(out.contains(&format!("--> {file}:")), "{out}");
    assert!(out.contains(" | "), "an excerpt is shown:\n{out}");
}

#[test]
fn plaintext_put_under_secrets_is_never_echoed() {
    let env = Env::without_docker();
    let file = write(
        &env,
        "acme.yaml",
        "  secrets:\n    apiKey: sk-live-PLAINTEXT-1\n    third:\n      valeu: sk-live-PLAINTEXT-3\n    fourth: {value: 31415926535}\n",
    );
    // Past the schema, the typed rules check that a value is age armor.
    let armor = write(&env, "armor.yaml", "  secrets:\n    other:\n      value: sk-live-PLAINTEXT-2\n");
    let o = env.tenantd(&["validate", &file, &armor]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    for secret in ["PLAINTEXT", "31415926535"] {
        assert!(!all.contains(secret), "{secret} was echoed:\n{all}");
    }
    assert!(all.contains("    apiKey: (redacted)"), "{all}");
    assert!(all.contains("expected a string, found a number"), "{all}");
    assert!(all.contains(r#"unknown field "valeu" (did you mean "value"?)"#), "{all}");
    assert!(all.contains("a secret value must be age ciphertext"), "{all}");
    assert!(all.contains("      value: (redacted)"), "{all}");
}

/// Runs `tenantd validate FILE` with a pseudo-terminal as its stdout (util-linux's `script`).
fn validate_at_a_terminal(env: &Env, file: &str, vars: &[(&str, &str)]) -> Output {
    let config = env.path("tenantd.toml");
    let command =
        format!("'{}' --config '{}' validate '{file}'", env!("CARGO_BIN_EXE_tenantd"), config.to_str().unwrap());
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"]).env_remove("NO_COLOR").env("TERM", "xterm");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("script (util-linux) runs")
}

#[test]
fn colour_only_at_a_terminal_and_never_with_no_color() {
    let env = Env::without_docker();
    let file = write(&env, "acme.yaml", "  resources:\n    memroy: 1Gi\n");
    let tty = validate_at_a_terminal(&env, &file, &[]);
    let out = stdout(&tty);
    assert!(out.contains("memroy") && out.contains('\u{1b}'), "a terminal gets colour:\n{out:?}");

    let plain = validate_at_a_terminal(&env, &file, &[("NO_COLOR", "1")]);
    let out = stdout(&plain);
    assert!(out.contains("memroy") && !out.contains('\u{1b}'), "NO_COLOR turns colour off:\n{out:?}");
}

#[test]
fn explain_documents_a_field_and_refuses_an_unknown_one() {
    let env = Env::without_docker();
    let o = env.tenantd(&["explain", "sidecars.health.retries"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("FIELD:    spec.sidecars.health.retries <integer>\n"), "{out}");
    assert!(out.contains("DEFAULT:  3\n") && out.contains("LIMITS:   at least 1, at most 100\n"), "{out}");

    let o = env.tenantd(&["explain", "resources.memroy"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    assert!(err.contains(r#"`spec.resources` has no field "memroy" (did you mean "memory"?)"#), "{err}");
}
