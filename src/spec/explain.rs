//! `tenantd explain`: a field's documentation read from the published schema, as
//! `kubectl explain` shows a resource's: type, description, allowed values, limits, default,
//! examples, and for a record its fields.

use std::fmt::Write as _;
use std::sync::LazyLock;

use serde_json::Value as Json;

use super::schema::PUBLISHED;
use crate::suggest::closest;

static SCHEMA: LazyLock<Json> =
    LazyLock::new(|| serde_json::from_str(PUBLISHED).expect("the published schema is JSON"));

/// A path that names no field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// `field` is not a field of the record at `prefix` (the last valid part of the path).
    #[error("{} has no field {field:?}{}; its fields: {}", shown(prefix), suggestion.as_ref().map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default(), known.join(", "))]
    UnknownField { prefix: String, field: String, suggestion: Option<String>, known: Vec<String> },
    /// The value at `prefix` is a scalar: nothing is below it.
    #[error("{} is of type {kind}; it has no field {field:?}", shown(prefix))]
    NotARecord { prefix: String, field: String, kind: String },
}

fn shown(prefix: &str) -> String {
    if prefix.is_empty() {
        "the top level of a tenant spec".to_string()
    } else {
        format!("`{prefix}`")
    }
}

/// The documentation of the field at the dotted `path` (`resources.memory`, `sidecars.health`).
/// Lists are walked through their items (`sidecars[].name` works too) and maps through their
/// values (`secrets.<any name>.value`); a path that does not start at the top level is read
/// below `spec`. An empty path explains the whole spec.
pub fn explain(path: &str) -> Result<String, ExplainError> {
    let segments: Vec<&str> =
        path.split('.').map(|s| s.split('[').next().unwrap_or(s)).filter(|s| !s.is_empty()).collect();
    let root = Node::root();
    let starts_at_top = segments.first().is_none_or(|s| root.child(s).is_some());
    let (mut node, mut prefix) = if starts_at_top {
        (root, String::new())
    } else {
        (root.child("spec").expect("the schema has spec"), "spec".to_string())
    };
    for segment in segments {
        node = match node.child(segment) {
            Some(child) => child,
            None => return Err(node.no_such_field(&prefix, segment)),
        };
        prefix = if prefix.is_empty() { segment.to_string() } else { format!("{prefix}.{segment}") };
    }
    Ok(node.describe(&prefix))
}

/// One place in the schema: the property's own schema followed through `$ref`s and `Option`'s
/// `anyOf [T, null]`, so an attribute is looked up in the property first, then in its type.
#[derive(Debug, Clone)]
struct Node {
    chain: Vec<&'static Json>,
    required: bool,
}

impl Node {
    fn root() -> Node {
        Node::of(&SCHEMA, true)
    }

    fn of(schema: &'static Json, required: bool) -> Node {
        let mut chain = vec![schema];
        let mut at = schema;
        loop {
            let next = if let Some(target) = at.get("$ref").and_then(Json::as_str) {
                SCHEMA.pointer(target.trim_start_matches('#'))
            } else if let Some(branches) = at.get("anyOf").and_then(Json::as_array) {
                branches.iter().find(|b| b.get("type") != Some(&Json::from("null")))
            } else {
                None
            };
            match next {
                Some(n) if chain.len() < 16 => {
                    chain.push(n);
                    at = n;
                }
                _ => return Node { chain, required },
            }
        }
    }

