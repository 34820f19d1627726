//! What a cart costs: its discount, shipping, tax and total, worked out in one place for the
//! cart's view and for checkout alike, so the total a shopper is shown is the total checkout
//! charges (docs/API.md "Totals").
//!
//! The order of the steps is the rule:
//! 1. `subtotal`: the lines at their prices.
//! 2. `discount_total`: the code's percentage of the subtotal, or its fixed amount (never more
//!    than the subtotal); nothing unless the subtotal reaches the code's minimum.
//! 3. `shipping_total`: the method's rate. "Free over" compares the threshold with the
//!    subtotal *after* the discount: a discount that takes an order under the threshold
//!    brings the shipping charge back, as the shopper pays less than the threshold.
//! 4. `tax_total`: the destination's rate (a region's own rate wins over its country's) on
//!    the discounted subtotal, plus shipping where shipping is taxed. With tax-exclusive
//!    prices the tax is added to the total; with tax-inclusive prices it is already in them
//!    and is shown, not added (the tax contained in a gross amount G at rate r is
//!    G × r / (100 + r)).
//!
//! Rounding: amounts are exact decimals until a step yields cents; each step's result is
//! rounded once, half away from zero (0.005 → 0.01), by [`round_cents`]. Tax is rounded on
//! the order's whole taxable amount, not line by line: one rounding keeps the tax within
//! half a cent of the exact tax of what is bought, where rounding each line could drift a
//! cent per line; an order has one destination, so one rate and one tax line.

use rust_decimal::{Decimal, RoundingStrategy};

use super::types::Totals;
use crate::money::Money;

/// Rounds to cents, half away from zero: the one rounding rule of pricing.
pub fn round_cents(exact: Decimal) -> Money {
    Money::from_decimal(exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

/// Whether catalog prices include tax (`PRICES_INCLUDE_TAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxMode {
    /// Prices are net; tax is added at checkout (usual in the US).
    Exclusive,
    /// Prices are gross; the tax they contain is shown (usual in the EU and UK).
    Inclusive,
}

/// The store's tax settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxPolicy {
    pub mode: TaxMode,
    /// Whether shipping is taxed at the destination's rate (`TAX_SHIPPING`).
    pub on_shipping: bool,
}

/// A tax rate: `percent` of 20 is 20 %.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRate {
    pub name: String,
    pub percent: Decimal,
}

/// The tax an order pays at one rate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaxLine {
    pub name: String,
    pub percent: Decimal,
    pub amount: Money,
}

/// What a discount code takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// A percentage of the subtotal, 0 < p ≤ 100.
    Percent(Decimal),
    /// An amount, at most the subtotal.
    Fixed(Money),
}

/// A shipping method's rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rate {
    Flat(Money),
    /// `price`, or nothing once the discounted subtotal reaches `threshold`.
    FreeOver {
        price: Money,
        threshold: Money,
    },
    /// The first band whose weight limit the cart is within; heavier carts cannot use it.
    ByWeight(Vec<WeightBand>),
}

/// Carts up to `up_to_grams` (inclusive) ship for `price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WeightBand {
    pub up_to_grams: i64,
    pub price: Money,
}

impl Rate {
    /// The charge for a cart of `weight_grams` whose discounted subtotal is `goods`; `None`
    /// when the method cannot carry it (heavier than its last band).
    pub fn charge(&self, goods: Money, weight_grams: i64) -> Option<Money> {
        match self {
            Rate::Flat(price) => Some(*price),
            Rate::FreeOver { price, threshold } => Some(if goods >= *threshold {
                Money::ZERO
            } else {
                *price
            }),
            Rate::ByWeight(bands) => bands
                .iter()
                .filter(|b| weight_grams <= b.up_to_grams)
                .min_by_key(|b| b.up_to_grams)
                .map(|b| b.price),
        }
    }
}

/// What a cart is priced from.
#[derive(Debug, Clone)]
pub struct PriceInput<'a> {
    pub subtotal: Money,
    pub weight_grams: i64,
    /// The code's discount, once the code is known to apply (its minimum is checked here).
    pub discount: Option<(Discount, Option<Money>)>,
    pub shipping: Option<&'a Rate>,
    pub tax: Option<&'a TaxRate>,
    pub policy: TaxPolicy,
}

/// Why a cart cannot be priced as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PricingError {
    /// The subtotal is under the code's minimum.
    BelowMinimum(Money),
    /// The shipping method cannot carry this weight.
    TooHeavy,
    /// Past the largest amount an order holds.
    TooLarge,
}

/// The totals and tax lines of a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub totals: Totals,
    pub tax_lines: Vec<TaxLine>,
}

