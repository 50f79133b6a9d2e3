//! A tenant's Secret on the wire: its values filled in only for the apply that sends them, and
//! left out of everything observed. The Secret carries a hash of its values (readable only by
//! whoever can read the values themselves), so a value changed behind tenantd's back is seen
//! without tenantd keeping or comparing any value.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use serde_json::Value;

use crate::render::versioned_hash;
use crate::runtime::SecretValues;

/// The annotation holding the hash of a Secret's values as tenantd wrote them.
pub const VALUES_HASH: &str = "io.tenantd.values-hash";

/// Puts `secrets` into the Secret manifest as `data` (in place of the keys-only `stringData`),
/// with their hash.
pub(super) fn fill(manifest: &mut Value, secrets: &SecretValues) {
    let data: BTreeMap<String, Value> = secrets
        .iter()
        .map(|(name, value)| {
            let encoded = serde_json::to_value(ByteString(value.expose().to_vec())).expect("bytes serialize");
            (name.to_string(), encoded)
        })
        .collect();
    let hash = values_hash(&data);
    if let Value::Object(map) = manifest {
        map.remove("stringData");
        map.insert("data".into(), Value::Object(data.into_iter().collect()));
        if let Some(Value::Object(annotations)) = map.get_mut("metadata").and_then(|m| m.get_mut("annotations")) {
            annotations.insert(VALUES_HASH.into(), hash.into());
        }
    }
}

/// Whether an observed Secret's values still hash to what tenantd wrote; its values are
/// removed from `live` either way.
pub(super) fn values_intact(live: &mut Value) -> bool {
    let Value::Object(map) = live else { return false };
    let data: BTreeMap<String, Value> = match map.remove("data") {
        Some(Value::Object(d)) => d.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    map.remove("stringData");
    let recorded = map.get("metadata").and_then(|m| m.get("annotations")).and_then(|a| a.get(VALUES_HASH));
    recorded.and_then(Value::as_str) == Some(values_hash(&data).as_str())
}

fn values_hash(data: &BTreeMap<String, Value>) -> String {
    versioned_hash(data)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::secrets::Plaintext;

    #[test]
    fn filled_values_are_seen_intact_until_someone_changes_them() {
        let secrets: SecretValues =
            [("GW".parse().unwrap(), Plaintext::new(b"canary-value".to_vec()))].into_iter().collect();
        let mut manifest = json!({"kind": "Secret", "metadata": {"annotations": {}}, "stringData": {"GW": ""}});
        fill(&mut manifest, &secrets);
        assert_eq!(manifest["data"]["GW"], "Y2FuYXJ5LXZhbHVl");
        assert!(manifest.get("stringData").is_none());

        let mut live = manifest.clone();
        assert!(values_intact(&mut live));
        assert!(live.get("data").is_none(), "values never stay in what is observed");
        assert!(!live.to_string().contains("Y2FuYXJ5"));

        let mut edited = manifest.clone();
        edited["data"]["GW"] = json!("b3RoZXI=");
        assert!(!values_intact(&mut edited));
        let mut added = manifest;
        added["data"]["EXTRA"] = json!("eA==");
        assert!(!values_intact(&mut added));
    }
}
