//! SQL for the catalog: plain functions over any executor.

use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use super::types::{
    Category, CategoryPatch, LISTING_WINDOW, NewCategory, NewProduct, Product, ProductFilter,
    ProductOrdering, ProductPatch, SearchTerms,
};
use super::variant::{NewVariant, ProductOption, Variant, VariantPatch};
use crate::pagination::PageRequest;

/// A product's columns as [`Product`] reads them, from `p` (the product) and `c` (its
/// category, left-joined): [`PRODUCT_SELECT`] without its `FROM`.
macro_rules! product_columns {
    () => {
        "SELECT p.id, p.slug, p.name, p.description, p.price_min, p.price_max, \
         EXISTS (SELECT 1 FROM product_variants v \
                 WHERE v.product_id = p.id AND v.is_active AND v.in_stock) AS in_stock, \
         p.images, p.is_active, p.created_at, p.updated_at, \
         c.id AS category_id, c.slug AS category_slug, c.name AS category_name"
    };
}

/// A product as listings show it. `in_stock` looks at the variants of this one product
/// only (a handful of index probes), so it costs the same on a page of 20 whatever the
/// catalog's size.
const PRODUCT_SELECT: &str = concat!(
    product_columns!(),
    " FROM products p LEFT JOIN categories c ON c.id = p.category_id"
);

const VARIANT_SELECT: &str = "SELECT v.id, v.product_id, v.sku, v.option_values, v.price, \
     v.compare_at_price, v.images, v.is_active, s.on_hand AS stock, v.weight_grams \
     FROM product_variants v JOIN stock_levels s ON s.variant_id = v.id";

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

/// The ids of a category (by slug) and all its descendants.
pub async fn category_subtree(ex: impl PgExecutor<'_>, slug: &str) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "WITH RECURSIVE tree AS (SELECT id FROM categories WHERE slug = $1 \
         UNION ALL SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id) \
         SELECT id FROM tree",
    )
    .bind(slug)
    .fetch_all(ex)
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

/// A product's options, in order.
pub async fn options_of(
    ex: impl PgExecutor<'_>,
    product_id: Uuid,
) -> sqlx::Result<Vec<ProductOption>> {
    let rows: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT name, choices FROM product_options WHERE product_id = $1 ORDER BY position",
    )
    .bind(product_id)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, values)| ProductOption { name, values })
        .collect())
}

/// A product's variants with their stock, in display order.
pub async fn variants_of(ex: impl PgExecutor<'_>, product_id: Uuid) -> sqlx::Result<Vec<Variant>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{VARIANT_SELECT} WHERE v.product_id = $1 ORDER BY v.position, v.id"
    )))
    .bind(product_id)
    .fetch_all(ex)
    .await
}

/// One variant of one product.
pub async fn find_variant(
    ex: impl PgExecutor<'_>,
    product_id: Uuid,
    variant_id: Uuid,
) -> sqlx::Result<Option<Variant>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{VARIANT_SELECT} WHERE v.id = $1 AND v.product_id = $2"
    )))
    .bind(variant_id)
    .bind(product_id)
    .fetch_optional(ex)
    .await
}

/// Replaces a product's options with `options` (variants untouched: see [`set_options`]).
pub async fn replace_options(
    ex: &mut sqlx::PgConnection,
    product_id: Uuid,
    options: &[ProductOption],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM product_options WHERE product_id = $1")
        .bind(product_id)
        .execute(&mut *ex)
        .await?;
    // Each option's values as one array literal, so the list of lists fits one statement.
    let names: Vec<&str> = options.iter().map(|o| o.name.as_str()).collect();
    let choices: Vec<String> = options
        .iter()
        .map(|o| serde_json::to_string(&o.values).expect("strings serialise"))
        .collect();
    sqlx::query(
        "INSERT INTO product_options (product_id, position, name, choices) \
         SELECT $1, ord, name, ARRAY(SELECT e FROM jsonb_array_elements_text(choices::jsonb) WITH ORDINALITY AS c(e, n) ORDER BY n) \
         FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS o(name, choices, ord)",
    )
    .bind(product_id)
    .bind(&names)
    .bind(&choices)
    .execute(ex)
    .await?;
    Ok(())
}

