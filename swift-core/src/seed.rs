//! A deterministic, realistic demo shop: nested categories, plausible products, a staff
//! user and customers. The same `--seed` always yields the same shop, and running it again
//! adds nothing that is already there. Products go in with `COPY` on parallel connections.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::Context;
use crate::accounts::password;
use crate::catalog::Slug;

/// What to create.
#[derive(Debug, Clone, Copy)]
pub struct SeedSpec {
    pub products: u64,
    pub categories: u32,
    pub users: u32,
    pub seed: u64,
    /// Parallel COPY streams.
    pub jobs: u32,
}

/// What the run did, with the demo credentials to print.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub categories_created: u64,
    pub products_created: u64,
    pub variants_created: u64,
    pub users_created: u64,
    pub staff_email: String,
    pub staff_password: String,
    pub customer_emails: Vec<String>,
    pub customer_password: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("seeding task failed: {0}")]
    Task(String),
}

/// SplitMix64: a tiny, fast, well-distributed hash; every value derives from (seed, item,
/// field), so generation is deterministic and parallel.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Draw(u64);

impl Draw {
    fn new(seed: u64, item: u64, salt: u64) -> Self {
        Self(mix(seed ^ mix(item ^ mix(salt))))
    }
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[(self.next() % list.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const DEPARTMENTS: &[&str] = &[
    "Coffee & Tea",
    "Kitchen",
    "Home",
    "Garden",
    "Outdoor",
    "Books",
    "Stationery",
    "Toys",
    "Electronics",
    "Sports",
    "Pets",
    "Bath",
    "Lighting",
    "Storage",
    "Travel",
    "Music",
];
const SUBJECTS: &[&str] = &[
    "Mugs",
    "Kettles",
    "Grinders",
    "Lamps",
    "Chairs",
    "Notebooks",
    "Pens",
    "Backpacks",
    "Bottles",
    "Speakers",
    "Blankets",
    "Planters",
    "Towels",
    "Boxes",
    "Puzzles",
    "Knives",
    "Pans",
    "Rugs",
];
const ADJECTIVES: &[&str] = &[
    "Classic",
    "Modern",
    "Rustic",
    "Compact",
    "Deluxe",
    "Everyday",
    "Nordic",
    "Vintage",
    "Bold",
    "Soft",
    "Handmade",
    "Premium",
    "Travel",
    "Smart",
    "Organic",
    "Heavy-Duty",
    "Minimal",
    "Bright",
];
const MATERIALS: &[&str] = &[
    "Oak",
    "Walnut",
    "Bamboo",
    "Ceramic",
    "Steel",
    "Copper",
    "Linen",
    "Wool",
    "Cotton",
    "Glass",
    "Stoneware",
    "Leather",
    "Cork",
    "Brass",
    "Recycled",
    "Porcelain",
    "Cast-Iron",
    "Felt",
];
const NOUNS: &[&str] = &[
    "Mug", "Kettle", "Grinder", "Lamp", "Chair", "Notebook", "Pen", "Backpack", "Bottle",
    "Speaker", "Blanket", "Planter", "Towel", "Box", "Puzzle", "Knife", "Pan", "Rug", "Tray",
    "Clock", "Vase", "Basket", "Candle", "Scarf", "Cushion", "Bowl", "Teapot", "Shelf", "Mirror",
    "Jar",
];
const COLOURS: &[&str] = &[
    "black",
    "white",
    "sage green",
    "terracotta",
    "navy",
    "sand",
    "charcoal",
    "mustard",
    "blush",
];
const USES: &[&str] = &[
    "everyday use",
    "slow mornings",
    "small kitchens",
    "long trips",
    "gifting",
    "the office",
    "weekend projects",
    "cosy evenings",
    "busy families",
    "outdoor dinners",
];
const WORDS: &[&str] = &[
    "amber", "falcon", "river", "maple", "orbit", "cactus", "harbor", "violet", "tundra",
    "saffron", "kettle", "meadow", "lantern", "quartz", "pepper", "glacier",
];

/// A strong, memorable demo password derived from the seed.
fn demo_password(seed: u64, salt: u64) -> String {
    let mut d = Draw::new(seed, 0, salt);
    let (a, b, c) = (d.pick(WORDS), d.pick(WORDS), d.pick(WORDS));
    format!(
        "{a}-{}-{c}-{}{}",
        capitalise(b),
        d.below(90) + 10,
        d.pick(&["!", "#", "%", "+"])
    )
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A UUIDv7 with a given time and seed-derived random bits: stable across runs.
fn stable_uuid(at: DateTime<Utc>, d: &mut Draw) -> Uuid {
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&d.next().to_le_bytes());
    bytes[8..].copy_from_slice(&d.next().to_le_bytes()[..2]);
    uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis() as u64, &bytes).into_uuid()
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// The seeded category tree: a quarter top-level departments, the rest beneath them.
fn category_rows(spec: &SeedSpec) -> Vec<(Uuid, String, String, Option<usize>, i32)> {
    let n = spec.categories as usize;
    let tops = n.div_ceil(4).max(1).min(n);
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let mut d = Draw::new(spec.seed, i as u64, 1);
        let (name, parent) = if i < tops {
            let base = DEPARTMENTS[i % DEPARTMENTS.len()];
            let round = i / DEPARTMENTS.len();
            (
                if round == 0 {
                    base.to_owned()
                } else {
                    format!("{base} {}", round + 1)
                },
                None,
            )
        } else {
            let parent = (d.below(tops as u64)) as usize;
            let subject = SUBJECTS[i % SUBJECTS.len()];
            (format!("{} {subject}", d.pick(ADJECTIVES)), Some(parent))
        };
        let slug = format!("{}-{}", Slug::from_name(&name).as_str(), i + 1);
        let id = stable_uuid(epoch() + Duration::seconds(i as i64), &mut d);
        rows.push((id, slug, name, parent, (i % 10) as i32));
    }
    rows
}

/// COPY text for a batch of products: one buffer per table, filled in foreign-key order.
#[derive(Default)]
struct Batch {
    products: String,
    options: String,
    variants: String,
    stock: String,
    variant_count: u64,
}

impl Batch {
    fn clear(&mut self) {
        self.products.clear();
        self.options.clear();
        self.variants.clear();
        self.stock.clear();
    }
}

const SIZES: &[&str] = &["XS", "S", "M", "L", "XL", "XXL"];
const FINISHES: &[&str] = &["Matte", "Gloss", "Satin", "Natural", "Brushed", "Polished"];

/// A product's options (name, values) and its variants' values, in option order.
type Plan = (
    Vec<(&'static str, Vec<&'static str>)>,
    Vec<Vec<&'static str>>,
);

/// The options and variants (value lists) of product `i`: two in three are simple (one
/// variant, no options); the others have 2 to 12 variants over one or two options.
fn variant_plan(d: &mut Draw) -> Plan {
    if d.below(3) != 0 {
        return (Vec::new(), vec![Vec::new()]);
    }
    let count = 2 + d.below(11) as usize;
    let colours: Vec<&'static str> = vec!["Black", "White", "Sage", "Navy", "Sand", "Rust"];
    if count <= SIZES.len() {
        let (name, values): (&str, Vec<&str>) = match d.below(3) {
            0 => ("Size", SIZES[..count].to_vec()),
            1 => ("Colour", colours[..count].to_vec()),
            _ => ("Finish", FINISHES[..count].to_vec()),
        };
        let variants = values.iter().map(|v| vec![*v]).collect();
        return (vec![(name, values)], variants);
    }
    // Two colours times enough sizes, the first `count` combinations.
    let sizes = SIZES[..count.div_ceil(2)].to_vec();
    let two = colours[..2].to_vec();
    let variants = sizes
        .iter()
        .flat_map(|s| two.iter().map(move |c| vec![*s, *c]))
        .take(count)
        .collect();
    (vec![("Size", sizes), ("Colour", two)], variants)
}

/// One product, its options, variants and their stock, as COPY text lines (tab-separated).
/// Returns the product's slug.
fn product_lines(
    spec: &SeedSpec,
    i: u64,
    categories: &[Uuid],
    now: DateTime<Utc>,
    out: &mut Batch,
) -> String {
    let mut d = Draw::new(spec.seed, i, 2);
    let (adj, mat, noun) = (d.pick(ADJECTIVES), d.pick(MATERIALS), d.pick(NOUNS));
    let name = format!("{adj} {mat} {noun}");
    let sku = format!("SW-{:07}", i + 1);
    let slug = format!("{}-{}", Slug::from_name(&name).as_str(), sku.to_lowercase());
    let description = format!(
        "A {} {} {} in {}, made for {}. {}",
        adj.to_lowercase(),
        mat.to_lowercase(),
        noun.to_lowercase(),
        d.pick(COLOURS),
        d.pick(USES),
        d.pick(&[
            "Ships in recyclable packaging.",
            "Backed by a two-year warranty.",
            "Designed in small batches.",
            "Easy to clean and built to last.",
        ]),
    );
    // Prices from 2.00 to about 500.00, skewed low (median about 64.50), whole cents.
    let u = d.below(1000);
    let base_cents = 200 + u * u * u / 20_000 + d.below(100);
    let category = if categories.is_empty() {
        "\\N".to_owned()
    } else {
        categories[d.below(categories.len() as u64) as usize].to_string()
    };
    // Spread creation times over the last year, older for lower numbers.
    let created =
        now - Duration::seconds(((spec.products - i) * 31_536_000 / spec.products.max(1)) as i64);
    let id = stable_uuid(created, &mut d);
    let image = format!(
        "[{{\"url\": \"https://images.swift.example/products/{}.jpg\", \"alt\": \"{}\"}}]",
        sku.to_lowercase(),
        name
    );
    let created_at = created;
    let created = created.format("%Y-%m-%d %H:%M:%S%:z");

    let (options, variants) = variant_plan(&mut d);
    for (position, (option, values)) in options.iter().enumerate() {
        let _ = writeln!(
            out.options,
            "{id}\t{}\t{option}\t{{{}}}",
            position + 1,
            values.join(",")
        );
    }
    let (mut low, mut high, mut low_in_stock) = (u64::MAX, 0, None::<u64>);
    let mut skus = Vec::with_capacity(variants.len());
    for (position, values) in variants.iter().enumerate() {
        // Larger sizes cost a little more; one variant in ten is on sale.
        let cents = base_cents + position as u64 * 100 * u64::from(values.len() > 1);
        let compare_at = if d.below(10) == 0 {
            let was = cents + cents / 4 + 1;
            format!("{}.{:02}", was / 100, was % 100)
        } else {
            "\\N".to_owned()
        };
        let stock = if d.below(10) == 0 { 0 } else { d.below(250) };
        let variant_sku = if values.is_empty() {
            sku.clone()
        } else {
            format!("{sku}-{}", values.join("-").to_uppercase())
        };
        // A simple product's variant takes the product's id, as the migration to variants
        // gave every existing product.
        let variant_id = if position == 0 && values.is_empty() {
            id
        } else {
            stable_uuid(created_at, &mut d)
        };
        let _ = writeln!(
            out.variants,
            "{variant_id}\t{id}\t{variant_sku}\t{{{}}}\t{}.{:02}\t{compare_at}\t{position}\t{created}\t{created}\t{}",
            values.join(","),
            cents / 100,
            cents % 100,
            stock > 0,
        );
        let _ = writeln!(out.stock, "{variant_id}\t{stock}");
        (low, high) = (low.min(cents), high.max(cents));
        if stock > 0 {
            low_in_stock = Some(low_in_stock.map_or(cents, |l| l.min(cents)));
        }
        skus.push(variant_sku);
        out.variant_count += 1;
    }
    let terms: Vec<&str> = variants.iter().flatten().copied().collect();
    let _ = writeln!(
        out.products,
        "{id}\t{slug}\t{name}\t{description}\t{}.{:02}\t{}.{:02}\t{}\t{}\t{}\t{category}\t{image}\tt\t{created}\t{created}",
        low / 100,
        low % 100,
        high / 100,
        high % 100,
        low_in_stock.map_or("\\N".to_owned(), |l| format!("{}.{:02}", l / 100, l % 100)),
        skus.join(" "),
        terms.join(" "),
    );
    slug
}

/// Sends one table's COPY text.
async fn copy(pool: &sqlx::PgPool, statement: &str, text: &str) -> sqlx::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let mut conn = pool.acquire().await?;
    // Without triggers when the role may (as pg_restore --disable-triggers does): the rows
    // are consistent by construction, and the catalog triggers' change payloads and the
    // foreign keys' checks would cost a third of the seeding time. The caches hear of it
    // all at once afterwards. A role that may not simply seeds with triggers on.
    // That connection is closed afterwards, so no later user of the pool inherits the role.
    if sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .is_ok()
    {
        conn.close_on_drop();
    }
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(text.as_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// Writes a batch, tables in foreign-key order (each COPY commits on its own).
async fn flush(pool: &sqlx::PgPool, batch: &Batch) -> sqlx::Result<()> {
    copy(
        pool,
        "COPY products (id, slug, name, description, price_min, price_max, in_stock_price_min, \
         variant_skus, option_terms, category_id, images, is_active, created_at, updated_at) FROM STDIN",
        &batch.products,
    )
    .await?;
    copy(
        pool,
        "COPY product_options (product_id, position, name, choices) FROM STDIN",
        &batch.options,
    )
    .await?;
    copy(
        pool,
        "COPY product_variants (id, product_id, sku, option_values, price, compare_at_price, \
         position, created_at, updated_at, in_stock) FROM STDIN",
        &batch.variants,
    )
    .await?;
    copy(
        pool,
        "COPY stock_levels (variant_id, on_hand) FROM STDIN",
        &batch.stock,
    )
    .await
}

/// Creates what is missing of the demo shop. `progress` counts products written.
pub async fn seed(
    ctx: &Context,
    spec: SeedSpec,
    progress: Arc<AtomicU64>,
) -> Result<SeedReport, SeedError> {
    let pool = &ctx.pool;
    // Categories: parents first, so children can refer to them.
    let rows = category_rows(&spec);
    let mut categories_created = 0;
    for (id, slug, name, parent, position) in &rows {
        let parent_id = parent.map(|p| rows[p].0);
        categories_created += sqlx::query(
            "INSERT INTO categories (id, slug, name, description, parent_id, position) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(slug)
        .bind(name)
        .bind(format!("Everything in {name}."))
        .bind(parent_id)
        .bind(position)
        .execute(pool)
        .await?
        .rows_affected();
    }
    let slugs: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    let category_ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM categories WHERE slug = ANY($1) ORDER BY slug")
            .bind(&slugs)
            .fetch_all(pool)
            .await?;

    // Products: skip the slugs already present, COPY the rest on parallel connections, in
    // batches of a few thousand products (each table of a batch after the one it refers to).
    let existing: HashSet<String> = sqlx::query_scalar("SELECT slug FROM products")
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
    let existing = Arc::new(existing);
    let category_ids = Arc::new(category_ids);
    let now = epoch() + Duration::days(365);
    let jobs = spec.jobs.max(1) as u64;
    let mut tasks = Vec::new();
    for job in 0..jobs {
        let (pool, existing, categories, progress) = (
            pool.clone(),
            Arc::clone(&existing),
            Arc::clone(&category_ids),
            Arc::clone(&progress),
        );
        tasks.push(tokio::spawn(async move {
            let mut batch = Batch::default();
            let mut pending = Batch::default();
            let (mut written, mut variants) = (0u64, 0u64);
            let mut i = job;
            while i < spec.products {
                let slug = product_lines(&spec, i, &categories, now, &mut batch);
                if existing.contains(&slug) {
                    batch.clear();
                } else {
                    pending.products.push_str(&batch.products);
                    pending.options.push_str(&batch.options);
                    pending.variants.push_str(&batch.variants);
                    pending.stock.push_str(&batch.stock);
                    variants += batch.variant_count;
                    written += 1;
                    batch.clear();
                }
                batch.variant_count = 0;
                progress.fetch_add(1, Ordering::Relaxed);
                if pending.variants.len() > (1 << 20) {
                    flush(&pool, &pending).await?;
                    pending.clear();
                }
                i += jobs;
            }
            flush(&pool, &pending).await?;
            Ok::<(u64, u64), sqlx::Error>((written, variants))
        }));
    }
    let (mut products_created, mut variants_created) = (0, 0);
    for task in tasks {
        let (products, variants) = task.await.map_err(|e| SeedError::Task(e.to_string()))??;
        products_created += products;
        variants_created += variants;
    }
    // VACUUM as well as ANALYZE: it marks the freshly copied pages all-visible, so the
    // listings' counts are index-only scans from the first request rather than after
    // autovacuum gets round to it.
    if products_created > 0 {
        for table in [
            "products",
            "product_options",
            "product_variants",
            "stock_levels",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM (ANALYZE) {table}")))
                .execute(pool)
                .await?;
        }
        // Every instance drops its cached catalog (the copies may have run without triggers).
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(crate::catalog::changes::CHANNEL)
            .execute(pool)
            .await?;
        ctx.catalog_changes
            .apply(&crate::catalog::changes::Change::Everything);
    }

    // People: one staff account and the customers, with passwords derived from the seed.
    let staff_password = demo_password(spec.seed, 3);
    let customer_password = demo_password(spec.seed, 4);
    let (staff_hash, customer_hash) = {
        let (s, c) = (staff_password.clone(), customer_password.clone());
        tokio::task::spawn_blocking(move || (password::hash(&s), password::hash(&c)))
            .await
            .map_err(|e| SeedError::Task(e.to_string()))?
    };
    let staff_email = "staff@swift.example".to_owned();
    let customer_emails: Vec<String> = (1..=spec.users)
        .map(|n| format!("customer{n}@swift.example"))
        .collect();
    let mut users_created = 0;
    let people = std::iter::once((&staff_email, &staff_hash, true))
        .chain(customer_emails.iter().map(|e| (e, &customer_hash, false)));
    for (n, (email, hash, staff)) in people.enumerate() {
        let mut d = Draw::new(spec.seed, n as u64, 5);
        let first = d.pick(&[
            "Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Linus", "Frances",
            "Donald",
        ]);
        let last = d.pick(&[
            "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Perlman", "Allen",
            "Knuth",
        ]);
        users_created += sqlx::query(
            "INSERT INTO users (id, email, password_hash, first_name, last_name, email_verified, is_staff) \
             VALUES ($1, $2, $3, $4, $5, true, $6) ON CONFLICT DO NOTHING",
        )
        .bind(stable_uuid(epoch() + Duration::seconds(n as i64), &mut d))
        .bind(email)
        .bind(hash)
        .bind(first)
        .bind(last)
        .bind(staff)
        .execute(pool)
        .await?
        .rows_affected();
    }
    // Statistics for every other table too, the empty ones included (carts, orders…): a
    // table never analyzed is planned as if it held ten pages of rows, and a cart read
    // joining such a guess to the variants hashes the whole variants table (a sequential
    // scan per cart read, measured with bench/checkout.sh) until autovacuum first looks.
    // Analyzed empty, it is planned as what it is.
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok(SeedReport {
        categories_created,
        products_created,
        variants_created,
        users_created,
        staff_email,
        staff_password,
        customer_emails,
        customer_password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_seed_dependent() {
        let spec = |seed| SeedSpec {
            products: 10,
            categories: 8,
            users: 2,
            seed,
            jobs: 2,
        };
        let line = |spec: &SeedSpec, i| {
            let mut b = Batch::default();
            product_lines(spec, i, &[Uuid::nil()], epoch(), &mut b);
            b.products + &b.options + &b.variants + &b.stock
        };
        assert_eq!(line(&spec(1), 3), line(&spec(1), 3));
        assert_ne!(line(&spec(1), 3), line(&spec(2), 3));
        assert_eq!(category_rows(&spec(7)), category_rows(&spec(7)));
        assert!(password::check_strength(&demo_password(1, 3), &[]).is_ok());
    }

    /// About a third of the products have options, with 2 to 12 variants each.
    #[test]
    fn a_third_of_the_products_have_variants() {
        let spec = SeedSpec {
            products: 3000,
            categories: 8,
            users: 0,
            seed: 9,
            jobs: 1,
        };
        let mut counts = Vec::new();
        for i in 0..spec.products {
            let mut b = Batch::default();
            product_lines(&spec, i, &[], epoch(), &mut b);
            counts.push(b.variant_count);
        }
        let with_options = counts.iter().filter(|c| **c > 1).count();
        assert!((800..1200).contains(&with_options), "{with_options}");
        assert!(counts.iter().all(|c| (1..=12).contains(c)));
        assert!(counts.contains(&2) && counts.contains(&12));
    }
}
