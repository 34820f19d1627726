//! CSV import and export of products, for operators moving catalogs in bulk.
//!
//! Columns, in this order (a header row is required on import and written on export):
//!
//! | column | meaning |
//! | --- | --- |
//! | `sku` | unique key: a row updates the product with this sku, or creates it |
//! | `name` | 1–200 characters |
//! | `slug` | empty: derived from the name (made unique) for new products, unchanged otherwise |
//! | `description` | up to 10,000 characters |
//! | `price` | two decimals, e.g. `19.99` |
//! | `stock` | 0 … 1,000,000,000; a change is written to the inventory ledger |
//! | `category` | a category slug, or empty for none |
//! | `is_active` | `true` or `false` |
//! | `images` | JSON array of `{"url", "alt"}` objects, or empty |
//!
//! Import checks every row first and writes nothing if one is wrong; the error names the
//! line. Writing happens in one transaction, so a database refusal also writes nothing.

use std::collections::HashMap;
use std::io::{Read, Write};

use uuid::Uuid;

use super::types::{Image, Sku, Slug, parse_description, parse_images, parse_name, parse_stock};
use crate::Context;
use crate::inventory::{self, MovementReason};
use crate::money::Money;

/// The header of the CSV layout.
pub const COLUMNS: [&str; 9] = [
    "sku",
    "name",
    "slug",
    "description",
    "price",
    "stock",
    "category",
    "is_active",
    "images",
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

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
}

