//! CSV import and export of products, for operators moving catalogs in bulk: one row per
//! variant, its product's columns repeated on each.
//!
//! Columns, in this order (a header row is required on import and written on export):
//!
//! | column | meaning |
//! | --- | --- |
//! | `product_slug` | the product's key: rows with one slug are the variants of one product, created or updated |
//! | `name` | 1–200 characters |
//! | `description` | up to 10,000 characters |
//! | `category` | a category slug, or empty for none |
//! | `is_active` | `true` or `false`: whether the product is sold |
//! | `images` | the product's pictures: JSON array of `{"url", "alt"}` objects, or empty |
//! | `option1_name`, `option1_value` … `option3_name`, `option3_value` | the variant's option values, e.g. `Size`,`M`; empty for fewer options |
//! | `sku` | the variant's key: a row updates the variant with this sku, or creates it |
//! | `price` | two decimals, e.g. `19.99` |
//! | `compare_at_price` | two decimals, more than `price`, or empty |
//! | `stock` | 0 … 1,000,000,000; a change is written to the inventory ledger |
//! | `variant_is_active` | `true` or `false` |
//! | `variant_images` | the variant's own pictures, like `images` |
//!
//! The product columns and option names must be the same on every row of a product. An
//! option's values are those it had, then new ones in the order the rows use them. Variants
//! of a product that the file does not name are left as they are.
//!
//! Import checks every row first and writes nothing if one is wrong; the error names the
//! line. Writing happens in one transaction, so a database refusal also writes nothing.

use std::collections::HashMap;
use std::io::{Read, Write};

use uuid::Uuid;

use super::repository as repo;
use super::types::{
    Image, NewProduct, ProductPatch, Sku, Slug, parse_description, parse_images, parse_name,
    parse_stock,
};
use super::variant::{self, NewVariant, OptionValue, ProductOption, VariantPatch};
use crate::Context;
use crate::inventory::{self, MovementReason};
use crate::money::Money;
use crate::validation::Invalid;

/// The header of the CSV layout.
pub const COLUMNS: [&str; 18] = [
    "product_slug",
    "name",
    "description",
    "category",
    "is_active",
    "images",
    "option1_name",
    "option1_value",
    "option2_name",
    "option2_value",
    "option3_name",
    "option3_value",
    "sku",
    "price",
    "compare_at_price",
    "stock",
    "variant_is_active",
    "variant_images",
];

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// A row (or the header, line 1) is wrong; nothing was written.
    #[error("line {line}: {reason}")]
    Row { line: u64, reason: String },
    #[error("cannot read or write CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// What an import did, counted in variants (rows).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
}

/// The product columns of a row: equal on every row of one product.
#[derive(Debug, Clone, PartialEq)]
struct ProductColumns {
    slug: Slug,
    name: String,
    description: String,
    category: Option<String>,
    is_active: bool,
    images: Vec<Image>,
    option_names: Vec<String>,
}

struct Row {
    line: u64,
    product: ProductColumns,
    values: Vec<String>,
    sku: Sku,
    price: Money,
    compare_at_price: Option<Money>,
    stock: i32,
    is_active: bool,
    images: Vec<Image>,
}

fn parse_bool(column: &str, raw: &str) -> Result<bool, String> {
    match raw.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("{column}: expected true or false, found {other:?}")),
    }
}

fn parse_image_list(raw: &str) -> Result<Vec<Image>, String> {
    if raw.trim().is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<Image> = serde_json::from_str(raw)
        .map_err(|e| format!("images: not a JSON array of {{url, alt}}: {e}"))?;
    parse_images(list.into_iter().map(|i| (i.url, i.alt)).collect()).map_err(|e| e.to_string())
}

