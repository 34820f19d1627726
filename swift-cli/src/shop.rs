//! The shop's daily work at the command line: orders, products by SKU, the category tree.
//! Each command calls the same swift-core service as the HTTP admin API; nothing here
//! decides anything the API would decide differently.
//!
//! Conventions (all commands): the thing acted on is positional (`order show SW-100042`,
//! `product archive SHIRT-M`), settings are `--flags`; every listing prints a table with a
//! header for each column, or JSON with `--json`; bad input exits 2, something that does not
//! exist exits 1.

use anyhow::anyhow;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde_json::json;
use swift_core::Context;
use swift_core::catalog::{CatalogError, service as catalog};
use swift_core::money::Money;
use swift_core::orders::repository::OrderFilter;
use swift_core::orders::types::Actor;
use swift_core::orders::{Order, OrderStatus, OrdersError, lifecycle};
use swift_core::pagination::PageRequest;
use swift_core::payments::{self, PaymentsError};

use crate::BadInput;

/// An order status as typed: one of the names `OrderStatus` parses (`--help` lists them).
fn order_status() -> impl TypedValueParser<Value = OrderStatus> {
    PossibleValuesParser::new(OrderStatus::ALL.map(|s| s.as_str())).map(|name| {
        name.parse::<OrderStatus>()
            .expect("one of OrderStatus::ALL")
    })
}

