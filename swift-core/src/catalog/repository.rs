//! SQL for the catalog: plain functions over any executor.

use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use super::types::{
    Category, CategoryPatch, NewCategory, NewProduct, Product, ProductFilter, ProductOrdering,
    ProductPatch,
};
use crate::pagination::PageRequest;

const PRODUCT_SELECT: &str = "SELECT p.id, p.slug, p.sku, p.name, p.description, p.price, s.on_hand AS stock, \
     p.images, p.is_active, p.created_at, p.updated_at, \
     c.id AS category_id, c.slug AS category_slug, c.name AS category_name \
     FROM products p JOIN stock_levels s ON s.product_id = p.id \
     LEFT JOIN categories c ON c.id = p.category_id";

const CATEGORY_COLUMNS: &str = "id, slug, name, description, parent_id, position";

// ---- categories ----

pub async fn list_categories(ex: impl PgExecutor<'_>) -> sqlx::Result<Vec<Category>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CATEGORY_COLUMNS} FROM categories ORDER BY position, name"
    )))
    .fetch_all(ex)
    .await
}

pub async fn find_category_by_slug(
    ex: impl PgExecutor<'_>,
    slug: &str,
) -> sqlx::Result<Option<Category>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CATEGORY_COLUMNS} FROM categories WHERE slug = $1"
    )))
    .bind(slug)
    .fetch_optional(ex)
    .await
}

pub async fn find_category(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Category>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CATEGORY_COLUMNS} FROM categories WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn insert_category(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    slug: &str,
    c: &NewCategory,
) -> sqlx::Result<Category> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO categories (id, slug, name, description, parent_id, position) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {CATEGORY_COLUMNS}"
    )))
    .bind(id)
    .bind(slug)
    .bind(&c.name)
    .bind(&c.description)
    .bind(c.parent_id)
    .bind(c.position)
    .fetch_one(ex)
    .await
}

pub async fn update_category(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    p: &CategoryPatch,
) -> sqlx::Result<Option<Category>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE categories SET \
           name = COALESCE($2, name), slug = COALESCE($3, slug), \
           description = COALESCE($4, description), \
           parent_id = CASE WHEN $5 THEN $6 ELSE parent_id END, \
           position = COALESCE($7, position), updated_at = now() \
         WHERE id = $1 RETURNING {CATEGORY_COLUMNS}"
    )))
    .bind(id)
    .bind(p.name.as_deref())
    .bind(p.slug.as_ref().map(|s| s.as_str()))
    .bind(p.description.as_deref())
    .bind(p.parent_id.is_some())
    .bind(p.parent_id.flatten())
    .bind(p.position)
    .fetch_optional(ex)
    .await
}

/// Whether `ancestor` is `category` itself or one of its descendants' ancestors chain,
/// i.e. making `ancestor` the parent of `category` would close a cycle.
pub async fn would_cycle(
    ex: impl PgExecutor<'_>,
    category: Uuid,
    new_parent: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "WITH RECURSIVE up AS ( \
           SELECT id, parent_id FROM categories WHERE id = $2 \
           UNION ALL SELECT c.id, c.parent_id FROM categories c JOIN up ON c.id = up.parent_id) \
         SELECT EXISTS (SELECT 1 FROM up WHERE id = $1)",
    )
    .bind(category)
    .bind(new_parent)
    .fetch_one(ex)
    .await
}

pub async fn category_in_use(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM products WHERE category_id = $1) \
             OR EXISTS (SELECT 1 FROM categories WHERE parent_id = $1)",
    )
    .bind(id)
    .fetch_one(ex)
    .await
}

pub async fn delete_category(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM categories WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?
        .rows_affected()
        == 1)
}

/// Slugs in `table` equal to `base` or `base-N`, to pick a free suffix.
/// Serialises slug choice for one base name in one table until the transaction ends.
pub async fn lock_slug_base(ex: impl PgExecutor<'_>, table: &str, base: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("slug:{table}:{base}"))
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn slugs_like(
    ex: impl PgExecutor<'_>,
    table: &str,
    base: &str,
) -> sqlx::Result<Vec<String>> {
    let table = match table {
        "products" => "products",
        _ => "categories",
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT slug FROM {table} WHERE slug = $1 OR slug LIKE $2"
    )))
    .bind(base)
    .bind(format!("{}-%", base.replace('%', "").replace('_', "\\_")))
    .fetch_all(ex)
    .await
}

// ---- products ----

pub async fn find_product(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Product>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PRODUCT_SELECT} WHERE p.id = $1"
    )))
    .bind(id)
    .fetch_optional(ex)
    .await
}

pub async fn find_product_by_slug(
    ex: impl PgExecutor<'_>,
    slug: &str,
) -> sqlx::Result<Option<Product>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PRODUCT_SELECT} WHERE p.slug = $1"
    )))
    .bind(slug)
    .fetch_optional(ex)
    .await
}