fn parse_row(line: u64, record: &csv::StringRecord) -> Result<Row, TransferError> {
    let err = |reason: String| TransferError::Row { line, reason };
    if record.len() != COLUMNS.len() {
        return Err(err(format!(
            "expected {} columns, found {}",
            COLUMNS.len(),
            record.len()
        )));
    }
    let field = |i: usize| record.get(i).unwrap_or_default();
    let invalid = |e: Invalid| err(e.to_string());
    let stock: i64 = field(15)
        .trim()
        .parse()
        .map_err(|_| err(format!("stock: {:?} is not a whole number", field(15))))?;
    let mut option_names = Vec::new();
    let mut values = Vec::new();
    for i in 0..variant::MAX_OPTIONS {
        let (name, value) = (field(6 + 2 * i).trim(), field(7 + 2 * i).trim());
        match (name.is_empty(), value.is_empty()) {
            (true, true) => {}
            (false, false) if option_names.len() == i => {
                option_names.push(name.to_owned());
                values.push(value.to_owned());
            }
            (false, false) => {
                return Err(err(format!(
                    "option{}: fill the options from option1 up",
                    i + 1
                )));
            }
            _ => {
                return Err(err(format!(
                    "option{n}_name and option{n}_value go together",
                    n = i + 1
                )));
            }
        }
    }
    let price = Money::parse("price", field(13).trim()).map_err(invalid)?;
    let compare_at_price = match field(14).trim() {
        "" => None,
        raw => Some(Money::parse("compare_at_price", raw).map_err(invalid)?),
    };
    variant::check_compare_at(price, compare_at_price).map_err(invalid)?;
    Ok(Row {
        line,
        product: ProductColumns {
            slug: Slug::parse("product_slug", field(0).trim()).map_err(invalid)?,
            name: parse_name(field(1)).map_err(invalid)?,
            description: parse_description(field(2)).map_err(invalid)?,
            category: Some(field(3).trim().to_owned()).filter(|s| !s.is_empty()),
            is_active: parse_bool("is_active", field(4)).map_err(err)?,
            images: parse_image_list(field(5)).map_err(err)?,
            option_names,
        },
        values,
        sku: Sku::parse(field(12)).map_err(invalid)?,
        price,
        compare_at_price,
        stock: parse_stock(stock).map_err(invalid)?,
        is_active: parse_bool("variant_is_active", field(16)).map_err(err)?,
        images: parse_image_list(field(17)).map_err(err)?,
    })
}

/// The 1-based line of a byte offset, for offsets met in increasing order.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    newlines: u64,
}

impl LineCounter {
    fn line_at(&mut self, bytes: &[u8], offset: u64) -> u64 {
        let mut offset = (offset as usize).min(bytes.len());
        // After a CRLF the csv crate gives the offset of the LF, which belongs to the line
        // before.
        if bytes.get(offset) == Some(&b'\n') {
            offset += 1;
        }
        if offset >= self.offset {
            self.newlines += bytes[self.offset..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.offset = offset;
        }
        self.newlines + 1
    }
}

/// The rows of one product, in file order.
struct Group<'a> {
    product: &'a ProductColumns,
    rows: Vec<&'a Row>,
}

/// Reads and checks every row; nothing is written yet.
fn parse_all(bytes: &[u8]) -> Result<Vec<Row>, TransferError> {
    let mut lines = LineCounter::default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header = reader.headers()?.clone();
    if header.iter().map(str::trim).ne(COLUMNS) {
        return Err(TransferError::Row {
            line: 1,
            reason: format!("the header must be: {}", COLUMNS.join(",")),
        });
    }
    let mut rows = Vec::new();
    let mut skus = HashMap::new();
    for record in reader.records() {
        let record = record?;
        let line = lines.line_at(bytes, record.position().map_or(0, |p| p.byte()));
        let row = parse_row(line, &record)?;
        if let Some(first) = skus.insert(row.sku.as_str().to_owned(), line) {
            return Err(TransferError::Row {
                line,
                reason: format!("sku {} already appears on line {first}", row.sku.as_str()),
            });
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Rows grouped by product, groups in the order of their first row; every row of a
/// product must repeat its first row's product columns.
fn group(rows: &[Row]) -> Result<Vec<Group<'_>>, TransferError> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for row in rows {
        match index.get(row.product.slug.as_str()) {
            Some(&i) => {
                let first = &groups[i];
                if *first.product != row.product {
                    return Err(TransferError::Row {
                        line: row.line,
                        reason: format!(
                            "the product columns differ from line {} (same product_slug)",
                            first.rows[0].line
                        ),
                    });
                }
                groups[i].rows.push(row);
            }
            None => {
                index.insert(row.product.slug.as_str(), groups.len());
                groups.push(Group {
                    product: &row.product,
                    rows: vec![row],
                });
            }
        }
    }
    Ok(groups)
}

/// The product's options after the import: the values each had (when it keeps its
/// position), then the rows' new values in the order they appear.
fn merged_options(before: &[ProductOption], group: &Group) -> Vec<ProductOption> {
    group
        .product
        .option_names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut values = before.get(i).map(|o| o.values.clone()).unwrap_or_default();
            for row in &group.rows {
                if !values.contains(&row.values[i]) {
                    values.push(row.values[i].clone());
                }
            }
            ProductOption {
                name: name.clone(),
                values,
            }
        })
        .collect()
}

