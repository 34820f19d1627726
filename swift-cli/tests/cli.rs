//! The built `swift-cli` binary against a real database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use swift_core::testing::TestDb;

fn cli(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_swift-cli"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("EMAIL_BACKEND", "log")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run swift-cli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.unwrap_or("").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn migrations_run_revert_and_run_again() {
    let db = TestDb::empty().await;
    let status = cli(&db, &["migrate", "status"], None);
    assert!(status.status.success(), "{}", stderr(&status));
    let lines: Vec<String> = stdout(&status).lines().map(str::to_owned).collect();
    assert!(
        lines.len() >= 2 && lines.iter().all(|l| l.starts_with("pending")),
        "{lines:?}"
    );

    let run = cli(&db, &["migrate", "run"], None);
    assert!(run.status.success(), "{}", stderr(&run));
    let status = stdout(&cli(&db, &["migrate", "status"], None));
    assert!(status.lines().all(|l| l.starts_with("applied")), "{status}");
    let users_exist = || async {
        sqlx::query_scalar::<_, bool>("SELECT to_regclass('users') IS NOT NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    assert!(users_exist().await);

    // Revert everything, one migration at a time, then apply again.
    let count = status.lines().count();
    for _ in 0..count {
        let revert = cli(&db, &["migrate", "revert"], None);
        assert!(
            stdout(&revert).starts_with("reverted"),
            "{}",
            stderr(&revert)
        );
    }
    assert!(!users_exist().await);
    assert_eq!(
        stdout(&cli(&db, &["migrate", "revert"], None)).trim(),
        "nothing to revert"
    );
    let status = stdout(&cli(&db, &["migrate", "status"], None));
    assert!(status.lines().all(|l| l.starts_with("pending")), "{status}");
    assert!(cli(&db, &["migrate", "run"], None).status.success());
    assert!(users_exist().await);
}

#[tokio::test]
async fn user_commands_manage_accounts() {
    let db = TestDb::new().await;
    let password = "plum-Orbit-cactus-42\n";
    let out = cli(
        &db,
        &[
            "user",
            "create",
            "Ops@Example.com",
            "--staff",
            "--password-stdin",
        ],
        Some(password),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ops@example.com [staff]"));
    let out = cli(
        &db,
        &["user", "create", "shopper@example.com", "--password-stdin"],
        Some(password),
    );
    assert!(out.status.success());

    // Refusals: duplicate, weak password, bad email.
    let out = cli(
        &db,
        &["user", "create", "ops@example.com", "--password-stdin"],
        Some(password),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = cli(
        &db,
        &["user", "create", "weak@example.com", "--password-stdin"],
        Some("12345678\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = cli(
        &db,
        &["user", "create", "nope", "--password-stdin"],
        Some(password),
    );
    assert_eq!(out.status.code(), Some(2));

    sqlx::query(
        "INSERT INTO social_accounts (provider, subject, user_id, email) \
         SELECT 'google', 'sub-1', id, email FROM users WHERE email = 'shopper@example.com'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let table = stdout(&cli(&db, &["user", "list"], None));
    assert!(table.starts_with("EMAIL"), "{table}");
    assert!(table.contains("2 user(s)"), "{table}");
    let shopper = table.lines().find(|l| l.starts_with("shopper@")).unwrap();
    assert!(shopper.trim_end().ends_with("google"), "{shopper}");
    let all: serde_json::Value =
        serde_json::from_str(&stdout(&cli(&db, &["user", "list", "--json"], None))).unwrap();
    let shopper = all
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "shopper@example.com")
        .unwrap();
    assert_eq!(shopper["providers"], serde_json::json!(["google"]));
    let staff: serde_json::Value = serde_json::from_str(&stdout(&cli(
        &db,
        &["user", "list", "--staff", "--json"],
        None,
    )))
    .unwrap();
    assert_eq!(staff.as_array().unwrap().len(), 1);
    assert_eq!(staff[0]["email"], "ops@example.com");

    let flag = |email: &'static str, column: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(sqlx::AssertSqlSafe(format!(
                "SELECT {column} FROM users WHERE email = $1"
            )))
            .bind(email)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert!(
        cli(
            &db,
            &["user", "set-staff", "shopper@example.com", "--on"],
            None
        )
        .status
        .success()
    );
    assert!(flag("shopper@example.com", "is_staff").await);
    assert!(
        cli(
            &db,
            &["user", "set-staff", "shopper@example.com", "--off"],
            None
        )
        .status
        .success()
    );
    assert!(!flag("shopper@example.com", "is_staff").await);
    assert_eq!(
        cli(&db, &["user", "set-staff", "shopper@example.com"], None)
            .status
            .code(),
        Some(2)
    );

    assert!(
        cli(&db, &["user", "deactivate", "shopper@example.com"], None)
            .status
            .success()
    );
    assert!(!flag("shopper@example.com", "is_active").await);
    assert!(
        cli(&db, &["user", "activate", "shopper@example.com"], None)
            .status
            .success()
    );
    assert!(flag("shopper@example.com", "is_active").await);

    let before: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'shopper@example.com'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let out = cli(
        &db,
        &["user", "set-password", "shopper@example.com"],
        Some("violet-Tundra-harbor-77\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'shopper@example.com'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_ne!(before, after);
    assert!(swift_core::accounts::password::verify(
        "violet-Tundra-harbor-77",
        &after
    ));

    let out = cli(
        &db,
        &["user", "revoke-sessions", "shopper@example.com"],
        None,
    );
    assert!(
        stdout(&out).contains("0 session(s) revoked"),
        "{}",
        stdout(&out)
    );

    let out = cli(&db, &["user", "deactivate", "ghost@example.com"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no user with email ghost@example.com"));

    assert_eq!(
        cli(&db, &["user", "delete", "shopper@example.com"], None)
            .status
            .code(),
        Some(2)
    );
    assert!(
        cli(
            &db,
            &["user", "delete", "shopper@example.com", "--yes"],
            None
        )
        .status
        .success()
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 1);
}

/// What a seed produced, comparable across databases.
type SeededRow = (String, String, String, i32, String);

/// A product's summary of its variants: id, price range, SKUs and option values searched.
type Summary = (uuid::Uuid, Option<String>, Option<String>, String, String);

async fn seeded_state(db: &TestDb) -> Vec<SeededRow> {
    sqlx::query_as(
        "SELECT v.sku, p.name, v.price::text, s.on_hand, coalesce(c.slug, '') \
         FROM product_variants v JOIN products p ON p.id = v.product_id \
         JOIN stock_levels s ON s.variant_id = v.id \
         LEFT JOIN categories c ON c.id = p.category_id ORDER BY v.sku",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn seed_is_deterministic_and_idempotent() {
    let (a, b, c) = (
        TestDb::new().await,
        TestDb::new().await,
        TestDb::new().await,
    );
    let args = [
        "seed",
        "--products",
        "300",
        "--categories",
        "12",
        "--users",
        "2",
        "--seed",
        "7",
    ];
    let out = cli(&a, &args, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("12 categories, 300 products with ")
            && text.contains(" variants, 3 users created"),
        "{text}"
    );
    assert!(
        text.contains("staff:     staff@swift.example  password: "),
        "{text}"
    );
    assert!(cli(&b, &args, None).status.success());
    let first = seeded_state(&a).await;
    // About a third of the products have 2 to 12 variants.
    assert!((600..1200).contains(&first.len()), "{}", first.len());
    assert!(
        text.contains(&format!("with {} variants", first.len())),
        "{text}"
    );
    assert_eq!(first, seeded_state(&b).await, "same seed, same shop");

    // What the seed writes of each product's variants (price range, the SKUs and option
    // values searched) is what a write to one of them recomputes: a price edit then moves
    // the price alone, instead of rewriting the searched texts in another order, which
    // dropped every cached search on every instance.
    let summaries = async || -> Vec<Summary> {
        sqlx::query_as(
            "SELECT id, price_min::text, price_max::text, variant_skus, option_terms \
             FROM products ORDER BY id",
        )
        .fetch_all(&a.pool)
        .await
        .unwrap()
    };
    let seeded = summaries().await;
    // Read through the (product, option values) index, as at 100,000 products: in another
    // order than the variants' positions.
    let mut conn = a.pool.acquire().await.unwrap();
    sqlx::raw_sql("SET enable_seqscan = off; SET enable_bitmapscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    for (id, ..) in &seeded {
        swift_core::catalog::repository::refresh_summary(&mut *conn, *id)
            .await
            .unwrap();
    }
    drop(conn);
    assert_eq!(summaries().await, seeded);
    assert!(
        seeded.iter().any(|(.., skus, _)| skus.contains(' ')),
        "some have variants"
    );

    // A second run adds nothing.
    let again = stdout(&cli(&a, &args, None));
    assert!(
        again.contains("0 categories, 0 products with 0 variants, 0 users created"),
        "{again}"
    );
    assert_eq!(seeded_state(&a).await, first);

    // Another seed gives another shop.
    let other = [
        "seed",
        "--products",
        "300",
        "--categories",
        "12",
        "--users",
        "2",
        "--seed",
        "8",
    ];
    assert!(cli(&c, &other, None).status.success());
    assert_ne!(seeded_state(&c).await, first);

    // The categories nest, and the staff login works with the printed password.
    let nested: i64 =
        sqlx::query_scalar("SELECT count(*) FROM categories WHERE parent_id IS NOT NULL")
            .fetch_one(&a.pool)
            .await
            .unwrap();
    assert!(nested > 0);
    let password = text
        .lines()
        .find(|l| l.starts_with("staff:"))
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap();
    let hash: String = sqlx::query_scalar(
        "SELECT password_hash FROM users WHERE email = 'staff@swift.example' AND is_staff",
    )
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert!(swift_core::accounts::password::verify(password, &hash));
}

const HEADER: &str = "product_slug,name,description,category,is_active,images,\
option1_name,option1_value,option2_name,option2_value,option3_name,option3_value,\
sku,price,compare_at_price,stock,variant_is_active,variant_images\n";

/// One CSV row: the product's six columns, up to three (option, value) pairs, the variant's
/// six columns.
fn row(product: &str, options: &[(&str, &str)], variant: &str) -> String {
    let mut cells: Vec<String> = options
        .iter()
        .flat_map(|(name, value)| [(*name).to_owned(), (*value).to_owned()])
        .collect();
    cells.resize(6, String::new());
    format!("{product},{},{variant}\n", cells.join(","))
}

#[tokio::test]
async fn csv_import_is_all_or_nothing_and_round_trips_with_export() {
    let db = TestDb::new().await;
    sqlx::query("INSERT INTO categories (id, slug, name) VALUES (gen_random_uuid(), 'tea', 'Tea')")
        .execute(&db.pool)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("swift-csv-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        path.display().to_string()
    };
    let products = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM products")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    // Line 3 has a bad price: nothing is written, and the error names the line.
    let bad = file(
        "bad.csv",
        &[
            HEADER.to_owned(),
            row(
                "green-tea,Green Tea,Fresh,tea,true,",
                &[],
                "T-1,4.50,,10,true,",
            ),
            row(
                "black-tea,Black Tea,Strong,tea,true,",
                &[],
                "T-2,4.5,,3,true,",
            ),
            row("white-tea,White Tea,Rare,,true,", &[], "T-3,9.00,,1,true,"),
        ]
        .concat(),
    );
    let out = cli(&db, &["catalog", "import", &bad], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("line 3") && stderr(&out).contains("price"),
        "{}",
        stderr(&out)
    );
    // The same file with Windows line ends names the same line.
    let crlf = std::fs::read_to_string(&bad).unwrap().replace('\n', "\r\n");
    let bad_crlf = file("bad-crlf.csv", &crlf);
    let out = cli(&db, &["catalog", "import", &bad_crlf], None);
    assert!(
        stderr(&out).contains("line 3") && stderr(&out).contains("price"),
        "{}",
        stderr(&out)
    );
    assert_eq!(products(&db).await, 0);
    // An unknown category on the last line: caught while writing, still nothing written.
    let bad = file(
        "bad2.csv",
        &[
            HEADER.to_owned(),
            row(
                "green-tea,Green Tea,Fresh,tea,true,",
                &[],
                "T-1,4.50,,10,true,",
            ),
            row(
                "black-tea,Black Tea,Strong,coffee,true,",
                &[],
                "T-2,4.50,,3,true,",
            ),
        ]
        .concat(),
    );
    let out = cli(&db, &["catalog", "import", &bad], None);
    assert!(
        stderr(&out).contains("line 3") && stderr(&out).contains("coffee"),
        "{}",
        stderr(&out)
    );
    // Two rows of one product must agree on the product's columns.
    let bad = file(
        "bad3.csv",
        &[
            HEADER.to_owned(),
            row(
                "shirt,Shirt,Linen,,true,",
                &[("Size", "S")],
                "SH-S,9.00,,1,true,",
            ),
            row(
                "shirt,Shirt!,Linen,,true,",
                &[("Size", "M")],
                "SH-M,9.00,,1,true,",
            ),
        ]
        .concat(),
    );
    let out = cli(&db, &["catalog", "import", &bad], None);
    assert!(
        stderr(&out).contains("line 3") && stderr(&out).contains("differ from line 2"),
        "{}",
        stderr(&out)
    );
    assert_eq!(products(&db).await, 0);

    let shirt = "linen-shirt,Linen Shirt,Washed linen,,true,";
    let good = file(
        "good.csv",
        &[
            HEADER.to_owned(),
            row(
                "green-tea,Green Tea,\"Fresh, grassy\nand light\",tea,true,\"[{\"\"url\"\": \"\"https://cdn.example/t1.jpg\"\", \"\"alt\"\": \"\"Green\"\"}]\"",
                &[],
                "T-1,4.50,,10,true,",
            ),
            row("black-tea,Black Tea,Strong,tea,false,", &[], "T-2,4.50,5.00,3,true,"),
            row(shirt, &[("Size", "S"), ("Colour", "Red")], "SH-S-RED,49.00,59.00,5,true,"),
            row(shirt, &[("Size", "M"), ("Colour", "Red")], "SH-M-RED,49.00,,0,true,"),
            row(
                shirt,
                &[("Size", "M"), ("Colour", "Blue")],
                "SH-M-BLUE,52.00,,2,false,\"[{\"\"url\"\": \"\"https://cdn.example/blue.jpg\"\", \"\"alt\"\": \"\"Blue\"\"}]\"",
            ),
        ]
        .concat(),
    );
    let out = cli(&db, &["catalog", "import", &good], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("5 variants created, 0 updated"),
        "{}",
        stdout(&out)
    );
    // One product with options and three variants; its price range counts the active ones.
    let (options, range): (Vec<String>, (String, String)) = (
        sqlx::query_scalar(
            "SELECT o.name || ':' || array_to_string(o.choices, '/') FROM product_options o \
             JOIN products p ON p.id = o.product_id WHERE p.slug = 'linen-shirt' ORDER BY o.position",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap(),
        sqlx::query_as("SELECT price_min::text, price_max::text FROM products WHERE slug = 'linen-shirt'")
            .fetch_one(&db.pool)
            .await
            .unwrap(),
    );
    assert_eq!(options, ["Size:S/M", "Colour:Red/Blue"]);
    assert_eq!(range, ("49.00".to_owned(), "49.00".to_owned()));

    let exported = dir.join("export.csv").display().to_string();
    assert!(
        cli(&db, &["catalog", "export", &exported], None)
            .status
            .success()
    );
    let first = std::fs::read_to_string(&exported).unwrap();
    assert!(first.starts_with(HEADER));
    assert_eq!(first.matches("linen-shirt").count(), 3, "{first}");
    // Importing the export changes nothing (round trip), and updates by sku.
    let out = cli(&db, &["catalog", "import", &exported], None);
    assert!(
        stdout(&out).contains("0 variants created, 5 updated"),
        "{}",
        stdout(&out)
    );
    assert!(
        cli(&db, &["catalog", "export", &exported], None)
            .status
            .success()
    );
    assert_eq!(std::fs::read_to_string(&exported).unwrap(), first);
    // Stock set by import is in the ledger.
    let ledger: i64 =
        sqlx::query_scalar("SELECT sum(delta) FROM inventory_movements WHERE reason = 'import'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(ledger, 20);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn prune_removes_only_expired_rows() {
    let db = TestDb::new().await;
    let out = cli(
        &db,
        &["user", "create", "p@example.com", "--password-stdin"],
        Some("plum-Orbit-cactus-42\n"),
    );
    assert!(out.status.success());
    sqlx::query(
        "INSERT INTO auth_sessions (id, user_id, expires_at) \
         SELECT gen_random_uuid(), id, now() - interval '1 hour' FROM users \
         UNION ALL SELECT gen_random_uuid(), id, now() + interval '1 day' FROM users",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO rate_limits (key, tat) VALUES \
         ('replenished', now() - interval '1 second'), ('in use', now() + interval '1 minute')",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let out = cli(&db, &["prune"], None);
    assert!(
        stdout(&out).contains("pruned 1 sessions"),
        "{}",
        stdout(&out)
    );
    let left: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM auth_sessions), (SELECT count(*) FROM rate_limits)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(left, (1, 1));
}

#[tokio::test]
async fn seed_creates_and_migrates_a_missing_database() {
    let db = TestDb::absent();
    let out = cli(
        &db,
        &["seed", "--products", "30", "--categories", "4"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("30 products"), "{}", stdout(&out));
    let products: i64 = sqlx::query_scalar("SELECT count(*) FROM products")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(products, 30);
}

#[test]
fn an_unreachable_database_is_one_clear_line() {
    for args in [&["seed"][..], &["migrate", "run"], &["user", "list"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_swift-cli"))
            .args(args)
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/swift")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(stdout(&out).is_empty(), "{args:?}: no bar, no output");
        if args[0] != "user" {
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(
                err.contains("127.0.0.1:1") && err.contains("DATABASE_URL"),
                "{err}"
            );
            assert!(err.contains("docker compose up -d db"), "{err}");
        }
    }
}

#[tokio::test]
async fn export_into_a_closed_pipe_ends_quietly() {
    let db = TestDb::new().await;
    let seeded = cli(
        &db,
        &["seed", "--products", "3000", "--categories", "4"],
        None,
    );
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    // `swift-cli catalog export | head -1`: read one line, then close the pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_swift-cli"))
        .args(["catalog", "export"])
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        std::io::BufRead::read_line(&mut out, &mut first).unwrap();
    }
    assert!(first.starts_with("product_slug,"), "{first}");
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(!stderr(&done).contains("Broken pipe"), "{}", stderr(&done));
}

/// A seeded shop with one order of a customer's, placed through swift-core's checkout as
/// the API places it: (SKU of the ordered variant, order number).
async fn shop_with_an_order(db: &TestDb) -> (String, String) {
    use swift_core::orders::cart::{self, Shopper};
    use swift_core::orders::checkout::{self, AddressChoice, CheckoutRequest};
    use swift_core::orders::types::{Address, AddressFields, AddressInput};
    let seeded = cli(
        db,
        &[
            "seed",
            "--products",
            "4",
            "--categories",
            "3",
            "--users",
            "1",
        ],
        None,
    );
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    let config = swift_core::Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some(db.url.clone()),
        "EMAIL_BACKEND" => Some("log".into()),
        _ => None,
    })
    .unwrap();
    let ctx = swift_core::Context::new(db.pool.clone(), config).unwrap();
    let (customer, variant, sku): (uuid::Uuid, uuid::Uuid, String) = sqlx::query_as(
        "SELECT (SELECT id FROM users WHERE NOT is_staff LIMIT 1), v.id, v.sku \
         FROM product_variants v JOIN stock_levels s ON s.variant_id = v.id \
         WHERE s.on_hand >= 5 AND v.is_active ORDER BY v.sku LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let shopper = Shopper::Customer(customer);
    cart::add(
        &ctx,
        &shopper,
        variant,
        swift_core::orders::Quantity::parse(2).unwrap(),
    )
    .await
    .unwrap();
    let address = Address::parse(
        AddressInput {
            full_name: "Ada Lovelace",
            line1: "1 Analytical St",
            line2: None,
            city: "London",
            region: None,
            postal_code: "N1",
            country: "GB",
            phone: None,
        },
        AddressFields::SHIPPING,
    )
    .unwrap();
    let request = CheckoutRequest::new(
        AddressChoice::Given(address),
        AddressChoice::Default,
        None,
        None,
        None,
    )
    .unwrap();
    let placed = checkout::checkout(&ctx, &shopper, &request, None, |_| unreachable!("no key"))
        .await
        .unwrap();
    (sku, placed.order.number)
}

#[tokio::test]
async fn order_commands_list_show_and_move_orders() {
    let db = TestDb::new().await;
    let (sku, number) = shop_with_an_order(&db).await;

    let out = cli(&db, &["order", "list"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    let header = table.lines().next().unwrap();
    for column in [
        "NUMBER",
        "PLACED (UTC)",
        "STATUS",
        "PAYMENT",
        "TOTAL",
        "UNITS",
        "BUYER",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        table.contains(&number) && table.contains("pending"),
        "{table}"
    );
    assert!(table.contains("1 order(s)"));

    let out = cli(&db, &["order", "list", "--status", "paid", "--json"], None);
    let none: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(none, serde_json::json!([]));
    let out = cli(
        &db,
        &["order", "list", "--since", "2000-01-01", "--json"],
        None,
    );
    let all: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(all[0]["number"], number.as_str());
    assert_eq!(all[0]["items"][0]["sku"], sku.as_str());
    assert_eq!(all[0]["items"][0]["quantity"], 2);
    let out = cli(
        &db,
        &["order", "list", "--since", "2999-01-01", "--json"],
        None,
    );
    assert_eq!(stdout(&out).trim(), "[]");

    let out = cli(&db, &["order", "show", &number], None);
    assert!(out.status.success());
    let shown = stdout(&out);
    for part in [
        "SKU",
        "QTY",
        "LINE TOTAL",
        "AT (UTC)",
        "EVENT",
        &sku,
        "status pending",
    ] {
        assert!(shown.contains(part), "{part}: {shown}");
    }
    let out = cli(&db, &["order", "show", &number, "--json"], None);
    let one: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(one["status"], "pending");

    let out = cli(&db, &["order", "transition", &number, "--to", "paid"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("{number}: pending → paid"));
    let (status, by, actor): (String, String, Option<uuid::Uuid>) = sqlx::query_as(
        "SELECT h.status::text, h.by_role::text, h.actor_id FROM order_history h \
         JOIN orders o ON o.id = h.order_id WHERE o.number = $1 ORDER BY h.id DESC LIMIT 1",
    )
    .bind(&number)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), by.as_str(), actor),
        ("paid", "staff", None)
    );

    // A move the life cycle refuses, bad input, and an order that does not exist.
    let out = cli(
        &db,
        &["order", "transition", &number, "--to", "delivered"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot become delivered"),
        "{}",
        stderr(&out)
    );
    let out = cli(&db, &["order", "transition", &number, "--to", "lost"], None);
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown status");
    let out = cli(&db, &["order", "list", "--since", "yesterday"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("YYYY-MM-DD"));
    let out = cli(&db, &["order", "show", "SW-999999"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no order SW-999999"));
    // Without Stripe configured there is nothing to refund through (the payment tests of
    // swift-server refund through a fake Stripe with the same service).
    let out = cli(&db, &["order", "refund", &number, "--amount", "1.00"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("STRIPE_SECRET_KEY"),
        "{}",
        stderr(&out)
    );
    let out = cli(&db, &["order", "refund", &number, "--amount", "1"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("two decimals"), "{}", stderr(&out));
    let out = cli(&db, &["order", "refund", "SW-999999"], None);
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn product_and_category_commands_work_by_sku() {
    let db = TestDb::new().await;
    let (sku, _) = shop_with_an_order(&db).await;

    let out = cli(&db, &["product", "list"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    let header = table.lines().next().unwrap();
    for column in [
        "SKU", "PRODUCT", "OPTIONS", "PRICE", "STOCK", "ON SALE", "CATEGORY",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.contains(&sku));
    let out = cli(&db, &["product", "list", "--json"], None);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let before = rows
        .iter()
        .find(|r| r["sku"] == sku.as_str())
        .unwrap()
        .clone();

    let out = cli(&db, &["product", "set-price", &sku, "12.34"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(
        &db,
        &[
            "product",
            "adjust-stock",
            &sku,
            "-2",
            "--note",
            "broken in transit",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stock = before["stock"].as_i64().unwrap() - 2;
    assert_eq!(stdout(&out).trim(), format!("{sku}: stock {stock} (-2)"));
    let (note, actor): (String, Option<uuid::Uuid>) = sqlx::query_as(
        "SELECT m.note, m.actor_id FROM inventory_movements m JOIN product_variants v ON v.id = m.variant_id \
         WHERE v.sku = $1 ORDER BY m.id DESC LIMIT 1",
    )
    .bind(&sku)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((note.as_str(), actor), ("broken in transit", None));

    let out = cli(&db, &["product", "show", &sku, "--json"], None);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let variant = shown["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] == sku.as_str())
        .unwrap();
    assert_eq!(variant["price"], "12.34");
    assert_eq!(variant["stock"], stock);
    let out = cli(&db, &["product", "show", &sku], None);
    assert!(stdout(&out).contains("ON SALE"));

    // Bad input exits 2; a SKU that does not exist exits 1.
    let out = cli(&db, &["product", "set-price", &sku, "12.3"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(&db, &["product", "adjust-stock", &sku, "-1000000"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = cli(&db, &["product", "show", "NO-SUCH-SKU"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no variant with SKU NO-SUCH-SKU"));

    let out = cli(&db, &["product", "archive", &sku], None);
    assert!(out.status.success());
    let out = cli(&db, &["product", "show", &sku, "--json"], None);
    let archived: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(archived["active"], false);

    let out = cli(&db, &["category", "tree"], None);
    assert!(out.status.success());
    let tree = stdout(&out);
    assert!(tree.trim_end().ends_with("3 categories"), "{tree}");
    let out = cli(&db, &["category", "tree", "--json"], None);
    let roots: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let count = |nodes: &[serde_json::Value]| -> usize {
        fn walk(nodes: &[serde_json::Value]) -> usize {
            nodes
                .iter()
                .map(|n| 1 + walk(n["children"].as_array().unwrap()))
                .sum()
        }
        walk(nodes)
    };
    assert_eq!(count(&roots), 3);
}

#[tokio::test]
async fn shipping_tax_and_discount_commands_manage_pricing() {
    let db = TestDb::new().await;
    let ok = |out: &Output| assert!(out.status.success(), "{}", stderr(out));

    let out = cli(
        &db,
        &[
            "shipping",
            "add-zone",
            "British Isles",
            "--countries",
            "gb,IE",
        ],
        None,
    );
    ok(&out);
    let zone = stdout(&out).split(['(', ')']).nth(1).unwrap().to_owned();
    let out = cli(
        &db,
        &[
            "shipping",
            "add-method",
            &zone,
            "Standard",
            "--price",
            "4.95",
            "--free-over",
            "50.00",
        ],
        None,
    );
    ok(&out);
    let out = cli(&db, &["shipping", "list"], None);
    let listed = stdout(&out);
    let header = listed.lines().next().unwrap();
    for column in ["ZONE ID", "ZONE", "COUNTRIES", "METHOD", "RATE"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        listed.contains("GB,IE") && listed.contains("4.95, free over 50.00"),
        "{listed}"
    );
    let out = cli(&db, &["shipping", "list", "--json"], None);
    let zones: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(zones[0]["methods"][0]["name"], "Standard");

    let out = cli(&db, &["tax", "add", "GB", "20", "--name", "VAT"], None);
    ok(&out);
    let out = cli(&db, &["tax", "list", "--json"], None);
    let rates: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rates[0]["percent"], "20");
    assert!(stdout(&cli(&db, &["tax", "list"], None)).contains("20%"));

    let out = cli(
        &db,
        &[
            "discount",
            "create",
            "welcome10",
            "--percent",
            "10",
            "--per-customer-limit",
            "1",
        ],
        None,
    );
    ok(&out);
    let out = cli(&db, &["discount", "disable", "WELCOME10"], None);
    ok(&out);
    let out = cli(&db, &["discount", "list", "--json"], None);
    let codes: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(codes[0]["code"], "WELCOME10");
    assert_eq!(codes[0]["active"], false);
    let table = stdout(&cli(&db, &["discount", "list"], None));
    assert!(
        table.lines().next().unwrap().contains("PER CUSTOMER"),
        "{table}"
    );

    // Refusals: bad input exits 2, something missing exits 1.
    for args in [
        &["shipping", "add-zone", "Nowhere", "--countries", "XX"][..],
        &["shipping", "add-method", &zone, "Express", "--price", "5"],
        &["tax", "add", "GB", "120", "--name", "Too much"],
        &["tax", "add", "GB", "20", "--name", "VAT again"],
        &["discount", "create", "HALF", "--percent", "150"],
        &[
            "discount",
            "create",
            "BOTH",
            "--percent",
            "5",
            "--fixed",
            "1.00",
        ],
        &["discount", "create", "welcome10", "--fixed", "1.00"],
    ] {
        let out = cli(&db, args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let missing = uuid::Uuid::now_v7().to_string();
    for args in [
        &["shipping", "delete-zone", missing.as_str()][..],
        &["tax", "delete", missing.as_str()],
        &["discount", "disable", "NOSUCHCODE"],
    ] {
        let out = cli(&db, args, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
    }
    let out = cli(&db, &["shipping", "delete-zone", &zone], None);
    ok(&out);
}

/// Issue #19: an operator turns off a user's second factor (app and codes lost); the owner
/// is mailed, and no session counts as two-factor any more.
#[tokio::test]
async fn reset_2fa_turns_the_factor_off_and_mails_the_owner() {
    let db = TestDb::new().await;
    let out = cli(
        &db,
        &["user", "create", "lost@example.com", "--password-stdin"],
        Some("plum-Orbit-cactus-42\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let user: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'lost@example.com'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO totp_factors (user_id, secret_sealed, confirmed_at) VALUES ($1, '\\x00', now())",
    )
    .bind(user)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, '\\x01')")
        .bind(user)
        .execute(&db.pool)
        .await
        .unwrap();

    // Operators see who signs in with a second factor.
    let listed = |db: &TestDb| -> serde_json::Value {
        serde_json::from_str(&stdout(&cli(db, &["user", "list", "--json"], None))).unwrap()
    };
    assert_eq!(listed(&db)[0]["two_factor"], true);
    let table = stdout(&cli(&db, &["user", "list"], None));
    assert!(table.lines().next().unwrap().contains("2FA"), "{table}");

    let out = cli(&db, &["user", "reset-2fa", "lost@example.com"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("two-factor sign-in turned off"),
        "{}",
        stdout(&out)
    );
    assert_eq!(listed(&db)[0]["two_factor"], false);
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM totp_factors) + (SELECT count(*) FROM recovery_codes)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
    let mailed: String = sqlx::query_scalar(
        "SELECT payload->>'subject' FROM outbox WHERE event = 'security_notice'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        mailed.starts_with("Two-factor sign-in was reset"),
        "{mailed}"
    );

    let out = cli(&db, &["user", "reset-2fa", "lost@example.com"], None);
    assert!(out.status.success());
    assert!(stdout(&out).contains("was not on"), "{}", stdout(&out));
    let out = cli(&db, &["user", "reset-2fa", "ghost@example.com"], None);
    assert_eq!(out.status.code(), Some(1));
    let out = cli(&db, &["user", "reset-2fa", "not an email"], None);
    assert_eq!(out.status.code(), Some(2));
}