struct Row {
    line: u64,
    sku: Sku,
    name: String,
    slug: Option<Slug>,
    description: String,
    price: Money,
    stock: i32,
    category: Option<String>,
    is_active: bool,
    images: Vec<Image>,
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
    let invalid = |e: crate::validation::Invalid| err(format!("{}: {}", e.field, e.message));
    let stock: i64 = field(5)
        .trim()
        .parse()
        .map_err(|_| err(format!("stock: {:?} is not a whole number", field(5))))?;
    let is_active = match field(7).trim() {
        "true" => true,
        "false" => false,
        other => {
            return Err(err(format!(
                "is_active: expected true or false, found {other:?}"
            )));
        }
    };
    let images = if field(8).trim().is_empty() {
        Vec::new()
    } else {
        let list: Vec<Image> = serde_json::from_str(field(8))
            .map_err(|e| err(format!("images: not a JSON array of {{url, alt}}: {e}")))?;
        parse_images(list.into_iter().map(|i| (i.url, i.alt)).collect()).map_err(invalid)?
    };
    Ok(Row {
        line,
        sku: Sku::parse(field(0)).map_err(invalid)?,
        name: parse_name(field(1)).map_err(invalid)?,
        slug: match field(2).trim() {
            "" => None,
            s => Some(Slug::parse("slug", s).map_err(invalid)?),
        },
        description: parse_description(field(3)).map_err(invalid)?,
        price: Money::parse("price", field(4).trim()).map_err(invalid)?,
        stock: parse_stock(stock).map_err(invalid)?,
        category: Some(field(6).trim().to_owned()).filter(|s| !s.is_empty()),
        is_active,
        images,
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

/// Upserts every row by sku in one transaction; the first bad row stops it.
pub async fn import(ctx: &Context, mut input: impl Read) -> Result<ImportReport, TransferError> {
    // Read whole: line numbers are counted from the bytes, since the csv crate counts a
    // CRLF file's lines one too low (rust-csv treats the CR as the line's end).
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(csv::Error::from)?;
    let mut lines = LineCounter::default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let header = reader.headers()?.clone();
    if header.iter().map(str::trim).ne(COLUMNS) {
        return Err(TransferError::Row {
            line: 1,
            reason: format!("the header must be: {}", COLUMNS.join(",")),
        });
    }
    let mut rows = Vec::new();
    let mut seen = HashMap::new();
    for record in reader.records() {
        let record = record?;
        let line = lines.line_at(&bytes, record.position().map_or(0, |p| p.byte()));
        let row = parse_row(line, &record)?;
        if let Some(first) = seen.insert(row.sku.as_str().to_owned(), line) {
            return Err(TransferError::Row {
                line,
                reason: format!("sku {} already appears on line {first}", row.sku.as_str()),
            });
        }
        rows.push(row);
    }

    let mut categories: HashMap<String, Uuid> = HashMap::new();
    for (id, slug) in sqlx::query_as::<_, (Uuid, String)>("SELECT id, slug FROM categories")
        .fetch_all(&ctx.pool)
        .await?
    {
        categories.insert(slug, id);
    }
    let mut report = ImportReport::default();
    let mut tx = ctx.pool.begin().await?;
    for row in &rows {
        let fail = |reason: String| TransferError::Row {
            line: row.line,
            reason,
        };
        let category_id = match &row.category {
            None => None,
            Some(slug) => Some(
                *categories
                    .get(slug)
                    .ok_or_else(|| fail(format!("category: no category with slug {slug:?}")))?,
            ),
        };
        let existing: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM products WHERE sku = $1 FOR UPDATE")
                .bind(row.sku.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let db_err = |e: sqlx::Error| {
            crate::db::constraint_error(
                e,
                [(
                    "products_slug_key",
                    fail("slug: already used by another product".into()),
                )],
            )
        };
        let id = match existing {
            Some(id) => {
                sqlx::query(
                    "UPDATE products SET name = $2, slug = COALESCE($3, slug), description = $4, price = $5, \
                     category_id = $6, is_active = $7, images = $8, updated_at = now() WHERE id = $1",
                )
                .bind(id)
                .bind(&row.name)
                .bind(row.slug.as_ref().map(Slug::as_str))
                .bind(&row.description)
                .bind(row.price.amount())
                .bind(category_id)
                .bind(row.is_active)
                .bind(sqlx::types::Json(&row.images))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                report.updated += 1;
                id
            }
            None => {
                let slug = match &row.slug {
                    Some(s) => s.as_str().to_owned(),
                    None => format!(
                        "{}-{}",
                        Slug::from_name(&row.name).as_str(),
                        row.sku.as_str().to_lowercase().replace(['_', '.'], "-")
                    ),
                };
                let id = Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO products (id, slug, sku, name, description, price, category_id, is_active, images) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(id)
                .bind(&slug)
                .bind(row.sku.as_str())
                .bind(&row.name)
                .bind(&row.description)
                .bind(row.price.amount())
                .bind(category_id)
                .bind(row.is_active)
                .bind(sqlx::types::Json(&row.images))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                report.created += 1;
                inventory::open(&mut tx, id, row.stock, MovementReason::Import, None).await?;
                continue;
            }
        };
        inventory::set(&mut tx, id, row.stock, MovementReason::Import, None).await?;
    }
    tx.commit().await?;
    ctx.catalog_cache.invalidate();
    Ok(report)
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    sku: String,
    name: String,
    slug: String,
    description: String,
    price: rust_decimal::Decimal,
    stock: i32,
    category: Option<String>,
    is_active: bool,
    images: sqlx::types::Json<Vec<Image>>,
}

/// Writes every product (archived ones too), ordered by sku, in the import layout.
pub async fn export(ctx: &Context, output: impl Write) -> Result<u64, TransferError> {
    let rows: Vec<ExportRow> = sqlx::query_as(
        "SELECT p.sku, p.name, p.slug, p.description, p.price, s.on_hand AS stock, c.slug AS category, \
                p.is_active, p.images \
         FROM products p JOIN stock_levels s ON s.product_id = p.id \
         LEFT JOIN categories c ON c.id = p.category_id ORDER BY p.sku",
    )
    .fetch_all(&ctx.pool)
    .await?;
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record(COLUMNS)?;
    for r in &rows {
        let images = if r.images.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&r.images.0).unwrap_or_default()
        };
        writer.write_record([
            r.sku.as_str(),
            &r.name,
            &r.slug,
            &r.description,
            &Money::from_decimal(r.price).to_string(),
            &r.stock.to_string(),
            r.category.as_deref().unwrap_or_default(),
            if r.is_active { "true" } else { "false" },
            &images,
        ])?;
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