/// Creates or updates every product and variant in one transaction; the first bad row
/// stops it and nothing is written.
pub async fn import(ctx: &Context, mut input: impl Read) -> Result<ImportReport, TransferError> {
    // Read whole: line numbers are counted from the bytes, since the csv crate counts a
    // CRLF file's lines one too low (rust-csv treats the CR as the line's end).
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(csv::Error::from)?;
    let rows = parse_all(&bytes)?;
    let groups = group(&rows)?;
    let categories: HashMap<String, Uuid> =
        repo::category_ids(&ctx.pool).await?.into_iter().collect();

    let mut report = ImportReport::default();
    let mut tx = ctx.pool.begin().await?;
    for group in &groups {
        let first_line = group.rows[0].line;
        let fail = |line: u64, reason: String| TransferError::Row { line, reason };
        let p = group.product;
        let category_id = match &p.category {
            None => None,
            Some(slug) => Some(*categories.get(slug).ok_or_else(|| {
                fail(
                    first_line,
                    format!("category: no category with slug {slug:?}"),
                )
            })?),
        };
        let existing = repo::lock_product_by_slug(&mut *tx, p.slug.as_str()).await?;
        let before = match existing {
            Some(id) => repo::options_of(&mut *tx, id).await?,
            None => Vec::new(),
        };
        let options = merged_options(&before, group);
        let product_id = match existing {
            Some(id) => {
                let patch = ProductPatch {
                    name: Some(p.name.clone()),
                    description: Some(p.description.clone()),
                    category_id: Some(category_id),
                    images: Some(p.images.clone()),
                    is_active: Some(p.is_active),
                    ..ProductPatch::default()
                };
                repo::update_product(&mut *tx, id, &patch).await?;
                repo::set_options(&mut tx, id, before.len(), &options)
                    .await
                    .map_err(|e| {
                        crate::db::constraint_error(
                            e,
                            [(
                                "product_variants_options_key",
                                fail(first_line, "options: two variants of the product would have the same option values".into()),
                            )],
                        )
                    })?;
                id
            }
            None => {
                let id = Uuid::now_v7();
                let new = NewProduct {
                    name: p.name.clone(),
                    slug: Some(p.slug.clone()),
                    description: p.description.clone(),
                    category_id,
                    images: p.images.clone(),
                    is_active: p.is_active,
                    options: options.clone(),
                    variants: Vec::new(),
                };
                repo::insert_product(&mut *tx, id, p.slug.as_str(), &new).await?;
                repo::replace_options(&mut tx, id, &options).await?;
                id
            }
        };
        for row in &group.rows {
            let fail = |reason: String| TransferError::Row {
                line: row.line,
                reason,
            };
            let named: Vec<OptionValue> = variant::named_values(&options, &row.values);
            let db_err = |e: sqlx::Error| {
                crate::db::constraint_error(
                    e,
                    [(
                        "product_variants_options_key",
                        fail("options: another variant of the product has these values".into()),
                    )],
                )
            };
            match repo::lock_variant_by_sku(&mut *tx, row.sku.as_str()).await? {
                Some((_, owner)) if owner != product_id => {
                    return Err(fail(format!(
                        "sku {} belongs to another product",
                        row.sku.as_str()
                    )));
                }
                Some((variant_id, _)) => {
                    let patch = VariantPatch {
                        price: Some(row.price),
                        compare_at_price: Some(row.compare_at_price),
                        images: Some(row.images.clone()),
                        is_active: Some(row.is_active),
                        ..VariantPatch::default()
                    };
                    repo::update_variant(
                        &mut *tx,
                        product_id,
                        variant_id,
                        &patch,
                        Some(&row.values),
                    )
                    .await
                    .map_err(db_err)?;
                    inventory::set(&mut tx, variant_id, row.stock, MovementReason::Import, None)
                        .await?;
                    report.updated += 1;
                }
                None => {
                    let new = NewVariant {
                        sku: row.sku.clone(),
                        options: named,
                        price: row.price,
                        compare_at_price: row.compare_at_price,
                        stock: row.stock,
                        images: row.images.clone(),
                        is_active: row.is_active,
                        // Weights are not a CSV column (yet): set them through the API.
                        weight_grams: None,
                    };
                    let id = Uuid::now_v7();
                    repo::insert_variant(&mut *tx, id, product_id, &new, &row.values)
                        .await
                        .map_err(db_err)?;
                    inventory::open(&mut tx, id, row.stock, MovementReason::Import, None).await?;
                    report.created += 1;
                }
            }
        }
        if let Some(value) = repo::stray_option_value(&mut *tx, product_id).await? {
            return Err(fail(
                first_line,
                format!("options: a variant not in the file still has the value {value:?}"),
            ));
        }
        repo::refresh_summary(&mut *tx, product_id).await?;
    }
    tx.commit().await?;
    ctx.catalog_changes
        .apply(&crate::catalog::changes::Change::Everything);
    Ok(report)
}

