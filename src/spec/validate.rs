//! Checking the JSON view of a spec against the published schema, and saying what is wrong in
//! words a human can act on (field names, expected forms), not in raw schema keywords.

use std::path::Path;
use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError, Validator};
use serde_json::Value as Json;

use super::error::MAX_ERRORS_PER_FILE;
use super::names::{BYTE_SIZE_PATTERN, DNS_LABEL_PATTERN, DURATION_PATTERN};
use super::position::{escape_segment, PositionIndex};
use super::schema::PUBLISHED;
use super::types::{ENV_NAME_PATTERN, USER_PATTERN};
use super::SpecError;
use crate::suggest::closest;

static SCHEMA: LazyLock<Json> =
    LazyLock::new(|| serde_json::from_str(PUBLISHED).expect("the published schema is JSON"));

static VALIDATOR: LazyLock<Validator> =
    LazyLock::new(|| jsonschema::validator_for(&SCHEMA).expect("the published schema is a valid JSON Schema"));

/// One thing wrong with a spec, located by JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub pointer: String,
    /// Point at the key of the entry (an unknown or misspelt field) rather than at its value.
    pub at_key: bool,
    pub message: String,
}

impl Violation {
    pub fn at(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), at_key: false, message: message.into() }
    }

    fn at_key(pointer: String, message: String) -> Self {
        Self { pointer, at_key: true, message }
    }

    /// The violation as an error in `path`, placed by `index`.
    pub fn into_error(self, path: &Path, index: &PositionIndex) -> SpecError {
        let at = if self.at_key { index.key(&self.pointer) } else { index.value(&self.pointer) };
        SpecError::Invalid {
            path: path.to_path_buf(),
            line: at.line,
            column: at.column,
            pointer: self.pointer,
            message: self.message,
        }
    }
}

/// Every way `instance` violates the published schema (empty when it is valid).
pub fn schema_violations(instance: &Json) -> Vec<Violation> {
    let errors: Vec<ValidationError<'_>> = VALIDATOR.iter_errors(instance).collect();
    // A name that breaks the DNS-label pattern by its length also breaks min/maxLength: the
    // pattern's message already says the allowed length.
    let patterned: Vec<&str> = errors
        .iter()
        .filter(|e| matches!(e.kind(), ValidationErrorKind::Pattern { .. }))
        .map(|e| e.instance_path().as_str())
        .collect();
    let mut out = Vec::new();
    for e in &errors {
        let length = matches!(e.kind(), ValidationErrorKind::MinLength { .. } | ValidationErrorKind::MaxLength { .. });
        if !(length && patterned.contains(&e.instance_path().as_str())) {
            describe(e, &mut out);
        }
    }
    out.dedup();
    out
}

