//! Catalog domain types: parsed once at the edge, so services and SQL only see valid values.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::variant::{NewVariant, ProductOption, Variant};
use crate::money::Money;
use crate::validation::{Invalid, plain_text};

/// A URL-safe identifier: lower-case ASCII letters, digits and single hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let ok = (1..=120).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && !raw.contains("--");
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(
                field,
                "use lower-case letters, digits and single hyphens (max 120)",
            ))
        }
    }

    /// Derives a slug from a name: "Café Crème — 250 g" becomes "cafe-creme-250-g".
    pub fn from_name(name: &str) -> Self {
        let mut out = String::new();
        for c in name.chars().flat_map(fold_accent) {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        let mut out: String = out.trim_end_matches('-').chars().take(100).collect();
        while out.ends_with('-') {
            out.pop();
        }
        if out.is_empty() {
            out.push_str("item");
        }
        Self(out)
    }

    /// The same slug with a numeric suffix, to make it unique.
    pub fn with_suffix(&self, n: u32) -> Self {
        Self(format!("{}-{n}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn fold_accent(c: char) -> Vec<char> {
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'a',
        'ç' | 'Ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ñ' | 'Ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ß' => return vec!['s', 's'],
        other => other,
    };
    vec![folded]
}

/// A stock keeping unit: 1–64 of letters, digits, `-`, `_`, `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(
                "sku",
                "1 to 64 letters, digits, '-', '_' or '.'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1–200 characters of plain text.
pub fn parse_name(raw: &str) -> Result<String, Invalid> {
    let name = plain_text("name", raw, 200)?;
    if name.is_empty() {
        return Err(Invalid::new("name", "must not be empty"));
    }
    Ok(name)
}

/// A description: up to 10,000 characters; line breaks and tabs allowed, other control
/// characters (NUL included) not.
pub fn parse_description(raw: &str) -> Result<String, Invalid> {
    if raw.chars().count() > 10_000 {
        return Err(Invalid::new("description", "at most 10000 characters"));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Invalid::new(
            "description",
            "control characters are not allowed",
        ));
    }
    Ok(raw.trim().to_owned())
}

pub use crate::inventory::MAX_STOCK;

/// Stock on hand: 0 to one billion.
pub fn parse_stock(raw: i64) -> Result<i32, Invalid> {
    if (0..=i64::from(MAX_STOCK)).contains(&raw) {
        Ok(raw as i32)
    } else {
        Err(Invalid::new("stock", "must be between 0 and 1000000000"))
    }
}

/// A product picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub url: String,
    pub alt: String,
}

/// Checks up to 20 images with http(s) URLs.
pub fn parse_images(images: Vec<(String, String)>) -> Result<Vec<Image>, Invalid> {
    if images.len() > 20 {
        return Err(Invalid::new("images", "at most 20 images"));
    }
    images
        .into_iter()
        .map(|(url, alt)| {
            let url = url.trim().to_owned();
            let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
            if !scheme_ok
                || url.len() > 2048
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(Invalid::new("images", "each url must be an http(s) URL"));
            }
            Ok(Image {
                url,
                alt: plain_text("images", &alt, 200)?,
            })
        })
        .collect()
}

/// A category as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Category {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub parent_id: Option<Uuid>,
    pub position: i32,
}

/// A product with its category's identity and what its active variants sum up to, as
/// listings show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Product {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// The lowest and highest price of its active variants; `None` when it has none.
    pub price_min: Option<rust_decimal::Decimal>,
    pub price_max: Option<rust_decimal::Decimal>,
    /// Whether an active variant has stock.
    pub in_stock: bool,
    pub images: sqlx::types::Json<Vec<Image>>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub category_id: Option<Uuid>,
    pub category_slug: Option<String>,
    pub category_name: Option<String>,
}

impl Product {
    pub fn price_min(&self) -> Option<Money> {
        self.price_min.map(Money::from_decimal)
    }

    pub fn price_max(&self) -> Option<Money> {
        self.price_max.map(Money::from_decimal)
    }
}

/// A product with its options and variants, as its detail page shows it.
#[derive(Debug, Clone)]
pub struct ProductDetail {
    pub product: Product,
    pub options: Vec<ProductOption>,
    pub variants: Vec<Variant>,
}

/// Sort orders of `listProducts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductOrdering {
    PriceAsc,
    PriceDesc,
    NameAsc,
    NameDesc,
    CreatedAsc,
    CreatedDesc,
    /// Best text match first (an exact sku before everything).
    Relevance,
}

/// How deep a storefront listing goes: its first 1,000 products are shown and counted;
/// past them a listing says "1,000+" and shows nothing, and a shopper narrows it (a
/// category, a price range, a search), as on GitHub's or Amazon's result pages. Offsets,
/// counts and price prefixes then cost at most this many rows, never the whole catalog.
pub const LISTING_WINDOW: i64 = 1_000;

/// Filters of `listProducts`; active products only, always.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ProductFilter {
    /// A category slug; its descendants are included.
    pub category: Option<Slug>,
    /// Full-text query (≤ 200 characters).
    pub q: Option<String>,
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
    pub in_stock: Option<bool>,
}