/// Replaces a product that had `before` options with `options`, and fits every variant to
/// them: values past the new count are dropped, and options added at the end give each
/// variant their first value. Two variants left with the same values break
/// `product_variants_options_key`; a value no longer offered is left for
/// [`stray_option_value`] to find.
pub async fn set_options(
    conn: &mut sqlx::PgConnection,
    product_id: Uuid,
    before: usize,
    options: &[ProductOption],
) -> sqlx::Result<()> {
    let kept = before.min(options.len());
    let appended: Vec<&str> = options[kept..]
        .iter()
        .map(|o| o.values[0].as_str())
        .collect();
    replace_options(&mut *conn, product_id, options).await?;
    sqlx::query(
        "UPDATE product_variants SET option_values = option_values[1:$2] || $3::text[], \
         updated_at = now() WHERE product_id = $1 \
           AND option_values IS DISTINCT FROM option_values[1:$2] || $3::text[]",
    )
    .bind(product_id)
    .bind(kept as i32)
    .bind(&appended)
    .execute(conn)
    .await?;
    Ok(())
}

/// A value some variant of the product holds that its option no longer offers.
pub async fn stray_option_value(
    ex: impl PgExecutor<'_>,
    product_id: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT u.value FROM product_variants v \
         CROSS JOIN LATERAL unnest(v.option_values) WITH ORDINALITY AS u(value, position) \
         JOIN product_options o ON o.product_id = v.product_id AND o.position = u.position \
         WHERE v.product_id = $1 AND NOT u.value = ANY (o.choices) LIMIT 1",
    )
    .bind(product_id)
    .fetch_optional(ex)
    .await
}

/// Inserts a variant with its values in option order, at the end of the product's list.
pub async fn insert_variant(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    product_id: Uuid,
    v: &NewVariant,
    values: &[String],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO product_variants \
           (id, product_id, sku, option_values, price, compare_at_price, images, is_active, weight_grams, position) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
           (SELECT count(*) FROM product_variants WHERE product_id = $2))",
    )
    .bind(id)
    .bind(product_id)
    .bind(v.sku.as_str())
    .bind(values)
    .bind(v.price.amount())
    .bind(v.compare_at_price.map(|m| m.amount()))
    .bind(sqlx::types::Json(&v.images))
    .bind(v.is_active)
    .bind(v.weight_grams)
    .execute(ex)
    .await?;
    Ok(())
}

/// Applies a partial variant update, all but the stock (`inventory::set` owns that); false
/// when the product has no such variant.
pub async fn update_variant(
    ex: impl PgExecutor<'_>,
    product_id: Uuid,
    variant_id: Uuid,
    p: &VariantPatch,
    values: Option<&[String]>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE product_variants SET \
           sku = COALESCE($3, sku), option_values = COALESCE($4, option_values), \
           price = COALESCE($5, price), \
           compare_at_price = CASE WHEN $6 THEN $7 ELSE compare_at_price END, \
           images = COALESCE($8, images), is_active = COALESCE($9, is_active), \
           weight_grams = CASE WHEN $10 THEN $11 ELSE weight_grams END, updated_at = now() \
         WHERE id = $1 AND product_id = $2",
    )
    .bind(variant_id)
    .bind(product_id)
    .bind(p.sku.as_ref().map(|s| s.as_str()))
    .bind(values)
    .bind(p.price.map(|m| m.amount()))
    .bind(p.compare_at_price.is_some())
    .bind(p.compare_at_price.flatten().map(|m| m.amount()))
    .bind(p.images.as_ref().map(sqlx::types::Json))
    .bind(p.is_active)
    .bind(p.weight_grams.is_some())
    .bind(p.weight_grams.flatten())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Recomputes what listings read from a product's active variants: its price range, its
