//! Catalog operations: public reads (cached listings) and staff writes.

use sqlx::PgPool;
use uuid::Uuid;

use super::CatalogError;
use super::cache::Fresh;
use super::changes::{Change, Dependencies, Facets, PriceRange};
use super::repository as repo;
use super::types::{
    Category, CategoryPatch, LISTING_WINDOW, MAX_STOCK, NewCategory, NewProduct, Product,
    ProductDetail, ProductFilter, ProductOrdering, ProductPatch, Slug,
};
use super::variant::{self, MAX_VARIANTS, NewVariant, ProductOption, VariantPatch};
use crate::Context;
use crate::inventory::{self, Adjusted, MovementReason};
use crate::pagination::PageRequest;
use crate::validation::Invalid;

type Result<T> = std::result::Result<T, CatalogError>;

// The storefront's reads below run through `ctx.reads`: on a fresh replica when there is
// one (`crate::replicas`), otherwise on the primary. Staff reads stay on the primary.

pub async fn list_categories(ctx: &Context) -> Result<Vec<Category>> {
    ctx.reads
        .run(async |db| Ok(repo::list_categories(&db).await?))
        .await
}

/// A category by slug. Text that cannot be a slug (a NUL byte, upper case, spaces) names
/// nothing, so it is not even looked up.
pub async fn get_category(ctx: &Context, slug: &str) -> Result<Category> {
    let slug = Slug::parse("slug", slug).map_err(|_| CatalogError::NotFound)?;
    ctx.reads
        .run(async |db| {
            repo::find_category_by_slug(&db, slug.as_str())
                .await?
                .ok_or(CatalogError::NotFound)
        })
        .await
}

/// Relevance without a query has nothing to rank: newest first.
fn effective_ordering(filter: &ProductFilter, ordering: ProductOrdering) -> ProductOrdering {
    match (ordering, &filter.q) {
        (ProductOrdering::Relevance, None) => ProductOrdering::CreatedDesc,
        (o, _) => o,
    }
}

/// One listing page, as a cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListingKey {
    pub filter: ProductFilter,
    pub ordering: ProductOrdering,
    pub page: PageRequest,
}

impl ListingKey {
    pub fn new(filter: ProductFilter, ordering: ProductOrdering, page: PageRequest) -> Self {
        let ordering = effective_ordering(&filter, ordering);
        Self {
            filter,
            ordering,
            page,
        }
    }
}

/// The facets a filter matches by (its count depends on those alone).
fn filter_facets(f: &ProductFilter) -> Facets {
    Facets {
        price: f.has_price_range(),
        stock: f.in_stock.is_some(),
        text: f.q.is_some(),
    }
}

/// What a listing of `filter` depends on beyond the products it shows: the facets of its
/// filter (and of `ordering`, for a page), its categories and its price range. `page`:
/// the products a page shows and whether it is full (`None` for a count).
fn listing_dependencies(
    filter: &ProductFilter,
    categories: Option<&[Uuid]>,
    ordering: Option<ProductOrdering>,
    page: Option<(&[Product], bool)>,
) -> Dependencies {
    let mut facets = filter_facets(filter);
    match ordering {
        Some(ProductOrdering::PriceAsc | ProductOrdering::PriceDesc) => facets.price = true,
        Some(ProductOrdering::NameAsc | ProductOrdering::NameDesc) => facets.text = true,
        _ => {}
    }
    let mut price_range = PriceRange {
        low: filter.min_price.map(|m| m.amount()),
        high: filter.max_price.map(|m| m.amount()),
        holds_stock: filter.in_stock == Some(true),
    };
    // A full page ordered by price holds the first products up to its last one's price:
    // a change whose prices all lie beyond that (a sale of a dearer variant, a price edit
    // between two dearer prices) moves nothing into, out of or within it, nor anything
    // before it. The last product's ordering price (its lowest matching variant's) lies
    // between its `price_min` and `price_max`, so those bound it safely. A page that is
    // not full is affected by any match that appears, at whatever price.
    let last = page.and_then(|(items, full)| items.last().filter(|_| full));
    match (ordering, last) {
        (Some(ProductOrdering::PriceAsc), Some(last)) => {
            price_range.high = [price_range.high, last.price_max]
                .into_iter()
                .flatten()
                .min();
        }
        (Some(ProductOrdering::PriceDesc), Some(last)) => {
            price_range.low = [price_range.low, last.price_min]
                .into_iter()
                .flatten()
                .max();
        }
        _ => {}
    }
    let bounded = price_range.low.is_some() || price_range.high.is_some();
    Dependencies {
        products: page.map_or(vec![], |(items, _)| items.iter().map(|p| p.id).collect()),
        facets,
        categories: categories.map(<[Uuid]>::to_vec),
        price_range: bounded.then_some(price_range),
        ordered_by_price: matches!(
            ordering,
            Some(ProductOrdering::PriceAsc | ProductOrdering::PriceDesc)
        ),
    }
}