fn image_text(images: &[Image]) -> String {
    if images.is_empty() {
        String::new()
    } else {
        serde_json::to_string(images).unwrap_or_default()
    }
}

/// Writes every variant of every product (archived ones too), by product slug and
/// variant order, in the import layout.
pub async fn export(ctx: &Context, output: impl Write) -> Result<u64, TransferError> {
    let rows = repo::export_rows(&ctx.pool).await?;
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record(COLUMNS)?;
    for r in &rows {
        let mut record: Vec<String> = vec![
            r.product_slug.clone(),
            r.name.clone(),
            r.description.clone(),
            r.category.clone().unwrap_or_default(),
            r.is_active.to_string(),
            image_text(&r.images),
        ];
        for i in 0..variant::MAX_OPTIONS {
            record.push(r.option_names.get(i).cloned().unwrap_or_default());
            record.push(r.option_values.get(i).cloned().unwrap_or_default());
        }
        record.extend([
            r.sku.clone(),
            Money::from_decimal(r.price).to_string(),
            r.compare_at_price
                .map(|m| Money::from_decimal(m).to_string())
                .unwrap_or_default(),
            r.stock.to_string(),
            r.variant_is_active.to_string(),
            image_text(&r.variant_images),
        ]);
        writer.write_record(&record)?;
    }
    writer.flush().map_err(|e| TransferError::Csv(e.into()))?;
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod line_tests {
    use super::LineCounter;

    /// Rows are numbered alike whether the file ends its lines with LF or CRLF.
    #[test]
    fn lines_count_the_same_for_lf_and_crlf() {
        for text in ["sku\nA\nB\n", "sku\r\nA\r\nB\r\n"] {
            let bytes = text.as_bytes();
            let mut reader = csv::Reader::from_reader(bytes);
            let mut counter = LineCounter::default();
            let lines: Vec<u64> = reader
                .records()
                .map(|r| counter.line_at(bytes, r.unwrap().position().unwrap().byte()))
                .collect();
            assert_eq!(lines, vec![2, 3], "{text:?}");
        }
    }
}
