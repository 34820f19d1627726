//! A deterministic, realistic demo shop: nested categories, plausible products, a staff
//! user and customers. The same `--seed` always yields the same shop, and running it again
//! adds nothing that is already there. Products go in with `COPY` on parallel connections.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::postgres::PgPoolCopyExt;
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

/// One product as a COPY text line (tab-separated).
fn product_line(
    spec: &SeedSpec,
    i: u64,
    categories: &[Uuid],
    now: DateTime<Utc>,
    out: &mut String,
    stock_out: &mut String,
) {
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
    let cents = 200 + u * u * u / 20_000 + d.below(100);
    let stock = if d.below(10) == 0 { 0 } else { d.below(250) };
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
    let created = created.format("%Y-%m-%d %H:%M:%S%:z");
    let _ = writeln!(
        out,
        "{id}\t{slug}\t{sku}\t{name}\t{description}\t{}.{:02}\t{category}\t{image}\tt\t{created}\t{created}",
        cents / 100,
        cents % 100,
    );
    let _ = writeln!(stock_out, "{id}\t{stock}");
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

    // Products: skip the skus already present, COPY the rest on parallel connections.
    let existing: HashSet<String> =
        sqlx::query_scalar("SELECT sku FROM products WHERE sku LIKE 'SW-%'")
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
            let mut copy = pool
                .copy_in_raw(
                    "COPY products (id, slug, sku, name, description, price, category_id, \
                     images, is_active, created_at, updated_at) FROM STDIN",
                )
                .await?;
            let mut buffer = String::with_capacity(1 << 20);
            // Stock rows go in after their products (a second COPY on this connection).
            let mut stock = String::new();
            let mut written = 0u64;
            let mut i = job;
            while i < spec.products {
                if !existing.contains(&format!("SW-{:07}", i + 1)) {
                    product_line(&spec, i, &categories, now, &mut buffer, &mut stock);
                    written += 1;
                }
                progress.fetch_add(1, Ordering::Relaxed);
                if buffer.len() > (1 << 20) - 1024 {
                    copy.send(buffer.as_bytes()).await?;
                    buffer.clear();
                }
                i += jobs;
            }
            if !buffer.is_empty() {
                copy.send(buffer.as_bytes()).await?;
            }
            copy.finish().await?;
            let mut copy = pool
                .copy_in_raw("COPY stock_levels (product_id, on_hand) FROM STDIN")
                .await?;
            copy.send(stock.as_bytes()).await?;
            copy.finish().await?;
            Ok::<u64, sqlx::Error>(written)
        }));
    }
    let mut products_created = 0;
    for task in tasks {
        products_created += task.await.map_err(|e| SeedError::Task(e.to_string()))??;
    }
    if products_created > 0 {
        sqlx::query("ANALYZE products").execute(pool).await?;
        sqlx::query("ANALYZE stock_levels").execute(pool).await?;
        ctx.catalog_cache.invalidate();
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
    Ok(SeedReport {
        categories_created,
        products_created,
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
            let (mut s, mut stock) = (String::new(), String::new());
            product_line(spec, i, &[Uuid::nil()], epoch(), &mut s, &mut stock);
            s + &stock
        };
        assert_eq!(line(&spec(1), 3), line(&spec(1), 3));
        assert_ne!(line(&spec(1), 3), line(&spec(2), 3));
        assert_eq!(category_rows(&spec(7)), category_rows(&spec(7)));
        assert!(password::check_strength(&demo_password(1, 3), &[]).is_ok());
    }
}
