//! Kubernetes quantities (`500m`, `64Mi`, `1e3`) as exact numbers, so values the API server
//! writes back in canonical form (`1000m` as `1`) compare equal to what was sent.

/// A quantity as an exact fraction: `digits × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    digits: i128,
    scale: u32,
}

impl Quantity {
    /// `<number><suffix>`: the suffixes Kubernetes knows (`n`, `u`, `m`, `k`, `M` … `E`, `Ki` …
    /// `Ei`, `e3`).
    pub fn parse(s: &str) -> Option<Quantity> {
        let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(s.len());
        let (number, suffix) = s.split_at(split);
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let negative = int.starts_with('-');
        let int = int.trim_start_matches(['+', '-']);
        if int.is_empty() && frac.is_empty() || !(int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())) {
            return None;
        }
        let mut digits: i128 = format!("{int}{frac}").parse().ok()?;
        if negative {
            digits = -digits;
        }
        let mut scale = u32::try_from(frac.len()).ok()?;
        let binary = |power: u32| 1024i128.checked_pow(power);
        let multiplier: i128 = match suffix {
            "" => 1,
            // Billionths and millionths: the metrics API reports CPU in nanocores.
            "n" => {
                scale += 9;
                1
            }
            "u" => {
                scale += 6;
                1
            }
            "m" => {
                scale += 3;
                1
            }
            "k" => 1_000,
            "M" => 1_000_000,
            "G" => 1_000_000_000,
            "T" => 10i128.pow(12),
            "P" => 10i128.pow(15),
            "E" => 10i128.pow(18),
            "Ki" => binary(1)?,
            "Mi" => binary(2)?,
            "Gi" => binary(3)?,
            "Ti" => binary(4)?,
            "Pi" => binary(5)?,
            "Ei" => binary(6)?,
            e => {
                let exp: u32 = e.strip_prefix(['e', 'E'])?.parse().ok()?;
                10i128.checked_pow(exp)?
            }
        };
        Some(Quantity { digits: digits.checked_mul(multiplier)?, scale })
    }

    pub fn same_as(&self, other: &Quantity) -> bool {
        let lhs = 10i128.checked_pow(other.scale).and_then(|p| self.digits.checked_mul(p));
        let rhs = 10i128.checked_pow(self.scale).and_then(|p| other.digits.checked_mul(p));
        lhs.is_some() && lhs == rhs
    }

    /// The value as a float, e.g. bytes of memory or cores of CPU.
    pub fn to_f64(&self) -> f64 {
        self.digits as f64 / 10f64.powi(i32::try_from(self.scale).unwrap_or(i32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_exactly() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert!(q("1Gi").same_as(&q("1073741824")));
        assert!(q("2M").same_as(&q("2000000")));
        assert!(q("1.5").same_as(&q("1500m")));
        assert!(q("1e3").same_as(&q("1k")));
        assert!(q("250000000n").same_as(&q("250m")));
        assert!(q("1500u").same_as(&q("1500000n")));
        assert!(!q("1G").same_as(&q("1Gi")));
        for bad in ["", "Mi", "1..2", "1x", "abc"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
    }
}