/// lowest in-stock price, and the SKUs and option values search looks at. Called by every
/// write to its variants or options, in the same transaction.
///
/// The texts list the variants in their order (as the seed and CSV import write them):
/// unordered, the aggregate followed whatever plan read the variants, so a price edit
/// could rewrite the same SKUs in another order, and the search vector "changed", and
/// every cached search and name-ordered listing on every instance was dropped with it.
pub async fn refresh_summary(ex: impl PgExecutor<'_>, product_id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE products p SET price_min = v.price_min, price_max = v.price_max, \
           in_stock_price_min = v.in_stock_price_min, variant_skus = v.skus, option_terms = v.terms \
         FROM (SELECT min(price) AS price_min, max(price) AS price_max, \
                 min(price) FILTER (WHERE in_stock) AS in_stock_price_min, \
                 coalesce(string_agg(sku, ' ' ORDER BY position, id), '') AS skus, \
                 coalesce(string_agg(array_to_string(option_values, ' '), ' ' ORDER BY position, id), '') \
                   AS terms \
               FROM product_variants WHERE product_id = $1 AND is_active) v \
         WHERE p.id = $1 AND (p.price_min, p.price_max, p.in_stock_price_min, p.variant_skus, p.option_terms) \
           IS DISTINCT FROM (v.price_min, v.price_max, v.in_stock_price_min, v.skus, v.terms)",
    )
    .bind(product_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether a filter looks at single variants (a price range, or stock wanted): then a
/// product matches when one of its active variants matches all of it, and it is ordered by
/// the lowest price among those.
fn by_variant(f: &ProductFilter) -> bool {
    f.has_price_range() || f.in_stock == Some(true)
}

/// The variants (`v`) that match a filter's variant conditions, after `FROM`.
fn push_matching_variants(qb: &mut QueryBuilder<Postgres>, f: &ProductFilter) {
    qb.push(" product_variants v WHERE v.is_active");
    if f.in_stock == Some(true) {
        qb.push(" AND v.in_stock");
    }
    if let Some(min) = f.min_price {
        qb.push(" AND v.price >= ").push_bind(min.amount());
    }
    if let Some(max) = f.max_price {
        qb.push(" AND v.price <= ").push_bind(max.amount());
    }
}

/// `FROM` joins and `WHERE` of a listing. Ordered by price under a variant filter, the
/// matching variants' lowest price per product is joined as `m.price` (one aggregate over
/// the matching variants); otherwise a product's match is an `EXISTS` probe, which a page
/// ordered by an index (newest, name) stops asking after 20 rows. `within` limits a
/// price-ordered listing to the products a [`PricePrefix`] showed (and their lowest
/// matching price to its side of the prefix's boundary).
fn push_from_where(
    qb: &mut QueryBuilder<Postgres>,
    f: &ProductFilter,
    categories: Option<&[Uuid]>,
    price_ordered: bool,
    within: Option<&PricePrefix>,
) {
    let joined = by_variant(f) && price_ordered;
    match (joined, within) {
        (false, _) => {}
        // Ascending, the prefix itself names each product's lowest matching price.
        (true, Some(PricePrefix::Ascending { lowest, .. })) => {
            qb.push(" JOIN unnest(")
                .push_bind(lowest.iter().map(|(id, _)| *id).collect::<Vec<Uuid>>())
                .push("::uuid[], ")
                .push_bind(lowest.iter().map(|(_, price)| *price).collect::<Vec<_>>())
                .push("::numeric[]) AS m(product_id, price) ON m.product_id = p.id");
        }
        (true, prefix) => {
            qb.push(" JOIN (SELECT v.product_id, min(v.price) AS price FROM");
            push_matching_variants(qb, f);
            if let Some(PricePrefix::Descending { seen, .. }) = prefix {
                qb.push(" AND v.product_id = ANY(")
                    .push_bind(seen.clone())
                    .push(")");
            }
            qb.push(" GROUP BY v.product_id) m ON m.product_id = p.id");
            if let Some(PricePrefix::Descending {
                boundary: Some(boundary),
                ..
            }) = prefix
            {
                qb.push(" AND m.price > ").push_bind(*boundary);
            }
        }
    }
    qb.push(" WHERE p.is_active AND p.price_min IS NOT NULL");
    if by_variant(f) && !joined {
        qb.push(" AND EXISTS (SELECT 1 FROM");
        push_matching_variants(qb, f);
        qb.push(" AND v.product_id = p.id)");
    }
    if f.in_stock == Some(false) {
        qb.push(
            " AND NOT EXISTS (SELECT 1 FROM product_variants v \
               WHERE v.product_id = p.id AND v.is_active AND v.in_stock)",
        );
    }
    // The category's subtree as ids the caller looked up: a recursive CTE here left the
    // planner guessing half the catalog matched (walking the name index over every product
    // to fill a page of one category).
    // One category (no subcategories) is an equality, which the (category_id, <ordering>)
    // indexes read in order, 20 rows for a page; `= ANY` of even one id reads every product
    // of the category and sorts them (2.5 ms against 0.4 for 2,500 products).
    match categories {
        Some([id]) => {
            qb.push(" AND p.category_id = ").push_bind(*id);
        }
        Some(ids) => {
            qb.push(" AND p.category_id = ANY(")
                .push_bind(ids.to_vec())
                .push(")");
        }
        None => {}
    }
    if let Some(q) = &f.q {
        qb.push(" AND (p.search @@ ");
        push_tsquery(qb, q);
        qb.push(" OR p.id = ANY (ARRAY(")
            .push(EXACT_SKU)
            .push_bind(q.trim().to_owned())
            .push("))))");
    }
}

/// The full-text query of a search: its complete words as `websearch_to_tsquery` reads
/// them (phrases, `or`, `-word`), and the word being typed as a prefix, so that `tea`
/// already finds "teapot" (search-as-you-type).
fn push_tsquery(qb: &mut QueryBuilder<Postgres>, q: &str) {
    let terms = SearchTerms::of(q);
    let words = !terms.words.trim().is_empty() || terms.prefix.is_none();
    qb.push("(");
    if words {
        qb.push("websearch_to_tsquery('english', ")
            .push_bind(terms.words.to_owned())
            .push(")");
    }
    if let Some(prefix) = terms.prefix {
        // Letters and digits only: nothing to_tsquery could read as an operator.
        qb.push(if words { " && " } else { "" })
            .push("to_tsquery('english', ")
            .push_bind(format!("{prefix}:*"))
            .push(")");
    }
    qb.push(")");
}

/// The products with a variant whose SKU is the query, ignoring case (the query and the
/// closing parentheses follow).
/// Used as `p.id = ANY (ARRAY(...))`: computed once, it joins the full-text match in one
/// bitmap OR, where `p.id IN (...)` made PostgreSQL test every product row (40 ms instead
/// of 2 at 100,000 products).
const EXACT_SKU: &str = "SELECT product_id FROM product_variants WHERE lower(sku) = lower(";

/// One key of a listing's order: an expression over `p` (and `m`, the matching variants'
/// lowest price) and whether it descends.
#[derive(Clone, Copy)]
enum SortKey<'q> {
    /// A column or an expression without parameters.
    Sql(&'static str, bool),
    /// Whether a variant's SKU is the query (the first tier of relevance).
    ExactSku(&'q str),
    /// Whether the name (or a SKU) matches the query (the second tier).
    NameMatches(&'q str),
    /// How well the other matches rank (0 within the name tier).
    Rank(&'q str),
}

impl SortKey<'_> {
    fn push(self, qb: &mut QueryBuilder<Postgres>) {
        match self {
            Self::Sql(sql, _) => {
                qb.push(sql);
            }
            Self::ExactSku(q) => {
                qb.push("(p.id = ANY (ARRAY(")
                    .push(EXACT_SKU)
                    .push_bind(q.trim().to_owned())
                    .push("))))");
            }
            Self::NameMatches(q) => {
                qb.push("(p.name_search @@ ");
                push_tsquery(qb, q);
                qb.push(")");
            }
            Self::Rank(q) => {
                qb.push("(CASE WHEN p.name_search @@ ");
                push_tsquery(qb, q);
                qb.push(" THEN 0 ELSE ts_rank(p.search, ");
                push_tsquery(qb, q);
                qb.push(") END)");
            }
        }
    }

    fn descending(self) -> bool {
        match self {
            Self::Sql(_, descending) => descending,
            Self::ExactSku(_) | Self::NameMatches(_) | Self::Rank(_) => true,
        }
    }
}

/// The keys of a listing's order, the last one unique (`p.id`), so that pages never
/// overlap.
///
/// Search relevance comes in tiers: an exact variant SKU first; then the products whose
/// name or a SKU matches (`name_search`), newest first; then the others (matched by option
/// values or description), by rank. Within the name tier everything matches where it
/// counts most, and ranking thousands of such matches is what made a common word slow, so
/// that tier is not ranked: [`name_tier_page`] reads it in date order from an index.
fn sort_keys<'q>(f: &'q ProductFilter, ordering: ProductOrdering) -> Vec<SortKey<'q>> {
    use SortKey::Sql;
    let price = if by_variant(f) {
        "m.price"
    } else {
        "p.price_min"
    };
    match (ordering, &f.q) {
        (ProductOrdering::Relevance, Some(q)) => vec![
            SortKey::ExactSku(q),
            SortKey::NameMatches(q),
            SortKey::Rank(q),
            Sql("p.created_at", true),
            Sql("p.id", true),
        ],
        (ProductOrdering::PriceAsc, _) => vec![Sql(price, false), Sql("p.id", false)],
        (ProductOrdering::PriceDesc, _) => vec![Sql(price, true), Sql("p.id", true)],
        (ProductOrdering::NameAsc, _) => vec![Sql("p.name", false), Sql("p.id", false)],
        (ProductOrdering::NameDesc, _) => vec![Sql("p.name", true), Sql("p.id", true)],
        (ProductOrdering::CreatedAsc, _) => vec![Sql("p.created_at", false), Sql("p.id", false)],
        // Relevance without a query has nothing to rank: newest first.
        (ProductOrdering::CreatedDesc | ProductOrdering::Relevance, _) => {
            vec![Sql("p.created_at", true), Sql("p.id", true)]
        }
    }
}

/// `ORDER BY` the keys, each written out.
fn push_order_by(qb: &mut QueryBuilder<Postgres>, keys: &[SortKey]) {
    qb.push(" ORDER BY ");
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            qb.push(", ");
        }
        key.push(qb);
        qb.push(if key.descending() { " DESC" } else { "" });
    }
}

