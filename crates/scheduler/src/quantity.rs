//! Resource quantities ("100m", "1.5Gi", "2e3") in the integer units the
//! scheduler compares: millicores for CPU, plain units (bytes, counts) for
//! everything else.
//!
//! Upstream keeps an arbitrary-precision `resource.Quantity` and asks it for
//! `MilliValue()` / `Value()`, both rounding up
//! (staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go). The
//! parsing is the API crate's ([`Amount`]: exact thousandths, rounded up);
//! here the results are rounded to units and saturated to the `i64` range.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use rkube_api::quota::Amount;
pub use rkube_api::quota::QuantityError;

/// The quantity in thousandths of a unit, rounded up (upstream `MilliValue`).
pub fn milli_value(quantity: &Quantity) -> Result<i64, QuantityError> {
    let amount: Amount = quantity.0.parse()?;
    Ok(saturated(amount.milli))
}

/// The quantity in whole units, rounded up (upstream `Value`).
pub fn value(quantity: &Quantity) -> Result<i64, QuantityError> {
    let amount: Amount = quantity.0.parse()?;
    let whole = amount.milli.div_euclid(1000) + i128::from(amount.milli.rem_euclid(1000) != 0);
    Ok(saturated(whole))
}

fn saturated(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value > 0 { i64::MAX } else { i64::MIN })
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
