//! `swift-cli`: operator commands over swift-core (migrations, users, housekeeping).

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use swift_core::accounts::repository::UserFilter;
use swift_core::accounts::service::SignInMethods;
use swift_core::accounts::{AccountsError, Email, NewPassword, User, service};
use swift_core::catalog::transfer;
use swift_core::pagination::PageRequest;
use swift_core::seed::SeedSpec;
use swift_core::{Config, Context, db};

mod pricing;
mod shop;

#[derive(Parser)]
#[command(
    version,
    about = "SWIFT operator commands. Configuration comes from the environment and .env, as for the server."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Database migrations.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// User accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Delete expired sessions, tokens and rate-limit windows now (the server also does
    /// this every 15 minutes).
    Prune,
    /// Fill the database with a deterministic demo shop; a second run adds nothing.
    Seed {
        #[arg(long, default_value_t = 1000)]
        products: u64,
        #[arg(long, default_value_t = 40)]
        categories: u32,
        #[arg(long, default_value_t = 5)]
        users: u32,
        /// Same seed, same shop.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Parallel COPY streams.
        #[arg(long, default_value_t = 2)]
        jobs: u32,
    },
    /// Product CSV import and export (layout: see `catalog export` output or README).
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Orders: list, show, move along their life cycle, refund.
    #[command(subcommand)]
    Order(shop::OrderCommand),
    /// Products by variant SKU: list, show, archive, set a price, adjust stock.
    #[command(subcommand)]
    Product(shop::ProductCommand),
    /// Categories.
    #[command(subcommand)]
    Category(shop::CategoryCommand),
    /// Shipping zones and methods.
    #[command(subcommand)]
    Shipping(pricing::ShippingCommand),
    /// Tax rates.
    #[command(subcommand)]
    Tax(pricing::TaxCommand),
    /// Discount codes.
    #[command(subcommand)]
    Discount(pricing::DiscountCommand),
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Upsert products by slug and their variants by sku from a CSV file (one row per
    /// variant), all or nothing.
    Import { file: std::path::PathBuf },
    /// Write every variant of every product as CSV, to a file or standard output.
    Export { file: Option<std::path::PathBuf> },
}