/// A search's page when it lies within its first two tiers ([`sort_keys`]): the
/// exact SKU's products (a handful at most), then the name matches from the newest, as an
/// index reads them. `None` when the page reaches past the name matches: the full query
/// then ranks the rest.
async fn name_tier_page(
    conn: &mut sqlx::PgConnection,
    f: &ProductFilter,
    q: &str,
    categories: Option<&[Uuid]>,
    rows: Rows,
) -> sqlx::Result<Option<Vec<Product>>> {
    // The other filters as they are; the search condition is each tier's own.
    let unsearched = ProductFilter {
        q: None,
        ..f.clone()
    };
    let select = || {
        let mut qb = QueryBuilder::new(PRODUCT_SELECT);
        push_from_where(&mut qb, &unsearched, categories, false, None);
        qb
    };
    let mut qb = select();
    qb.push(" AND p.id = ANY (ARRAY(")
        .push(EXACT_SKU)
        .push_bind(q.trim().to_owned())
        .push(")))");
    push_order_by(&mut qb, &sort_keys(f, ProductOrdering::Relevance));
    let exact: Vec<Product> = qb.build_query_as().fetch_all(&mut *conn).await?;
    let exact_count = exact.len() as i64;
    let exact_ids: Vec<Uuid> = exact.iter().map(|p| p.id).collect();
    let mut page: Vec<Product> = exact
        .into_iter()
        .skip(rows.offset.min(exact_count) as usize)
        .take(rows.limit as usize)
        .collect();
    let wanted = rows.limit - page.len() as i64;
    if wanted == 0 {
        return Ok(Some(page));
    }
    let mut qb = select();
    qb.push(" AND p.name_search @@ ");
    push_tsquery(&mut qb, q);
    qb.push(" AND NOT (p.id = ANY(")
        .push_bind(exact_ids)
        .push(")) ORDER BY p.created_at DESC, p.id DESC LIMIT ")
        .push_bind(wanted)
        .push(" OFFSET ")
        .push_bind((rows.offset - exact_count).max(0));
    let named: Vec<Product> = qb.build_query_as().fetch_all(&mut *conn).await?;
    if (named.len() as i64) < wanted {
        return Ok(None);
    }
    page.extend(named);
    Ok(Some(page))
}

