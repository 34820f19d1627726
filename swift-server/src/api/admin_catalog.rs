//! `/api/v1/admin/products` and `/api/v1/admin/categories`: staff catalog management.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use swift_core::catalog::Slug;
use swift_core::catalog::service;
use swift_core::catalog::types::{
    CategoryPatch, NewCategory, NewProduct, ProductPatch, Sku, parse_description, parse_images,
    parse_name, parse_stock,
};
use swift_core::catalog::variant::{
    NewVariant, OptionValue, ProductOption, VariantPatch, parse_options,
};
use swift_core::money::Money;
use swift_core::validation::{Invalid, plain_text};
use uuid::Uuid;

use super::ApiTags;
use super::auth::NoContent;
use super::catalog::{CategoryBody, ImageBody, OptionValueBody, ProductBody, ProductOptionBody};
use crate::AppState;
use crate::auth::Auth;
use crate::problem::ApiResult;

/// A variant being created.
#[derive(Object)]
pub struct VariantCreate {
    #[oai(validator(max_length = 64))]
    pub sku: String,
    /// Two decimals, as a string: `"19.99"`.
    #[oai(validator(pattern = r"^\d{1,10}\.\d{2}$"))]
    pub price: String,
    /// The "was" price, more than `price`.
    #[oai(validator(pattern = r"^\d{1,10}\.\d{2}$"))]
    pub compare_at_price: Option<String>,
    /// Defaults to 0.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    pub stock: Option<i64>,
    /// A value for each option of the product; omit for a product without options.
    #[oai(validator(max_items = 3))]
    pub options: Option<Vec<OptionValueBody>>,
    #[oai(validator(max_items = 20))]
    pub images: Option<Vec<ImageBody>>,
    /// Defaults to true.
    pub is_active: Option<bool>,
    /// For shipping rates by weight (none counts as 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    pub weight_grams: Option<i32>,
}

/// A product with its options and variants. A simple product has one variant and no
/// options: `"variants": [{"sku": "MUG-1", "price": "12.00", "stock": 5}]`.
#[derive(Object)]
pub struct ProductCreate {
    #[oai(validator(max_length = 200))]
    pub name: String,
    /// Derived from the name (and made unique) when omitted.
    #[oai(validator(max_length = 120))]
    pub slug: Option<String>,
    #[oai(validator(max_length = 10000))]
    pub description: Option<String>,
    pub category_id: Option<Uuid>,
    #[oai(validator(max_items = 20))]
    pub images: Option<Vec<ImageBody>>,
    /// Defaults to true.
    pub is_active: Option<bool>,
    /// Up to 3 options, such as Size and Colour.
    #[oai(validator(max_items = 3))]
    pub options: Option<Vec<ProductOptionBody>>,
    /// 1 to 100 variants, each with a value for every option; no two alike.
    #[oai(validator(min_items = 1, max_items = 100))]
    pub variants: Vec<VariantCreate>,
}

/// Every field optional; `category_id: null` removes the category. `options` replaces the
/// list (docs/API.md says what may change while variants use it).
#[derive(Object)]
pub struct ProductUpdate {
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    #[oai(validator(max_length = 120))]
    pub slug: Option<String>,
    #[oai(validator(max_length = 10000))]
    pub description: Option<String>,
    pub category_id: MaybeUndefined<Uuid>,
    #[oai(validator(max_items = 20))]
    pub images: Option<Vec<ImageBody>>,
    pub is_active: Option<bool>,
    #[oai(validator(max_items = 3))]
    pub options: Option<Vec<ProductOptionBody>>,
}

/// Every field optional; `compare_at_price: null` removes the compare-at price. A `stock`
/// set here is recorded in the ledger as the difference.
#[derive(Object)]
pub struct VariantUpdate {
    #[oai(validator(max_length = 64))]
    pub sku: Option<String>,
    #[oai(validator(pattern = r"^\d{1,10}\.\d{2}$"))]
    pub price: Option<String>,
    #[oai(validator(pattern = r"^\d{1,10}\.\d{2}$"))]
    pub compare_at_price: MaybeUndefined<String>,
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    pub stock: Option<i64>,
    #[oai(validator(max_items = 3))]
    pub options: Option<Vec<OptionValueBody>>,
    #[oai(validator(max_items = 20))]
    pub images: Option<Vec<ImageBody>>,
    pub is_active: Option<bool>,
    /// `null` removes the weight.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    pub weight_grams: MaybeUndefined<i32>,
}

#[derive(Object)]
pub struct CategoryCreate {
    #[oai(validator(max_length = 200))]
    pub name: String,
    #[oai(validator(max_length = 120))]
    pub slug: Option<String>,
    #[oai(validator(max_length = 10000))]
    pub description: Option<String>,
    pub parent_id: Option<Uuid>,
    pub position: Option<i32>,
}

/// Every field optional; `parent_id: null` makes it a top-level category.
#[derive(Object)]
pub struct CategoryUpdate {
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    #[oai(validator(max_length = 120))]
    pub slug: Option<String>,
    #[oai(validator(max_length = 10000))]
    pub description: Option<String>,
    pub parent_id: MaybeUndefined<Uuid>,
    pub position: Option<i32>,
}