#[derive(Subcommand)]
enum MigrateCommand {
    /// Create the database if needed and apply every pending migration.
    Run,
    /// One line per migration: applied or pending.
    Status,
    /// Revert the most recently applied migration.
    Revert,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (email taken as verified).
    Create {
        email: String,
        /// Make the account staff.
        #[arg(long)]
        staff: bool,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts as a table (or JSON).
    List {
        /// Staff accounts only.
        #[arg(long)]
        staff: bool,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Grant or remove staff permission.
    SetStaff(SetStaff),
    /// Disable sign-in and end every session.
    Deactivate { email: String },
    /// Re-enable a deactivated account.
    Activate { email: String },
    /// Set a new password (prompted, or the first line of standard input); ends every session.
    SetPassword { email: String },
    /// End every session of the account.
    RevokeSessions { email: String },
    /// Turn off two-factor sign-in for someone who lost both the app and the recovery
    /// codes (after checking who they are); the owner is mailed.
    #[command(name = "reset-2fa")]
    Reset2fa { email: String },
    /// Delete the account.
    Delete {
        email: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct SetStaffFlag {
    #[arg(long)]
    on: bool,
    #[arg(long)]
    off: bool,
}

#[derive(Args)]
struct SetStaff {
    email: String,
    #[command(flatten)]
    flag: SetStaffFlag,
}

/// A mistake in what the operator typed: exit code 2, like clap's own usage errors.
#[derive(Debug)]
pub(crate) struct BadInput(pub(crate) String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        // `swift-cli catalog export | head`: the reader has all it wanted.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Whether the error is standard output closing under us (a pipe whose reader exited).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            cause
                .downcast_ref::<csv::Error>()
                .and_then(|c| match c.kind() {
                    csv::ErrorKind::Io(io) => Some(io),
                    _ => None,
                })
        });
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    // Commands that build a shop from nothing create the database as the server does.
    let creates_database = matches!(
        command,
        Command::Migrate(MigrateCommand::Run) | Command::Seed { .. }
    );
    if creates_database {
        db::ensure_database(&config.database_url)
            .await
            .map_err(|e| database_error(&config, e))?;
    }
    let pool = db::lazy_pool(&config)?;
    let ctx = Context::new(pool, config).map_err(|e| BadInput(e.to_string()))?;
    if let Command::Seed { .. } = command {
        db::migrate(&ctx.pool)
            .await
            .map_err(|e| database_error(&ctx.config, e))?;
    }
    match command {
        Command::Migrate(m) => migrate(&ctx, m).await,
        Command::User(u) => user(&ctx, u).await,
        Command::Order(o) => shop::order(&ctx, o).await,
        Command::Product(p) => shop::product(&ctx, p).await,
        Command::Category(c) => shop::category(&ctx, c).await,
        Command::Shipping(c) => pricing::shipping(&ctx, c).await,
        Command::Tax(c) => pricing::tax(&ctx, c).await,
        Command::Discount(c) => pricing::discount(&ctx, c).await,
        Command::Seed {
            products,
            categories,
            users,
            seed,
            jobs,
        } => {
            run_seed(
                &ctx,
                SeedSpec {
                    products,
                    categories,
                    users,
                    seed,
                    jobs,
                },
            )
            .await
        }
        Command::Catalog(CatalogCommand::Import { file }) => {
            let input = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            match transfer::import(&ctx, input).await {
                Ok(report) => {
                    println!(
                        "imported {}: {} variants created, {} updated",
                        file.display(),
                        report.created,
                        report.updated
                    );
                    Ok(())
                }
                Err(e @ transfer::TransferError::Row { .. }) => {
                    Err(BadInput(format!("{}: {e}; nothing was imported", file.display())).into())
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Catalog(CatalogCommand::Export { file }) => {
            let count = match &file {
                Some(path) => {
                    let out = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    transfer::export(&ctx, std::io::BufWriter::new(out)).await?
                }
                None => transfer::export(&ctx, std::io::stdout().lock()).await?,
            };
            eprintln!("exported {count} product(s)");
            Ok(())
        }
        Command::Prune => {
            let p = swift_core::maintenance::prune(&ctx.pool, &ctx.config.lifetimes).await?;
            println!(
                "pruned {} sessions, {} one-time tokens, {} rate-limit windows, {} carts, {} idempotency keys, {} delivered mails, {} payment events",
                p.sessions,
                p.one_time_tokens,
                p.rate_limits,
                p.carts,
                p.idempotency_keys,
                p.outbox,
                p.payment_events
            );
            Ok(())
        }
    }
}

/// A database that does not answer gets the one-line hint; anything else keeps its chain.
fn database_error(config: &Config, e: db::DbError) -> anyhow::Error {
    if e.is_unreachable() {
        anyhow::anyhow!(db::unreachable_hint(&config.database_url, &e))
    } else {
        anyhow::Error::new(e).context("creating or migrating the database")
    }
}

async fn run_seed(ctx: &Context, spec: SeedSpec) -> anyhow::Result<()> {
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    // Drawn on standard error only when it is a terminal (indicatif hides it otherwise).
    let bar = indicatif::ProgressBar::new(spec.products);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} products [{bar:40}] {pos}/{len} {rate} eta {eta}",
        )
        .expect("template")
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
        .progress_chars("=> "),
    );
    let ticker = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                bar.set_position(progress.load(std::sync::atomic::Ordering::Relaxed));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };
    let started = std::time::Instant::now();
    let result = swift_core::seed::seed(ctx, spec, progress.clone()).await;
    ticker.abort();
    // The summary below says what the bar said; clearing it leaves no half-ended line on
    // any terminal.
    bar.finish_and_clear();
    let report = result?;
    println!(
        "seeded in {:.1} s: {} categories, {} products with {} variants, {} users created (existing ones kept)",
        started.elapsed().as_secs_f64(),
        report.categories_created,
        report.products_created,
        report.variants_created,
        report.users_created
    );
    println!(
        "staff:     {}  password: {}",
        report.staff_email, report.staff_password
    );
    for email in &report.customer_emails {
        println!("customer:  {email}  password: {}", report.customer_password);
    }
    Ok(())
}

async fn migrate(ctx: &Context, command: MigrateCommand) -> anyhow::Result<()> {
    match command {
        MigrateCommand::Run => {
            let before = db::migration_status(&ctx.pool).await?;
            db::migrate(&ctx.pool).await?;
            let applied = before.iter().filter(|m| !m.applied).count();
            println!("applied {applied} migration(s); the database is up to date");
        }
        MigrateCommand::Status => {
            for m in db::migration_status(&ctx.pool).await? {
                let state = if m.applied { "applied" } else { "pending" };
                println!("{:<8} {} {}", state, m.version, m.description);
            }
        }
        MigrateCommand::Revert => match db::revert_last(&ctx.pool).await? {
            Some(version) => println!("reverted {version}"),
            None => println!("nothing to revert"),
        },
    }
    Ok(())
}

fn email(raw: &str) -> anyhow::Result<Email> {
    Email::parse(raw).map_err(|e| BadInput(e.to_string()).into())
}

/// Maps domain refusals to messages an operator can act on.
fn explain(e: AccountsError, email: &str) -> anyhow::Error {
    match e {
        AccountsError::NotFound => anyhow::anyhow!("no user with email {email}"),
        AccountsError::EmailTaken => {
            BadInput(format!("a user with email {email} already exists")).into()
        }
        AccountsError::Invalid(i) => BadInput(i.to_string()).into(),
        other => other.into(),
    }
}

async fn find(ctx: &Context, raw: &str) -> anyhow::Result<User> {
    let e = email(raw)?;
    service::find_by_email(ctx, &e)
        .await
        .map_err(|err| explain(err, raw))
}

/// Reads a password: from standard input when it is not a terminal (or when asked),
/// otherwise prompted twice without echo.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            bail!(BadInput("no password on standard input".into()));
        }
        return Ok(line);
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Password (again): ")?;
    if first != second {
        bail!(BadInput("the passwords do not match".into()));
    }
    Ok(first)
}