/// The first variants, in price order, of a listing ordered by the lowest matching price
/// under a variant filter (a price range, in stock).
///
/// Ordering products by their lowest matching variant price needs that minimum for every
/// match: an aggregate over every variant in the range (150,000 of them for "0 to 100",
/// 400 ms). But a page needs only the first products. Take the first variants by price
/// from the index; the products they show, whose lowest price is on the right side of
/// the last variant's price (`boundary`), come before every product not shown, in the same
/// order as over everything. If they fill the page, that page is right; if not, and the
/// prefix did not hold every matching variant, the full query answers.
///
/// Ascending, a product's first variant in the prefix is its lowest matching price
/// whenever that is below the boundary (every matching variant below it is in the prefix),
/// so the page needs no aggregate over variants at all. Descending, the first variant seen
/// is a product's highest matching price, not the lowest the page orders by, so the page
/// aggregates over the variants of the products seen.
enum PricePrefix {
    /// The products whose lowest matching price is below the boundary, with that price,
    /// in page order.
    Ascending {
        lowest: Vec<(Uuid, rust_decimal::Decimal)>,
        /// Whether the prefix stopped short of the range's end.
        cut: bool,
    },
    Descending {
        /// The products seen, sorted.
        seen: Vec<Uuid>,
        /// The last variant's price; `None` when the prefix holds every matching variant.
        boundary: Option<rust_decimal::Decimal>,
    },
}

impl PricePrefix {
    /// Whether the prefix held every matching variant (then its page is the answer even
    /// when it is short).
    fn is_whole(&self) -> bool {
        match self {
            Self::Ascending { cut, .. } => !cut,
            Self::Descending { boundary, .. } => boundary.is_none(),
        }
    }
}

/// How many variants the prefix reads per product the page needs (products have several
/// variants, and some shown are not listed or not in the category).
const PREFIX_PER_PRODUCT: i64 = 8;

