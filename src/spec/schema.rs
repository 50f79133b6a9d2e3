//! The published JSON Schema of a tenant spec, generated from the types.

/// The schema text shipped in `schemas/tenant.schema.json`.
pub const PUBLISHED: &str = include_str!("../../schemas/tenant.schema.json");

/// The schema generated from the Rust types, as pretty JSON with a trailing newline.
pub fn generate() -> String {
    let gen = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let schema = gen.into_root_schema_for::<super::TenantFile>();
    let mut value = serde_json::to_value(&schema).expect("schema serializes");
    if let Some(obj) = value.as_object_mut() {
        obj.insert("$id".into(), serde_json::Value::String("https://tenantd.dev/schemas/tenant.schema.json".into()));
    }
    let mut s = serde_json::to_string_pretty(&value).expect("schema serializes");
    s.push('\n');
    s
}
