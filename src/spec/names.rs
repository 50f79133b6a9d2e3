//! Newtypes for the values a tenant spec carries: each parses once and cannot hold an invalid value.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// The pattern of a DNS label (RFC 1123), used for tenant, sidecar and volume names.
pub const DNS_LABEL_PATTERN: &str = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";

/// Why a value could not become one of these types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

pub(crate) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A string newtype that parses once: `$check` says whether a string is one, `$expected` what it
/// should look like.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $what:literal, $check:expr, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(s: String) -> Result<Self, InvalidValue> {
                let check: fn(&str) -> bool = $check;
                if check(&s) {
                    Ok(Self(s))
                } else {
                    Err(InvalidValue(format!(concat!("{:?} is not a valid ", $what, ": expected ", $expected), s)))
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, InvalidValue> {
                Self::try_from(s.to_string())
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use checked_string;

macro_rules! dns_label_type {
    ($name:ident, $what:literal) => {
        checked_string!(
            #[doc = concat!("A ", $what, ": a DNS label, so it is safe in object names and never a path.")]
            $name,
            $what,
            is_dns_label,
            "a DNS label (lowercase letters, digits and '-', 1 to 63 characters, starting and ending with a letter or digit)"
        );

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": DNS_LABEL_PATTERN,
                    "minLength": 1,
                    "maxLength": 63,
                    "description": concat!("A ", $what, ": a DNS label (lowercase letters, digits and '-', 1 to 63 characters, starting and ending with a letter or digit).")
                })
            }
        }
    };
}

dns_label_type!(TenantName, "tenant name");
dns_label_type!(SidecarName, "sidecar name");
dns_label_type!(VolumeName, "volume name");

/// A size in bytes, written as `512Mi`, `1Gi`, `64M` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ByteSize(u64);

pub const BYTE_SIZE_PATTERN: &str = "^[0-9]{1,15}(Ki|Mi|Gi|Ti|K|M|G|T)?$";

impl ByteSize {
    pub fn from_bytes(bytes: u64) -> Self {
        Self(bytes)
    }
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl TryFrom<String> for ByteSize {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let bad = || {
            InvalidValue(format!("{s:?} is not a size: expected a number with an optional unit Ki, Mi, Gi, Ti, K, M, G or T (e.g. 512Mi)"))
        };
        if num.is_empty() || num.len() > 15 {
            return Err(bad());
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        let mult: u64 = match unit {
            "" => 1,
            "K" => 1_000,
            "M" => 1_000_000,
            "G" => 1_000_000_000,
            "T" => 1_000_000_000_000,
            "Ki" => 1 << 10,
            "Mi" => 1 << 20,
            "Gi" => 1 << 30,
            "Ti" => 1 << 40,
            _ => return Err(bad()),
        };
        n.checked_mul(mult).map(Self).ok_or_else(bad)
    }
}

impl From<ByteSize> for String {
    fn from(v: ByteSize) -> String {
        v.to_string()
    }
}

impl fmt::Display for ByteSize {
    /// Prints the largest binary unit that divides the value exactly, so `512Mi` reads back as `512Mi`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, mult) in [("Ti", 1u64 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
            if self.0 >= mult && self.0.is_multiple_of(mult) {
                return write!(f, "{}{}", self.0 / mult, unit);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": BYTE_SIZE_PATTERN,
            "description": "A size: a number with an optional unit, binary (Ki, Mi, Gi, Ti) or decimal (K, M, G, T).",
            "examples": ["512Mi", "1Gi"]
        })
    }
}

/// A duration written as `500ms`, `5s`, `2m` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SpecDuration(std::time::Duration);

pub const DURATION_PATTERN: &str = "^[0-9]{1,9}(ms|s|m|h)$";

impl SpecDuration {
    pub const fn from_secs(s: u64) -> Self {
        Self(std::time::Duration::from_secs(s))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Self(std::time::Duration::from_millis(ms))
    }
    pub fn get(self) -> std::time::Duration {
        self.0
    }
}

impl TryFrom<String> for SpecDuration {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, InvalidValue> {
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let bad = || {
            InvalidValue(format!(
                "{s:?} is not a duration: expected a whole number with a unit ms, s, m or h (e.g. 30s)"
            ))
        };
        if num.is_empty() || num.len() > 9 {
            return Err(bad());
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        let d = match unit {
            "ms" => std::time::Duration::from_millis(n),
            "s" => std::time::Duration::from_secs(n),
            "m" => std::time::Duration::from_secs(n * 60),
            "h" => std::time::Duration::from_secs(n * 3600),
            _ => return Err(bad()),
        };
        Ok(Self(d))
    }
}

impl From<SpecDuration> for String {
    fn from(v: SpecDuration) -> String {
        v.to_string()
    }
}

impl fmt::Display for SpecDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl JsonSchema for SpecDuration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration: a whole number with a unit ms, s, m or h.",
            "examples": ["500ms", "30s", "2m"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_dns_labels() {
        for good in ["a", "acme", "a-1", "0x", &"a".repeat(63)] {
            assert!(TenantName::try_from(good.to_string()).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "Acme", "a_b", "../x", "a/b", "a\0b", "é", &"a".repeat(64)] {
            assert!(TenantName::try_from(bad.to_string()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn byte_sizes_parse_and_print_back() {
        assert_eq!(ByteSize::try_from("512Mi".to_string()).unwrap().bytes(), 512 << 20);
        assert_eq!(ByteSize::try_from("1G".to_string()).unwrap().bytes(), 1_000_000_000);
        assert_eq!(ByteSize::try_from("42".to_string()).unwrap().bytes(), 42);
        assert_eq!(ByteSize::from_bytes(512 << 20).to_string(), "512Mi");
        assert_eq!(ByteSize::from_bytes(1000).to_string(), "1000");
        for bad in ["", "Mi", "1.5Gi", "12mb", "-1", "999999999999999Ti"] {
            assert!(ByteSize::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse_and_print_back() {
        let d = |s: &str| SpecDuration::try_from(s.to_string());
        assert_eq!(d("30s").unwrap().get(), std::time::Duration::from_secs(30));
        assert_eq!(d("500ms").unwrap().get(), std::time::Duration::from_millis(500));
        assert_eq!(d("2m").unwrap().to_string(), "2m");
        assert_eq!(d("90s").unwrap().to_string(), "90s");
        for bad in ["", "s", "1.5s", "10", "5d"] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }
}
