//! Resource quantities: parsing and the canonical form the API server stores them in.
//!
//! The rule is Kubernetes' `Quantity.String()`: values are rounded up to nano precision; decimal
//! quantities (no suffix, SI suffixes, `e` exponents) are written with the largest exponent that
//! is a multiple of 3 and keeps the mantissa an integer (`1000m` → `1`, `2000000` → `2M`,
//! `0.5` → `500m`); binary quantities (`Ki` … `Ei`) stay binary when they are whole numbers of at
//! least 1024 (`1024Ki` → `1Mi`, `1.5Gi` → `1536Mi`) and fall back to the decimal form otherwise.

use serde_json::Value;

pub(crate) const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

const DECIMAL_SUFFIXES: &[(&str, i32)] =
    &[("n", -9), ("u", -6), ("m", -3), ("", 0), ("k", 3), ("M", 6), ("G", 9), ("T", 12), ("P", 15), ("E", 18)];
const BINARY_SUFFIXES: &[&str] = &["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// The canonical spelling of quantity `s`, or `None` when `s` is not a quantity (or is too large).
pub(crate) fn canonical(s: &str) -> Option<String> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let number_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (number, suffix) = rest.split_at(number_len);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
        return None;
    }
    let (format, suffix_exp, binary_power) = interpret_suffix(suffix)?;
    let mut mantissa: u128 = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        mantissa = mantissa.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
    }
    let mut exp = suffix_exp.checked_sub(i32::try_from(frac_part.len()).ok()?)?;
    mantissa = mantissa.checked_mul(1024u128.checked_pow(binary_power)?)?;
    if exp < -9 {
        // Rounded up (away from zero) to nano precision, as the API server does.
        let divisor = 10u128.checked_pow(u32::try_from(-9 - exp).ok()?)?;
        mantissa = mantissa.div_ceil(divisor);
        exp = -9;
    }
    if mantissa == 0 {
        return Some("0".to_string());
    }
    while mantissa.is_multiple_of(10) {
        mantissa /= 10;
        exp += 1;
    }
    let sign = if negative { "-" } else { "" };
    if format == Format::BinarySI {
        if let Some(binary) = as_binary(mantissa, exp) {
            return Some(format!("{sign}{binary}"));
        }
    }
    let exp3 = exp.div_euclid(3) * 3;
    let mantissa = mantissa.checked_mul(10u128.checked_pow(u32::try_from(exp - exp3).ok()?)?)?;
    let suffix = match format {
        Format::DecimalExponent if exp3 == 0 => String::new(),
        Format::DecimalExponent => format!("e{exp3}"),
        _ => match DECIMAL_SUFFIXES.iter().find(|(_, e)| *e == exp3) {
            Some((suffix, _)) => suffix.to_string(),
            None => format!("e{exp3}"),
        },
    };
    Some(format!("{sign}{mantissa}{suffix}"))
}

/// `(format, decimal exponent, power of 1024)` of a suffix.
fn interpret_suffix(suffix: &str) -> Option<(Format, i32, u32)> {
    if let Some((_, exp)) = DECIMAL_SUFFIXES.iter().find(|(s, _)| *s == suffix) {
        return Some((Format::DecimalSI, *exp, 0));
    }
    if let Some(power) = BINARY_SUFFIXES.iter().skip(1).position(|s| *s == suffix) {
        return Some((Format::BinarySI, 0, u32::try_from(power + 1).ok()?));
    }
    let digits = suffix.strip_prefix('e').or_else(|| suffix.strip_prefix('E'))?;
    let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((Format::DecimalExponent, digits.parse().ok()?, 0))
}

/// `mantissa × 10^exp` in a binary suffix, when it is a whole number of at least 1024.
fn as_binary(mantissa: u128, exp: i32) -> Option<String> {
    if exp < 0 {
        return None;
    }
    let mut value = mantissa.checked_mul(10u128.checked_pow(u32::try_from(exp).ok()?)?)?;
    if value < 1024 {
        return None;
    }
    let mut power = 0;
    while value.is_multiple_of(1024) && power < BINARY_SUFFIXES.len() - 1 {
        value /= 1024;
        power += 1;
    }
    Some(format!("{value}{}", BINARY_SUFFIXES[power]))
}

/// Canonicalises the quantities of an object in place: `resources.limits`/`resources.requests`
/// (containers, PVCs) and `sizeLimit` (emptyDir). Numbers are accepted as quantities, as upstream.
pub(crate) fn canonicalize_in(v: &mut Value) -> Result<(), String> {
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "sizeLimit" => canonicalize_value(child)?,
                    "resources" => {
                        for part in ["limits", "requests"] {
                            if let Some(Value::Object(list)) = child.get_mut(part) {
                                list.values_mut().try_for_each(canonicalize_value)?;
                            }
                        }
                        canonicalize_in(child)?;
                    }
                    _ => canonicalize_in(child)?,
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(canonicalize_in),
        _ => Ok(()),
    }
}

fn canonicalize_value(v: &mut Value) -> Result<(), String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Null => return Ok(()),
        _ => return Err(FORMAT_ERROR.to_string()),
    };
    *v = Value::String(canonical(&text).ok_or_else(|| FORMAT_ERROR.to_string())?);
    Ok(())
}