async fn price_prefix(
    conn: &mut sqlx::PgConnection,
    f: &ProductFilter,
    descending: bool,
    page: Rows,
) -> sqlx::Result<PricePrefix> {
    let rows = (page.offset + page.limit) * PREFIX_PER_PRODUCT;
    let mut qb = QueryBuilder::new("SELECT v.product_id, v.price FROM");
    push_matching_variants(&mut qb, f);
    qb.push(if descending {
        " ORDER BY v.price DESC, v.product_id DESC LIMIT "
    } else {
        " ORDER BY v.price, v.product_id LIMIT "
    })
    .push_bind(rows);
    let prefix: Vec<(Uuid, rust_decimal::Decimal)> =
        qb.build_query_as().fetch_all(&mut *conn).await?;
    let boundary = (prefix.len() as i64 == rows)
        .then(|| prefix.last().map(|(_, price)| *price))
        .flatten();
    if descending {
        let mut seen: Vec<Uuid> = prefix.into_iter().map(|(id, _)| id).collect();
        seen.sort_unstable();
        seen.dedup();
        return Ok(PricePrefix::Descending { seen, boundary });
    }
    let mut listed = std::collections::HashSet::new();
    let lowest = prefix
        .into_iter()
        .filter(|(id, price)| boundary.is_none_or(|b| *price < b) && listed.insert(*id))
        .collect();
    Ok(PricePrefix::Ascending {
        lowest,
        cut: boundary.is_some(),
    })
}

/// One page of active products: a single query, whatever the page size (a price-ordered
/// page under a variant filter reads a [`PricePrefix`] first). Only the first
/// [`LISTING_WINDOW`] products of a listing are shown: a page past them is empty, and
/// none is read.
/// `categories`: the ids of `f.category` and its descendants, when it names one.
pub async fn list_products(
    conn: &mut sqlx::PgConnection,
    f: &ProductFilter,
    categories: Option<&[Uuid]>,
    ordering: ProductOrdering,
    page: PageRequest,
) -> sqlx::Result<Vec<Product>> {
    let limit = page.limit_within(LISTING_WINDOW);
    if limit == 0 {
        return Ok(vec![]);
    }
    let rows = Rows {
        offset: page.offset(),
        limit,
    };
    if let (ProductOrdering::Relevance, Some(q)) = (ordering, &f.q)
        && let Some(items) = name_tier_page(&mut *conn, f, q, categories, rows).await?
    {
        return Ok(items);
    }
    let descending = match ordering {
        ProductOrdering::PriceAsc => Some(false),
        ProductOrdering::PriceDesc => Some(true),
        _ => None,
    };
    if let Some(descending) = descending
        && by_variant(f)
    {
        let prefix = price_prefix(&mut *conn, f, descending, rows).await?;
        let items = list_page(&mut *conn, f, categories, ordering, rows, Some(&prefix)).await?;
        if items.len() as i64 == limit || prefix.is_whole() {
            return Ok(items);
        }
    }
    list_page(conn, f, categories, ordering, rows, None).await
}

/// The rows of a listing a page reads: `OFFSET` and `LIMIT`.
#[derive(Clone, Copy)]
struct Rows {
    offset: i64,
    limit: i64,
}

/// A page of a listing, read in two steps in one statement: the page's ids, in order,
/// from the filtered listing; then those products' columns. A row an `OFFSET` skips is
/// read, but its columns are not. Read in one step, every skipped row also had its stock
/// probe and category join made: page 50 (980 rows skipped) took 3.8 ms that way, and
/// takes 2.0 ms in two steps, at 100,000 products.
async fn list_page(
    ex: impl PgExecutor<'_>,
    f: &ProductFilter,
    categories: Option<&[Uuid]>,
    ordering: ProductOrdering,
    rows: Rows,
    within: Option<&PricePrefix>,
) -> sqlx::Result<Vec<Product>> {
    let price_ordered = matches!(
        ordering,
        ProductOrdering::PriceAsc | ProductOrdering::PriceDesc
    );
    let keys = sort_keys(f, ordering);
    // The page's ids with their sort keys (k1, k2, ...), which order the products after.
    let mut qb = QueryBuilder::new(concat!(product_columns!(), " FROM (SELECT p.id AS page_id"));
    for (i, key) in keys.iter().enumerate() {
        qb.push(", ");
        key.push(&mut qb);
        qb.push(format_args!(" AS k{}", i + 1));
    }
    qb.push(" FROM products p");
    push_from_where(&mut qb, f, categories, price_ordered, within);
    let order = |qb: &mut QueryBuilder<Postgres>, table: &str| {
        qb.push(" ORDER BY ");
        for (i, key) in keys.iter().enumerate() {
            let direction = if key.descending() { " DESC" } else { "" };
            let comma = if i > 0 { ", " } else { "" };
            qb.push(format_args!("{comma}{table}k{}{direction}", i + 1));
        }
    };
    order(&mut qb, "");
    qb.push(" LIMIT ")
        .push_bind(rows.limit)
        .push(" OFFSET ")
        .push_bind(rows.offset);
    qb.push(
        ") page JOIN products p ON p.id = page.page_id \
         LEFT JOIN categories c ON c.id = p.category_id",
    );
    order(&mut qb, "page.");
    qb.build_query_as::<Product>().fetch_all(ex).await
}