fn describe(e: &ValidationError<'_>, out: &mut Vec<Violation>) {
    let pointer = e.instance_path().as_str().to_string();
    let schema_path = e.schema_path().as_str();
    let value = shown_value(e, &pointer);
    let value = value.as_ref();
    let message = match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let known = known_fields(schema_path);
            // Keys come in the order of the file, and a file shows its first errors only: the
            // ones after those are counted, not described (a suggestion for each of a hundred
            // thousand keys would cost seconds).
            for (i, key) in unexpected.iter().enumerate() {
                let message =
                    if i < MAX_ERRORS_PER_FILE { unknown_field(key, &known) } else { "unknown field".to_string() };
                out.push(Violation::at_key(format!("{pointer}/{}", escape_segment(key)), message));
            }
            return;
        }
        ValidationErrorKind::Required { property } => {
            format!("missing required field {}", show(property))
        }
        ValidationErrorKind::Type { kind } => {
            let expected: Vec<&str> = match kind {
                TypeKind::Single(t) => vec![type_words(*t)],
                TypeKind::Multiple(set) => set.iter().map(type_words).collect(),
            };
            format!("expected {}, found {}", expected.join(" or "), found(value))
        }
        ValidationErrorKind::Pattern { pattern } => pattern_message(value, pattern, schema_path),
        ValidationErrorKind::PropertyNames { error } => {
            let key = error.instance().as_str().unwrap_or_default().to_string();
            let message = match error.kind() {
                ValidationErrorKind::Pattern { pattern } => {
                    pattern_message(error.instance(), pattern, error.schema_path().as_str())
                }
                _ => format!("invalid key {}: {error}", show(error.instance())),
            };
            out.push(Violation::at_key(format!("{pointer}/{}", escape_segment(&key)), message));
            return;
        }
        ValidationErrorKind::Enum { options } => match options.as_array().map(Vec::as_slice) {
            Some([only]) => format!("{} is not supported; expected {}", show(value), show(only)),
            Some(all) => {
                // The allowed words as they are written in YAML, unquoted.
                let list = all.iter().map(|o| o.as_str().map_or_else(|| show(o), str::to_string)).collect::<Vec<_>>();
                format!("{} is not one of: {}{}", show(value), list.join(", "), suggestion(value, all))
            }
            None => format!("{} is not one of: {}", show(value), show(options)),
        },
        ValidationErrorKind::Constant { expected_value } => {
            format!("expected {}, found {}", show(expected_value), show(value))
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            return alternatives(e, context, out);
        }
        ValidationErrorKind::OneOfMultipleValid { .. } if is_image_or_build(schema_path) => {
            "give either image or build, not both".to_string()
        }
        ValidationErrorKind::MinLength { limit: 1 } => {
            format!("expected a non-empty string, found {}", show(value))
        }
        ValidationErrorKind::MinLength { limit } => {
            format!("{} is shorter than {limit} characters", show(value))
        }
        ValidationErrorKind::MaxLength { limit } => {
            format!("{} is longer than {limit} characters", show(value))
        }
        ValidationErrorKind::Minimum { limit } => {
            format!("{} is less than the minimum of {limit}", show(value))
        }
        ValidationErrorKind::Maximum { limit } => {
            format!("{} is more than the maximum of {limit}", show(value))
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            format!("{} must be more than {limit}", show(value))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            format!("{} must be less than {limit}", show(value))
        }
        ValidationErrorKind::MinItems { limit } => {
            format!("expected at least {limit} item(s), found {}", item_count(value))
        }
        ValidationErrorKind::MaxItems { limit } => {
            format!("expected at most {limit} items, found {}", item_count(value))
        }
        // jsonschema's own message quotes the value.
        _ if is_sensitive(&pointer) => format!("{} is not valid here", found(value)),
        _ => e.to_string(),
    };
    out.push(Violation::at(pointer, message));
}

/// A failed `oneOf`/`anyOf`: say which alternative was meant instead of "matches none".
fn alternatives(e: &ValidationError<'_>, branches: &[Vec<ValidationError<'static>>], out: &mut Vec<Violation>) {
    let pointer = e.instance_path().as_str().to_string();
    let value = shown_value(e, &pointer);
    let value = value.as_ref();
    if is_image_or_build(e.schema_path().as_str()) {
        // With either field given but of the wrong type, that field's own error says it all.
        if ["image", "build"].iter().any(|k| value.get(k).is_some_and(|v| !v.is_null())) {
            return;
        }
        out.push(Violation::at(
            pointer,
            "one of image or build is required: image names an image to run, build a directory to build one from",
        ));
        return;
    }
    // `Option<T>` is `anyOf [T, null]`: when the value is not null, what is wrong is in `T`.
    let only_type_errors =
        |b: &Vec<ValidationError<'static>>| b.iter().all(|x| matches!(x.kind(), ValidationErrorKind::Type { .. }));
    let mut meant = branches.iter().filter(|b| !only_type_errors(b));
    match (meant.next(), meant.next()) {
        (Some(branch), None) => branch.iter().for_each(|x| describe(x, out)),
        (None, _) => {
            let expected: Vec<&str> = branches
                .iter()
                .flatten()
                .filter_map(|x| match x.kind() {
                    ValidationErrorKind::Type { kind: TypeKind::Single(t) } => Some(type_words(*t)),
                    _ => None,
                })
                .collect();
            out.push(Violation::at(pointer, format!("expected {}, found {}", expected.join(" or "), found(value))));
        }
        (Some(_), Some(_)) => {
            out.push(Violation::at(pointer, format!("{} matches none of the allowed forms: {e}", found(value))))
        }
    }
}

