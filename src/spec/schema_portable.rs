//! The rewrites that make the generated schema read the same in every JSON Schema validator, not
//! only in the one tenantd embeds: an enum is a plain `enum` (a `oneOf` of `const`s makes generic
//! validators answer "not valid under any of the given schemas"), and a `format` is one the
//! specification defines (schemars names Rust's number types, `uint16` or `double`, which other
//! tools reject or ignore).

use schemars::transform::{RecursiveTransform, Transform};
use schemars::Schema;
use serde_json::{Map, Value as Json};

/// The formats JSON Schema 2020-12 defines (Validation, section 7.3).
pub(super) const STANDARD_FORMATS: [&str; 19] = [
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// A transform for [`schemars::generate::SchemaSettings::with_transform`] that applies
/// [`portable`] to the schema and every schema inside it (`$defs` included).
pub fn transform() -> impl Transform + Clone + Send + 'static {
    RecursiveTransform(portable as fn(&mut Schema))
}

/// Rewrites one schema (not the ones inside it):
///
/// - a `oneOf` whose branches are each a `const` (with a `type` and a `description` at most)
///   becomes an `enum`, with the branches' descriptions, in order, as `enumDescriptions` (the
///   keyword editors built on the VS Code JSON language service show per value);
/// - next to an `enum`, a `type` that every value has already is dropped: it says nothing more,
///   and validators would report a value of another type twice (its type, and not one of);
/// - a `format` outside [`STANDARD_FORMATS`] is dropped; for an integer format, the type's
///   bounds become `minimum` and `maximum` where the schema gives none, so no limit is lost.
pub fn portable(schema: &mut Schema) {
    let Some(object) = schema.as_object_mut() else { return };
    if let Some((values, descriptions)) = object.get("oneOf").and_then(Json::as_array).and_then(|b| constants(b)) {
        let mut replacement = vec![("enum".to_string(), Json::Array(values))];
        if descriptions.iter().any(|d| !d.is_empty()) {
            replacement.push(("enumDescriptions".into(), descriptions.into_iter().map(Json::String).collect()));
        }
        replace(object, "oneOf", replacement);
    }
    if let Some(values) = object.get("enum").and_then(Json::as_array) {
        if object.get("type").and_then(Json::as_str).is_some_and(|t| values.iter().all(|v| has_type(v, t))) {
            replace(object, "type", vec![]);
        }
    }
    let format = object.get("format").and_then(Json::as_str).map(str::to_string);
    if let Some(format) = format.filter(|f| !STANDARD_FORMATS.contains(&f.as_str())) {
        // A bound the schema states itself wins over the one the format implies.
        let mut bounds = Vec::new();
        if let Some((min, max)) = integer_bounds(&format) {
            if !object.contains_key("minimum") {
                bounds.push(("minimum".to_string(), min));
            }
            if !object.contains_key("maximum") {
                bounds.push(("maximum".to_string(), max));
            }
        }
        replace(object, "format", bounds);
    }
}

/// `object` with `key` replaced by `entries`, where `key` stood (so the published file keeps the
/// order the types give it).
fn replace(object: &mut Map<String, Json>, key: &str, entries: Vec<(String, Json)>) {
    let mut entries = Some(entries);
    let mut out = Map::new();
    for (k, v) in std::mem::take(object) {
        if k == key {
            out.extend(entries.take().into_iter().flatten());
        } else {
            out.insert(k, v);
        }
    }
    *object = out;
}