#[derive(Object)]
pub struct StockAdjustment {
    /// Units to add (positive) or remove (negative); the result stays within 0..=1000000000.
    #[oai(validator(minimum(value = "-1000000000"), maximum(value = "1000000000")))]
    pub delta: i32,
    /// Why, for the inventory ledger (e.g. "recount", "damaged").
    #[oai(validator(min_length = 1, max_length = 200))]
    pub reason: String,
}

#[derive(ApiResponse)]
pub enum CreatedProduct {
    /// Created.
    #[oai(status = 201)]
    Created(Json<ProductBody>),
}

#[derive(ApiResponse)]
pub enum CreatedCategory {
    /// Created.
    #[oai(status = 201)]
    Created(Json<CategoryBody>),
}

fn slug(raw: Option<&str>) -> Result<Option<Slug>, Invalid> {
    raw.map(|s| Slug::parse("slug", s)).transpose()
}

fn images(
    raw: Option<&Vec<ImageBody>>,
) -> Result<Option<Vec<swift_core::catalog::types::Image>>, Invalid> {
    raw.map(|list| {
        parse_images(
            list.iter()
                .map(|i| (i.url.clone(), i.alt.clone()))
                .collect(),
        )
    })
    .transpose()
}

fn maybe<T: Clone>(value: &MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v.clone())),
    }
}

fn options(raw: Option<&Vec<ProductOptionBody>>) -> Result<Option<Vec<ProductOption>>, Invalid> {
    raw.map(|list| {
        parse_options(
            list.iter()
                .map(|o| (o.name.clone(), o.values.clone()))
                .collect(),
        )
    })
    .transpose()
}

fn option_values(raw: Option<&Vec<OptionValueBody>>) -> Option<Vec<OptionValue>> {
    raw.map(|list| {
        list.iter()
            .map(|o| OptionValue {
                name: o.name.trim().to_owned(),
                value: o.value.trim().to_owned(),
            })
            .collect()
    })
}

fn money(field: &'static str, raw: Option<&str>) -> Result<Option<Money>, Invalid> {
    raw.map(|m| Money::parse(field, m)).transpose()
}

fn new_variant(v: &VariantCreate) -> Result<NewVariant, Invalid> {
    Ok(NewVariant {
        sku: Sku::parse(&v.sku)?,
        options: option_values(v.options.as_ref()).unwrap_or_default(),
        price: Money::parse("price", &v.price)?,
        compare_at_price: money("compare_at_price", v.compare_at_price.as_deref())?,
        stock: parse_stock(v.stock.unwrap_or(0))?,
        images: images(v.images.as_ref())?.unwrap_or_default(),
        is_active: v.is_active.unwrap_or(true),
        weight_grams: v.weight_grams,
    })
}

pub struct AdminCatalogApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminCatalogApi {
    /// Create a product with its options and variants (staff).
    #[oai(path = "/products", method = "post", operation_id = "createProduct")]
    async fn create_product(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<ProductCreate>,
    ) -> ApiResult<CreatedProduct> {
        let actor = auth.staff()?;
        let new = NewProduct {
            name: parse_name(&body.name)?,
            slug: slug(body.slug.as_deref())?,
            description: parse_description(body.description.as_deref().unwrap_or_default())?,
            category_id: body.category_id,
            images: images(body.images.as_ref())?.unwrap_or_default(),
            is_active: body.is_active.unwrap_or(true),
            options: options(body.options.as_ref())?.unwrap_or_default(),
            variants: body
                .variants
                .iter()
                .map(new_variant)
                .collect::<Result<_, _>>()?,
        };
        let product = service::create_product(&state, new, actor.id).await?;
        Ok(CreatedProduct::Created(Json(ProductBody::new(
            &product,
            state.config.store_currency.as_str(),
        ))))
    }