/// The products on a page of a listing, and what they depend on (for caching them). One
/// query, whatever the page size; its total is [`count_listing`]'s, cached apart: a change
/// can move a listing's count without touching its first page, and the other way round.
pub async fn list_products(
    ctx: &Context,
    key: &ListingKey,
) -> Result<(Vec<Product>, Dependencies)> {
    ctx.reads
        .run(async |db| {
            let ListingKey {
                filter,
                ordering,
                page,
            } = key;
            let categories = subtree(&db, filter).await?;
            let categories = categories.as_deref();
            let mut conn = db.acquire().await?;
            let items =
                repo::list_products(&mut conn, filter, categories, *ordering, *page).await?;
            let full = items.len() as i64 == page.limit();
            let depends_on =
                listing_dependencies(filter, categories, Some(*ordering), Some((&items, full)));
            Ok((items, depends_on))
        })
        .await
}

/// How many products a listing of `filter` holds, counted up to [`LISTING_WINDOW`] and one
/// (see [`crate::pagination::Page::windowed`]), and kept until a change that could move it
/// (counts are the expensive part).
pub async fn count_listing(ctx: &Context, filter: &ProductFilter) -> Result<i64> {
    ctx.listing_counts
        .get_or_compute(filter.clone(), || async {
            ctx.reads
                .run(async |db| {
                    let categories = subtree(&db, filter).await?;
                    let categories = categories.as_deref();
                    let mut conn = db.acquire().await?;
                    let counted =
                        repo::count_products(&mut conn, filter, categories, LISTING_WINDOW + 1)
                            .await?;
                    Ok::<_, CatalogError>(Fresh {
                        value: counted,
                        depends_on: listing_dependencies(filter, categories, None, None),
                        bytes: std::mem::size_of_val(filter)
                            + filter.q.as_ref().map_or(0, String::len),
                    })
                })
                .await
        })
        .await
}

/// The ids of the filter's category and its descendants, when it names one.
async fn subtree(db: &PgPool, filter: &ProductFilter) -> Result<Option<Vec<Uuid>>> {
    Ok(match &filter.category {
        Some(slug) => Some(repo::category_subtree(db, slug.as_str()).await?),
        None => None,
    })
}

/// A product with its options and variants; archived variants only with `all_variants`.
async fn detail(db: &PgPool, product: Product, all_variants: bool) -> Result<ProductDetail> {
    let mut conn = db.acquire().await?;
    let options = repo::options_of(&mut *conn, product.id).await?;
    let mut variants = repo::variants_of(&mut *conn, product.id).await?;
    if !all_variants {
        variants.retain(|v| v.is_active);
    }
    Ok(ProductDetail {
        product,
        options,
        variants,
    })
}

/// An active product by id or slug (the storefront's detail page), with its active
/// variants. A product with none is not for sale, so not found.
pub async fn get_active_product(ctx: &Context, id_or_slug: &str) -> Result<ProductDetail> {
    let id = Uuid::parse_str(id_or_slug);
    let slug = Slug::parse("slug", id_or_slug);
    ctx.reads
        .run(async |db| {
            let product = match (&id, &slug) {
                (Ok(id), _) => repo::find_product(&db, *id).await?,
                (_, Ok(slug)) => repo::find_product_by_slug(&db, slug.as_str()).await?,
                // Neither an id nor a possible slug (a NUL byte, say): nothing has that name.
                (Err(_), Err(_)) => None,
            };
            let product = product
                .filter(|p| p.is_active && p.price_min.is_some())
                .ok_or(CatalogError::NotFound)?;
            detail(&db, product, false).await
        })
        .await
}

