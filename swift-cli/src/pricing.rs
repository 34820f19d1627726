//! Shipping zones and methods, tax rates and discount codes at the command line, over the
//! same swift-core services as the admin API (conventions: see `shop.rs`).

use std::str::FromStr;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use rust_decimal::Decimal;
use serde_json::json;
use swift_core::Context;
use swift_core::money::Money;
use swift_core::orders::OrdersError;
use swift_core::orders::discounts::{self, CodeInput, Kind};
use swift_core::orders::pricing::Rate;
use swift_core::orders::shipping::{self, MethodInput, ZoneInput};
use swift_core::orders::tax::{self, RateInput};
use uuid::Uuid;

use crate::BadInput;
use crate::shop::table;

#[derive(Subcommand)]
pub enum ShippingCommand {
    /// Zones with their countries and methods.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A zone: a name and the countries it covers (ISO codes, comma-separated).
    AddZone {
        name: String,
        #[arg(long, value_delimiter = ',', required = true)]
        countries: Vec<String>,
    },
    /// A method of a zone, at a flat price (free from `--free-over` on, when given).
    AddMethod {
        zone: Uuid,
        name: String,
        #[arg(long)]
        price: String,
        #[arg(long)]
        free_over: Option<String>,
    },
    /// Delete a zone and its methods.
    DeleteZone { zone: Uuid },
}