/// How many active products match the filter, counted up to `up_to`: past the first
/// [`LISTING_WINDOW`] a listing shows nothing, so its count need not go further, and a
/// count that stops there costs a page's worth of rows instead of every match (45 ms
/// for a broad price range at 100,000 products, 35 ms for a common word).
pub async fn count_products(
    conn: &mut sqlx::PgConnection,
    f: &ProductFilter,
    categories: Option<&[Uuid]>,
    up_to: i64,
) -> sqlx::Result<i64> {
    // A product whose lowest price is in the range has a variant there (`price_min` is its
    // active variants' lowest price), so those products alone are a lower bound, counted
    // from the price index without reading a variant (under 1 ms). In stock, the lowest
    // in-stock price (`in_stock_price_min`) bounds the same way. A range wider than a few
    // dollars reaches `up_to` with them; a narrow one takes the full count.
    if f.has_price_range() {
        let lowest = match f.in_stock {
            Some(true) => "p.in_stock_price_min",
            Some(false) | None => "p.price_min",
        };
        // The bound implies the variant conditions (`in_stock=false` stays: no variant in
        // stock, which the lowest price does not say).
        let unranged = ProductFilter {
            min_price: None,
            max_price: None,
            in_stock: f.in_stock.filter(|wanted| !wanted),
            ..f.clone()
        };
        let lowest_in_range = count_up_to(&mut *conn, &unranged, categories, up_to, |qb| {
            if let Some(min) = f.min_price {
                qb.push(format_args!(" AND {lowest} >= "))
                    .push_bind(min.amount());
            }
            if let Some(max) = f.max_price {
                qb.push(format_args!(" AND {lowest} <= "))
                    .push_bind(max.amount());
            }
        })
        .await?;
        if lowest_in_range == up_to {
            return Ok(up_to);
        }
    }
    count_up_to(conn, f, categories, up_to, |_| {}).await
}

/// The products matching `f` (and whatever `more` adds to its `WHERE`), counted up to `up_to`.
async fn count_up_to(
    conn: &mut sqlx::PgConnection,
    f: &ProductFilter,
    categories: Option<&[Uuid]>,
    up_to: i64,
    more: impl FnOnce(&mut QueryBuilder<Postgres>),
) -> sqlx::Result<i64> {
    let mut qb = QueryBuilder::new("SELECT count(*) FROM (SELECT 1 FROM products p");
    push_from_where(&mut qb, f, categories, false, None);
    more(&mut qb);
    qb.push(" LIMIT ").push_bind(up_to).push(") matches");
    qb.build_query_scalar().fetch_one(conn).await
}