    /// Any product with all its variants, archived ones included (staff).
    #[oai(
        path = "/products/:id",
        method = "get",
        operation_id = "adminGetProduct"
    )]
    async fn get_product(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<ProductBody>> {
        auth.staff()?;
        let product = service::get_product(&state, id.0).await?;
        Ok(Json(ProductBody::new(
            &product,
            state.config.store_currency.as_str(),
        )))
    }

    /// Change some fields of a product, or its options (staff).
    #[oai(
        path = "/products/:id",
        method = "patch",
        operation_id = "updateProduct"
    )]
    async fn update_product(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<ProductUpdate>,
    ) -> ApiResult<Json<ProductBody>> {
        auth.staff()?;
        let patch = ProductPatch {
            name: body.name.as_deref().map(parse_name).transpose()?,
            slug: slug(body.slug.as_deref())?,
            description: body
                .description
                .as_deref()
                .map(parse_description)
                .transpose()?,
            category_id: maybe(&body.category_id),
            images: images(body.images.as_ref())?,
            is_active: body.is_active,
            options: options(body.options.as_ref())?,
        };
        let product = service::update_product(&state, id.0, patch).await?;
        Ok(Json(ProductBody::new(
            &product,
            state.config.store_currency.as_str(),
        )))
    }

    /// Archive a product: it leaves the storefront, orders keep it (staff).
    #[oai(
        path = "/products/:id",
        method = "delete",
        operation_id = "archiveProduct"
    )]
    async fn archive_product(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.staff()?;
        service::archive_product(&state, id.0).await?;
        Ok(NoContent::Done)
    }

    /// Add a variant to a product; answers the product (staff).
    #[oai(
        path = "/products/:id/variants",
        method = "post",
        operation_id = "createVariant"
    )]
    async fn create_variant(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<VariantCreate>,
    ) -> ApiResult<CreatedProduct> {
        let actor = auth.staff()?;
        let new = new_variant(&body)?;
        let product = service::add_variant(&state, id.0, new, actor.id).await?;
        Ok(CreatedProduct::Created(Json(ProductBody::new(
            &product,
            state.config.store_currency.as_str(),
        ))))
    }

    /// Change some fields of a variant, its stock included (staff).
    #[oai(
        path = "/products/:id/variants/:variant_id",
        method = "patch",
        operation_id = "updateVariant"
    )]
    async fn update_variant(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        variant_id: Path<Uuid>,
        body: Json<VariantUpdate>,
    ) -> ApiResult<Json<ProductBody>> {
        let actor = auth.staff()?;
        let patch = VariantPatch {
            sku: body.sku.as_deref().map(Sku::parse).transpose()?,
            options: option_values(body.options.as_ref()),
            price: money("price", body.price.as_deref())?,
            compare_at_price: maybe(&body.compare_at_price)
                .map(|m| money("compare_at_price", m.as_deref()))
                .transpose()?,
            stock: body.stock.map(parse_stock).transpose()?,
            images: images(body.images.as_ref())?,
            is_active: body.is_active,
            weight_grams: maybe(&body.weight_grams),
        };
        let product =
            service::update_variant(&state, id.0, variant_id.0, patch, Some(actor.id)).await?;
        Ok(Json(ProductBody::new(
            &product,
            state.config.store_currency.as_str(),
        )))
    }

    /// Archive a variant: it is no longer shown nor sold, orders keep it (staff).
    #[oai(
        path = "/products/:id/variants/:variant_id",
        method = "delete",
        operation_id = "archiveVariant"
    )]
    async fn archive_variant(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        variant_id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.staff()?;
        service::archive_variant(&state, id.0, variant_id.0).await?;
        Ok(NoContent::Done)
    }

    /// Add or remove a variant's stock, recorded in the inventory ledger; never below zero
    /// (staff).
    #[oai(
        path = "/products/:id/variants/:variant_id/stock",
        method = "post",
        operation_id = "adjustStock"
    )]
    async fn adjust_stock(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        variant_id: Path<Uuid>,
        body: Json<StockAdjustment>,
    ) -> ApiResult<Json<ProductBody>> {
        let actor = auth.staff()?;
        let reason = plain_text("reason", &body.reason, 200)?;
        let product = service::adjust_stock(
            &state,
            id.0,
            variant_id.0,
            body.delta,
            &reason,
            Some(actor.id),
        )
        .await?;
        Ok(Json(ProductBody::new(
            &product,
            state.config.store_currency.as_str(),
        )))
    }

    /// Create a category (staff).
    #[oai(path = "/categories", method = "post", operation_id = "createCategory")]
    async fn create_category(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<CategoryCreate>,
    ) -> ApiResult<CreatedCategory> {
        auth.staff()?;
        let new = NewCategory {
            name: parse_name(&body.name)?,
            slug: slug(body.slug.as_deref())?,
            description: parse_description(body.description.as_deref().unwrap_or_default())?,
            parent_id: body.parent_id,
            position: body.position.unwrap_or(0),
        };
        Ok(CreatedCategory::Created(Json(
            service::create_category(&state, new).await?.into(),
        )))
    }

    /// Change some fields of a category; a move that would make a cycle is 409 (staff).
    #[oai(
        path = "/categories/:id",
        method = "patch",
        operation_id = "updateCategory"
    )]
    async fn update_category(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<CategoryUpdate>,
    ) -> ApiResult<Json<CategoryBody>> {
        auth.staff()?;
        let patch = CategoryPatch {
            name: body.name.as_deref().map(parse_name).transpose()?,
            slug: slug(body.slug.as_deref())?,
            description: body
                .description
                .as_deref()
                .map(parse_description)
                .transpose()?,
            parent_id: maybe(&body.parent_id),
            position: body.position,
        };
        Ok(Json(
            service::update_category(&state, id.0, patch).await?.into(),
        ))
    }

    /// Delete an empty category; one with products or subcategories is 409 (staff).
    #[oai(
        path = "/categories/:id",
        method = "delete",
        operation_id = "deleteCategory"
    )]
    async fn delete_category(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.staff()?;
        service::delete_category(&state, id.0).await?;
        Ok(NoContent::Done)
    }
}