/// The `oneOf` that asks for exactly one of `image` and `build` (on the spec and on sidecars).
fn is_image_or_build(schema_path: &str) -> bool {
    let parent = schema_path.strip_suffix("/oneOf").unwrap_or("");
    SCHEMA
        .pointer(parent)
        .and_then(|s| s.get("properties"))
        .is_some_and(|p| p.get("image").is_some() && p.get("build").is_some())
}

/// The fields the object schema owning the keyword at `schema_path` knows, in schema order.
fn known_fields(schema_path: &str) -> Vec<String> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    SCHEMA
        .pointer(parent)
        .and_then(|s| s.get("properties"))
        .and_then(Json::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn unknown_field(key: &str, known: &[String]) -> String {
    let mut message = format!("unknown field {}", show(&Json::String(key.to_string())));
    if let Some(guess) = closest(key, known) {
        message.push_str(&format!(" (did you mean \"{guess}\"?)"));
    }
    if known.is_empty() {
        message.push_str("; this mapping takes no fields");
    } else {
        message.push_str(&format!("; expected one of: {}", known.join(", ")));
    }
    message
}

/// ` (did you mean "X"?)` when one of `options` (strings) is close to the string `value`.
fn suggestion<'a>(value: &Json, options: impl IntoIterator<Item = &'a Json>) -> String {
    let names: Vec<&str> = options.into_iter().filter_map(Json::as_str).collect();
    match value.as_str().and_then(|v| closest(v, &names)) {
        Some(guess) => format!(" (did you mean \"{guess}\"?)"),
        None => String::new(),
    }
}

/// Stands for a value that must not appear in an error: anything in a credential field may be
/// plaintext a user put there by mistake. [`show`] prints it as `(sensitive)`.
const SENSITIVE: &str = "\u{0}(sensitive)";
/// [`SENSITIVE`] for a number, so a type error still names the type found.
const SENSITIVE_NUMBER: &str = "\u{0}(sensitive number)";

/// Whether the value at `pointer` is (inside) a credential field: one the published schema marks
/// `writeOnly` (`spec.secrets`, and every secret reference such as `runtimeConfig.gatewayToken`
/// or a channel's `botToken`). The schema is the one list of them.
pub(crate) fn is_sensitive(pointer: &str) -> bool {
    let mut schema = Some(&*SCHEMA);
    for segment in std::iter::once(None).chain(pointer.split('/').skip(1).map(Some)) {
        if let Some(segment) = segment {
            let key = segment.replace("~1", "/").replace("~0", "~");
            schema = schema.and_then(|s| child_schema(s, &key));
        }
        match schema {
            None => return false,
            Some(s) if write_only(s) => return true,
            Some(_) => {}
        }
    }
    false
}

/// The names of the fields the schema marks `writeOnly`, wherever they are: a line of YAML that
/// mentions none of them holds no credential.
pub(crate) fn sensitive_field_names() -> &'static [String] {
    static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        fn walk(v: &Json, out: &mut Vec<String>) {
            match v {
                Json::Object(map) => {
                    if let Some(Json::Object(properties)) = map.get("properties") {
                        for (name, field) in properties {
                            if write_only(field) && !out.contains(name) {
                                out.push(name.clone());
                            }
                        }
                    }
                    map.values().for_each(|child| walk(child, out));
                }
                Json::Array(items) => items.iter().for_each(|child| walk(child, out)),
                _ => {}
            }
        }
        let mut names = Vec::new();
        walk(&SCHEMA, &mut names);
        names
    });
    &NAMES
}

/// `schema` with its `$ref` followed (within the published schema).
fn resolved(schema: &Json) -> &Json {
    match schema.get("$ref").and_then(Json::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(target) => SCHEMA.pointer(target).unwrap_or(schema),
        None => schema,
    }
}

fn write_only(schema: &Json) -> bool {
    let marked = |s: &Json| s.get("writeOnly").and_then(Json::as_bool) == Some(true);
    marked(schema) || marked(resolved(schema))
}

/// The schema of the value under `key` (a property, a map entry or a list item) of a value of
/// `schema`, trying each branch of an `anyOf`/`oneOf`.
fn child_schema<'a>(schema: &'a Json, key: &str) -> Option<&'a Json> {
    let s = resolved(schema);
    let direct = s
        .get("properties")
        .and_then(|p| p.get(key))
        .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
        .or_else(|| s.get("items").filter(|_| key.parse::<usize>().is_ok()));
    direct.or_else(|| {
        ["anyOf", "oneOf", "allOf"]
            .iter()
            .filter_map(|k| s.get(*k).and_then(Json::as_array))
            .flatten()
            .find_map(|branch| child_schema(branch, key))
    })
}