pub async fn insert_product(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    slug: &str,
    p: &NewProduct,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO products (id, slug, name, description, category_id, images, is_active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(slug)
    .bind(&p.name)
    .bind(&p.description)
    .bind(p.category_id)
    .bind(sqlx::types::Json(&p.images))
    .bind(p.is_active)
    .execute(ex)
    .await?;
    Ok(())
}

/// Applies a partial update of the product's own fields (options and variants have their
/// own functions); false when the product does not exist.
pub async fn update_product(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    p: &ProductPatch,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE products SET \
           name = COALESCE($2, name), slug = COALESCE($3, slug), \
           description = COALESCE($4, description), \
           category_id = CASE WHEN $5 THEN $6 ELSE category_id END, \
           images = COALESCE($7, images), is_active = COALESCE($8, is_active), updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(p.name.as_deref())
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

/// Locks a product's row against other changes to it or its variants; false when it does
/// not exist.
pub async fn lock_product(ex: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM products WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id)
            .fetch_optional(ex)
            .await?;
    Ok(found.is_some())
}

/// A product's id by slug, its row locked (the CSV import's key).
pub async fn lock_product_by_slug(
    ex: impl PgExecutor<'_>,
    slug: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT id FROM products WHERE slug = $1 FOR NO KEY UPDATE")
        .bind(slug)
        .fetch_optional(ex)
        .await
}

/// A variant's id and product by sku, its row locked.
pub async fn lock_variant_by_sku(
    ex: impl PgExecutor<'_>,
    sku: &str,
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    sqlx::query_as("SELECT id, product_id FROM product_variants WHERE sku = $1 FOR NO KEY UPDATE")
        .bind(sku)
        .fetch_optional(ex)
        .await
}

/// A variant's product and id by sku.
pub async fn variant_by_sku(
    ex: impl PgExecutor<'_>,
    sku: &str,
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    sqlx::query_as("SELECT product_id, id FROM product_variants WHERE sku = $1")
        .bind(sku)
        .fetch_optional(ex)
        .await
}

/// Category ids by slug.
pub async fn category_ids(ex: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, Uuid)>> {
    sqlx::query_as("SELECT slug, id FROM categories")
        .fetch_all(ex)
        .await
}

/// One variant with its product's columns, as the CSV export writes it.
#[derive(sqlx::FromRow)]
pub struct ExportRow {
    pub product_slug: String,
    pub name: String,
    pub description: String,
    pub category: Option<String>,
    pub is_active: bool,
    pub images: sqlx::types::Json<Vec<super::types::Image>>,
    pub option_names: Vec<String>,
    pub option_values: Vec<String>,
    pub sku: String,
    pub price: rust_decimal::Decimal,
    pub compare_at_price: Option<rust_decimal::Decimal>,
    pub stock: i32,
    pub variant_is_active: bool,
    pub variant_images: sqlx::types::Json<Vec<super::types::Image>>,
}

/// Every variant of every product (archived ones too), by product slug and variant order.
pub async fn export_rows(ex: impl PgExecutor<'_>) -> sqlx::Result<Vec<ExportRow>> {
    sqlx::query_as(
        "SELECT p.slug AS product_slug, p.name, p.description, c.slug AS category, p.is_active, p.images, \
                ARRAY(SELECT o.name FROM product_options o WHERE o.product_id = p.id ORDER BY o.position) AS option_names, \
                v.option_values, v.sku, v.price, v.compare_at_price, s.on_hand AS stock, \
                v.is_active AS variant_is_active, v.images AS variant_images \
         FROM products p JOIN product_variants v ON v.product_id = p.id \
         JOIN stock_levels s ON s.variant_id = v.id \
         LEFT JOIN categories c ON c.id = p.category_id \
         ORDER BY p.slug, v.position, v.id",
    )
    .fetch_all(ex)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    /// A price-ordered page under a variant filter, read through a [`PricePrefix`], is the
    /// page the full aggregate gives, for every page of every size, both directions, with
    /// and without `in_stock`: over products of 1 to 6 variants at scattered prices, some
    /// out of stock, some archived, at a dozen prices (ties at a prefix's boundary), so that
    /// prefixes fill, fall short and fall back.
    #[tokio::test]
    async fn a_price_prefix_gives_the_same_pages_as_the_full_query() {
        let db = TestDb::new().await;
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for i in 0..40 {
            let id = Uuid::from_u128(1000 + i);
            sqlx::query("INSERT INTO products (id, slug, name, is_active) VALUES ($1, $2, $2, $3)")
                .bind(id)
                .bind(format!("p{i}"))
                .bind(next(10) != 0)
                .execute(&db.pool)
                .await
                .unwrap();
            for v in 0..=next(6) {
                sqlx::query(
                    "INSERT INTO product_variants (id, product_id, sku, option_values, price, \
                     is_active, in_stock) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(Uuid::from_u128(100_000 + i * 10 + u128::from(v)))
                .bind(id)
                .bind(format!("P{i}-{v}"))
                .bind(vec![v.to_string()])
                .bind(rust_decimal::Decimal::new(100 + next(12) as i64 * 50, 2))
                .bind(next(8) != 0)
                .bind(next(3) != 0)
                .execute(&db.pool)
                .await
                .unwrap();
            }
            refresh_summary(&db.pool, id).await.unwrap();
        }
        let price = |cents: i64| {
            Some(crate::money::Money::from_decimal(
                rust_decimal::Decimal::new(cents, 2),
            ))
        };
        let filters = [
            (price(200), price(500), None),
            (price(200), price(500), Some(true)),
            (None, price(300), None),
            (price(450), None, Some(true)),
            (None, None, Some(true)),
        ];
        let mut conn = db.pool.acquire().await.unwrap();
        for (min_price, max_price, in_stock) in filters {
            let f = ProductFilter {
                min_price,
                max_price,
                in_stock,
                ..ProductFilter::default()
            };
            for ordering in [ProductOrdering::PriceAsc, ProductOrdering::PriceDesc] {
                for size in [1, 2, 3, 5] {
                    for number in 1..=8 {
                        let page = PageRequest::new(number, size).unwrap();
                        let ids = |items: Vec<Product>| {
                            items.into_iter().map(|p| p.id).collect::<Vec<_>>()
                        };
                        let fast = list_products(&mut conn, &f, None, ordering, page)
                            .await
                            .unwrap();
                        let rows = Rows {
                            offset: page.offset(),
                            limit: page.limit(),
                        };
                        let full = list_page(&mut *conn, &f, None, ordering, rows, None)
                            .await
                            .unwrap();
                        assert_eq!(
                            ids(fast),
                            ids(full),
                            "{f:?} {ordering:?} page {number} of {size}"
                        );
                    }
                }
            }
        }
    }
}
