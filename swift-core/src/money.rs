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
    /// The largest amount: 9,999,999,999.99.
    pub const MAX: Money = Money(MAX);

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

    /// The amount in a currency's minor units (cents for an exponent of 2, yen for 0), as
    /// payment providers count; `None` when the amount has a fraction the currency cannot
    /// carry ("12.50" in a currency without minor units).
    pub fn minor_units(&self, exponent: u32) -> Option<i64> {
        let scaled = self
            .0
            .checked_mul(Decimal::from(10_i64.checked_pow(exponent)?))?;
        if scaled.fract() != Decimal::ZERO {
            return None;
        }
        i64::try_from(scaled.trunc()).ok()
    }

    /// The amount of `minor` minor units; `None` if negative or past NUMERIC(12,2).
    pub fn from_minor_units(minor: i64, exponent: u32) -> Option<Money> {
        let amount =
            Decimal::from(minor).checked_div(Decimal::from(10_i64.checked_pow(exponent)?))?;
        (minor >= 0 && amount <= MAX && amount.scale() <= 2).then(|| Money(amount.round_dp(2)))
    }

    pub fn checked_sub(&self, other: Money) -> Option<Money> {
        let rest = self.0.checked_sub(other.0)?;
        (rest >= Decimal::ZERO).then_some(Money(rest))
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
    fn minor_units_respect_the_currency_exponent() {
        let m = |s| Money::parse("amount", s).unwrap();
        assert_eq!(m("12.34").minor_units(2), Some(1234));
        assert_eq!(m("0.05").minor_units(2), Some(5));
        assert_eq!(m("1200.00").minor_units(0), Some(1200), "yen");
        assert_eq!(
            m("12.50").minor_units(0),
            None,
            "a fraction yen cannot carry"
        );
        assert_eq!(m("1.25").minor_units(3), Some(1250), "dinar");
        assert_eq!(m("9999999999.99").minor_units(2), Some(999_999_999_999));
        assert_eq!(Money::from_minor_units(1234, 2), Some(m("12.34")));
        assert_eq!(Money::from_minor_units(1200, 0), Some(m("1200.00")));
        assert_eq!(Money::from_minor_units(1250, 3), Some(m("1.25")));
        assert_eq!(
            Money::from_minor_units(1, 3),
            None,
            "a mill is not a two-decimal amount"
        );
        assert_eq!(Money::from_minor_units(-1, 2), None);
        assert_eq!(m("5.00").checked_sub(m("5.01")), None);
        assert_eq!(m("5.00").checked_sub(m("1.50")), Some(m("3.50")));
    }

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
