//! Resource quantities for quota arithmetic (upstream `resource.Quantity`), held exactly in
//! thousandths (upstream's `MilliValue`, rounding up) and printed in canonical form.

use std::fmt;

/// A quantity string that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}")]
pub struct QuantityError(pub String);

/// How a quantity prints: with a binary suffix (`Mi`) or a decimal one (`k`, `m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `Ki`, `Mi`, `Gi`, …
    BinarySi,
    /// `m`, `k`, `M`, …, or none.
    #[default]
    DecimalSi,
}

/// An amount in thousandths of a unit, with the format it prints in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amount {
    /// Thousandths (`100m` CPU is 100, `1Ki` is 1 024 000).
    pub milli: i128,
    /// How it prints.
    pub format: Format,
}

/// Largest number of significant digits kept from the text.
const MAX_DIGITS: u32 = 30;

impl Amount {
    /// A count (`pods: 1`).
    pub fn count(n: i128) -> Self {
        Amount {
            milli: n.saturating_mul(1000),
            format: Format::DecimalSi,
        }
    }

    /// The sum; binary if either is (upstream keeps the first operand's format, and usage
    /// sums start from zero).
    pub fn plus(self, other: Amount) -> Amount {
        let format = if self.milli == 0 {
            other.format
        } else {
            self.format
        };
        Amount {
            milli: self.milli.saturating_add(other.milli),
            format,
        }
    }

    /// The larger, keeping its format.
    pub fn max(self, other: Amount) -> Amount {
        if other.milli > self.milli {
            other
        } else {
            self
        }
    }
}

impl std::str::FromStr for Amount {
    type Err = QuantityError;

    fn from_str(text: &str) -> Result<Self, QuantityError> {
        let err = || QuantityError(text.to_owned());
        let s = text.trim();
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let number_len = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(err());
        }
        let mut mantissa: i128 = 0;
        let mut exp10: i32 = 0;
        let mut digits = 0;
        for (c, in_fraction) in whole
            .chars()
            .map(|c| (c, false))
            .chain(fraction.chars().map(|c| (c, true)))
        {
            let d = i128::from(c.to_digit(10).ok_or_else(err)?);
            if digits < MAX_DIGITS {
                mantissa = mantissa * 10 + d;
                if mantissa > 0 {
                    digits += 1;
                }
                if in_fraction {
                    exp10 -= 1;
                }
            } else if !in_fraction {
                exp10 += 1;
            }
        }
        let (exp10_suffix, exp2, format) = match suffix {
            "" => (0, 0, Format::DecimalSi),
            "n" => (-9, 0, Format::DecimalSi),
            "u" => (-6, 0, Format::DecimalSi),
            "m" => (-3, 0, Format::DecimalSi),
            "k" => (3, 0, Format::DecimalSi),
            "M" => (6, 0, Format::DecimalSi),
            "G" => (9, 0, Format::DecimalSi),
            "T" => (12, 0, Format::DecimalSi),
            "P" => (15, 0, Format::DecimalSi),
            "E" => (18, 0, Format::DecimalSi),
            "Ki" => (0, 10, Format::BinarySi),
            "Mi" => (0, 20, Format::BinarySi),
            "Gi" => (0, 30, Format::BinarySi),
            "Ti" => (0, 40, Format::BinarySi),
            "Pi" => (0, 50, Format::BinarySi),
            "Ei" => (0, 60, Format::BinarySi),
            exponent => {
                let power = exponent
                    .strip_prefix(['e', 'E'])
                    .and_then(|p| p.parse::<i32>().ok())
                    .filter(|p| p.abs() <= 40)
                    .ok_or_else(err)?;
                (power, 0, Format::DecimalSi)
            }
        };
        // Thousandths: three more decimal places.
        let exp10 = exp10 + exp10_suffix + 3;
        let mut value = mantissa.checked_shl(exp2).ok_or_else(err)?;
        if exp10 >= 0 {
            let scale = 10i128.checked_pow(exp10.unsigned_abs()).ok_or_else(err)?;
            value = value.checked_mul(scale).ok_or_else(err)?;
        } else {
            let scale = 10i128
                .checked_pow(exp10.unsigned_abs())
                .unwrap_or(i128::MAX);
            // Round up, as `MilliValue` does.
            value = value / scale + i128::from(value % scale != 0);
        }
        Ok(Amount {
            milli: if negative { -value } else { value },
            format,
        })
    }
}

const BINARY: [(i128, &str); 6] = [
    (1 << 60, "Ei"),
    (1 << 50, "Pi"),
    (1 << 40, "Ti"),
    (1 << 30, "Gi"),
    (1 << 20, "Mi"),
    (1 << 10, "Ki"),
];
const DECIMAL: [(i128, &str); 6] = [
    (1_000_000_000_000_000_000, "E"),
    (1_000_000_000_000_000, "P"),
    (1_000_000_000_000, "T"),
    (1_000_000_000, "G"),
    (1_000_000, "M"),
    (1_000, "k"),
];

impl fmt::Display for Amount {
    /// Canonical form: the largest suffix that keeps the number whole (`1536Mi` is `1536Mi`,
    /// `2048Mi` is `2Gi`, `1500m` CPU is `1500m`, `2000` is `2k`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.milli % 1000 != 0 {
            return write!(f, "{}m", self.milli);
        }
        let units = self.milli / 1000;
        if units == 0 {
            return write!(f, "0");
        }
        let table = match self.format {
            Format::BinarySi => &BINARY,
            Format::DecimalSi => &DECIMAL,
        };
        match table.iter().find(|(scale, _)| units % scale == 0) {
            Some((scale, suffix)) => write!(f, "{}{suffix}", units / scale),
            None => write!(f, "{units}"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_to_thousandths_and_print_canonically() {
        let cases = [
            ("1", 1000, "1"),
            ("100m", 100, "100m"),
            ("0.5", 500, "500m"),
            ("1.5Gi", 1_610_612_736_000, "1536Mi"),
            ("128Mi", 134_217_728_000, "128Mi"),
            ("2000", 2_000_000, "2k"),
            ("1e3", 1_000_000, "1k"),
            ("1k", 1_000_000, "1k"),
            ("1n", 1, "1m"),
            ("0", 0, "0"),
        ];
        for (text, milli, printed) in cases {
            let amount: Amount = text.parse().unwrap();
            assert_eq!(amount.milli, milli, "{text}");
            assert_eq!(amount.to_string(), printed, "{text}");
        }
    }

    #[test]
    fn malformed_quantities_are_errors() {
        for text in ["", "abc", "1.2.3", "1Zi", "1e", "--1", "1e99999"] {
            assert!(text.parse::<Amount>().is_err(), "{text:?}");
        }
    }

    #[test]
    fn sums_keep_the_binary_format() {
        let a: Amount = "64Mi".parse().unwrap();
        assert_eq!(Amount::default().plus(a).plus(a).to_string(), "128Mi");
        assert_eq!(Amount::count(2).plus(Amount::count(1)).to_string(), "3");
    }
}