#[derive(Subcommand)]
pub enum OrderCommand {
    /// Orders, newest first.
    List {
        #[arg(long, value_parser = order_status())]
        status: Option<OrderStatus>,
        /// Placed on or after this day (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
        /// At most this many (newest first).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One order: lines, totals, payment and history.
    Show {
        /// The order number, e.g. SW-100042.
        number: String,
        #[arg(long)]
        json: bool,
    },
    /// Move an order along its life cycle, as staff do (recorded as staff).
    Transition {
        number: String,
        #[arg(long, value_parser = order_status())]
        to: OrderStatus,
    },
    /// Refund all (default) or part of an order paid through Stripe.
    Refund {
        number: String,
        /// How much, e.g. 5.00; all that is left when absent.
        #[arg(long)]
        amount: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ProductCommand {
    /// Every variant of every product (archived ones too), by product.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The product of a SKU, with all its variants.
    Show {
        sku: String,
        #[arg(long)]
        json: bool,
    },
    /// Stop selling the product of a SKU (orders keep it).
    Archive { sku: String },
    /// Set a variant's price, e.g. `set-price SHIRT-M 19.99`.
    SetPrice { sku: String, price: String },
    /// Move a variant's stock by DELTA (negative to take away); recorded in the ledger.
    AdjustStock {
        sku: String,
        #[arg(allow_negative_numbers = true)]
        delta: i32,
        /// Why, for the ledger.
        #[arg(long, default_value = "adjusted with swift-cli")]
        note: String,
    },
}

#[derive(Subcommand)]
pub enum CategoryCommand {
    /// Categories as a tree, with their slugs.
    Tree {
        #[arg(long)]
        json: bool,
    },
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn orders_error(e: OrdersError, number: &str) -> anyhow::Error {
    match e {
        OrdersError::NotFound => anyhow!("no order {number}"),
        OrdersError::InvalidTransition { from, to } => {
            BadInput(format!("{number} is {from}; it cannot become {to}")).into()
        }
        OrdersError::Invalid(i) => BadInput(i.to_string()).into(),
        OrdersError::Payments(p) => payments_error(*p, number),
        other => other.into(),
    }
}

fn payments_error(e: PaymentsError, number: &str) -> anyhow::Error {
    match e {
        PaymentsError::NotFound => anyhow!("no order {number}"),
        e @ (PaymentsError::NotRefundable(_)
        | PaymentsError::NotPaidThroughProvider
        | PaymentsError::RefundTooLarge(_)
        | PaymentsError::Invalid(_)) => BadInput(format!("{number}: {e}")).into(),
        other => other.into(),
    }
}

fn order_json(o: &Order) -> serde_json::Value {
    json!({
        "id": o.id, "number": o.number, "status": o.status.as_str(),
        "payment_status": format!("{:?}", o.payment_status).to_lowercase(),
        "customer": o.guest_email.clone().map(|e| format!("guest {e}")).or(o.user_id.map(|u| u.to_string())),
        "total": o.total.to_string(), "currency": o.currency, "amount_refunded": o.amount_refunded.to_string(),
        "created_at": o.created_at,
        "items": o.items.iter().map(|i| json!({
            "sku": i.sku, "name": i.name, "quantity": i.quantity,
            "unit_price": Money::from_decimal(i.unit_price).to_string(),
            "line_total": Money::from_decimal(i.line_total).to_string(),
        })).collect::<Vec<_>>(),
        "history": o.history.iter().map(|h| json!({
            "status": h.status.as_str(), "at": h.at, "by": h.by_role.as_str(),
            "event": h.event.map(|e| format!("{e:?}")), "note": h.note,
        })).collect::<Vec<_>>(),
    })
}

fn since(raw: &str) -> anyhow::Result<DateTime<Utc>> {
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        BadInput(format!(
            "--since: expected a day as YYYY-MM-DD, got {raw:?}"
        ))
    })?;
    Ok(day.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}

pub async fn order(ctx: &Context, command: OrderCommand) -> anyhow::Result<()> {
    match command {
        OrderCommand::List {
            status,
            since: from,
            limit,
            json,
        } => {
            let filter = OrderFilter {
                status,
                since: from.as_deref().map(since).transpose()?,
                ..OrderFilter::default()
            };
            let mut orders = Vec::new();
            for page in 1.. {
                let result = lifecycle::list(ctx, &filter, PageRequest::new(page, 100)?).await?;
                let done = result.page >= result.pages;
                orders.extend(result.items);
                if done || orders.len() >= limit as usize {
                    break;
                }
            }
            orders.truncate(limit as usize);
            if json {
                let rows: Vec<_> = orders.iter().map(order_json).collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = orders
                .iter()
                .map(|o| {
                    vec![
                        o.number.clone(),
                        o.created_at.format("%Y-%m-%d %H:%M").to_string(),
                        o.status.to_string(),
                        format!("{:?}", o.payment_status).to_lowercase(),
                        format!("{} {}", o.total, o.currency),
                        o.items.iter().map(|i| i.quantity).sum::<i32>().to_string(),
                        o.guest_email.clone().unwrap_or_else(|| "account".into()),
                    ]
                })
                .collect();
            table(
                &[
                    "NUMBER",
                    "PLACED (UTC)",
                    "STATUS",
                    "PAYMENT",
                    "TOTAL",
                    "UNITS",
                    "BUYER",
                ],
                &rows,
            );
            println!("{} order(s)", orders.len());
        }
        OrderCommand::Show { number, json } => {
            let o = lifecycle::by_number(ctx, &number)
                .await
                .map_err(|e| orders_error(e, &number))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&order_json(&o))?);
                return Ok(());
            }
            println!("order {}  ({})", o.number, o.id);
            println!(
                "status {}  payment {}  refunded {} {}",
                o.status,
                format!("{:?}", o.payment_status).to_lowercase(),
                o.amount_refunded,
                o.currency
            );
            println!("placed {}", o.created_at.format("%Y-%m-%d %H:%M:%S UTC"));
            println!();
            let lines: Vec<Vec<String>> = o
                .items
                .iter()
                .map(|i| {
                    vec![
                        i.sku.clone(),
                        i.name.clone(),
                        i.quantity.to_string(),
                        Money::from_decimal(i.unit_price).to_string(),
                        Money::from_decimal(i.line_total).to_string(),
                    ]
                })
                .collect();
            table(&["SKU", "NAME", "QTY", "UNIT PRICE", "LINE TOTAL"], &lines);
            println!();
            println!(
                "subtotal {}  discount -{}  shipping {}  tax {}  total {} {}",
                o.subtotal, o.discount_total, o.shipping_total, o.tax_total, o.total, o.currency
            );
            println!();
            let history: Vec<Vec<String>> = o
                .history
                .iter()
                .map(|h| {
                    vec![
                        h.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        h.status.to_string(),
                        h.by_role.as_str().to_owned(),
                        h.event
                            .map(|e| format!("{e:?}"))
                            .unwrap_or_else(|| "-".into()),
                        h.note.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            table(&["AT (UTC)", "STATUS", "BY", "EVENT", "NOTE"], &history);
        }
        OrderCommand::Transition { number, to } => {
            let o = lifecycle::by_number(ctx, &number)
                .await
                .map_err(|e| orders_error(e, &number))?;
            let moved = lifecycle::transition_by(ctx, Actor::Operator, o.id, to)
                .await
                .map_err(|e| orders_error(e, &number))?;
            println!("{}: {} → {}", moved.number, o.status, moved.status);
        }
        OrderCommand::Refund { number, amount } => {
            let amount = amount
                .as_deref()
                .map(|a| Money::parse("--amount", a))
                .transpose()
                .map_err(|i| BadInput(i.to_string()))?;
            let o = lifecycle::by_number(ctx, &number)
                .await
                .map_err(|e| orders_error(e, &number))?;
            let refund = payments::refund(ctx, None, o.id, amount)
                .await
                .map_err(|e| payments_error(e, &number))?;
            println!(
                "{}: refunded {} {} ({})",
                o.number,
                Money::from_decimal(refund.amount),
                o.currency,
                refund.provider_refund_id.as_deref().unwrap_or("pending")
            );
        }
    }
    Ok(())
}

fn catalog_error(e: CatalogError, sku: &str) -> anyhow::Error {
    match e {
        CatalogError::NotFound => anyhow!("no variant with SKU {sku}"),
        CatalogError::Invalid(i) => BadInput(format!("{sku}: {i}")).into(),
        e @ CatalogError::StockBelowZero { .. } => BadInput(format!("{sku}: {e}")).into(),
        other => other.into(),
    }
}

pub async fn product(ctx: &Context, command: ProductCommand) -> anyhow::Result<()> {
    match command {
        ProductCommand::List { json } => {
            let rows = catalog::all_variants(ctx).await?;
            if json {
                let rows: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        json!({
                            "product": r.product_slug, "name": r.name, "sku": r.sku,
                            "options": r.option_values, "price": Money::from_decimal(r.price).to_string(),
                            "stock": r.stock, "active": r.is_active && r.variant_is_active,
                            "category": r.category,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.sku.clone(),
                        r.name.clone(),
                        r.option_values.join(" / "),
                        Money::from_decimal(r.price).to_string(),
                        r.stock.to_string(),
                        if r.is_active && r.variant_is_active {
                            "yes"
                        } else {
                            "no"
                        }
                        .into(),
                        r.category.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            table(
                &[
                    "SKU", "PRODUCT", "OPTIONS", "PRICE", "STOCK", "ON SALE", "CATEGORY",
                ],
                &cells,
            );
            println!("{} variant(s)", rows.len());
        }
        ProductCommand::Show { sku, json } => {
            let (product, _) = catalog::variant_by_sku(ctx, &sku)
                .await
                .map_err(|e| catalog_error(e, &sku))?;
            let detail = catalog::get_product(ctx, product).await?;
            let p = &detail.product;
            if json {
                let value = json!({
                    "id": p.id, "slug": p.slug, "name": p.name, "active": p.is_active,
                    "category": p.category_slug,
                    "variants": detail.variants.iter().map(|v| json!({
                        "id": v.id, "sku": v.sku, "options": v.option_values,
                        "price": v.price().to_string(), "stock": v.stock, "active": v.is_active,
                    })).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(());
            }
            println!("{}  ({}, {})", p.name, p.slug, p.id);
            println!(
                "on sale {}  category {}",
                if p.is_active { "yes" } else { "no" },
                p.category_slug.as_deref().unwrap_or("-")
            );
            let cells: Vec<Vec<String>> = detail
                .variants
                .iter()
                .map(|v| {
                    vec![
                        v.sku.clone(),
                        v.option_values.join(" / "),
                        v.price().to_string(),
                        v.stock.to_string(),
                        if v.is_active { "yes" } else { "no" }.into(),
                    ]
                })
                .collect();
            table(&["SKU", "OPTIONS", "PRICE", "STOCK", "ON SALE"], &cells);
        }
        ProductCommand::Archive { sku } => {
            let (product, _) = catalog::variant_by_sku(ctx, &sku)
                .await
                .map_err(|e| catalog_error(e, &sku))?;
            catalog::archive_product(ctx, product)
                .await
                .map_err(|e| catalog_error(e, &sku))?;
            println!("{sku}: its product is archived (no longer shown nor sold)");
        }
        ProductCommand::SetPrice { sku, price } => {
            let price = Money::parse("price", &price).map_err(|i| BadInput(i.to_string()))?;
            let (product, variant) = catalog::variant_by_sku(ctx, &sku)
                .await
                .map_err(|e| catalog_error(e, &sku))?;
            let patch = swift_core::catalog::variant::VariantPatch {
                price: Some(price),
                ..Default::default()
            };
            catalog::update_variant(ctx, product, variant, patch, None)
                .await
                .map_err(|e| catalog_error(e, &sku))?;
            println!("{sku}: price {price}");
        }
        ProductCommand::AdjustStock { sku, delta, note } => {
            let (product, variant) = catalog::variant_by_sku(ctx, &sku)
                .await
                .map_err(|e| catalog_error(e, &sku))?;
            let detail = catalog::adjust_stock(ctx, product, variant, delta, &note, None)
                .await
                .map_err(|e| catalog_error(e, &sku))?;
            let stock = detail
                .variants
                .iter()
                .find(|v| v.id == variant)
                .map_or(0, |v| v.stock);
            println!("{sku}: stock {stock} ({delta:+})");
        }
    }
    Ok(())
}

pub async fn category(ctx: &Context, command: CategoryCommand) -> anyhow::Result<()> {
    let CategoryCommand::Tree { json } = command;
    let all = catalog::list_categories(ctx).await?;
    fn walk(
        all: &[swift_core::catalog::Category],
        parent: Option<uuid::Uuid>,
    ) -> Vec<serde_json::Value> {
        let mut children: Vec<_> = all.iter().filter(|c| c.parent_id == parent).collect();
        children.sort_by(|a, b| (a.position, &a.name).cmp(&(b.position, &b.name)));
        children
            .into_iter()
            .map(|c| json!({"slug": c.slug, "name": c.name, "children": walk(all, Some(c.id))}))
            .collect()
    }
    let tree = walk(&all, None);
    if json {
        println!("{}", serde_json::to_string_pretty(&tree)?);
        return Ok(());
    }
    fn print(nodes: &[serde_json::Value], depth: usize) {
        for n in nodes {
            println!(
                "{}{}  ({})",
                "  ".repeat(depth),
                n["name"].as_str().unwrap_or_default(),
                n["slug"].as_str().unwrap_or_default()
            );
            print(
                n["children"].as_array().map_or(&[], Vec::as_slice),
                depth + 1,
            );
        }
    }
    print(&tree, 0);
    println!(
        "{} categor{}",
        all.len(),
        if all.len() == 1 { "y" } else { "ies" }
    );
    Ok(())
}