async fn user(ctx: &Context, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            email: raw,
            staff,
            password_stdin,
        } => {
            let e = email(&raw)?;
            let plain = read_password(password_stdin)?;
            let password = NewPassword::parse("password", &plain, &[e.as_str()])
                .map_err(|i| BadInput(i.to_string()))?;
            let user = service::create_user(ctx, &e, Some(&password), staff)
                .await
                .map_err(|err| explain(err, &raw))?;
            println!(
                "created {}{} ({})",
                user.email,
                if staff { " [staff]" } else { "" },
                user.id
            );
        }
        UserCommand::List { staff, json } => {
            let users = all_users(ctx, staff).await?;
            let ids: Vec<_> = users.iter().map(|u| u.id).collect();
            let linked = service::sign_in_methods(ctx, &ids).await?;
            if json {
                let rows: Vec<_> = users.iter().map(|u| user_json(u, &linked)).collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print_table(&users, &linked);
            }
        }
        UserCommand::SetStaff(SetStaff { email: raw, flag }) => {
            let user = find(ctx, &raw).await?;
            service::admin_update_user(ctx, user.id, None, Some(flag.on)).await?;
            println!("{raw}: staff {}", if flag.on { "on" } else { "off" });
        }
        UserCommand::Deactivate { email: raw } => {
            let user = find(ctx, &raw).await?;
            service::admin_update_user(ctx, user.id, Some(false), None).await?;
            println!("{raw}: deactivated; all sessions ended");
        }
        UserCommand::Activate { email: raw } => {
            let user = find(ctx, &raw).await?;
            service::admin_update_user(ctx, user.id, Some(true), None).await?;
            println!("{raw}: activated");
        }
        UserCommand::SetPassword { email: raw } => {
            let user = find(ctx, &raw).await?;
            let plain = read_password(false)?;
            let password = NewPassword::parse(
                "password",
                &plain,
                &[&user.email, &user.first_name, &user.last_name],
            )
            .map_err(|i| BadInput(i.to_string()))?;
            service::set_password(ctx, user.id, &password).await?;
            println!("{raw}: password set; all sessions ended");
        }
        UserCommand::RevokeSessions { email: raw } => {
            let user = find(ctx, &raw).await?;
            let n = service::logout_all(ctx, user.id).await?;
            println!("{raw}: {n} session(s) revoked");
        }
        UserCommand::Reset2fa { email: raw } => {
            let user = find(ctx, &raw).await?;
            if swift_core::accounts::two_factor::reset(ctx, user.id).await? {
                println!("{raw}: two-factor sign-in turned off; the owner was mailed");
            } else {
                println!("{raw}: two-factor sign-in was not on; nothing changed");
            }
        }
        UserCommand::Delete { email: raw, yes } => {
            if !yes {
                bail!(BadInput(
                    "deleting a user cannot be undone; add --yes to confirm".into()
                ));
            }
            let user = find(ctx, &raw).await?;
            service::delete_user(ctx, user.id).await?;
            println!("{raw}: deleted");
        }
    }
    Ok(())
}

async fn all_users(ctx: &Context, staff_only: bool) -> anyhow::Result<Vec<User>> {
    let filter = UserFilter {
        is_staff: staff_only.then_some(true),
        ..UserFilter::default()
    };
    let mut users = Vec::new();
    for page in 1.. {
        let result = service::admin_list_users(ctx, &filter, PageRequest::new(page, 100)?).await?;
        let done = result.page >= result.pages;
        users.extend(result.items);
        if done {
            break;
        }
    }
    Ok(users)
}

fn user_json(u: &User, linked: &SignInMethods) -> serde_json::Value {
    serde_json::json!({
        "providers": linked.providers(u.id),
        "two_factor": linked.has_two_factor(u.id),
        "id": u.id, "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
        "is_staff": u.is_staff, "is_active": u.is_active, "email_verified": u.email_verified,
        "has_password": u.has_password(), "date_joined": u.date_joined, "last_login": u.last_login,
    })
}

fn print_table(users: &[User], linked: &SignInMethods) {
    let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.email.clone(),
                yes(u.is_staff),
                yes(u.is_active),
                yes(u.email_verified),
                u.date_joined.format("%Y-%m-%d").to_string(),
                u.last_login
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "never".into()),
                yes(linked.has_two_factor(u.id)),
                match linked.providers(u.id) {
                    [] => "-".to_owned(),
                    names => names.join(","),
                },
            ]
        })
        .collect();
    shop::table(
        &[
            "EMAIL",
            "STAFF",
            "ACTIVE",
            "VERIFIED",
            "JOINED",
            "LAST LOGIN",
            "2FA",
            "LINKED",
        ],
        &rows,
    );
    println!("{} user(s)", users.len());
}
