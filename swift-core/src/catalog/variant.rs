//! Options and variants. A product has up to three options (Size: S/M/L, Colour: Red/Blue)
//! and one or more variants, each a buyable thing with its own SKU, option values, price,
//! stock and pictures. A simple product has one variant and no options.
//!
//! A variant's option values are stored in the options' order (`option_values[1]` is the
//! value of option 1); the API names them (`[{"name": "Size", "value": "M"}]`). The rules
//! that tie the two together live here, once.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::types::{Image, Sku};
use crate::money::Money;
use crate::validation::{Invalid, plain_text};

/// At most this many options per product (as Shopify and Medusa's defaults).
pub const MAX_OPTIONS: usize = 3;
/// At most this many values per option.
pub const MAX_VALUES: usize = 100;
/// At most this many variants per product.
pub const MAX_VARIANTS: usize = 100;

/// An option of a product: its name and the values its variants may take, in display order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductOption {
    pub name: String,
    pub values: Vec<String>,
}

/// One option value of a variant, by the option's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionValue {
    pub name: String,
    pub value: String,
}

fn option_text(field: &'static str, raw: &str, what: &str) -> Result<String, Invalid> {
    let text = plain_text(field, raw, 50)?;
    if text.is_empty() {
        return Err(Invalid::new(field, format!("{what} must not be empty")));
    }
    Ok(text)
}

/// Checks a product's options: at most [`MAX_OPTIONS`], each with a name unique in the
/// product (ignoring case) and 1 to [`MAX_VALUES`] distinct values of up to 50 characters.
pub fn parse_options(raw: Vec<(String, Vec<String>)>) -> Result<Vec<ProductOption>, Invalid> {
    if raw.len() > MAX_OPTIONS {
        return Err(Invalid::new(
            "options",
            format!("at most {MAX_OPTIONS} options"),
        ));
    }
    let mut names = HashSet::new();
    raw.into_iter()
        .map(|(name, values)| {
            let name = option_text("options", &name, "an option name")?;
            if !names.insert(name.to_lowercase()) {
                return Err(Invalid::new(
                    "options",
                    format!("the option {name:?} is named twice"),
                ));
            }
            if values.is_empty() || values.len() > MAX_VALUES {
                return Err(Invalid::new(
                    "options",
                    format!("the option {name:?} needs 1 to {MAX_VALUES} values"),
                ));
            }
            let mut seen = HashSet::new();
            let values = values
                .iter()
                .map(|v| {
                    let v = option_text("options", v, "an option value")?;
                    if !seen.insert(v.clone()) {
                        return Err(Invalid::new(
                            "options",
                            format!("the option {name:?} lists {v:?} twice"),
                        ));
                    }
                    Ok(v)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ProductOption { name, values })
        })
        .collect()
}

/// A variant's values in the options' order: each option named exactly once, with one of
/// its values, and nothing else.
pub fn values_in_order(
    options: &[ProductOption],
    given: &[OptionValue],
) -> Result<Vec<String>, Invalid> {
    let invalid = |message: String| Invalid::new("options", message);
    if let Some(stray) = given
        .iter()
        .find(|g| !options.iter().any(|o| o.name == g.name))
    {
        return Err(invalid(format!(
            "the product has no option {:?}",
            stray.name
        )));
    }
    options
        .iter()
        .map(|option| {
            let mut named = given.iter().filter(|g| g.name == option.name);
            match (named.next(), named.next()) {
                (Some(g), None) if option.values.contains(&g.value) => Ok(g.value.clone()),
                (Some(g), None) => Err(invalid(format!(
                    "{:?} is not a value of the option {:?}",
                    g.value, option.name
                ))),
                (None, _) => Err(invalid(format!("a value for {:?} is missing", option.name))),
                (Some(_), Some(_)) => Err(invalid(format!(
                    "the option {:?} is given twice",
                    option.name
                ))),
            }
        })
        .collect()
}

/// A variant's values named by their options.
pub fn named_values(options: &[ProductOption], values: &[String]) -> Vec<OptionValue> {
    options
        .iter()
        .zip(values)
        .map(|(o, v)| OptionValue {
            name: o.name.clone(),
            value: v.clone(),
        })
        .collect()
}

/// A compare-at ("was") price must be more than the price it is shown beside.
pub fn check_compare_at(price: Money, compare_at: Option<Money>) -> Result<(), Invalid> {
    match compare_at {
        Some(was) if was <= price => Err(compare_at_too_low()),
        _ => Ok(()),
    }
}

pub fn compare_at_too_low() -> Invalid {
    Invalid::new("compare_at_price", "must be more than the price")
}

/// A variant as stored, with its stock.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Variant {
    pub id: Uuid,
    pub product_id: Uuid,
    pub sku: String,
    pub option_values: Vec<String>,
    pub price: rust_decimal::Decimal,
    pub compare_at_price: Option<rust_decimal::Decimal>,
    pub images: sqlx::types::Json<Vec<Image>>,
    pub is_active: bool,
    pub stock: i32,
    /// For rates by weight; none counts as 0.
    pub weight_grams: Option<i32>,
}

