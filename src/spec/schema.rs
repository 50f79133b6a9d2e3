//! The published JSON Schema of a tenant spec, generated from the types.

/// The schema text shipped in `schemas/tenant.schema.json`.
pub const PUBLISHED: &str = include_str!("../../schemas/tenant.schema.json");

/// The schema generated from the Rust types, as pretty JSON with a trailing newline.
pub fn generate() -> String {
    let gen = schemars::generate::SchemaSettings::draft2020_12()
        .with_transform(super::schema_portable::transform())
        .into_generator();
    let schema = gen.into_root_schema_for::<super::TenantFile>();
    let mut value = serde_json::to_value(&schema).expect("schema serializes");
    if let Some(obj) = value.as_object_mut() {
        obj.insert("$id".into(), serde_json::Value::String("https://tenantd.dev/schemas/tenant.schema.json".into()));
    }
    let mut s = serde_json::to_string_pretty(&value).expect("schema serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::spec::names::DNS_LABEL_PATTERN;
    use crate::spec::schema_portable::STANDARD_FORMATS;
    use crate::spec::TenantFile;

    fn published() -> Value {
        serde_json::from_str(PUBLISHED).expect("the published schema is JSON")
    }

    /// `schemas/tenant.schema.json` is what the types generate. After changing the types,
    /// regenerate it with `TENANTD_UPDATE_SCHEMA=1 cargo test --lib spec::schema` (or
    /// `tenantd schema > schemas/tenant.schema.json`) and review the diff: it is the published
    /// contract.
    #[test]
    fn the_published_schema_is_generated_from_the_types() {
        let generated = generate();
        if std::env::var_os("TENANTD_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/tenant.schema.json");
            std::fs::write(path, &generated).expect("write the schema");
            return;
        }
        assert!(
            generated == PUBLISHED,
            "schemas/tenant.schema.json is out of date with the types in src/spec/types.rs; regenerate it with \
             `TENANTD_UPDATE_SCHEMA=1 cargo test --lib spec::schema` (or `tenantd schema > schemas/tenant.schema.json`) \
             and review the diff"
        );
    }

    fn objects<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
        match v {
            Value::Object(m) => {
                if m.get("type") == Some(&json!("object")) {
                    out.push((at.clone(), v));
                }
                for (k, child) in m {
                    objects(child, format!("{at}/{k}"), out);
                }
            }
            Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| objects(c, format!("{at}/{i}"), out)),
            _ => {}
        }
    }

    #[test]
    fn every_object_with_fields_forbids_unknown_ones() {
        let schema = published();
        let mut found = Vec::new();
        objects(&schema, String::new(), &mut found);
        let records: Vec<_> = found.iter().filter(|(_, o)| o.get("properties").is_some()).collect();
        assert!(records.len() >= 10, "{:?}", records.iter().map(|r| &r.0).collect::<Vec<_>>());
        for (at, o) in records {
            assert_eq!(o.get("additionalProperties"), Some(&json!(false)), "{at} accepts unknown fields");
        }
        // The other objects (besides the type check in the image source's `oneOf`) are maps:
        // their keys are constrained and their values typed. An extension's `config` is the one
        // free-form object: the runtime's extension reads it, not tenantd.
        let maps = found.iter().filter(|(at, o)| o.get("properties").is_none() && !at.contains("/oneOf/"));
        for (at, o) in maps {
            if at == "/$defs/Extension/properties/config" {
                assert_eq!(o.get("additionalProperties"), Some(&json!(true)), "{at}");
                continue;
            }
            let values = o.get("additionalProperties").unwrap_or(&Value::Null);
            assert!(values.get("type").is_some() || values.get("$ref").is_some(), "{at} has untyped values: {values}");
            let keys = o.get("propertyNames").unwrap_or(&Value::Null);
            assert!(keys.get("pattern").is_some() || keys.get("maxLength").is_some(), "{at} has no key constraint");
        }
    }

    /// Every `properties` entry of the schema, by its pointer. With `choices` false, not those
    /// inside `oneOf` branches: those only restate a field's type for the choice of image source.
    fn properties<'a>(v: &'a Value, at: String, choices: bool, out: &mut Vec<(String, &'a Value)>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(props)) = m.get("properties") {
                    out.extend(props.iter().map(|(k, p)| (format!("{at}/properties/{k}"), p)));
                }
                for (k, child) in m.iter().filter(|(k, _)| choices || k.as_str() != "oneOf") {
                    properties(child, format!("{at}/{k}"), choices, out);
                }
            }
            Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| properties(c, format!("{at}/{i}"), choices, out)),
            _ => {}
        }
    }

    /// Editors show a field's description while typing, and `tenantd explain` prints it.
    #[test]
    fn every_field_has_a_description() {
        let schema = published();
        let mut found = Vec::new();
        properties(&schema, String::new(), false, &mut found);
        assert!(found.len() >= 80, "{}", found.len());
        let missing: Vec<&str> = found
            .iter()
            .filter(|(_, p)| p.get("description").and_then(Value::as_str).is_none_or(|d| d.trim().is_empty()))
            .map(|(at, _)| at.as_str())
            .collect();
        assert!(missing.is_empty(), "{} field(s) without a description:\n{}", missing.len(), missing.join("\n"));
    }

    /// Every property, records and lists included, wherever it stands, has examples of its own:
    /// editors and schema documentation tools show a property's `examples`, not those of the
    /// type it refers to, and the README promises them.
    #[test]
    fn every_property_has_examples() {
        let schema: Value = serde_json::from_str(&generate()).expect("the generated schema is JSON");
        let mut found = Vec::new();
        properties(&schema, String::new(), true, &mut found);
        assert!(found.len() >= 90, "{}", found.len());
        let missing: Vec<&str> = found
            .iter()
            .filter(|(_, p)| p.get("examples").and_then(Value::as_array).is_none_or(Vec::is_empty))
            .map(|(at, _)| at.as_str())
            .collect();
        assert!(missing.is_empty(), "{} propert(ies) without examples:\n{}", missing.len(), missing.join("\n"));
    }

    /// Every schema inside `v` (objects only), by its pointer.
    fn schemas<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
        match v {
            Value::Object(m) => {
                out.push((at.clone(), v));
                m.iter().for_each(|(k, c)| schemas(c, format!("{at}/{k}"), out));
            }
            Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| schemas(c, format!("{at}/{i}"), out)),
            _ => {}
        }
    }

    /// Generic validators read the schema too: an enum is a plain `enum` (a `oneOf` of constants
    /// makes them answer "not valid under any of the given schemas"), only formats the
    /// specification defines appear, and every number states its range itself.
    #[test]
    fn the_schema_uses_only_what_generic_validators_read() {
        let schema = published();
        let mut found = Vec::new();
        schemas(&schema, String::new(), &mut found);
        let mut enums = 0;
        for (at, s) in found.iter().filter(|(at, _)| !at.ends_with("/examples") && !at.contains("/examples/")) {
            if let Some(branches) = s.get("oneOf").and_then(Value::as_array) {
                assert!(branches.iter().all(|b| b.get("const").is_none()), "{at}: an enum written as oneOf");
            }
            enums += usize::from(s.get("enum").is_some());
            if let Some(format) = s.get("format").and_then(Value::as_str) {
                assert!(STANDARD_FORMATS.contains(&format), "{at}: format {format:?} is not the specification's");
            }
            let number = matches!(s.get("type"), Some(t) if t == "integer" || t == "number");
            if number {
                assert!(s.get("minimum").is_some() && s.get("maximum").is_some(), "{at}: a number without its range");
            }
        }
        assert!(enums >= 9, "{enums}");
        assert_eq!(schema.pointer("/$defs/PullPolicy/enum"), Some(&json!(["IfNotPresent", "Always", "Never"])));
        assert_eq!(schema.pointer("/$defs/TenantSpec/properties/port/minimum"), Some(&json!(1)));
        assert_eq!(schema.pointer("/$defs/TenantSpec/properties/port/maximum"), Some(&json!(65535)));
    }

    /// Each example is itself valid where it stands: a wrong example teaches a wrong spec.
    #[test]
    fn every_example_is_valid_for_its_field() {
        let schema = published();
        let mut found = Vec::new();
        properties(&schema, String::new(), true, &mut found);
        for (at, property) in found {
            let Some(examples) = property.get("examples").and_then(Value::as_array) else { continue };
            let mut field = property.clone();
            field.as_object_mut().unwrap().insert("$defs".into(), schema["$defs"].clone());
            let validator = jsonschema::validator_for(&field).unwrap_or_else(|e| panic!("{at}: {e}"));
            for example in examples {
                assert!(validator.is_valid(example), "{at}: the example {example} is not valid");
            }
        }
    }

    #[test]
    fn names_required_fields_and_the_image_source_are_in_the_schema() {
        let schema = published();
        for def in ["TenantName", "SidecarName", "VolumeName"] {
            assert_eq!(schema.pointer(&format!("/$defs/{def}/pattern")), Some(&json!(DNS_LABEL_PATTERN)), "{def}");
            assert_eq!(schema.pointer(&format!("/$defs/{def}/maxLength")), Some(&json!(63)), "{def}");
        }
        assert_eq!(schema.pointer("/properties/metadata/$ref"), Some(&json!("#/$defs/Metadata")));
        assert_eq!(schema.pointer("/$defs/Metadata/properties/name/$ref"), Some(&json!("#/$defs/TenantName")));
        assert_eq!(schema.pointer("/$defs/SidecarSpec/properties/name/$ref"), Some(&json!("#/$defs/SidecarName")));
        assert_eq!(schema.pointer("/$defs/VolumeMount/properties/name/$ref"), Some(&json!("#/$defs/VolumeName")));
        assert_eq!(schema.get("required"), Some(&json!(["apiVersion", "kind", "metadata", "spec"])));
        assert_eq!(schema.pointer("/$defs/Metadata/required"), Some(&json!(["name"])));
        assert_eq!(schema.pointer("/$defs/SidecarSpec/required"), Some(&json!(["name"])));
        for def in ["TenantSpec", "SidecarSpec"] {
            let one_of = schema.pointer(&format!("/$defs/{def}/oneOf")).unwrap_or_else(|| panic!("{def} has no oneOf"));
            assert_eq!(one_of.pointer("/0/required"), Some(&json!(["image"])), "{def}");
            assert_eq!(one_of.pointer("/1/required"), Some(&json!(["build"])), "{def}");
        }
        assert_eq!(schema.get("$schema"), Some(&json!("https://json-schema.org/draft/2020-12/schema")));
    }

    fn doc(spec: &str) -> String {
        format!("apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: acme\nspec:\n{spec}")
    }

    /// Whether the published schema and serde accept `yaml`.
    fn verdicts(yaml: &str) -> (bool, bool) {
        let validator = jsonschema::validator_for(&published()).expect("the schema compiles");
        let value: Value = serde_yaml::from_str(yaml).expect("test documents are YAML");
        (validator.is_valid(&value), serde_json::from_value::<TenantFile>(value).is_ok())
    }

    /// The schema and the types agree on the shape of a spec: the fields, which are required,
    /// their types, names, sizes, durations and enums. Checked on documents written by hand, so
    /// a change to either side that the other does not follow fails here.
    #[test]
    fn the_schema_and_the_types_agree_on_the_shape() {
        let full = doc(
            "  build: {context: ./ctx, dockerfile: Dockerfile.dev}\n  pullPolicy: Always\n  args: [serve, --port, '8080']\n  port: 8080\n  env: {LOG_LEVEL: debug, _X: ''}\n  resources: {memory: 1Gi, cpus: 2, pids: 512}\n  health: {path: /healthz, interval: 10s, timeout: 500ms, retries: 5, startPeriod: 1m, probeCommand: [curl, -f]}\n  volumes: [{name: data, mountPath: /data, readOnly: true}]\n  tmpfs: [{mountPath: /cache, size: 128Mi}]\n  network: {egress: deny}\n  sidecars:\n    - {name: db, image: postgres:16, env: {A: b}, user: '70:70', resources: {memory: 256Mi}, volumes: [{name: data, mountPath: /var/lib/db}]}\n    - {name: tools, build: {context: tools}}\n  user: '1000:1000'\n  suspend: true\n",
        );
        let with_labels = "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {name: a-1, labels: {team: core, cost.center: x_1}}\nspec: {image: x}\n";
        let valid = [
            doc("  image: nginx\n"),
            full,
            with_labels.to_string(),
            doc("  image: null\n  build: {context: .}\n"),
            doc("  image: x\n  args: null\n  user: null\n"),
        ];
        for yaml in &valid {
            assert_eq!(verdicts(yaml), (true, true), "both must accept:\n{yaml}");
        }
        let invalid = [
            "kind: Tenant\nmetadata: {name: acme}\nspec: {image: x}\n".to_string(),
            "apiVersion: tenantd/v1\nmetadata: {name: acme}\nspec: {image: x}\n".to_string(),
            "apiVersion: tenantd/v1\nkind: Tenant\nspec: {image: x}\n".to_string(),
            "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {name: acme}\n".to_string(),
            "apiVersion: tenantd/v2\nkind: Tenant\nmetadata: {name: acme}\nspec: {image: x}\n".to_string(),
            "apiVersion: tenantd/v1\nkind: Tenants\nmetadata: {name: acme}\nspec: {image: x}\n".to_string(),
            "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {}\nspec: {image: x}\n".to_string(),
            "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {name: Acme}\nspec: {image: x}\n".to_string(),
            format!(
                "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{name: {}}}\nspec: {{image: x}}\n",
                "a".repeat(64)
            ),
            "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {name: acme, labels: {a: 1}}\nspec: {image: x}\n"
                .to_string(),
            "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {name: acme}\nspec: {image: x}\nextra: 1\n".to_string(),
            doc("  imagee: x\n"),
            doc("  image: x\n  health: {pathh: /}\n"),
            doc("  image: 42\n"),
            doc("  image: x\n  port: '80'\n"),
            doc("  image: x\n  port: 70000\n"),
            doc("  image: x\n  port: -1\n"),
            doc("  image: x\n  resources: {memory: 12mb}\n"),
            doc("  image: x\n  health: {interval: 5d}\n"),
            doc("  image: x\n  pullPolicy: sometimes\n"),
            doc("  image: x\n  network: {egress: Allow}\n"),
            doc("  image: x\n  env: {A: 1}\n"),
            doc("  image: x\n  args: serve\n"),
            doc("  image: x\n  suspend: 'yes'\n"),
            doc("  image: x\n  sidecars: [{image: y}]\n"),
            doc("  image: x\n  sidecars: [{name: Db, image: y}]\n"),
            doc("  image: x\n  volumes: [{name: data}]\n"),
            doc("  image: x\n  volumes: [{name: Data, mountPath: /d}]\n"),
            doc("  image: x\n  tmpfs: [{mountPath: /t, size: big}]\n"),
            doc("  build: {dockerfile: D}\n"),
            doc("  build: {context: ., extra: 1}\n"),
        ];
        for yaml in &invalid {
            assert_eq!(verdicts(yaml), (false, false), "both must reject:\n{yaml}");
        }
    }

    /// What only the schema says, on purpose: limits on values the Rust types do not carry, and
    /// the choice of exactly one image source (the loader's typed rules check that one again).
    /// The loader always validates against the schema before deserializing, so these never get
    /// through.
    #[test]
    fn value_limits_are_the_schemas_alone() {
        let schema_only = [
            doc("  image: x\n  port: 0\n"),
            doc("  image: x\n  resources: {cpus: 0}\n"),
            doc("  image: x\n  resources: {pids: 1}\n"),
            doc("  image: x\n  health: {retries: 0}\n"),
            doc("  image: x\n  health: {probeCommand: []}\n"),
            doc("  image: x\n  health: {path: health}\n"),
            doc("  image: x\n  user: '0'\n"),
            doc("  image: ''\n"),
            doc("  image: x\n  env: {1X: y}\n"),
            doc("  image: x\n  volumes: [{name: d, mountPath: relative}]\n"),
            doc("  image: x\n  build: {context: .}\n"),
            doc("  pullPolicy: Always\n"),
            doc("  image: null\n"),
        ];
        for yaml in &schema_only {
            assert_eq!(verdicts(yaml), (false, true), "expected only the schema to reject:\n{yaml}");
        }
        // And the other way round: sizes that fit the pattern but not in 64 bits. The loader
        // reports serde's error for these, at the value.
        assert_eq!(verdicts(&doc("  image: x\n  resources: {memory: 99999999999999Ti}\n")), (true, false));
    }
}
