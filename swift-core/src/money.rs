//! Money: a non-negative amount with exactly two fraction digits, as docs/API.md writes it
//! (`"19.99"`) and PostgreSQL stores it (`NUMERIC(12,2)`). Never a float.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::validation::Invalid;

/// Largest amount NUMERIC(12,2) holds: 9,999,999,999.99.
const MAX: Decimal = Decimal::from_parts(0xD4A5_0FFF, 0xE8, 0, false, 2);

/// An amount in the store currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Parses `"12.50"`: digits, a dot, exactly two digits. `"12.5"`, `"1e3"`, `"-1.00"`
    /// are refused, so the client's intent is never guessed.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                field,
                "must be an amount with two decimals, such as \"19.99\"",
            )
        };
        let (whole, cents) = raw.split_once('.').ok_or_else(bad)?;
        if whole.is_empty()
            || whole.len() > 10
            || cents.len() != 2
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !cents.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        Decimal::from_str(raw).map(Self).map_err(|_| bad())
    }

    /// Wraps a database value (already NUMERIC(12,2)).
    pub fn from_decimal(d: Decimal) -> Self {
        Self(d.round_dp(2))
    }

    pub fn amount(&self) -> Decimal {
        self.0
    }

    /// `price × quantity`, exact; `None` past NUMERIC(12,2).
    pub fn times(&self, quantity: u32) -> Option<Money> {
        let total = self.0.checked_mul(Decimal::from(quantity))?;
        (total <= MAX).then_some(Money(total))
    }

    pub fn checked_add(&self, other: Money) -> Option<Money> {
        let total = self.0.checked_add(other.0)?;
        (total <= MAX).then_some(Money(total))
    }
}

/// Stored (in JSON columns: tax lines, weight bands) as the API writes it: `"12.50"`.
impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Money::parse("amount", &raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl std::fmt::Display for Money {
    /// Always two decimals: `12.50`, `100.00`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = self.0;
        d.rescale(2);
        write!(f, "{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_two_decimal_strings_only() {
        assert_eq!(Money::parse("price", "19.99").unwrap().to_string(), "19.99");
        assert_eq!(Money::parse("price", "0.00").unwrap().to_string(), "0.00");
        for bad in [
            "19.9",
            "19",
            "-1.00",
            "1e3",
            "1.000",
            " 1.00",
            "abc",
            "12345678901.00",
            ".50",
        ] {
            assert!(Money::parse("price", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_ceiling_is_numeric_12_2s() {
        assert_eq!(MAX.to_string(), "9999999999.99");
    }

    #[test]
    fn arithmetic_is_exact_to_the_cent() {
        let dime = Money::parse("p", "0.10").unwrap();
        assert_eq!(dime.times(3).unwrap().to_string(), "0.30");
        let p = Money::parse("p", "19.99").unwrap();
        assert_eq!(p.times(7).unwrap().to_string(), "139.93");
        assert_eq!(
            Money::from_decimal(Decimal::new(100, 0)).to_string(),
            "100.00"
        );
        assert!(
            Money::parse("p", "9999999999.99")
                .unwrap()
                .times(2)
                .is_none()
        );
    }
}