impl ProductFilter {
    /// Whether it limits variant prices (`min_price`, `max_price` or both).
    pub fn has_price_range(&self) -> bool {
        self.min_price.is_some() || self.max_price.is_some()
    }

    /// Checks the free-text query. A query that ends in a space keeps one: the shopper
    /// finished the last word, which then is not a prefix ([`SearchTerms`]).
    pub fn parse_query(raw: Option<&str>) -> Result<Option<String>, Invalid> {
        match raw {
            None => Ok(None),
            Some(q) => {
                let mut text = plain_text("q", q, 200)?;
                if text.is_empty() {
                    return Ok(None);
                }
                if q.ends_with(char::is_whitespace) {
                    text.push(' ');
                }
                Ok(Some(text))
            }
        }
    }
}

/// A search query split for search-as-you-type: the last word, unless the query ends in a
/// space (the shopper finished it), is the word being typed and matches as a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms<'q> {
    /// The words before it, as typed.
    pub words: &'q str,
    /// The word being typed: 2 or more letters or digits, not in a quoted phrase nor
    /// negated (`-tea`); lower case.
    pub prefix: Option<String>,
}

/// Shorter prefixes match too much to be worth ranking.
const MIN_PREFIX_CHARS: usize = 2;

impl<'q> SearchTerms<'q> {
    pub fn of(q: &'q str) -> Self {
        let whole = Self {
            words: q,
            prefix: None,
        };
        if q.ends_with(char::is_whitespace) || q.matches('"').count() % 2 == 1 {
            return whole;
        }
        let start = q.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let last = &q[start..];
        if last.chars().count() < MIN_PREFIX_CHARS || !last.chars().all(char::is_alphanumeric) {
            return whole;
        }
        Self {
            words: &q[..start],
            prefix: Some(last.to_lowercase()),
        }
    }
}

/// A product being created, with its options and at least one variant.
#[derive(Debug, Clone)]
pub struct NewProduct {
    pub name: String,
    pub slug: Option<Slug>,
    pub description: String,
    pub category_id: Option<Uuid>,
    pub images: Vec<Image>,
    pub is_active: bool,
    pub options: Vec<ProductOption>,
    pub variants: Vec<NewVariant>,
}

/// A partial product update; `None` leaves a field unchanged (`category_id: Some(None)`
/// removes the category). New `options` replace the list (see `service::update_product`).
#[derive(Debug, Clone, Default)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub slug: Option<Slug>,
    pub description: Option<String>,
    pub category_id: Option<Option<Uuid>>,
    pub images: Option<Vec<Image>>,
    pub is_active: Option<bool>,
    pub options: Option<Vec<ProductOption>>,
}

/// A category being created.
#[derive(Debug, Clone)]
pub struct NewCategory {
    pub name: String,
    pub slug: Option<Slug>,
    pub description: String,
    pub parent_id: Option<Uuid>,
    pub position: i32,
}

/// A partial category update (`parent_id: Some(None)` makes it a root).
#[derive(Debug, Clone, Default)]
pub struct CategoryPatch {
    pub name: Option<String>,
    pub slug: Option<Slug>,
    pub description: Option<String>,
    pub parent_id: Option<Option<Uuid>>,
    pub position: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_being_typed_is_a_prefix() {
        let split = |q| {
            let t = SearchTerms::of(q);
            (t.words, t.prefix)
        };
        let some = |p: &str| Some(p.to_owned());
        assert_eq!(split("tea"), ("", some("tea")));
        assert_eq!(split("walnut Te"), ("walnut ", some("te")));
        assert_eq!(
            split("walnut tea "),
            ("walnut tea ", None),
            "a finished word"
        );
        assert_eq!(split("walnut t"), ("walnut t", None), "too short");
        assert_eq!(split("walnut -tea"), ("walnut -tea", None), "negated");
        assert_eq!(
            split("\"walnut tea"),
            ("\"walnut tea", None),
            "in an open phrase"
        );
        assert_eq!(split("\"walnut\" tea"), ("\"walnut\" ", some("tea")));
        assert_eq!(
            split("tea:*"),
            ("tea:*", None),
            "operators are not prefixes"
        );
        assert_eq!(split("café"), ("", some("café")));
        assert_eq!(split(""), ("", None));
    }

    #[test]
    fn slugs_from_names() {
        assert_eq!(
            Slug::from_name("Café Crème — 250 g").as_str(),
            "cafe-creme-250-g"
        );
        assert_eq!(Slug::from_name("  !!! ").as_str(), "item");
        assert_eq!(Slug::from_name("Straße").as_str(), "strasse");
        assert!(Slug::parse("slug", "Bad Slug").is_err());
        assert!(Slug::parse("slug", "a--b").is_err());
        assert!(Slug::parse("slug", "good-slug-2").is_ok());
    }

    #[test]
    fn skus_and_images_are_checked() {
        assert!(Sku::parse("SW-001_a.b").is_ok());
        assert!(Sku::parse("has space").is_err());
        assert!(parse_images(vec![("javascript:alert(1)".into(), "x".into())]).is_err());
        assert!(parse_images(vec![("https://cdn.example/a.jpg".into(), "A".into())]).is_ok());
        assert!(parse_description("line\nbreak").is_ok());
        assert!(parse_description("nul\0").is_err());
    }
}