/// Each variant's stock as it is now (product pages show it live).
pub async fn stock_levels(ctx: &Context, variants: &[Uuid]) -> Result<Vec<(Uuid, i32)>> {
    Ok(ctx.live_stock.levels(variants).await?)
}

/// Any product by id with all its variants, archived ones included (staff).
pub async fn get_product(ctx: &Context, id: Uuid) -> Result<ProductDetail> {
    let product = repo::find_product(&ctx.pool, id)
        .await?
        .ok_or(CatalogError::NotFound)?;
    detail(&ctx.pool, product, true).await
}

/// What a product shows to listings, before or after a write.
struct Listed {
    listed: bool,
    category: Option<Uuid>,
    /// Each variant: its id, whether it is sold, its price.
    variants: Vec<(Uuid, bool, rust_decimal::Decimal)>,
}

impl Listed {
    fn of(d: &ProductDetail) -> Self {
        Self {
            listed: d.product.is_active && d.product.price_min.is_some(),
            category: d.product.category_id,
            variants: d
                .variants
                .iter()
                .map(|v| (v.id, v.is_active, v.price().amount()))
                .collect(),
        }
    }

    /// How the prices moved from `self` to `after`, when that is all that changed about
    /// which variants are sold (the same variants, each as sold as before).
    fn moves_to(
        &self,
        after: &Listed,
    ) -> Option<Vec<(rust_decimal::Decimal, rust_decimal::Decimal)>> {
        if self.variants.len() != after.variants.len() {
            return None;
        }
        self.variants
            .iter()
            .map(|(id, sold, before)| {
                let (_, sold_after, now) = after.variants.iter().find(|(a, ..)| a == id)?;
                (sold == sold_after).then_some((*before, *now))
            })
            .collect()
    }
}

/// Tells this instance's caches at once what a staff write to a product changed (other
/// instances hear of it from the triggers): when the product starts or stops being listed
/// or moves category, anything; otherwise the product, in `facets`, within its category
/// and its variants' prices before and after. Returns the product as it is now.
async fn changed_product(
    ctx: &Context,
    before: Listed,
    id: Uuid,
    facets: Facets,
) -> Result<ProductDetail> {
    let detail = get_product(ctx, id).await;
    let change = match &detail {
        Ok(d) => {
            let after = Listed::of(d);
            if before.listed != after.listed || before.category != after.category {
                Change::Everything
            } else {
                let prices = (before.variants.iter())
                    .chain(&after.variants)
                    .map(|(.., price)| *price)
                    .collect();
                Change::product(id, after.category, prices, facets)
                    .with_moves(before.moves_to(&after))
            }
        }
        Err(_) => Change::Everything,
    };
    ctx.catalog_changes.apply(&change);
    detail
}

/// [`Listed`] of a product before a write.
async fn listed_before(ctx: &Context, id: Uuid) -> Result<Listed> {
    Ok(Listed::of(&get_product(ctx, id).await?))
}

/// The slug a new row gets: the one asked for, or the first of `name`'s base, `base-2`,
/// `base-3`, … not used in `table`. Runs inside the caller's transaction under a lock on the
/// base, held to commit: concurrent creations with one name each get their own suffix
/// instead of all but one being told `slug_taken` for a slug they never sent.
async fn slug_for(
    tx: &mut sqlx::PgConnection,
    table: &str,
    asked: Option<&Slug>,
    name: &str,
) -> Result<Slug> {
    if let Some(slug) = asked {
        return Ok(slug.clone());
    }
    let base = Slug::from_name(name);
    repo::lock_slug_base(&mut *tx, table, base.as_str()).await?;
    let taken = repo::slugs_like(&mut *tx, table, base.as_str()).await?;
    let free = |candidate: &Slug| !taken.iter().any(|s| s == candidate.as_str());
    if free(&base) {
        return Ok(base);
    }
    Ok((2..)
        .map(|n| base.with_suffix(n))
        .find(free)
        .expect("an unbounded range has a free suffix"))
}