/// `value` with every string and number inside replaced by [`SENSITIVE`], keeping its shape (so
/// "expected a mapping, found a string" still reads right).
/// The offending value as a message may show it: under `secrets`, only its kind.
fn shown_value<'a>(e: &'a ValidationError<'_>, pointer: &str) -> std::borrow::Cow<'a, Json> {
    if is_sensitive(pointer) {
        std::borrow::Cow::Owned(redacted(e.instance()))
    } else {
        std::borrow::Cow::Borrowed(e.instance().as_ref())
    }
}

fn redacted(value: &Json) -> Json {
    match value {
        Json::String(_) => Json::String(SENSITIVE.to_string()),
        Json::Number(_) => Json::String(SENSITIVE_NUMBER.to_string()),
        Json::Array(items) => Json::Array(items.iter().map(redacted).collect()),
        Json::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), redacted(v))).collect()),
        other => other.clone(),
    }
}

const LABEL_KEY_PATTERN: &str = "^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$";
const MOUNT_PATH_PATTERN: &str = r"^/[A-Za-z0-9._/-]*$";
const HTTP_PATH_PATTERN: &str = r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*$";

/// Says in words what a pattern in the schema expects. `schema_path` tells which kind of name a
/// DNS label is.
fn pattern_message(value: &Json, pattern: &str, schema_path: &str) -> String {
    let v = show(value);
    match pattern {
        DNS_LABEL_PATTERN => {
            let what = ["TenantName", "SidecarName", "VolumeName"]
                .iter()
                .zip(["tenant name", "sidecar name", "volume name"])
                .find(|(def, _)| schema_path.contains(&format!("/$defs/{def}/")))
                .map_or("name", |(_, what)| what);
            format!("{v} does not match the {what} pattern (a DNS label: lowercase letters, digits and '-', 1 to 63 characters, starting and ending with a letter or digit)")
        }
        LABEL_KEY_PATTERN => format!("{v} does not match the label key pattern (lowercase letters, digits, '.', '_' and '-', 1 to 63 characters, starting and ending with a letter or digit)"),
        ENV_NAME_PATTERN => format!("{v} does not match the environment variable name pattern (letters, digits and '_', not starting with a digit, at most 128 characters)"),
        USER_PATTERN => format!("{v} does not match the user pattern (a uid or uid:gid, numbers from 1: containers never run as root)"),
        BYTE_SIZE_PATTERN => format!("{v} does not match the size pattern (a number with an optional unit Ki, Mi, Gi, Ti, K, M, G or T, e.g. 512Mi)"),
        DURATION_PATTERN => format!("{v} does not match the duration pattern (a whole number with a unit ms, s, m or h, e.g. 30s)"),
        MOUNT_PATH_PATTERN => format!("{v} does not match the mount path pattern (an absolute path of letters, digits, '.', '_', '-' and '/')"),
        HTTP_PATH_PATTERN => format!("{v} does not match the HTTP path pattern (a path starting with '/', e.g. /health)"),
        _ => format!("{v} does not match the pattern {pattern}"),
    }
}

fn type_words(t: JsonType) -> &'static str {
    match t {
        JsonType::Null => "null",
        JsonType::Boolean => "true or false",
        JsonType::Integer => "a whole number",
        JsonType::Number => "a number",
        JsonType::String => "a string",
        JsonType::Array => "a list",
        JsonType::Object => "a mapping",
    }
}

/// A value as the message shows it: scalars quoted JSON-style (so NUL and other control
/// characters are visible), long strings cut, collections by kind.
fn show(v: &Json) -> String {
    match v {
        Json::String(s) if s == SENSITIVE || s == SENSITIVE_NUMBER => "(sensitive)".to_string(),
        Json::String(s) if s.chars().count() > 70 => {
            let cut: String = s.chars().take(60).collect();
            format!(
                "{}… ({} characters)",
                serde_json::to_string(&cut).unwrap_or_default().trim_end_matches('"'),
                s.chars().count()
            )
        }
        Json::Array(_) => "a list".to_string(),
        Json::Object(_) => "a mapping".to_string(),
        v => v.to_string(),
    }
}