#[derive(Subcommand)]
pub enum TaxCommand {
    /// Tax rates by place.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A rate for a country (or one of its regions), e.g. `tax add GB 20 --name VAT`.
    Add {
        country: String,
        /// Percent, e.g. 20 or 8.875.
        percent: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        region: Option<String>,
    },
    /// Delete a rate by its id (see `tax list`).
    Delete { id: Uuid },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Amount {
    /// A percentage off, e.g. 10.
    #[arg(long)]
    percent: Option<String>,
    /// An amount off, e.g. 5.00.
    #[arg(long)]
    fixed: Option<String>,
}

#[derive(Subcommand)]
pub enum DiscountCommand {
    /// Codes with their terms and uses.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A new code, e.g. `discount create WELCOME10 --percent 10 --per-customer-limit 1`.
    Create {
        code: String,
        #[command(flatten)]
        amount: Amount,
        #[arg(long)]
        min_subtotal: Option<String>,
        #[arg(long)]
        usage_limit: Option<i32>,
        #[arg(long)]
        per_customer_limit: Option<i32>,
    },
    /// Stop a code from being used (its history stays).
    Disable { code: String },
}

fn bad(e: impl std::fmt::Display) -> anyhow::Error {
    BadInput(e.to_string()).into()
}

fn money(field: &'static str, raw: &str) -> anyhow::Result<Money> {
    Money::parse(field, raw).map_err(bad)
}

fn decimal(field: &str, raw: &str) -> anyhow::Result<Decimal> {
    Decimal::from_str(raw).map_err(|_| bad(format!("{field}: {raw:?} is not a number")))
}

/// Refusals as exit 2 (what was typed), a missing thing as exit 1.
fn explain(e: OrdersError, what: &str) -> anyhow::Error {
    match e {
        OrdersError::Invalid(i) => bad(i),
        OrdersError::NotFound => anyhow!("no {what}"),
        other => other.into(),
    }
}

fn rate_text(rate: &Rate) -> String {
    match rate {
        Rate::Flat(price) => format!("flat {price}"),
        Rate::FreeOver { price, threshold } => format!("{price}, free over {threshold}"),
        Rate::ByWeight(bands) => format!("by weight, {} band(s)", bands.len()),
    }
}

pub async fn shipping(ctx: &Context, command: ShippingCommand) -> anyhow::Result<()> {
    match command {
        ShippingCommand::List { json } => {
            let zones = shipping::zones(ctx).await?;
            if json {
                let value: Vec<_> = zones
                    .iter()
                    .map(|z| {
                        json!({"id": z.id, "name": z.name, "countries": z.countries,
                            "methods": z.methods.iter().map(|m| json!({"id": m.id, "name": m.name, "rate": rate_text(&m.rate)})).collect::<Vec<_>>()})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = zones
                .iter()
                .flat_map(|z| {
                    let countries = z.countries.join(",");
                    let methods: Vec<(String, String)> = if z.methods.is_empty() {
                        vec![("-".into(), "-".into())]
                    } else {
                        z.methods
                            .iter()
                            .map(|m| (m.name.clone(), rate_text(&m.rate)))
                            .collect()
                    };
                    methods.into_iter().map(move |(name, rate)| {
                        vec![
                            z.id.to_string(),
                            z.name.clone(),
                            countries.clone(),
                            name,
                            rate,
                        ]
                    })
                })
                .collect();
            table(&["ZONE ID", "ZONE", "COUNTRIES", "METHOD", "RATE"], &rows);
            println!("{} zone(s)", zones.len());
        }
        ShippingCommand::AddZone { name, countries } => {
            let input = ZoneInput::parse(&name, &countries).map_err(bad)?;
            let zone = shipping::create_zone(ctx, input)
                .await
                .map_err(|e| explain(e, "zone"))?;
            println!(
                "zone {} ({}): {}",
                zone.name,
                zone.id,
                zone.countries.join(",")
            );
        }
        ShippingCommand::AddMethod {
            zone,
            name,
            price,
            free_over,
        } => {
            let price = money("--price", &price)?;
            let rate = match free_over {
                Some(t) => Rate::FreeOver {
                    price,
                    threshold: money("--free-over", &t)?,
                },
                None => Rate::Flat(price),
            };
            let input = MethodInput::parse(&name, rate).map_err(bad)?;
            let method = shipping::create_method(ctx, zone, input)
                .await
                .map_err(|e| explain(e, &format!("zone {zone}")))?;
            println!(
                "method {} ({}): {}",
                method.name,
                method.id,
                rate_text(&method.rate)
            );
        }
        ShippingCommand::DeleteZone { zone } => {
            shipping::delete_zone(ctx, zone)
                .await
                .map_err(|e| explain(e, &format!("zone {zone}")))?;
            println!("zone {zone} deleted");
        }
    }
    Ok(())
}

pub async fn tax(ctx: &Context, command: TaxCommand) -> anyhow::Result<()> {
    match command {
        TaxCommand::List { json } => {
            let rates = tax::list(ctx).await?;
            if json {
                let value: Vec<_> = rates
                    .iter()
                    .map(|r| json!({"id": r.id, "country": r.country, "region": r.region, "name": r.name, "percent": r.percent.normalize().to_string()}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = rates
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        r.country.clone(),
                        if r.region.is_empty() {
                            "-".into()
                        } else {
                            r.region.clone()
                        },
                        r.name.clone(),
                        format!("{}%", r.percent.normalize()),
                    ]
                })
                .collect();
            table(&["ID", "COUNTRY", "REGION", "NAME", "RATE"], &rows);
            println!("{} rate(s)", rates.len());
        }
        TaxCommand::Add {
            country,
            percent,
            name,
            region,
        } => {
            let percent = decimal("percent", &percent)?;
            let input =
                RateInput::parse(&country, region.as_deref(), &name, percent).map_err(bad)?;
            let rate = tax::create(ctx, input)
                .await
                .map_err(|e| explain(e, "rate"))?;
            println!(
                "{} {}% in {} ({})",
                rate.name,
                rate.percent.normalize(),
                rate.country,
                rate.id
            );
        }
        TaxCommand::Delete { id } => {
            tax::delete(ctx, id)
                .await
                .map_err(|e| explain(e, &format!("tax rate {id}")))?;
            println!("tax rate {id} deleted");
        }
    }
    Ok(())
}

pub async fn discount(ctx: &Context, command: DiscountCommand) -> anyhow::Result<()> {
    match command {
        DiscountCommand::List { json } => {
            let codes = discounts::list(ctx).await?;
            let off = |c: &discounts::Code| match c.kind {
                Kind::Percent => format!("{}%", c.value.normalize()),
                Kind::Fixed => Money::from_decimal(c.value).to_string(),
            };
            if json {
                let value: Vec<_> = codes
                    .iter()
                    .map(|c| json!({"id": c.id, "code": c.code, "off": off(c), "times_used": c.times_used,
                        "usage_limit": c.usage_limit, "per_customer_limit": c.per_customer_limit, "active": c.is_active}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(());
            }
            let limit = |l: Option<i32>| l.map_or("-".to_owned(), |l| l.to_string());
            let rows: Vec<Vec<String>> = codes
                .iter()
                .map(|c| {
                    vec![
                        c.code.clone(),
                        off(c),
                        c.min_subtotal
                            .map_or("-".into(), |m| Money::from_decimal(m).to_string()),
                        c.times_used.to_string(),
                        limit(c.usage_limit),
                        limit(c.per_customer_limit),
                        if c.is_active { "yes" } else { "no" }.into(),
                    ]
                })
                .collect();
            table(
                &[
                    "CODE",
                    "OFF",
                    "MIN SUBTOTAL",
                    "USED",
                    "LIMIT",
                    "PER CUSTOMER",
                    "ACTIVE",
                ],
                &rows,
            );
            println!("{} code(s)", codes.len());
        }
        DiscountCommand::Create {
            code,
            amount,
            min_subtotal,
            usage_limit,
            per_customer_limit,
        } => {
            let (kind, value) = match (&amount.percent, &amount.fixed) {
                (Some(p), _) => (Kind::Percent, decimal("--percent", p)?),
                (None, Some(f)) => (Kind::Fixed, money("--fixed", f)?.amount()),
                (None, None) => unreachable!("clap requires one"),
            };
            let input = CodeInput {
                code,
                kind,
                value,
                min_subtotal: min_subtotal
                    .as_deref()
                    .map(|m| money("--min-subtotal", m))
                    .transpose()?,
                starts_at: None,
                ends_at: None,
                usage_limit,
                per_customer_limit,
                is_active: true,
            }
            .check()
            .map_err(bad)?;
            let created = discounts::create(ctx, input)
                .await
                .map_err(|e| explain(e, "code"))?;
            println!("code {} ({})", created.code, created.id);
        }
        DiscountCommand::Disable { code } => {
            let typed = discounts::normalize(&code).map_err(bad)?;
            let found = discounts::find(&ctx.pool, &typed)
                .await?
                .ok_or_else(|| anyhow!("no code {typed}"))?;
            let input = CodeInput {
                code: found.code.clone(),
                kind: found.kind,
                value: found.value,
                min_subtotal: found.min_subtotal.map(Money::from_decimal),
                starts_at: found.starts_at,
                ends_at: found.ends_at,
                usage_limit: found.usage_limit,
                per_customer_limit: found.per_customer_limit,
                is_active: false,
            };
            discounts::update(ctx, found.id, input)
                .await
                .map_err(|e| explain(e, "code"))?;
            println!("code {typed} disabled");
        }
    }
    Ok(())
}