    /// The first of the chain that has `key`.
    fn get(&self, key: &str) -> Option<&'static Json> {
        self.chain.iter().find_map(|s| s.get(key))
    }

    /// The schema that says what the value is (the end of the chain).
    fn target(&self) -> &'static Json {
        self.chain.last().expect("a chain is never empty")
    }

    fn items(&self) -> Option<Node> {
        let t = self.target();
        let array = match t.get("type") {
            Some(Json::String(s)) => s == "array",
            Some(Json::Array(ts)) => ts.iter().any(|t| t == "array"),
            _ => false,
        };
        array.then(|| t.get("items").map(|i| Node::of(i, false)))?
    }

    /// The schema of a map's values, when this is a map.
    fn values(&self) -> Option<Node> {
        let t = self.target();
        if t.get("properties").is_some() {
            return None;
        }
        t.get("additionalProperties").filter(|v| v.is_object()).map(|v| Node::of(v, false))
    }

    /// The record whose fields are listed here: this one, a list's item or a map's value.
    fn record(&self) -> Option<Node> {
        let record = self.items().or_else(|| self.values()).unwrap_or_else(|| self.clone());
        record.target().get("properties").and_then(Json::as_object).map(|_| record)
    }

    fn fields(&self) -> Vec<(&'static str, Node)> {
        let Some(record) = self.record() else { return vec![] };
        let target = record.target();
        let required: Vec<&str> =
            target.get("required").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str).collect();
        target
            .get("properties")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), Node::of(v, required.contains(&k.as_str()))))
            .collect()
    }

    fn child(&self, name: &str) -> Option<Node> {
        if let Some((_, node)) = self.fields().into_iter().find(|(k, _)| *k == name) {
            return Some(node);
        }
        // A map (`env`, `secrets`, a list of maps) takes any key: explain its values.
        let values = self.values().or_else(|| self.items().and_then(|i| i.values()))?;
        Some(Node { required: false, ..values })
    }

    fn no_such_field(&self, prefix: &str, field: &str) -> ExplainError {
        let known: Vec<String> = self.fields().into_iter().map(|(k, _)| k.to_string()).collect();
        if known.is_empty() {
            return ExplainError::NotARecord {
                prefix: prefix.to_string(),
                field: field.to_string(),
                kind: self.kind(),
            };
        }
        let suggestion = closest(field, &known).map(str::to_string);
        ExplainError::UnknownField { prefix: prefix.to_string(), field: field.to_string(), suggestion, known }
    }

    /// The value's type in words: `string`, `[]object`, `map[string]string`, ...
    fn kind(&self) -> String {
        if let Some(items) = self.items() {
            return format!("[]{}", items.kind());
        }
        if let Some(values) = self.values() {
            return format!("map[string]{}", values.kind());
        }
        let t = self.target();
        let named = match t.get("type") {
            Some(Json::String(s)) => Some(s.as_str()),
            Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).find(|t| *t != "null"),
            _ => None,
        };
        match named {
            Some(name) => name.to_string(),
            None if !self.allowed().is_empty() => "string".to_string(),
            None => "any".to_string(),
        }
    }

    /// The allowed values with their descriptions, for an enum: `enum`, and `enumDescriptions`
    /// (the editors' keyword for one description per value) where the schema has it.
    fn allowed(&self) -> Vec<(String, Option<&'static str>)> {
        let t = self.target();
        let values = t.get("enum").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
        let descriptions = t.get("enumDescriptions").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (plain(v), descriptions.get(i).and_then(Json::as_str).filter(|d| !d.is_empty())))
            .collect()
    }

    /// The paragraphs of description: the field's own, then its type's when that says more.
    fn description(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.chain {
            if let Some(d) = s.get("description").and_then(Json::as_str).map(reflow) {
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
        out
    }

    fn limits(&self) -> Vec<String> {
        let words = [
            ("minimum", "at least"),
            ("maximum", "at most"),
            ("minLength", "at least {} characters"),
            ("maxLength", "at most {} characters"),
            ("minItems", "at least {} items"),
            ("maxItems", "at most {} items"),
        ];
        words
            .iter()
            .filter_map(|(key, say)| {
                let v = plain(self.get(key)?);
                Some(if say.contains("{}") { say.replace("{}", &v) } else { format!("{say} {v}") })
            })
            .collect()
    }

    fn describe(&self, path: &str) -> String {
        let mut out = String::new();
        if path.is_empty() {
            let _ = writeln!(out, "KIND:     Tenant\nVERSION:  tenantd/v1\n");
        } else {
            let required = if self.required { " -required-" } else { "" };
            let _ = writeln!(out, "FIELD:    {path} <{}>{required}\n", self.kind());
        }
        let _ = writeln!(out, "DESCRIPTION:");
        for paragraph in self.description() {
            out.push_str(&wrap(&paragraph, 4));
        }
        let allowed = self.allowed();
        if !allowed.is_empty() {
            let _ = writeln!(out, "\nALLOWED VALUES:");
            let width = allowed.iter().map(|(v, _)| v.len()).max().unwrap_or(0);
            for (value, description) in &allowed {
                let line = format!("    {value:<width$}  {}", description.map(reflow).unwrap_or_default());
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        let mut facts = Vec::new();
        if let Some(pattern) = self.get("pattern") {
            facts.push(("PATTERN", plain(pattern)));
        }
        let limits = self.limits();
        if !limits.is_empty() {
            facts.push(("LIMITS", limits.join(", ")));
        }
        if let Some(default) = self.get("default") {
            facts.push(("DEFAULT", plain(default)));
        }
        if let Some(examples) = self.get("examples").and_then(Json::as_array) {
            facts.push(("EXAMPLES", examples.iter().map(plain).collect::<Vec<_>>().join(", ")));
        }
        if !facts.is_empty() {
            out.push('\n');
            for (label, value) in facts {
                let _ = writeln!(out, "{:<10}{value}", format!("{label}:"));
            }
        }
        let fields = self.fields();
        if !fields.is_empty() {
            let each = if self.items().is_some() {
                " (of each item)"
            } else if self.values().is_some() {
                " (of each value)"
            } else {
                ""
            };
            let _ = writeln!(out, "\nFIELDS{each}:");
            for (name, node) in &fields {
                let required = if node.required { " -required-" } else { "" };
                let _ = writeln!(out, "  {name} <{}>{required}", node.kind());
                if let Some(first) = node.description().first() {
                    let _ = writeln!(out, "      {}", first_sentence(first));
                }
            }
        }
        out
    }
}

/// A value as a human writes it in YAML: strings bare, the rest as JSON.
fn plain(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// Doc comments keep their line breaks; a paragraph reads as one line.
fn reflow(text: &str) -> String {
    text.split("\n\n").map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n\n")
}

fn first_sentence(text: &str) -> &str {
    let text = text.split("\n\n").next().unwrap_or(text);
    match text.find(". ") {
        Some(i) => &text[..=i],
        None => text,
    }
}

/// `text` wrapped at 100 columns, each line indented by `indent`.
fn wrap(text: &str, indent: usize) -> String {
    let mut out = String::new();
    for paragraph in text.split("\n\n") {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && indent + line.len() + 1 + word.len() > 100 {
                let _ = writeln!(out, "{:indent$}{line}", "");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            let _ = writeln!(out, "{:indent$}{line}", "");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scalar_field_shows_its_type_description_default_and_examples() {
        let out = explain("resources.memory").unwrap();
        assert!(out.starts_with("FIELD:    spec.resources.memory <string>\n"), "{out}");
        assert!(out.contains("Memory limit (no swap beyond it)."), "{out}");
        assert!(out.contains("A size: a number with an optional unit"), "the type's own description:\n{out}");
        assert!(out.contains("DEFAULT:  512Mi\n") && out.contains("EXAMPLES: 512Mi, 1Gi\n"), "{out}");
        assert!(out.contains("PATTERN:  ^[0-9]{1,15}"), "{out}");
        assert_eq!(explain("spec.resources.memory").unwrap(), out);
    }

    #[test]
    fn an_enum_lists_its_values() {
        let out = explain("pullPolicy").unwrap();
        assert!(out.contains("ALLOWED VALUES:\n    IfNotPresent  Pull only when"), "{out}");
        assert!(out.contains("    Never         Never pull"), "{out}");
    }

    #[test]
    fn lists_and_maps_are_walked_through_their_items_and_values() {
        let out = explain("sidecars").unwrap();
        assert!(out.starts_with("FIELD:    spec.sidecars <[]object>\n"), "{out}");
        assert!(out.contains("FIELDS (of each item):\n  name <string> -required-\n"), "{out}");
        let out = explain("sidecars.health").unwrap();
        assert!(out.contains("FIELDS:\n  path <string>\n"), "{out}");
        assert_eq!(explain("sidecars[].health").unwrap(), out);
        let out = explain("secrets.apiKey.value").unwrap();
        assert!(out.starts_with("FIELD:    spec.secrets.apiKey.value <string> -required-\n"), "{out}");
        assert!(explain("env").unwrap().starts_with("FIELD:    spec.env <map[string]string>\n"));
    }

    #[test]
    fn the_top_level_lists_the_required_fields() {
        let out = explain("").unwrap();
        assert!(out.starts_with("KIND:     Tenant\nVERSION:  tenantd/v1\n"), "{out}");
        for field in ["apiVersion", "kind", "metadata", "spec"] {
            assert!(out.contains(&format!("  {field} <")) && out.contains("-required-"), "{field}:\n{out}");
        }
    }

    #[test]
    fn an_unknown_field_names_the_valid_prefix_and_a_guess() {
        let e = explain("resources.memroy").unwrap_err();
        assert_eq!(
            e,
            ExplainError::UnknownField {
                prefix: "spec.resources".into(),
                field: "memroy".into(),
                suggestion: Some("memory".into()),
                known: vec!["memory".into(), "cpus".into(), "pids".into()],
            }
        );
        assert_eq!(
            e.to_string(),
            r#"`spec.resources` has no field "memroy" (did you mean "memory"?); its fields: memory, cpus, pids"#
        );
        // A path that does not start at the top level is read below `spec`.
        let e = explain("sidecar").unwrap_err().to_string();
        assert!(
            e.starts_with(r#"`spec` has no field "sidecar" (did you mean "sidecars"?); its fields: image,"#),
            "{e}"
        );
        let e = explain("metadata.nmae").unwrap_err().to_string();
        assert_eq!(e, r#"`metadata` has no field "nmae" (did you mean "name"?); its fields: name, labels"#);
        let e = explain("port.number").unwrap_err().to_string();
        assert_eq!(e, r#"`spec.port` is of type integer; it has no field "number""#);
    }

    #[test]
    fn every_field_of_the_schema_can_be_explained() {
        fn walk(path: String, depth: usize) {
            let out = explain(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(out.contains("DESCRIPTION:\n    "), "{path} has no description:\n{out}");
            if depth > 6 {
                return;
            }
            for line in out.lines().skip_while(|l| !l.starts_with("FIELDS")).skip(1) {
                if let Some(name) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
                    let name = name.split(' ').next().unwrap();
                    walk(if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }, depth + 1);
                }
            }
        }
        walk(String::new(), 0);
    }

    #[test]
    fn explain_snapshots() {
        insta::assert_snapshot!("explain_resources_memory", explain("resources.memory").unwrap());
        insta::assert_snapshot!("explain_sidecars", explain("spec.sidecars").unwrap());
    }
}