/// Whether `value` is of the JSON Schema type named `kind`.
fn has_type(value: &Json, kind: &str) -> bool {
    match kind {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// The constants of a `oneOf` that is an enum in disguise, with each one's description (empty
/// where it has none), or `None` when any branch says more than a constant of a type.
fn constants(branches: &[Json]) -> Option<(Vec<Json>, Vec<String>)> {
    if branches.is_empty() {
        return None;
    }
    let mut values = Vec::new();
    let mut descriptions = Vec::new();
    for branch in branches {
        let branch = branch.as_object()?;
        if branch.keys().any(|k| !matches!(k.as_str(), "const" | "type" | "description")) {
            return None;
        }
        let value = branch.get("const")?;
        if branch.get("type").is_some_and(|t| !t.as_str().is_some_and(|t| has_type(value, t))) {
            return None;
        }
        values.push(value.clone());
        descriptions.push(branch.get("description").and_then(Json::as_str).unwrap_or_default().to_string());
    }
    Some((values, descriptions))
}

/// The range of the Rust integer type schemars names in `format`.
fn integer_bounds(format: &str) -> Option<(Json, Json)> {
    let (min, max): (Json, Json) = match format {
        "uint8" => (0.into(), u8::MAX.into()),
        "uint16" => (0.into(), u16::MAX.into()),
        "uint32" | "uint" => (0.into(), u32::MAX.into()),
        "uint64" => (0.into(), u64::MAX.into()),
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" | "int" => (i32::MIN.into(), i32::MAX.into()),
        "int64" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    };
    Some((min, max))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rewritten(value: Json) -> Json {
        let mut schema = Schema::try_from(value).expect("an object schema");
        transform().transform(&mut schema);
        schema.to_value()
    }

    #[test]
    fn a_one_of_constants_becomes_an_enum_with_its_descriptions() {
        let out = rewritten(json!({
            "description": "When to pull.",
            "oneOf": [
                {"description": "Only when missing.", "type": "string", "const": "IfNotPresent"},
                {"type": "string", "const": "Always"}
            ],
            "default": "IfNotPresent"
        }));
        assert_eq!(
            out,
            json!({
                "description": "When to pull.",
                "enum": ["IfNotPresent", "Always"],
                "enumDescriptions": ["Only when missing.", ""],
                "default": "IfNotPresent"
            })
        );
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["description", "enum", "enumDescriptions", "default"], "in place");
    }

    #[test]
    fn a_type_every_value_of_an_enum_has_goes() {
        let out = rewritten(json!({"description": "A platform.", "type": "string", "enum": ["slack", "teams"]}));
        assert_eq!(out, json!({"description": "A platform.", "enum": ["slack", "teams"]}));
        let wider = json!({"type": ["string", "null"], "enum": ["a", null]});
        assert_eq!(rewritten(wider.clone()), wider, "only a single type is dropped");
    }

    #[test]
    fn a_one_of_that_says_more_than_constants_is_kept() {
        let choice = json!({"oneOf": [{"required": ["image"]}, {"required": ["build"]}]});
        assert_eq!(rewritten(choice.clone()), choice);
        let mixed = json!({"oneOf": [{"const": "a"}, {"type": "integer"}]});
        assert_eq!(rewritten(mixed.clone()), mixed);
        let typed = json!({"oneOf": [{"const": "a", "type": "integer"}, {"const": "b"}]});
        assert_eq!(rewritten(typed.clone()), typed, "a constant its type rejects matches nothing");
    }

    #[test]
    fn foreign_formats_go_and_integer_formats_leave_their_range() {
        let out = rewritten(json!({
            "type": "object",
            "properties": {
                "port": {"type": "integer", "format": "uint16", "minimum": 1, "maximum": 65535},
                "count": {"type": "integer", "format": "uint32"},
                "retries": {"minimum": 1, "type": "integer", "format": "uint32"},
                "ratio": {"type": "number", "format": "double", "maximum": 2.0},
                "at": {"type": "string", "format": "date-time"}
            }
        }));
        assert_eq!(out["properties"]["port"], json!({"type": "integer", "minimum": 1, "maximum": 65535}));
        assert_eq!(out["properties"]["count"], json!({"type": "integer", "minimum": 0, "maximum": u32::MAX}));
        assert_eq!(out["properties"]["retries"], json!({"minimum": 1, "type": "integer", "maximum": u32::MAX}));
        assert_eq!(out["properties"]["ratio"], json!({"type": "number", "maximum": 2.0}));
        assert_eq!(out["properties"]["at"], json!({"type": "string", "format": "date-time"}), "standard: kept");
    }

    #[test]
    fn definitions_are_rewritten_too() {
        let out = rewritten(json!({"$defs": {"E": {"oneOf": [{"const": "x"}, {"const": "y"}]}}}));
        assert_eq!(out, json!({"$defs": {"E": {"enum": ["x", "y"]}}}));
    }
}
