//! `/api/v1/categories` and `/api/v1/products`: public catalog reads.

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::types::ToJSON;
use poem_openapi::{Enum, Object, OpenApi};
use std::sync::Arc;
use swift_core::catalog::types::Category;
use swift_core::catalog::types::Image;

use swift_core::catalog::cache::Fresh;
use swift_core::catalog::changes::Dependencies;
use swift_core::catalog::service::ListingKey;
use swift_core::catalog::types::LISTING_WINDOW;
use swift_core::catalog::variant::named_values;
use swift_core::catalog::{
    OptionValue, Product, ProductDetail, ProductFilter, ProductOrdering, Slug, service,
};
use swift_core::money::Money;
use swift_core::pagination::{Page, PageRequest};
use uuid::Uuid;

use super::ApiTags;
use super::admin::{default_page, default_page_size};
use super::caching::{CatalogReads, Conditional, Rendered, combined_etag, render, respond};
use super::money::MoneyString;
use crate::AppState;
use crate::patterns;
use crate::problem::{ApiError, ApiResult};

/// A node of the category tree.
#[derive(Object, Clone)]
#[oai(rename = "Category", skip_serializing_if_is_none)]
pub struct CategoryBody {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// Absent for top-level categories.
    pub parent_id: Option<Uuid>,
    pub position: i32,
}

impl From<Category> for CategoryBody {
    fn from(c: Category) -> Self {
        Self {
            id: c.id,
            slug: c.slug,
            name: c.name,
            description: c.description,
            parent_id: c.parent_id,
            position: c.position,
        }
    }
}