fn found(v: &Json) -> String {
    match v {
        Json::Null => "null (an empty value)".to_string(),
        Json::Bool(b) => format!("{b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(s) if s == SENSITIVE => "a string".to_string(),
        Json::String(s) if s == SENSITIVE_NUMBER => "a number".to_string(),
        Json::String(_) => format!("the string {}", show(v)),
        Json::Array(_) => "a list".to_string(),
        Json::Object(_) => "a mapping".to_string(),
    }
}

fn item_count(v: &Json) -> usize {
    v.as_array().map_or(0, Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Json {
        json!({"apiVersion": "tenantd/v1", "kind": "Tenant", "metadata": {"name": "acme"}, "spec": {"image": "nginx"}})
    }

    fn with(pointer: &str, value: Json) -> Json {
        let mut doc = valid();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        doc.pointer_mut(parent).unwrap().as_object_mut().unwrap().insert(key.to_string(), value);
        doc
    }

    fn one(doc: &Json) -> Violation {
        let mut v = schema_violations(doc);
        assert_eq!(v.len(), 1, "{v:#?}");
        v.remove(0)
    }

    #[test]
    fn the_published_schema_compiles_and_accepts_a_minimal_spec() {
        assert_eq!(schema_violations(&valid()), []);
    }

    #[test]
    fn unknown_fields_point_at_the_key_and_list_the_known_ones() {
        let v = one(&with("/spec/imagee", json!("x")));
        assert_eq!((v.pointer.as_str(), v.at_key), ("/spec/imagee", true));
        assert!(
            v.message.starts_with(
                r#"unknown field "imagee" (did you mean "image"?); expected one of: image, build, pullPolicy"#
            ),
            "{}",
            v.message
        );
        // A misspelt required field is two problems: the unknown key and the missing field.
        let doc = with("/spec/volumes", json!([{"name": "d", "mount_path": "/d"}]));
        let v = schema_violations(&doc);
        let got: Vec<(&str, bool)> = v.iter().map(|v| (v.pointer.as_str(), v.at_key)).collect();
        assert_eq!(got, [("/spec/volumes/0", false), ("/spec/volumes/0/mount_path", true)], "{v:#?}");
        assert_eq!(v[0].message, r#"missing required field "mountPath""#);
        assert!(
            v[1].message.contains(r#"(did you mean "mountPath"?); expected one of: name, mountPath, readOnly"#),
            "{}",
            v[1].message
        );
    }

    #[test]
    fn names_say_what_a_dns_label_is() {
        let v = one(&with("/metadata/name", json!("Acme")));
        assert_eq!(v.pointer, "/metadata/name");
        assert!(
            v.message.starts_with(r#""Acme" does not match the tenant name pattern (a DNS label:"#),
            "{}",
            v.message
        );
        let v = one(&with("/metadata/name", json!("a".repeat(64))));
        assert!(v.message.contains("tenant name pattern"), "{}", v.message);
    }

    #[test]
    fn image_and_build_are_exclusive_and_one_is_required() {
        let mut both = valid();
        both["spec"]["build"] = json!({"context": "."});
        assert_eq!(one(&both).message, "give either image or build, not both");
        let mut neither = valid();
        neither["spec"] = json!({});
        assert!(one(&neither).message.starts_with("one of image or build is required"));
        // A null image is no image: the build alone is fine, the null alone is not.
        let mut null_and_build = valid();
        null_and_build["spec"] = json!({"image": null, "build": {"context": "."}});
        assert_eq!(schema_violations(&null_and_build), []);
        let mut null_only = valid();
        null_only["spec"] = json!({"image": null});
        assert!(one(&null_only).message.starts_with("one of image or build is required"));
    }

    #[test]
    fn enums_types_and_nested_options_read_plainly() {
        assert_eq!(
            one(&with("/apiVersion", json!("tenantd/v2"))).message,
            r#""tenantd/v2" is not supported; expected "tenantd/v1""#
        );
        assert_eq!(
            one(&with("/spec/pullPolicy", json!("Sometimes"))).message,
            r#""Sometimes" is not one of: IfNotPresent, Always, Never"#
        );
        assert_eq!(one(&with("/spec/port", json!("80"))).message, r#"expected a whole number, found the string "80""#);
        let mut build = valid();
        build["spec"] = json!({"build": {"dockerfile": "D"}});
        let v = one(&build);
        assert_eq!((v.pointer.as_str(), v.message.as_str()), ("/spec/build", r#"missing required field "context""#));
        build["spec"] = json!({"build": "ctx"});
        assert_eq!(one(&build).message, r#"expected a mapping or null, found the string "ctx""#);
    }

    #[test]
    fn property_name_violations_point_at_the_key() {
        let v = one(&with("/spec/env", json!({"1X": "y"})));
        assert_eq!((v.pointer.as_str(), v.at_key), ("/spec/env/1X", true));
        assert!(v.message.contains("environment variable name pattern"), "{}", v.message);
    }

    #[test]
    fn every_pattern_in_the_schema_has_a_plain_message() {
        fn patterns(v: &Json, path: String, out: &mut Vec<(String, String)>) {
            match v {
                Json::Object(m) => {
                    for (k, child) in m {
                        if k == "pattern" {
                            out.push((child.as_str().unwrap().to_string(), format!("{path}/pattern")));
                        } else {
                            patterns(child, format!("{path}/{k}"), out);
                        }
                    }
                }
                Json::Array(a) => a.iter().enumerate().for_each(|(i, c)| patterns(c, format!("{path}/{i}"), out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        patterns(&SCHEMA, String::new(), &mut found);
        assert!(found.len() >= 8, "{found:?}");
        for (pattern, path) in found {
            let message = pattern_message(&json!("x"), &pattern, &path);
            assert!(!message.contains(&pattern), "no plain words for {pattern} at {path}: {message}");
        }
    }

    #[test]
    fn enum_values_get_a_suggestion_too() {
        let v = one(&with("/spec/pullPolicy", json!("always")));
        assert!(v.message.ends_with(r#"(did you mean "Always"?)"#), "{}", v.message);
        let v = one(&with("/spec/pullPolicy", json!("sometimes")));
        assert!(!v.message.contains("did you mean"), "{}", v.message);
    }

    #[test]
    fn credential_fields_are_the_ones_the_schema_marks_write_only() {
        for pointer in [
            "/spec/secrets",
            "/spec/secrets/A/value",
            "/spec/runtimeConfig/gatewayToken",
            "/spec/runtimeConfig/gatewayToken/secret",
            "/spec/runtimeConfig/channels/slack/accounts/ops/botToken",
            "/spec/runtimeConfig/channels/teams/accounts/default/appToken/x",
        ] {
            assert!(is_sensitive(pointer), "{pointer}");
        }
        for pointer in [
            "",
            "/spec",
            "/spec/env/TOKEN",
            "/spec/runtimeConfig",
            "/spec/runtimeConfig/channels/slack/accounts/ops/dmPolicy",
            "/spec/nope/x",
        ] {
            assert!(!is_sensitive(pointer), "{pointer}");
        }
        let mut names = sensitive_field_names().to_vec();
        names.sort();
        assert_eq!(names, ["appToken", "botToken", "gatewayToken", "secrets"]);
    }

    #[test]
    fn values_under_secrets_never_appear_in_messages() {
        for value in
            [json!("sk-live-PLAINTEXT"), json!({"value": 4242424242_u64}), json!({"value": ["sk-live-PLAINTEXT"]})]
        {
            let doc = with("/spec/secrets", json!({"apiKey": value}));
            let v = schema_violations(&doc);
            assert!(!v.is_empty());
            for v in &v {
                assert!(v.pointer.starts_with("/spec/secrets/apiKey"), "{v:?}");
                assert!(!v.message.contains("PLAINTEXT") && !v.message.contains("4242"), "{}", v.message);
            }
        }
        let v = one(&with("/spec/secrets", json!({"apiKey": "sk-live-PLAINTEXT"})));
        assert_eq!(v.message, "expected a mapping, found a string");
        let v = one(&with("/spec/secrets", json!({"apiKey": {"value": 4242}})));
        assert_eq!(v.message, "expected a string, found a number");
    }
}
