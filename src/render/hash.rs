//! Versioned, canonical hashes of desired state.
//!
//! Stability rule: a hash depends only on what the spec says, through the canonical JSON of
//! the hashed views. A field added to a view in a later version must be left out of the JSON
//! while it has its default (`skip_serializing_if`), so specs that do not use it keep their hash
//! and their containers are not recreated by an upgrade. Tests pin known hashes.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Prefix of every hash this version computes.
pub const HASH_VERSION: &str = "v1";

/// `v1:<sha256 hex>` of the canonical JSON of `value`.
pub fn versioned_hash<T: Serialize>(value: &T) -> String {
    format!("{HASH_VERSION}:{}", hex_sha256(&canonical_json(value)))
}

/// The short (16 hex digits) hash of one field's canonical JSON.
pub fn field_hash<T: Serialize>(value: &T) -> String {
    hex_sha256(&canonical_json(value))[..16].to_string()
}

/// Compact JSON with object keys in the order the views define (structs) or sorted (maps).
pub fn canonical_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("views serialize to JSON")
}

fn hex_sha256(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}