/// `WITH` clause selecting the category subtree, when filtering by category.
fn push_with(qb: &mut QueryBuilder<Postgres>, f: &ProductFilter) {
    if let Some(slug) = &f.category {
        qb.push("WITH RECURSIVE tree AS (SELECT id FROM categories WHERE slug = ")
            .push_bind(slug.as_str().to_owned())
            .push(" UNION ALL SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id) ");
    }
}

fn push_where(qb: &mut QueryBuilder<Postgres>, f: &ProductFilter) {
    qb.push(" WHERE p.is_active");
    if f.category.is_some() {
        qb.push(" AND p.category_id IN (SELECT id FROM tree)");
    }
    if let Some(q) = &f.q {
        qb.push(" AND (p.search @@ websearch_to_tsquery('english', ")
            .push_bind(q.clone())
            .push(") OR lower(p.sku) = lower(")
            .push_bind(q.clone())
            .push("))");
    }
    if let Some(min) = f.min_price {
        qb.push(" AND p.price >= ").push_bind(min.amount());
    }
    if let Some(max) = f.max_price {
        qb.push(" AND p.price <= ").push_bind(max.amount());
    }
    match f.in_stock {
        Some(true) => {
            qb.push(" AND s.on_hand > 0");
        }
        Some(false) => {
            qb.push(" AND s.on_hand = 0");
        }
        None => {}
    }
}

/// One page of active products: a single query, whatever the page size.
pub async fn list_products(
    ex: impl PgExecutor<'_>,
    f: &ProductFilter,
    ordering: ProductOrdering,
    page: PageRequest,
) -> sqlx::Result<Vec<Product>> {
    let mut qb = QueryBuilder::new("");
    push_with(&mut qb, f);
    qb.push(PRODUCT_SELECT);
    push_where(&mut qb, f);
    qb.push(" ORDER BY ");
    match (ordering, &f.q) {
        (ProductOrdering::Relevance, Some(q)) => {
            qb.push("(lower(p.sku) = lower(")
                .push_bind(q.clone())
                .push(")) DESC, ts_rank(p.search, websearch_to_tsquery('english', ")
                .push_bind(q.clone())
                .push(")) DESC, p.created_at DESC, p.id DESC");
        }
        (ProductOrdering::PriceAsc, _) => {
            qb.push("p.price, p.id");
        }
        (ProductOrdering::PriceDesc, _) => {
            qb.push("p.price DESC, p.id DESC");
        }
        (ProductOrdering::NameAsc, _) => {
            qb.push("p.name, p.id");
        }
        (ProductOrdering::NameDesc, _) => {
            qb.push("p.name DESC, p.id DESC");
        }
        (ProductOrdering::CreatedAsc, _) => {
            qb.push("p.created_at, p.id");
        }
        // Relevance without a query has nothing to rank: newest first.
        (ProductOrdering::CreatedDesc | ProductOrdering::Relevance, _) => {
            qb.push("p.created_at DESC, p.id DESC");
        }
    }
    qb.push(" LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    qb.build_query_as::<Product>().fetch_all(ex).await
}

/// How many active products match the filter.
pub async fn count_products(ex: impl PgExecutor<'_>, f: &ProductFilter) -> sqlx::Result<i64> {
    let mut qb = QueryBuilder::new("");
    push_with(&mut qb, f);
    qb.push("SELECT count(*) FROM products p JOIN stock_levels s ON s.product_id = p.id");
    push_where(&mut qb, f);
    qb.build_query_scalar().fetch_one(ex).await
}

pub async fn insert_product(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    slug: &str,
    p: &NewProduct,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO products (id, slug, sku, name, description, price, category_id, images, is_active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(slug)
    .bind(p.sku.as_str())
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.price.amount())
    .bind(p.category_id)
    .bind(sqlx::types::Json(&p.images))
    .bind(p.is_active)
    .execute(ex)
    .await?;
    Ok(())
}

/// Applies a partial update, all but the stock (`inventory::set` owns that); false when
/// the product does not exist.
pub async fn update_product(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    p: &ProductPatch,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE products SET \
           name = COALESCE($2, name), sku = COALESCE($3, sku), price = COALESCE($4, price), \
           slug = COALESCE($5, slug), description = COALESCE($6, description), \
           category_id = CASE WHEN $7 THEN $8 ELSE category_id END, \
           images = COALESCE($9, images), is_active = COALESCE($10, is_active), updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(p.name.as_deref())
    .bind(p.sku.as_ref().map(|s| s.as_str()))
    .bind(p.price.map(|m| m.amount()))
    .bind(p.slug.as_ref().map(|s| s.as_str()))
    .bind(p.description.as_deref())
    .bind(p.category_id.is_some())
    .bind(p.category_id.flatten())
    .bind(p.images.as_ref().map(sqlx::types::Json))
    .bind(p.is_active)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