impl Variant {
    pub fn price(&self) -> Money {
        Money::from_decimal(self.price)
    }

    pub fn compare_at_price(&self) -> Option<Money> {
        self.compare_at_price.map(Money::from_decimal)
    }
}

/// A variant being created. Its option values are named; the service puts them in order.
#[derive(Debug, Clone)]
pub struct NewVariant {
    pub sku: Sku,
    pub options: Vec<OptionValue>,
    pub price: Money,
    pub compare_at_price: Option<Money>,
    pub stock: i32,
    pub images: Vec<Image>,
    pub is_active: bool,
    pub weight_grams: Option<i32>,
}

/// A partial variant update; `compare_at_price: Some(None)` removes the compare-at price.
#[derive(Debug, Clone, Default)]
pub struct VariantPatch {
    pub sku: Option<Sku>,
    pub options: Option<Vec<OptionValue>>,
    pub price: Option<Money>,
    pub compare_at_price: Option<Option<Money>>,
    pub stock: Option<i32>,
    pub images: Option<Vec<Image>>,
    pub is_active: Option<bool>,
    /// `Some(None)` removes the weight.
    pub weight_grams: Option<Option<i32>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size_colour() -> Vec<ProductOption> {
        parse_options(vec![
            ("Size".into(), vec!["S".into(), "M".into()]),
            ("Colour".into(), vec!["Red".into()]),
        ])
        .unwrap()
    }

    fn named(pairs: &[(&str, &str)]) -> Vec<OptionValue> {
        pairs
            .iter()
            .map(|(n, v)| OptionValue {
                name: (*n).into(),
                value: (*v).into(),
            })
            .collect()
    }

    #[test]
    fn values_come_in_the_options_order() {
        let options = size_colour();
        let values = values_in_order(&options, &named(&[("Colour", "Red"), ("Size", "M")]));
        assert_eq!(values.unwrap(), vec!["M", "Red"]);
        assert_eq!(
            named_values(&options, &["M".into(), "Red".into()]),
            named(&[("Size", "M"), ("Colour", "Red")])
        );
        assert_eq!(values_in_order(&[], &[]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn every_option_once_with_one_of_its_values() {
        let options = size_colour();
        let refused = |given: &[(&str, &str)]| {
            values_in_order(&options, &named(given))
                .unwrap_err()
                .message
        };
        assert!(refused(&[("Size", "M")]).contains("missing"));
        assert!(refused(&[("Size", "XL"), ("Colour", "Red")]).contains("not a value"));
        assert!(refused(&[("Size", "M"), ("Size", "S"), ("Colour", "Red")]).contains("twice"));
        assert!(
            refused(&[("Size", "M"), ("Colour", "Red"), ("Fit", "Slim")]).contains("no option")
        );
    }

    #[test]
    fn options_are_few_named_once_with_distinct_values() {
        let four = (0..4)
            .map(|i| (format!("O{i}"), vec!["a".into()]))
            .collect();
        assert!(parse_options(four).is_err());
        assert!(parse_options(vec![("Size".into(), vec![])]).is_err());
        assert!(parse_options(vec![("Size".into(), vec!["S".into(), "S".into()])]).is_err());
        let twice = vec![
            ("Size".into(), vec!["S".into()]),
            ("size".into(), vec!["M".into()]),
        ];
        assert!(parse_options(twice).is_err());
        assert!(parse_options(vec![(" ".into(), vec!["S".into()])]).is_err());
    }

    #[test]
    fn compare_at_prices_exceed_the_price() {
        let price = Money::parse("price", "10.00").unwrap();
        let was = |s: &str| Some(Money::parse("compare_at_price", s).unwrap());
        assert!(check_compare_at(price, was("12.00")).is_ok());
        assert!(check_compare_at(price, was("10.00")).is_err());
        assert!(check_compare_at(price, None).is_ok());
    }
}