async fn check_category_exists(ctx: &Context, id: Option<Uuid>) -> Result<()> {
    if let Some(id) = id
        && repo::find_category(&ctx.pool, id).await?.is_none()
    {
        return Err(Invalid::new("category_id", "no such category").into());
    }
    Ok(())
}

/// Inserts one variant of a product and opens its stock, in the caller's transaction.
async fn insert_variant(
    tx: &mut sqlx::PgConnection,
    product_id: Uuid,
    options: &[ProductOption],
    variant: &NewVariant,
    reason: MovementReason,
    actor: Option<Uuid>,
) -> Result<Uuid> {
    let values = variant::values_in_order(options, &variant.options)?;
    variant::check_compare_at(variant.price, variant.compare_at_price)?;
    let id = Uuid::now_v7();
    repo::insert_variant(&mut *tx, id, product_id, variant, &values)
        .await
        .map_err(|e| CatalogError::taken(e, None, Some(variant.sku.as_str())))?;
    inventory::open(tx, id, variant.stock, reason, actor).await?;
    Ok(id)
}

/// Creates a product with its options and variants (1 to [`MAX_VARIANTS`]); the slug comes
/// from the name when not given (made unique), while an explicit slug or a sku already in
/// use is a conflict.
pub async fn create_product(ctx: &Context, new: NewProduct, actor: Uuid) -> Result<ProductDetail> {
    let id = create_product_in(ctx, &new, MovementReason::InitialStock, Some(actor)).await?;
    ctx.catalog_changes.apply(&Change::Everything);
    get_product(ctx, id).await
}

