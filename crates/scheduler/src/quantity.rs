//! Parsing of resource quantities ("100m", "1.5Gi", "2e3") into the integer
//! units the scheduler compares: millicores for CPU, plain units (bytes,
//! counts) for everything else.
//!
//! Upstream keeps an arbitrary-precision `resource.Quantity` and asks it for
//! `MilliValue()` / `Value()`, both rounding up
//! (staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go). We parse
//! into an exact decimal/binary form and round up the same way.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Why a quantity string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantity {0:?} is not a valid resource quantity")]
pub struct QuantityError(pub String);

/// A parsed quantity: `mantissa * 10^exp10 * 2^exp2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    mantissa: i128,
    exp10: i32,
    exp2: u32,
}

/// Largest number of significant digits kept; more cannot change an `i64`
/// result after rounding up by more than one unit.
const MAX_DIGITS: usize = 30;

fn parse(text: &str) -> Result<Parsed, QuantityError> {
    let err = || QuantityError(text.to_string());
    let s = text.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let number_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_len);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(err());
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let mut mantissa: i128 = 0;
    let mut exp10: i32 = 0;
    let mut digits = 0usize;
    for c in int_part.chars() {
        let d = i128::from(c.to_digit(10).ok_or_else(err)?);
        if digits < MAX_DIGITS {
            mantissa = mantissa * 10 + d;
            if mantissa > 0 {
                digits += 1;
            }
        } else {
            exp10 += 1;
        }
    }
    for c in frac_part.chars() {
        let d = i128::from(c.to_digit(10).ok_or_else(err)?);
        if digits < MAX_DIGITS {
            mantissa = mantissa * 10 + d;
            exp10 -= 1;
            if mantissa > 0 {
                digits += 1;
            }
        } else if d > 0 {
            // Dropped digits only matter for rounding up: keep a trace of them.
            mantissa += 1;
            break;
        }
    }
    let (suffix_exp10, exp2) = match suffix {
        "" => (0, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        other => {
            let exponent = other
                .strip_prefix('e')
                .or_else(|| other.strip_prefix('E'))
                .ok_or_else(err)?;
            let value: i32 = exponent.parse().map_err(|_| err())?;
            if !(-100..=100).contains(&value) {
                return Err(err());
            }
            (value, 0)
        }
    };
    Ok(Parsed {
        mantissa: if negative { -mantissa } else { mantissa },
        exp10: exp10 + suffix_exp10,
        exp2,
    })
}

/// The value times `10^scale`, rounded up (towards +infinity) and saturated
/// to the `i64` range.
fn scaled(parsed: Parsed, scale: i32) -> i64 {
    let mut value = parsed.mantissa;
    let mut exp10 = parsed.exp10 + scale;
    for _ in 0..parsed.exp2 {
        value = value.saturating_mul(2);
    }
    while exp10 > 0 {
        value = value.saturating_mul(10);
        exp10 -= 1;
    }
    while exp10 < 0 {
        let rounded_up = value > 0 && value % 10 != 0;
        value = value / 10 + i128::from(rounded_up);
        exp10 += 1;
    }
    i64::try_from(value).unwrap_or(if value > 0 { i64::MAX } else { i64::MIN })
}

/// The quantity in thousandths of a unit, rounded up (upstream `MilliValue`).
pub fn milli_value(quantity: &Quantity) -> Result<i64, QuantityError> {
    parse(&quantity.0).map(|p| scaled(p, 3))
}

/// The quantity in whole units, rounded up (upstream `Value`).
pub fn value(quantity: &Quantity) -> Result<i64, QuantityError> {
    parse(&quantity.0).map(|p| scaled(p, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.to_string())
    }

    #[test]
    fn quantities_parse_into_rounded_up_units() {
        let cases = [
            ("whole cores", "2", 2000, 2),
            ("millicores", "100m", 100, 1),
            ("fractional cores", "1.5", 1500, 2),
            ("binary suffix", "1Ki", 1_024_000, 1024),
            ("gibibytes", "64Gi", 64 * (1 << 30) * 1000, 64 * (1 << 30)),
            ("decimal suffix", "2k", 2_000_000, 2000),
            ("exponent", "3e2", 300_000, 300),
            ("nano rounds up", "1n", 1, 1),
            ("fraction of a milli rounds up", "0.0001", 1, 1),
            ("fractional binary", "1.5Mi", 1_572_864_000, 1_572_864),
            ("zero", "0", 0, 0),
            ("negative", "-1", -1000, -1),
        ];
        for (name, text, milli, whole) in cases {
            assert_eq!(milli_value(&q(text)), Ok(milli), "{name}: milli");
            assert_eq!(value(&q(text)), Ok(whole), "{name}: value");
        }
    }

    #[test]
    fn malformed_quantities_are_errors_not_panics() {
        for text in ["", "abc", "1..2", "1Qi", "1e", "1e999", ".", "--1"] {
            assert!(value(&q(text)).is_err(), "{text:?} should not parse");
        }
    }

    #[test]
    fn huge_quantities_saturate() {
        assert_eq!(value(&q("100Ei")), Ok(i64::MAX));
        assert_eq!(
            value(&q("99999999999999999999999999999999999")),
            Ok(i64::MAX)
        );
    }
}
