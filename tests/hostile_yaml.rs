//! YAML shaped to hurt the loader: nesting far beyond any spec's, aliases that multiply, keys
//! given twice. `tenantd validate` refuses each at the place it goes wrong, and brackets that sit
//! inside a scalar are not nesting.

mod support;

use support::*;

/// Validates the file `name` holding `text`: (exit code, stdout and stderr, the file's path).
fn validate(text: &str) -> (Option<i32>, String, String) {
    let env = Env::without_docker();
    let path = env.path("acme.yaml");
    std::fs::write(&path, text).unwrap();
    let file = path.to_str().unwrap().to_string();
    let o = env.tenantd(&["validate", &file]);
    (o.status.code(), format!("{}{}", stdout(&o), stderr(&o)), file)
}

const HEAD: &str = "apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: acme\n";

#[test]
fn nesting_beyond_the_limit_is_refused_where_it_crosses_it_and_brackets_in_scalars_are_not_nesting() {
    // The shape that took seconds: `spec:` and 32k brackets each way (64 KiB).
    let n = 32 * 1024;
    let (code, out, file) = validate(&format!("{HEAD}spec: {}{}\n", "[".repeat(n), "]".repeat(n)));
    assert_eq!(code, Some(1), "{out}");
    // The document's mapping is the first level, so the 64th bracket is the 65th.
    assert!(out.contains(&format!("--> {file}:5:{}\n", 7 + 63)), "{out}");
    assert!(out.contains("collections nest 65 levels deep here; the limit is 64"), "{out}");
    assert!(out.contains("1 problem(s) found"), "{out}");

    let (code, out, file) = validate(&format!("{HEAD}spec: {}{}\n", "{a: ".repeat(n / 2), "}".repeat(n / 2)));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("--> {file}:5:{}\n", 7 + 63 * 4)), "{out}");
    let block: String = (1..200).map(|d| format!("{}a:\n", "  ".repeat(d))).collect();
    let (code, out, file) = validate(&format!("{HEAD}spec:\n{block}"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("--> {file}:69:129\n")), "{out}");
    let (code, out, file) = validate(&format!("{}x\n", "- ".repeat(n)));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("--> {file}:1:129\n")) && out.contains("the limit is 64"), "{out}");

    // As many brackets inside strings, a block scalar and a comment are just text.
    let brackets = "[{".repeat(n / 2);
    let text = format!(
        "{HEAD}# {brackets}\nspec:\n  image: x\n  env: {{A: \"x{brackets}\"}}\n  args:\n    - '{brackets}'\n    - x{brackets}\n    - |\n      {brackets}\n"
    );
    let (code, out, _) = validate(&text);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn aliases_that_multiply_a_large_anchor_are_refused_at_the_alias_over_the_limit() {
    let items = vec!["x"; 1000].join(", ");
    let uses = vec!["*a"; 200].join(", ");
    let text = format!(
        "{HEAD}spec:\n  image: x\n  runtimeConfig:\n    gatewayToken: {{secret: G}}\n    extensions:\n      memory:\n        enabled: true\n        config:\n          a: &a [{items}]\n          b: [{uses}]\n  secrets: {{G: {{value: x}}}}\n"
    );
    let (code, out, file) = validate(&text);
    assert_eq!(code, Some(1), "{out}");
    // 100 uses of 1001 nodes each cross 100000: the 100th.
    assert!(out.contains(&format!("--> {file}:14:{}\n", 15 + 99 * 4)), "{out}");
    assert!(
        out.contains("/spec/runtimeConfig/extensions/memory/config/b/99: with this alias, aliases repeat more than 100000 nodes in all"),
        "{out}"
    );
}

#[test]
fn a_duplicate_key_is_reported_at_its_second_occurrence_naming_the_first() {
    let (code, out, file) =
        validate(&format!("{HEAD}spec:\n  image: x\n  env:\n    B: one\n    A: two\n    B: three\n"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("--> {file}:10:5\n")), "{out}");
    assert!(out.contains("error: /spec/env/B: duplicate key \"B\": it is first given at line 8, column 5"), "{out}");
    assert!(out.contains("10 |     B: three"), "the excerpt shows the second occurrence:\n{out}");
}

#[test]
fn a_file_of_many_mistakes_reports_the_first_50_and_counts_the_rest() {
    // Thousands of unknown fields on one line: every excerpt would be the whole line.
    let fields: Vec<String> = (0..20_000).map(|i| format!("k{i}: 1")).collect();
    let (code, out, file) = validate(&format!("{HEAD}spec: {{image: x, {}}}\n", fields.join(", ")));
    assert_eq!(code, Some(1), "{}", &out[..out.len().min(2000)]);
    assert_eq!(out.matches("error: /spec/k").count(), 50, "{}", &out[..out.len().min(2000)]);
    assert!(
        out.contains(&format!(
            "error: {file}: 19950 more problem(s) in this file not shown (at most 50 are reported per file)"
        )),
        "{}",
        &out[out.len().saturating_sub(2000)..]
    );
    assert!(out.contains("51 problem(s) found"), "{}", &out[out.len().saturating_sub(500)..]);
    assert!(out.len() < 200_000, "{} bytes of output", out.len());
}