/// [`create_product`]'s checks and writes, in one transaction of its own.
async fn create_product_in(
    ctx: &Context,
    new: &NewProduct,
    reason: MovementReason,
    actor: Option<Uuid>,
) -> Result<Uuid> {
    if new.variants.is_empty() || new.variants.len() > MAX_VARIANTS {
        return Err(Invalid::new(
            "variants",
            format!("a product has 1 to {MAX_VARIANTS} variants"),
        )
        .into());
    }
    check_category_exists(ctx, new.category_id).await?;
    let id = Uuid::now_v7();
    let mut tx = ctx.pool.begin().await?;
    let slug = slug_for(&mut tx, "products", new.slug.as_ref(), &new.name).await?;
    repo::insert_product(&mut *tx, id, slug.as_str(), new)
        .await
        .map_err(|e| CatalogError::taken(e, Some(slug.as_str()), None))?;
    repo::replace_options(&mut tx, id, &new.options).await?;
    for variant in &new.variants {
        insert_variant(&mut tx, id, &new.options, variant, reason, actor).await?;
    }
    repo::refresh_summary(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(id)
}

/// Applies a partial update. New options replace the list: options can be renamed and
/// values added; a value a variant still has cannot be removed (409
/// `option_value_in_use`); an option added at the end gives every variant its first value,
/// and one removed from the end drops it from them, unless two variants would then be the
/// same (409 `variant_options_taken`).
pub async fn update_product(ctx: &Context, id: Uuid, patch: ProductPatch) -> Result<ProductDetail> {
    if let Some(category) = patch.category_id {
        check_category_exists(ctx, category).await?;
    }
    let before = listed_before(ctx, id).await?;
    let mut tx = ctx.pool.begin().await?;
    let found = repo::update_product(&mut *tx, id, &patch)
        .await
        .map_err(|e| CatalogError::taken(e, patch.slug.as_ref().map(Slug::as_str), None))?;
    if !found {
        return Err(CatalogError::NotFound);
    }
    if let Some(options) = &patch.options {
        let before = repo::options_of(&mut *tx, id).await?.len();
        repo::set_options(&mut tx, id, before, options)
            .await
            .map_err(|e| CatalogError::taken(e, None, None))?;
        if let Some(value) = repo::stray_option_value(&mut *tx, id).await? {
            return Err(CatalogError::OptionValueInUse(value));
        }
        repo::refresh_summary(&mut *tx, id).await?;
    }
    tx.commit().await?;
    // Name, description and option values are searched (and the name ordered by); pictures
    // and the slug only show. Category and activity change which listings hold it, which
    // changed_product sees for itself.
    let searched = patch.name.is_some() || patch.description.is_some() || patch.options.is_some();
    let facets = Facets {
        text: searched,
        ..Facets::NONE
    };
    changed_product(ctx, before, id, facets).await
}

/// Archives a product (`is_active = false`); orders keep referring to it.
pub async fn archive_product(ctx: &Context, id: Uuid) -> Result<()> {
    let patch = ProductPatch {
        is_active: Some(false),
        ..ProductPatch::default()
    };
    if !repo::update_product(&ctx.pool, id, &patch).await? {
        return Err(CatalogError::NotFound);
    }
    ctx.catalog_changes.apply(&Change::Everything);
    Ok(())
}

/// Adds a variant to a product; its option values must be new among the product's variants.
pub async fn add_variant(
    ctx: &Context,
    product_id: Uuid,
    new: NewVariant,
    actor: Uuid,
) -> Result<ProductDetail> {
    let before = listed_before(ctx, product_id).await?;
    let mut tx = ctx.pool.begin().await?;
    // The product row, locked: its options cannot change under the check, and variants are
    // added one at a time (their position counts the others).
    if !repo::lock_product(&mut *tx, product_id).await? {
        return Err(CatalogError::NotFound);
    }
    if repo::variants_of(&mut *tx, product_id).await?.len() >= MAX_VARIANTS {
        return Err(Invalid::new(
            "variants",
            format!("a product has at most {MAX_VARIANTS} variants"),
        )
        .into());
    }
    let options = repo::options_of(&mut *tx, product_id).await?;
    insert_variant(
        &mut tx,
        product_id,
        &options,
        &new,
        MovementReason::InitialStock,
        Some(actor),
    )
    .await?;
    repo::refresh_summary(&mut *tx, product_id).await?;
    tx.commit().await?;
    changed_product(ctx, before, product_id, Facets::ALL).await
}

/// Applies a partial variant update. A stock value set here is recorded in the ledger as
/// the difference from the previous stock.
pub async fn update_variant(
    ctx: &Context,
    product_id: Uuid,
    variant_id: Uuid,
    patch: VariantPatch,
    actor: Option<Uuid>,
) -> Result<ProductDetail> {
    let before = listed_before(ctx, product_id).await?;
    let mut tx = ctx.pool.begin().await?;
    if !repo::lock_product(&mut *tx, product_id).await? {
        return Err(CatalogError::NotFound);
    }
    let current = repo::find_variant(&mut *tx, product_id, variant_id)
        .await?
        .ok_or(CatalogError::NotFound)?;
    let values = match &patch.options {
        Some(given) => {
            let options = repo::options_of(&mut *tx, product_id).await?;
            Some(variant::values_in_order(&options, given)?)
        }
        None => None,
    };
    let compare_at = match patch.compare_at_price {
        Some(set) => set,
        None => current.compare_at_price(),
    };
    variant::check_compare_at(patch.price.unwrap_or(current.price()), compare_at)?;
    repo::update_variant(&mut *tx, product_id, variant_id, &patch, values.as_deref())
        .await
        .map_err(|e| CatalogError::taken(e, None, patch.sku.as_ref().map(|s| s.as_str())))?;
    if let Some(stock) = patch.stock {
        // Announced with the rest: the product's change below covers every facet.
        inventory::set(&mut tx, variant_id, stock, MovementReason::StaffSet, actor).await?;
    }
    repo::refresh_summary(&mut *tx, product_id).await?;
    tx.commit().await?;
    // What the patch can move: a price edit moves price filters and orderings only.
    let facets = if patch.is_active.is_some() {
        Facets::ALL
    } else {
        Facets {
            price: patch.price.is_some(),
            stock: patch.stock.is_some(),
            text: patch.sku.is_some() || patch.options.is_some(),
        }
    };
    changed_product(ctx, before, product_id, facets).await
}

/// Archives a variant (`is_active = false`): no longer shown nor sold; orders keep it.
pub async fn archive_variant(ctx: &Context, product_id: Uuid, variant_id: Uuid) -> Result<()> {
    let patch = VariantPatch {
        is_active: Some(false),
        ..VariantPatch::default()
    };
    let before = listed_before(ctx, product_id).await?;
    let mut tx = ctx.pool.begin().await?;
    if !repo::update_variant(&mut *tx, product_id, variant_id, &patch, None).await? {
        return Err(CatalogError::NotFound);
    }
    repo::refresh_summary(&mut *tx, product_id).await?;
    tx.commit().await?;
    changed_product(ctx, before, product_id, Facets::ALL).await?;
    Ok(())
}

/// Moves a variant's stock by `delta` (staff, with their note), never below zero nor above
/// `MAX_STOCK`; the inventory ledger records it.
pub async fn adjust_stock(
    ctx: &Context,
    product_id: Uuid,
    variant_id: Uuid,
    delta: i32,
    note: &str,
    actor: Option<Uuid>,
) -> Result<ProductDetail> {
    if delta == 0 {
        return Err(Invalid::new("delta", "must not be zero").into());
    }
    let mut conn = ctx.pool.acquire().await?;
    if repo::find_variant(&mut *conn, product_id, variant_id)
        .await?
        .is_none()
    {
        return Err(CatalogError::NotFound);
    }
    let crossed = match inventory::adjust(&mut conn, variant_id, delta, note, actor).await? {
        Adjusted::To(_, crossed) => crossed,
        Adjusted::NoSuchVariant => return Err(CatalogError::NotFound),
        Adjusted::OutOfBounds { current }
            if i64::from(current) + i64::from(delta) > i64::from(MAX_STOCK) =>
        {
            return Err(Invalid::new(
                "delta",
                format!("would raise stock above {MAX_STOCK} (it is {current})"),
            )
            .into());
        }
        Adjusted::OutOfBounds { current } => {
            return Err(CatalogError::StockBelowZero { available: current });
        }
    };
    drop(conn);
    inventory::announce(ctx, crossed).await;
    get_product(ctx, product_id).await
}

/// The product and variant of a SKU (archived ones too), for operators who work by SKU.
pub async fn variant_by_sku(ctx: &Context, sku: &str) -> Result<(Uuid, Uuid)> {
    repo::variant_by_sku(&ctx.pool, sku)
        .await?
        .ok_or(CatalogError::NotFound)
}

/// Every variant of every product, archived ones too, by product slug (what the CSV export
/// and `swift-cli product list` show).
pub async fn all_variants(ctx: &Context) -> Result<Vec<repo::ExportRow>> {
    Ok(repo::export_rows(&ctx.pool).await?)
}

pub async fn create_category(ctx: &Context, new: NewCategory) -> Result<Category> {
    if let Some(parent) = new.parent_id
        && repo::find_category(&ctx.pool, parent).await?.is_none()
    {
        return Err(Invalid::new("parent_id", "no such category").into());
    }
    let mut tx = ctx.pool.begin().await?;
    let slug = slug_for(&mut tx, "categories", new.slug.as_ref(), &new.name).await?;
    let category = repo::insert_category(&mut *tx, Uuid::now_v7(), slug.as_str(), &new)
        .await
        .map_err(|e| CatalogError::taken(e, Some(slug.as_str()), None))?;
    tx.commit().await?;
    ctx.catalog_changes.apply(&Change::Everything);
    Ok(category)
}

/// Updates a category; a parent that is the category itself or one of its descendants is
/// refused (409), as a tree cannot hold a cycle.
pub async fn update_category(ctx: &Context, id: Uuid, patch: CategoryPatch) -> Result<Category> {
    let mut tx = ctx.pool.begin().await?;
    // Serialise tree changes: two concurrent moves could otherwise form a cycle together.
    sqlx::query("SELECT pg_advisory_xact_lock(727275)")
        .execute(&mut *tx)
        .await?;
    if let Some(Some(parent)) = patch.parent_id {
        if repo::find_category(&mut *tx, parent).await?.is_none() {
            return Err(Invalid::new("parent_id", "no such category").into());
        }
        if repo::would_cycle(&mut *tx, id, parent).await? {
            return Err(CatalogError::CategoryCycle);
        }
    }
    let category = repo::update_category(&mut *tx, id, &patch)
        .await
        .map_err(|e| CatalogError::taken(e, patch.slug.as_ref().map(Slug::as_str), None))?
        .ok_or(CatalogError::NotFound)?;
    tx.commit().await?;
    ctx.catalog_changes.apply(&Change::Everything);
    Ok(category)
}

/// Deletes an empty category (no products, no subcategories).
pub async fn delete_category(ctx: &Context, id: Uuid) -> Result<()> {
    let mut tx = ctx.pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(727275)")
        .execute(&mut *tx)
        .await?;
    if repo::find_category(&mut *tx, id).await?.is_none() {
        return Err(CatalogError::NotFound);
    }
    if repo::category_in_use(&mut *tx, id).await? {
        return Err(CatalogError::CategoryInUse);
    }
    repo::delete_category(&mut *tx, id).await?;
    tx.commit().await?;
    ctx.catalog_changes.apply(&Change::Everything);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;
    use rust_decimal::Decimal;

    fn product(n: u128, low: &str, high: &str) -> Product {
        Product {
            id: Uuid::from_u128(n),
            slug: format!("p{n}"),
            name: format!("P{n}"),
            description: String::new(),
            price_min: Some(low.parse().unwrap()),
            price_max: Some(high.parse().unwrap()),
            in_stock: true,
            images: sqlx::types::Json(vec![]),
            is_active: true,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            category_id: None,
            category_slug: None,
            category_name: None,
        }
    }

    fn repriced(n: u128, prices: &[&str], facets: Facets) -> Change {
        let prices = prices
            .iter()
            .map(|p| p.parse::<Decimal>().unwrap())
            .collect();
        Change::product(Uuid::from_u128(n), None, prices, facets)
    }

    /// A full page ordered by price depends on prices up to its last product's (its
    /// highest variant price ascending, lowest descending); one that is not full, or a
    /// count, on every price in the filter's range.
    #[test]
    fn a_full_price_ordered_page_ignores_prices_beyond_it() {
        let filter = ProductFilter {
            min_price: Some(Money::parse("min_price", "5.00").unwrap()),
            max_price: Some(Money::parse("max_price", "100.00").unwrap()),
            ..ProductFilter::default()
        };
        let items = [product(1, "10.00", "10.00"), product(2, "11.00", "12.00")];
        let asc = Some(ProductOrdering::PriceAsc);
        let full = listing_dependencies(&filter, None, asc, Some((&items, true)));
        let partial = listing_dependencies(&filter, None, asc, Some((&items, false)));
        let count = listing_dependencies(&filter, None, None, None);
        let beyond = repriced(9, &["50.00", "60.00"], Facets::PRICE);
        let onto = repriced(9, &["50.00", "12.00"], Facets::PRICE);
        assert!(!full.affected_by(&beyond));
        assert!(
            full.affected_by(&onto),
            "a price at the last product's highest"
        );
        assert!(partial.affected_by(&beyond));
        assert!(count.affected_by(&beyond));
        // A sale of a dearer variant moves nothing on an in-stock page either.
        let in_stock = ProductFilter {
            in_stock: Some(true),
            ..filter.clone()
        };
        let stocked = listing_dependencies(&in_stock, None, asc, Some((&items, true)));
        assert!(!stocked.affected_by(&repriced(9, &["70.00"], Facets::STOCK)));
        assert!(stocked.affected_by(&repriced(9, &["11.50"], Facets::STOCK)));
        // Out of stock only: any sale may add a product anywhere.
        let sold_out = ProductFilter {
            in_stock: Some(false),
            ..filter.clone()
        };
        let none_left = listing_dependencies(&sold_out, None, asc, Some((&items, true)));
        assert!(none_left.affected_by(&repriced(9, &["70.00"], Facets::STOCK)));
        // Descending: the last product's lowest price bounds it from below.
        let desc = Some(ProductOrdering::PriceDesc);
        let down = listing_dependencies(&filter, None, desc, Some((&items, true)));
        assert!(!down.affected_by(&repriced(9, &["6.00", "9.99"], Facets::PRICE)));
        assert!(down.affected_by(&repriced(9, &["6.00", "11.00"], Facets::PRICE)));
        // Without a price filter, a price ordering is bounded by its page alone.
        let all = ProductFilter::default();
        let first = listing_dependencies(&all, None, asc, Some((&items, true)));
        assert!(!first.affected_by(&repriced(9, &["500.00", "100.00"], Facets::PRICE)));
        assert!(first.affected_by(&repriced(9, &["500.00", "1.00"], Facets::PRICE)));
    }
}