/// The category a product belongs to.
#[derive(Object, Clone)]
pub struct CategoryRef {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

#[derive(Object, Clone)]
#[oai(rename = "Image")]
pub struct ImageBody {
    pub url: String,
    pub alt: String,
}

/// An option of a product and the values its variants take, in display order.
#[derive(Object, Clone)]
#[oai(rename = "ProductOption")]
pub struct ProductOptionBody {
    /// Unique in the product, ignoring case.
    #[oai(validator(max_length = 50))]
    pub name: String,
    /// 1 to 100 distinct values of up to 50 characters.
    #[oai(validator(min_items = 1, max_items = 100, unique_items))]
    pub values: Vec<String>,
}

/// One option value of a variant.
#[derive(Object, Clone)]
#[oai(rename = "OptionValue")]
pub struct OptionValueBody {
    /// The option's name, e.g. `Size`.
    #[oai(validator(max_length = 50))]
    pub name: String,
    /// One of the option's values, e.g. `M`.
    #[oai(validator(max_length = 50))]
    pub value: String,
}

impl From<&OptionValue> for OptionValueBody {
    fn from(o: &OptionValue) -> Self {
        Self {
            name: o.name.clone(),
            value: o.value.clone(),
        }
    }
}

/// A buyable variant of a product: its own SKU, option values, price and stock.
#[derive(Object, Clone)]
#[oai(rename = "Variant", skip_serializing_if_is_none)]
pub struct VariantBody {
    pub id: Uuid,
    pub sku: String,
    /// One value per option of the product, in the options' order (`[]` for a simple
    /// product).
    pub options: Vec<OptionValueBody>,
    pub price: MoneyString,
    /// The "was" price shown struck through; always more than `price`. Absent when none.
    pub compare_at_price: Option<MoneyString>,
    pub stock: i32,
    pub in_stock: bool,
    /// The variant's own pictures (the product's apply when empty).
    pub images: Vec<ImageBody>,
    pub is_active: bool,
    /// For shipping rates by weight; absent when not set (counts as 0).
    pub weight_grams: Option<i32>,
}

fn image_bodies(images: &[Image]) -> Vec<ImageBody> {
    images
        .iter()
        .map(|i| ImageBody {
            url: i.url.clone(),
            alt: i.alt.clone(),
        })
        .collect()
}

/// A product as listings show it: once, with the price range of its active variants.
#[derive(Object, Clone)]
#[oai(rename = "ProductSummary", skip_serializing_if_is_none)]
pub struct ProductSummaryBody {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    /// The lowest price of its active variants. Absent only when it has none (staff views).
    pub price_min: Option<MoneyString>,
    /// The highest price of its active variants; equal to `price_min` for a simple product.
    pub price_max: Option<MoneyString>,
    /// ISO 4217 code of the store currency.
    pub currency: String,
    /// Whether an active variant has stock.
    pub in_stock: bool,
    /// Absent when the product has no category.
    pub category: Option<CategoryRef>,
    pub images: Vec<ImageBody>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProductSummaryBody {
    pub fn new(p: &Product, currency: &str) -> Self {
        Self {
            id: p.id,
            slug: p.slug.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            price_min: p.price_min().map(MoneyString),
            price_max: p.price_max().map(MoneyString),
            currency: currency.to_owned(),
            in_stock: p.in_stock,
            category: match (&p.category_id, &p.category_slug, &p.category_name) {
                (Some(id), Some(slug), Some(name)) => Some(CategoryRef {
                    id: *id,
                    slug: slug.clone(),
                    name: name.clone(),
                }),
                _ => None,
            },
            images: image_bodies(&p.images),
            is_active: p.is_active,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A product with its options and variants (docs/API.md "Product"): the summary's fields
/// and these.
#[derive(Object, Clone)]
#[oai(rename = "Product")]
pub struct ProductBody {
    #[oai(flatten)]
    pub summary: ProductSummaryBody,
    /// Up to 3 options; empty for a simple product.
    pub options: Vec<ProductOptionBody>,
    /// The storefront shows active variants only; staff see all.
    pub variants: Vec<VariantBody>,
}

impl ProductBody {
    /// Sets each variant's stock (and so `in_stock`, the product's too) from `levels`
    /// (variant id, stock); a variant not among them has none.
    pub fn set_stock(&mut self, levels: &[(Uuid, i32)]) {
        for v in &mut self.variants {
            v.stock = levels
                .iter()
                .find(|(id, _)| *id == v.id)
                .map_or(0, |(_, stock)| *stock);
            v.in_stock = v.is_active && v.stock > 0;
        }
        self.summary.in_stock = self.variants.iter().any(|v| v.in_stock);
    }

    pub fn new(d: &ProductDetail, currency: &str) -> Self {
        Self {
            summary: ProductSummaryBody::new(&d.product, currency),
            options: d
                .options
                .iter()
                .map(|o| ProductOptionBody {
                    name: o.name.clone(),
                    values: o.values.clone(),
                })
                .collect(),
            variants: d
                .variants
                .iter()
                .map(|v| VariantBody {
                    id: v.id,
                    sku: v.sku.clone(),
                    options: named_values(&d.options, &v.option_values)
                        .iter()
                        .map(Into::into)
                        .collect(),
                    price: MoneyString(v.price()),
                    compare_at_price: v.compare_at_price().map(MoneyString),
                    stock: v.stock,
                    in_stock: v.is_active && v.stock > 0,
                    images: image_bodies(&v.images),
                    is_active: v.is_active,
                    weight_grams: v.weight_grams,
                })
                .collect(),
        }
    }
}

/// A listing's answer: its rendered products (cached) in the [`ProductPage`] envelope with
/// the page's numbers. The tag covers the products' tag and the numbers, so it changes
/// whenever the body does, without hashing the body on every request.
fn listing_answer(items: &Rendered, numbers: &Page<()>) -> Rendered {
    let Page {
        total,
        total_exact,
        page,
        page_size,
        pages,
        ..
    } = numbers;
    let envelope = format!(
        r#""page":{page},"page_size":{page_size},"pages":{pages},"total":{total},"total_exact":{total_exact}"#
    );
    Rendered {
        etag: combined_etag(&items.etag, &envelope),
        body: format!(r#"{{"items":{},{envelope}}}"#, items.body),
    }
}

/// A page of products. A listing shows its first 1,000 products: past them, `total` is
/// 1,000 with `total_exact: false` ("1,000+"), `pages` covers those 1,000, and a page
/// past them is empty.
#[derive(Object)]
pub struct ProductPage {
    pub items: Vec<ProductSummaryBody>,
    /// Matching products, counted up to 1,000.
    pub total: i64,
    /// False when more than `total` products match: narrow the listing to see the others.
    pub total_exact: bool,
    pub page: u32,
    pub page_size: u32,
    pub pages: u32,
}

/// Sort orders; `-` means descending.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    #[oai(rename = "price")]
    Price,
    #[oai(rename = "-price")]
    PriceDesc,
    #[oai(rename = "name")]
    Name,
    #[oai(rename = "-name")]
    NameDesc,
    #[oai(rename = "created_at")]
    CreatedAt,
    #[oai(rename = "-created_at")]
    CreatedAtDesc,
    #[oai(rename = "relevance")]
    Relevance,
}

impl From<Ordering> for ProductOrdering {
    fn from(o: Ordering) -> Self {
        match o {
            Ordering::Price => Self::PriceAsc,
            Ordering::PriceDesc => Self::PriceDesc,
            Ordering::Name => Self::NameAsc,
            Ordering::NameDesc => Self::NameDesc,
            Ordering::CreatedAt => Self::CreatedAsc,
            Ordering::CreatedAtDesc => Self::CreatedDesc,
            Ordering::Relevance => Self::Relevance,
        }
    }
}

/// A price filter, parsed here rather than by a `validator(pattern)`: poem-openapi compiles
/// a pattern's regex on every request it checks (`validation/pattern.rs`), which cost a
/// third of the server's CPU on a listing mix where one URL in five has a price range. The
/// document states the same pattern (`openapi::PARAMETER_PATTERNS`), and `Money::parse` is
/// exactly as strict.
fn money_param(
    field: &'static str,
    raw: Option<String>,
) -> Result<Option<Money>, swift_core::validation::Invalid> {
    raw.map(|v| {
        Money::parse(field, &v)
            .map_err(|_| swift_core::validation::Invalid::new(field, patterns::MONEY.message))
    })
    .transpose()
}

pub struct CatalogApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Catalog")]
impl CatalogApi {
    /// All categories, ordered by position then name.
    #[oai(path = "/categories", method = "get", operation_id = "listCategories")]
    async fn list_categories(
        &self,
        state: Data<&AppState>,
    ) -> ApiResult<poem_openapi::payload::Json<Vec<CategoryBody>>> {
        let categories = service::list_categories(&state).await?;
        Ok(poem_openapi::payload::Json(
            categories.into_iter().map(Into::into).collect(),
        ))
    }

    /// One category by slug.
    #[oai(
        path = "/categories/:slug",
        method = "get",
        operation_id = "getCategory"
    )]
    async fn get_category(
        &self,
        state: Data<&AppState>,
        slug: Path<String>,
    ) -> ApiResult<poem_openapi::payload::Json<CategoryBody>> {
        Ok(poem_openapi::payload::Json(
            service::get_category(&state, &slug.0).await?.into(),
        ))
    }

    /// Active products: filter, search, sort, paginate. Supports `If-None-Match`.
    #[oai(path = "/products", method = "get", operation_id = "listProducts")]
    #[allow(clippy::too_many_arguments)]
    async fn list_products(
        &self,
        state: Data<&AppState>,
        reads: Data<&Arc<CatalogReads>>,
        req: &Request,
        /// Category slug; products of its subcategories are included.
        category: Query<Option<String>>,
        /// Full-text search over name, variant SKUs, option values and description. By
        /// relevance: an exact variant SKU first, then name or SKU matches (newest first), then
        /// the rest, ranked. The last word, unless the query ends in a space, matches as a
        /// prefix (search-as-you-type: `tea` finds "teapot").
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// Products with an active variant at this price or more.
        min_price: Query<Option<String>>,
        /// Products with an active variant at this price or less.
        max_price: Query<Option<String>>,
        /// `true`: products with an active variant in stock (and within the price range);
        /// `false`: products with none.
        in_stock: Query<Option<bool>>,
        /// Default `-created_at`, or `relevance` when `q` is given. `price` orders by the
        /// lowest price among the variants that match the filters.
        ordering: Query<Option<Ordering>>,
        #[oai(default = "default_page", validator(minimum(value = "1")))] page: Query<u32>,
        #[oai(
            default = "default_page_size",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        page_size: Query<u32>,
    ) -> ApiResult<Conditional<ProductPage>> {
        let page = PageRequest::new(page.0, page_size.0)?;
        let filter = ProductFilter {
            category: category
                .0
                .map(|c| Slug::parse("category", &c))
                .transpose()?,
            q: ProductFilter::parse_query(q.0.as_deref())?,
            min_price: money_param("min_price", min_price.0)?,
            max_price: money_param("max_price", max_price.0)?,
            in_stock: in_stock.0,
        };
        let ordering = match ordering.0 {
            Some(o) => o.into(),
            None if filter.q.is_some() => ProductOrdering::Relevance,
            None => ProductOrdering::CreatedDesc,
        };
        let key = ListingKey::new(filter, ordering, page);
        // The products are cached rendered; the total comes from the counts' cache on every
        // request, so a change that moves only the count (a product entering a price range
        // beyond the first page) keeps the page, and the other way round.
        let items = reads
            .pages
            .get_or_compute(key.clone(), || async {
                let (items, depends_on) = service::list_products(&state, &key).await?;
                let currency = state.config.store_currency.as_str();
                let bodies: Vec<_> = items
                    .iter()
                    .map(|p| ProductSummaryBody::new(p, currency))
                    .collect();
                let rendered = render(&bodies);
                Ok::<_, ApiError>(Fresh {
                    bytes: rendered.body.len() + rendered.etag.len(),
                    value: Arc::new(rendered),
                    depends_on,
                })
            })
            .await?;
        let counted = service::count_listing(&state, &key.filter).await?;
        let numbers = Page::<()>::windowed(vec![], counted, LISTING_WINDOW, page);
        Ok(respond(req, &listing_answer(&items, &numbers)))
    }

    /// One active product by id or slug. Supports `If-None-Match`.
    #[oai(
        path = "/products/:id_or_slug",
        method = "get",
        operation_id = "getProduct"
    )]
    async fn get_product(
        &self,
        state: Data<&AppState>,
        reads: Data<&Arc<CatalogReads>>,
        req: &Request,
        id_or_slug: Path<String>,
    ) -> ApiResult<Conditional<ProductBody>> {
        // The product as cached (its stock aside), then its variants' stock as it is now:
        // sales change no cached answer, and the page never shows stale stock.
        let cached = reads
            .products
            .get_or_compute(id_or_slug.0.clone(), || async {
                let product = service::get_active_product(&state, &id_or_slug.0).await?;
                let body = ProductBody::new(&product, state.config.store_currency.as_str());
                Ok::<_, ApiError>(Fresh {
                    bytes: body.to_json_string().len(),
                    depends_on: Dependencies::showing(vec![product.product.id]),
                    value: Arc::new(body),
                })
            })
            .await?;
        let variants: Vec<Uuid> = cached.variants.iter().map(|v| v.id).collect();
        let levels = service::stock_levels(&state, &variants).await?;
        let mut body = ProductBody::clone(&cached);
        body.set_stock(&levels);
        Ok(respond(req, &render(&body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer put together from cached products is byte for byte what poem-openapi
    /// writes for the documented `ProductPage`.
    #[test]
    fn a_listing_answer_is_the_documented_product_page() {
        let request = PageRequest::new(2, 30).unwrap();
        for (counted, items) in [(1_001, vec![]), (31, vec![]), (0, vec![])] {
            let numbers = Page::<()>::windowed(vec![], counted, LISTING_WINDOW, request);
            let documented = render(&ProductPage {
                items,
                total: numbers.total,
                total_exact: numbers.total_exact,
                page: numbers.page,
                page_size: numbers.page_size,
                pages: numbers.pages,
            });
            let cached = render(&Vec::<ProductSummaryBody>::new());
            let answer = listing_answer(&cached, &numbers);
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&answer.body).unwrap(),
                serde_json::from_str::<serde_json::Value>(&documented.body).unwrap()
            );
            assert_eq!(answer.body, documented.body);
        }
        let one = Page::<()>::windowed(vec![], 31, LISTING_WINDOW, request);
        let other = Page::<()>::windowed(vec![], 32, LISTING_WINDOW, request);
        let cached = render(&Vec::<ProductSummaryBody>::new());
        assert_ne!(
            listing_answer(&cached, &one).etag,
            listing_answer(&cached, &other).etag,
            "the tag follows the numbers"
        );
    }
}
