//! Catalog operations: public reads (cached listings) and staff writes.

use uuid::Uuid;

use super::CatalogError;
use super::repository as repo;
use super::types::{
    Category, CategoryPatch, MAX_STOCK, NewCategory, NewProduct, Product, ProductFilter,
    ProductOrdering, ProductPatch, Slug,
};
use crate::Context;
use crate::inventory::{self, Adjusted, MovementReason};
use crate::pagination::{Page, PageRequest};
use crate::validation::Invalid;

type Result<T> = std::result::Result<T, CatalogError>;

pub async fn list_categories(ctx: &Context) -> Result<Vec<Category>> {
    Ok(repo::list_categories(&ctx.pool).await?)
}

/// A category by slug. Text that cannot be a slug (a NUL byte, upper case, spaces) names
/// nothing, so it is not even looked up.
pub async fn get_category(ctx: &Context, slug: &str) -> Result<Category> {
    let slug = Slug::parse("slug", slug).map_err(|_| CatalogError::NotFound)?;
    repo::find_category_by_slug(&ctx.pool, slug.as_str())
        .await?
        .ok_or(CatalogError::NotFound)
}

/// Relevance without a query has nothing to rank: newest first.
fn effective_ordering(filter: &ProductFilter, ordering: ProductOrdering) -> ProductOrdering {
    match (ordering, &filter.q) {
        (ProductOrdering::Relevance, None) => ProductOrdering::CreatedDesc,
        (o, _) => o,
    }
}

/// The cache key of one listing page's rendered body.
pub fn list_key(filter: &ProductFilter, ordering: ProductOrdering, page: PageRequest) -> String {
    let ordering = effective_ordering(filter, ordering);
    format!(
        "list|{filter:?}|{ordering:?}|{}|{}",
        page.page(),
        page.page_size()
    )
}

/// Active products matching the filter: one query for the page, whatever its size, and one
/// for the count unless this filter was counted since the last catalog change (counts are
/// the expensive part; see [`super::cache`]). The HTTP layer caches whole rendered pages.
pub async fn list_products(
    ctx: &Context,
    filter: &ProductFilter,
    ordering: ProductOrdering,
    page: PageRequest,
) -> Result<Page<Product>> {
    let ordering = effective_ordering(filter, ordering);
    let cache = &ctx.catalog_cache;
    let generation = cache.generation();
    let items = repo::list_products(&ctx.pool, filter, ordering, page).await?;
    let count_key = format!("{filter:?}");
    let total = match cache.count(&count_key) {
        Some(total) => total,
        None => {
            let total = repo::count_products(&ctx.pool, filter).await?;
            cache.put_count(count_key, generation, total);
            total
        }
    };
    Ok(Page::new(items, total, page))
}

/// An active product by id or slug (the storefront's detail page).
pub async fn get_active_product(ctx: &Context, id_or_slug: &str) -> Result<Product> {
    let product = match (Uuid::parse_str(id_or_slug), Slug::parse("slug", id_or_slug)) {
        (Ok(id), _) => repo::find_product(&ctx.pool, id).await?,
        (_, Ok(slug)) => repo::find_product_by_slug(&ctx.pool, slug.as_str()).await?,
        // Neither an id nor a possible slug (a NUL byte, say): nothing has that name.
        (Err(_), Err(_)) => None,
    };
    product
        .filter(|p| p.is_active)
        .ok_or(CatalogError::NotFound)
}

/// Any product by id, archived ones included (staff).
pub async fn get_product(ctx: &Context, id: Uuid) -> Result<Product> {
    repo::find_product(&ctx.pool, id)
        .await?
        .ok_or(CatalogError::NotFound)
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

/// Creates a product; the slug comes from the name when not given (made unique), while
/// an explicit slug or sku already in use is a conflict.
pub async fn create_product(ctx: &Context, new: NewProduct, actor: Uuid) -> Result<Product> {
    check_category_exists(ctx, new.category_id).await?;
    let id = Uuid::now_v7();
    let mut tx = ctx.pool.begin().await?;
    let slug = slug_for(&mut tx, "products", new.slug.as_ref(), &new.name).await?;
    repo::insert_product(&mut *tx, id, slug.as_str(), &new)
        .await
        .map_err(|e| CatalogError::taken(e, Some(slug.as_str()), Some(new.sku.as_str())))?;
    inventory::open(
        &mut tx,
        id,
        new.stock,
        MovementReason::InitialStock,
        Some(actor),
    )
    .await?;
    tx.commit().await?;
    ctx.catalog_cache.invalidate();
    get_product(ctx, id).await
}

/// Applies a partial update. A stock value set here is recorded in the ledger as the
/// difference from the previous stock.
pub async fn update_product(
    ctx: &Context,
    id: Uuid,
    patch: ProductPatch,
    actor: Uuid,
) -> Result<Product> {
    if let Some(category) = patch.category_id {
        check_category_exists(ctx, category).await?;
    }
    let mut tx = ctx.pool.begin().await?;
    let found = repo::update_product(&mut *tx, id, &patch)
        .await
        .map_err(|e| {
            let slug = patch.slug.as_ref().map(Slug::as_str);
            CatalogError::taken(e, slug, patch.sku.as_ref().map(|s| s.as_str()))
        })?;
    if !found {
        return Err(CatalogError::NotFound);
    }
    if let Some(stock) = patch.stock {
        inventory::set(&mut tx, id, stock, MovementReason::StaffSet, Some(actor)).await?;
    }
    tx.commit().await?;
    ctx.catalog_cache.invalidate();
    get_product(ctx, id).await
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
    ctx.catalog_cache.invalidate();
    Ok(())
}

/// Moves stock by `delta` (staff, with their note), never below zero nor above
/// `MAX_STOCK`; the inventory ledger records it.
pub async fn adjust_stock(
    ctx: &Context,
    id: Uuid,
    delta: i32,
    note: &str,
    actor: Uuid,
) -> Result<Product> {
    if delta == 0 {
        return Err(Invalid::new("delta", "must not be zero").into());
    }
    let mut conn = ctx.pool.acquire().await?;
    match inventory::adjust(&mut conn, id, delta, note, actor).await? {
        Adjusted::To(_) => {}
        Adjusted::NoSuchProduct => return Err(CatalogError::NotFound),
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
    }
    drop(conn);
    inventory::changed(ctx);
    get_product(ctx, id).await
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
    ctx.catalog_cache.invalidate();
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
    ctx.catalog_cache.invalidate();
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
    ctx.catalog_cache.invalidate();
    Ok(())
}