/// Prices a cart by the steps of the module's rule.
pub fn price(input: &PriceInput<'_>) -> Result<Priced, PricingError> {
    let subtotal = input.subtotal.amount();
    let discount = match input.discount {
        None => Money::ZERO,
        Some((_, Some(minimum))) if input.subtotal < minimum => {
            return Err(PricingError::BelowMinimum(minimum));
        }
        Some((Discount::Percent(p), _)) => round_cents(subtotal * p / Decimal::ONE_HUNDRED),
        Some((Discount::Fixed(amount), _)) => amount.min(input.subtotal),
    };
    let goods = Money::from_decimal(subtotal - discount.amount());
    let shipping = match input.shipping {
        None => Money::ZERO,
        Some(rate) => rate
            .charge(goods, input.weight_grams)
            .ok_or(PricingError::TooHeavy)?,
    };
    let mut tax_lines = Vec::new();
    if let Some(rate) = input.tax {
        let mut base = goods.amount();
        if input.policy.on_shipping {
            base += shipping.amount();
        }
        let exact = match input.policy.mode {
            TaxMode::Exclusive => base * rate.percent / Decimal::ONE_HUNDRED,
            TaxMode::Inclusive => base * rate.percent / (Decimal::ONE_HUNDRED + rate.percent),
        };
        tax_lines.push(TaxLine {
            name: rate.name.clone(),
            percent: rate.percent,
            amount: round_cents(exact),
        });
    }
    let tax = tax_lines.iter().map(|l| l.amount.amount()).sum::<Decimal>();
    let added_tax = match input.policy.mode {
        TaxMode::Exclusive => tax,
        TaxMode::Inclusive => Decimal::ZERO,
    };
    let total = goods.amount() + shipping.amount() + added_tax;
    let fits = |d: Decimal| Money::ZERO.checked_add(Money::from_decimal(d));
    Ok(Priced {
        totals: Totals {
            subtotal: input.subtotal,
            discount_total: discount,
            shipping_total: shipping,
            tax_total: fits(tax).ok_or(PricingError::TooLarge)?,
            total: fits(total).ok_or(PricingError::TooLarge)?,
        },
        tax_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse("test", s).unwrap()
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    const EXCLUSIVE: TaxPolicy = TaxPolicy {
        mode: TaxMode::Exclusive,
        on_shipping: false,
    };
    const INCLUSIVE: TaxPolicy = TaxPolicy {
        mode: TaxMode::Inclusive,
        on_shipping: false,
    };

    fn vat(percent: &str) -> TaxRate {
        TaxRate {
            name: "VAT".into(),
            percent: d(percent),
        }
    }

    fn input(subtotal: &str) -> PriceInput<'static> {
        PriceInput {
            subtotal: m(subtotal),
            weight_grams: 0,
            discount: None,
            shipping: None,
            tax: None,
            policy: EXCLUSIVE,
        }
    }

    /// (subtotal, discount, shipping, tax, total) as strings.
    fn totals(p: &Priced) -> [String; 5] {
        let t = p.totals;
        [
            t.subtotal,
            t.discount_total,
            t.shipping_total,
            t.tax_total,
            t.total,
        ]
        .map(|x| x.to_string())
    }

    #[test]
    fn half_a_cent_rounds_away_from_zero_not_to_even() {
        assert_eq!(round_cents(d("0.005")), m("0.01"));
        assert_eq!(round_cents(d("0.015")), m("0.02"));
        assert_eq!(
            round_cents(d("0.025")),
            m("0.03"),
            "banker's rounding would give 0.02"
        );
        assert_eq!(round_cents(d("0.0049999")), m("0.00"));
        assert_eq!(round_cents(d("2.675")), m("2.68"));
    }

    #[test]
    fn a_cart_alone_costs_its_subtotal() {
        let p = price(&input("19.99")).unwrap();
        assert_eq!(totals(&p), ["19.99", "0.00", "0.00", "0.00", "19.99"]);
        assert!(p.tax_lines.is_empty());
    }

    #[test]
    fn exclusive_tax_is_added_and_inclusive_tax_is_shown() {
        let rate = vat("20");
        let mut i = input("10.00");
        i.tax = Some(&rate);
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["10.00", "0.00", "0.00", "2.00", "12.00"]
        );
        i.policy = INCLUSIVE;
        // 10.00 gross at 20 % holds 10 × 20 / 120 = 1.666… of tax.
        let p = price(&i).unwrap();
        assert_eq!(totals(&p), ["10.00", "0.00", "0.00", "1.67", "10.00"]);
        assert_eq!(p.tax_lines[0].amount, m("1.67"));
        assert_eq!(p.tax_lines[0].percent, d("20"));
    }

    #[test]
    fn tax_exactly_half_a_cent_rounds_up() {
        // 0.10 at 5 % is 0.005 of tax: 0.01, where rounding to even would give 0.00.
        let rate = vat("5");
        let mut i = input("0.10");
        i.tax = Some(&rate);
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["0.10", "0.00", "0.00", "0.01", "0.11"]
        );
        // 0.50 at 7 % is 0.035: 0.04.
        let rate = vat("7");
        let mut i = input("0.50");
        i.tax = Some(&rate);
        assert_eq!(price(&i).unwrap().totals.tax_total, m("0.04"));
    }

    #[test]
    fn percentage_discounts_on_odd_amounts_round_once() {
        let mut i = input("9.99");
        i.discount = Some((Discount::Percent(d("15")), None));
        // 15 % of 9.99 = 1.4985 → 1.50.
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["9.99", "1.50", "0.00", "0.00", "8.49"]
        );
        let mut i = input("10.01");
        i.discount = Some((Discount::Percent(d("33.33")), None));
        // 33.33 % of 10.01 = 3.336333 → 3.34.
        assert_eq!(price(&i).unwrap().totals.discount_total, m("3.34"));
        let mut i = input("0.05");
        i.discount = Some((Discount::Percent(d("10")), None));
        // 0.005 → 0.01.
        assert_eq!(price(&i).unwrap().totals.discount_total, m("0.01"));
    }

    #[test]
    fn fixed_discounts_stop_at_the_subtotal_and_minimums_are_kept() {
        let mut i = input("7.00");
        i.discount = Some((Discount::Fixed(m("10.00")), None));
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["7.00", "7.00", "0.00", "0.00", "0.00"]
        );
        i.discount = Some((Discount::Fixed(m("2.00")), Some(m("7.01"))));
        assert_eq!(price(&i), Err(PricingError::BelowMinimum(m("7.01"))));
        i.discount = Some((Discount::Fixed(m("2.00")), Some(m("7.00"))));
        assert_eq!(price(&i).unwrap().totals.total, m("5.00"));
    }

    #[test]
    fn a_discount_can_take_an_order_back_under_free_shipping() {
        let rate = Rate::FreeOver {
            price: m("4.95"),
            threshold: m("50.00"),
        };
        let mut i = input("52.00");
        i.shipping = Some(&rate);
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["52.00", "0.00", "0.00", "0.00", "52.00"]
        );
        // 10 % off: 46.80 of goods, under the threshold: shipping is charged again.
        i.discount = Some((Discount::Percent(d("10")), None));
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["52.00", "5.20", "4.95", "0.00", "51.75"]
        );
        // Exactly at the threshold ships free.
        let mut i = input("50.00");
        i.shipping = Some(&rate);
        assert_eq!(price(&i).unwrap().totals.shipping_total, Money::ZERO);
    }

    #[test]
    fn weight_bands_pick_the_lightest_that_fits() {
        let rate = Rate::ByWeight(vec![
            WeightBand {
                up_to_grams: 5000,
                price: m("9.00"),
            },
            WeightBand {
                up_to_grams: 1000,
                price: m("4.00"),
            },
        ]);
        assert_eq!(rate.charge(m("1.00"), 0), Some(m("4.00")));
        assert_eq!(rate.charge(m("1.00"), 1000), Some(m("4.00")));
        assert_eq!(rate.charge(m("1.00"), 1001), Some(m("9.00")));
        assert_eq!(rate.charge(m("1.00"), 5001), None);
        let mut i = input("1.00");
        i.shipping = Some(&rate);
        i.weight_grams = 6000;
        assert_eq!(price(&i), Err(PricingError::TooHeavy));
    }

    #[test]
    fn shipping_is_taxed_only_where_configured() {
        let (rate, ship) = (vat("20"), Rate::Flat(m("5.00")));
        let mut i = input("10.00");
        i.tax = Some(&rate);
        i.shipping = Some(&ship);
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["10.00", "0.00", "5.00", "2.00", "17.00"]
        );
        i.policy.on_shipping = true;
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["10.00", "0.00", "5.00", "3.00", "18.00"]
        );
        // Inclusive, shipping taxed: 15.00 gross holds 2.50.
        i.policy.mode = TaxMode::Inclusive;
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["10.00", "0.00", "5.00", "2.50", "15.00"]
        );
    }

    #[test]
    fn tax_is_on_the_discounted_amount() {
        let rate = vat("20");
        let mut i = input("100.00");
        i.tax = Some(&rate);
        i.discount = Some((Discount::Percent(d("25")), None));
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["100.00", "25.00", "0.00", "15.00", "90.00"]
        );
        i.policy = INCLUSIVE;
        // 75.00 gross at 20 % holds 12.50.
        assert_eq!(
            totals(&price(&i).unwrap()),
            ["100.00", "25.00", "0.00", "12.50", "75.00"]
        );
    }
}
