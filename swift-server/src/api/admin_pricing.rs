//! `/api/v1/admin`: shipping zones and methods, tax rates and discount codes (staff).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Union};
use rust_decimal::Decimal;
use swift_core::money::Money;
use swift_core::orders::discounts::{self, Code, CodeInput, Kind};
use swift_core::orders::pricing::{Rate, WeightBand};
use swift_core::orders::shipping::{self, Method, MethodInput, Zone, ZoneInput};
use swift_core::orders::tax::{self, RateInput, StoredRate};
use swift_core::validation::Invalid;
use uuid::Uuid;

use super::ApiTags;
use super::auth::NoContent;
use super::money::MoneyString;
use crate::AppState;
use crate::auth::Auth;
use crate::problem::ApiResult;

// ---- shipping ----

#[derive(Object)]
#[oai(rename = "ShippingZoneInput")]
pub struct ZoneBody {
    #[oai(validator(max_length = 100))]
    pub name: String,
    /// ISO 3166-1 alpha-2 codes.
    #[oai(validator(min_items = 1, max_items = 250))]
    pub countries: Vec<String>,
}

/// Flat: every order pays `price`.
#[derive(Object)]
pub struct FlatRate {
    pub price: MoneyString,
}

/// `price`, or free once the subtotal after discount reaches `free_over`.
#[derive(Object)]
pub struct FreeOverRate {
    pub price: MoneyString,
    pub free_over: MoneyString,
}

/// Up to `up_to_grams` (inclusive), `price`.
#[derive(Object, Clone)]
#[oai(rename = "WeightBand")]
pub struct WeightBandBody {
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
    pub up_to_grams: i64,
    pub price: MoneyString,
}

/// The lightest band the cart's weight fits; heavier carts cannot use the method.
#[derive(Object)]
pub struct WeightRate {
    #[oai(validator(min_items = 1, max_items = 20))]
    pub bands: Vec<WeightBandBody>,
}

/// A method's rate; `kind` says which.
#[derive(Union)]
#[oai(rename = "ShippingRate", one_of, discriminator_name = "kind")]
pub enum RateBody {
    #[oai(mapping = "flat")]
    Flat(FlatRate),
    #[oai(mapping = "free_over")]
    FreeOver(FreeOverRate),
    #[oai(mapping = "by_weight")]
    ByWeight(WeightRate),
}

impl RateBody {
    fn rate(&self) -> Rate {
        match self {
            RateBody::Flat(r) => Rate::Flat(r.price.0),
            RateBody::FreeOver(r) => Rate::FreeOver {
                price: r.price.0,
                threshold: r.free_over.0,
            },
            RateBody::ByWeight(r) => Rate::ByWeight(
                r.bands
                    .iter()
                    .map(|b| WeightBand {
                        up_to_grams: b.up_to_grams,
                        price: b.price.0,
                    })
                    .collect(),
            ),
        }
    }

    fn of(rate: &Rate) -> Self {
        match rate {
            Rate::Flat(price) => RateBody::Flat(FlatRate {
                price: MoneyString(*price),
            }),
            Rate::FreeOver { price, threshold } => RateBody::FreeOver(FreeOverRate {
                price: MoneyString(*price),
                free_over: MoneyString(*threshold),
            }),
            Rate::ByWeight(bands) => RateBody::ByWeight(WeightRate {
                bands: bands
                    .iter()
                    .map(|b| WeightBandBody {
                        up_to_grams: b.up_to_grams,
                        price: MoneyString(b.price),
                    })
                    .collect(),
            }),
        }
    }
}

#[derive(Object)]
#[oai(rename = "ShippingMethodInput")]
pub struct MethodBody {
    #[oai(validator(max_length = 100))]
    pub name: String,
    pub rate: RateBody,
}

#[derive(Object)]
#[oai(rename = "ShippingMethod")]
pub struct MethodView {
    pub id: Uuid,
    pub zone_id: Uuid,
    pub name: String,
    pub rate: RateBody,
}

impl From<Method> for MethodView {
    fn from(m: Method) -> Self {
        Self {
            rate: RateBody::of(&m.rate),
            id: m.id,
            zone_id: m.zone_id,
            name: m.name,
        }
    }
}

#[derive(Object)]
#[oai(rename = "ShippingZone")]
pub struct ZoneView {
    pub id: Uuid,
    pub name: String,
    pub countries: Vec<String>,
    pub methods: Vec<MethodView>,
    pub created_at: DateTime<Utc>,
}

impl From<Zone> for ZoneView {
    fn from(z: Zone) -> Self {
        Self {
            id: z.id,
            name: z.name,
            countries: z.countries,
            methods: z.methods.into_iter().map(Into::into).collect(),
            created_at: z.created_at,
        }
    }
}

// ---- tax ----

#[derive(Object)]
#[oai(rename = "TaxRateInput")]
pub struct TaxRateBody {
    /// ISO 3166-1 alpha-2.
    #[oai(validator(max_length = 2))]
    pub country: String,
    /// A region with its own rate (a state, a province); absent for the whole country.
    #[oai(validator(max_length = 100))]
    pub region: Option<String>,
    #[oai(validator(max_length = 100))]
    pub name: String,
    /// Percent, up to three decimals: `"20"`, `"8.875"`.
    #[oai(validator(pattern = r"^\d{1,3}(\.\d{1,3})?$"))]
    pub percent: String,
}

#[derive(Object)]
#[oai(rename = "TaxRate", skip_serializing_if_is_none)]
pub struct TaxRateView {
    pub id: Uuid,
    pub country: String,
    pub region: Option<String>,
    pub name: String,
    pub percent: String,
    pub created_at: DateTime<Utc>,
}

impl From<StoredRate> for TaxRateView {
    fn from(r: StoredRate) -> Self {
        Self {
            id: r.id,
            country: r.country,
            region: Some(r.region).filter(|r| !r.is_empty()),
            name: r.name,
            percent: r.percent.normalize().to_string(),
            created_at: r.created_at,
        }
    }
}

fn decimal(field: &'static str, raw: &str) -> Result<Decimal, Invalid> {
    raw.parse()
        .map_err(|_| Invalid::new(field, "must be a decimal number, such as 20 or 8.875"))
}

impl TaxRateBody {
    fn input(&self) -> Result<RateInput, Invalid> {
        RateInput::parse(
            &self.country,
            self.region.as_deref(),
            &self.name,
            decimal("percent", &self.percent)?,
        )
    }
}

// ---- discount codes ----

#[derive(Enum, Clone, Copy)]
#[oai(rename = "DiscountKind", rename_all = "snake_case")]
pub enum KindBody {
    /// `value` percent of the subtotal.
    Percent,
    /// `value` off, at most the subtotal.
    Fixed,
}

#[derive(Object)]
#[oai(rename = "DiscountCodeInput")]
pub struct CodeBody {
    /// 3 to 40 letters, digits, `-` or `_`; shoppers may type it in any case.
    #[oai(validator(pattern = r"^[A-Za-z0-9_-]{3,40}$"))]
    pub code: String,
    pub kind: KindBody,
    /// Percent (more than 0, at most 100) or an amount, with at most two decimals.
    #[oai(validator(pattern = r"^\d{1,10}(\.\d{1,2})?$"))]
    pub value: String,
    pub min_subtotal: Option<MoneyString>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Uses in all.
    #[oai(validator(minimum(value = "1")))]
    pub usage_limit: Option<i32>,
    /// Uses per customer (an account, or a guest's email address).
    #[oai(validator(minimum(value = "1")))]
    pub per_customer_limit: Option<i32>,
    /// Defaults to true.
    pub is_active: Option<bool>,
}

impl CodeBody {
    fn input(&self) -> Result<CodeInput, Invalid> {
        CodeInput {
            code: self.code.clone(),
            kind: match self.kind {
                KindBody::Percent => Kind::Percent,
                KindBody::Fixed => Kind::Fixed,
            },
            value: decimal("value", &self.value)?,
            min_subtotal: self.min_subtotal.map(|m| m.0),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            is_active: self.is_active.unwrap_or(true),
        }
        .check()
    }
}

#[derive(Object)]
#[oai(rename = "DiscountCode", skip_serializing_if_is_none)]
pub struct CodeView {
    pub id: Uuid,
    pub code: String,
    pub kind: KindBody,
    pub value: String,
    pub min_subtotal: Option<MoneyString>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    /// Orders that used it.
    pub times_used: i32,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Code> for CodeView {
    fn from(c: Code) -> Self {
        Self {
            id: c.id,
            code: c.code,
            kind: match c.kind {
                Kind::Percent => KindBody::Percent,
                Kind::Fixed => KindBody::Fixed,
            },
            value: c.value.normalize().to_string(),
            min_subtotal: c.min_subtotal.map(|m| MoneyString(Money::from_decimal(m))),
            starts_at: c.starts_at,
            ends_at: c.ends_at,
            usage_limit: c.usage_limit,
            per_customer_limit: c.per_customer_limit,
            times_used: c.times_used,
            is_active: c.is_active,
            created_at: c.created_at,
        }
    }
}

#[derive(ApiResponse)]
pub enum Created<T: poem_openapi::types::ToJSON> {
    /// Created.
    #[oai(status = 201)]
    Created(Json<T>),
}

pub struct AdminPricingApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminPricingApi {
    /// Every shipping zone with its methods (staff).
    #[oai(
        path = "/shipping-zones",
        method = "get",
        operation_id = "listShippingZones"
    )]
    async fn list_zones(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<ZoneView>>> {
        auth.staff()?;
        let zones = shipping::zones(&state).await?;
        Ok(Json(zones.into_iter().map(Into::into).collect()))
    }

    /// A shipping zone: a name and the countries it covers (staff).
    #[oai(
        path = "/shipping-zones",
        method = "post",
        operation_id = "createShippingZone"
    )]
    async fn create_zone(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<ZoneBody>,
    ) -> ApiResult<Created<ZoneView>> {
        auth.staff()?;
        let input = ZoneInput::parse(&body.name, &body.countries)?;
        Ok(Created::Created(Json(
            shipping::create_zone(&state, input).await?.into(),
        )))
    }

    /// Replace a zone's name and countries (staff).
    #[oai(
        path = "/shipping-zones/:id",
        method = "put",
        operation_id = "updateShippingZone"
    )]
    async fn update_zone(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<ZoneBody>,
    ) -> ApiResult<Json<ZoneView>> {
        auth.staff()?;
        let input = ZoneInput::parse(&body.name, &body.countries)?;
        Ok(Json(
            shipping::update_zone(&state, id.0, input).await?.into(),
        ))
    }

    /// Delete a zone and its methods; carts that chose one choose again (staff).
    #[oai(
        path = "/shipping-zones/:id",
        method = "delete",
        operation_id = "deleteShippingZone"
    )]
    async fn delete_zone(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.staff()?;
        shipping::delete_zone(&state, id.0).await?;
        Ok(NoContent::Done)
    }

    /// A shipping method of a zone, with its rate (staff).
    #[oai(
        path = "/shipping-zones/:id/methods",
        method = "post",
        operation_id = "createShippingMethod"
    )]
    async fn create_method(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<MethodBody>,
    ) -> ApiResult<Created<MethodView>> {
        auth.staff()?;
        let input = MethodInput::parse(&body.name, body.rate.rate())?;
        Ok(Created::Created(Json(
            shipping::create_method(&state, id.0, input).await?.into(),
        )))
    }

    /// Replace a method's name and rate (staff).
    #[oai(
        path = "/shipping-methods/:id",
        method = "put",
        operation_id = "updateShippingMethod"
    )]
    async fn update_method(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<MethodBody>,
    ) -> ApiResult<Json<MethodView>> {
        auth.staff()?;
        let input = MethodInput::parse(&body.name, body.rate.rate())?;
        Ok(Json(
            shipping::update_method(&state, id.0, input).await?.into(),
        ))
    }

    /// Delete a method (staff).
    #[oai(
        path = "/shipping-methods/:id",
        method = "delete",
        operation_id = "deleteShippingMethod"
    )]
    async fn delete_method(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.staff()?;
        shipping::delete_method(&state, id.0).await?;
        Ok(NoContent::Done)
    }

    /// Every tax rate, by country and region (staff).
    #[oai(path = "/tax-rates", method = "get", operation_id = "listTaxRates")]
    async fn list_rates(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<TaxRateView>>> {
        auth.staff()?;
        Ok(Json(
            tax::list(&state)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// A tax rate for a country, or a region of it (one per place; another is 400) (staff).
    #[oai(path = "/tax-rates", method = "post", operation_id = "createTaxRate")]
    async fn create_rate(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<TaxRateBody>,
    ) -> ApiResult<Created<TaxRateView>> {
        auth.staff()?;
        Ok(Created::Created(Json(
            tax::create(&state, body.input()?).await?.into(),
        )))
    }

    /// Replace a tax rate (staff).
    #[oai(
        path = "/tax-rates/:id",
        method = "put",
        operation_id = "updateTaxRate"
    )]
    async fn update_rate(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<TaxRateBody>,
    ) -> ApiResult<Json<TaxRateView>> {
        auth.staff()?;
        Ok(Json(tax::update(&state, id.0, body.input()?).await?.into()))
    }

    /// Delete a tax rate (staff).
    #[oai(
        path = "/tax-rates/:id",
        method = "delete",
        operation_id = "deleteTaxRate"
    )]
    async fn delete_rate(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.staff()?;
        tax::delete(&state, id.0).await?;
        Ok(NoContent::Done)
    }

    /// Every discount code, newest first, with how often each was used (staff).
    #[oai(
        path = "/discount-codes",
        method = "get",
        operation_id = "listDiscountCodes"
    )]
    async fn list_codes(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<CodeView>>> {
        auth.staff()?;
        Ok(Json(
            discounts::list(&state)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// A discount code (codes are unique whatever their case; a taken one is 400) (staff).
    #[oai(
        path = "/discount-codes",
        method = "post",
        operation_id = "createDiscountCode"
    )]
    async fn create_code(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<CodeBody>,
    ) -> ApiResult<Created<CodeView>> {
        auth.staff()?;
        Ok(Created::Created(Json(
            discounts::create(&state, body.input()?).await?.into(),
        )))
    }

    /// Replace a code's terms; its use count stays (staff).
    #[oai(
        path = "/discount-codes/:id",
        method = "put",
        operation_id = "updateDiscountCode"
    )]
    async fn update_code(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<CodeBody>,
    ) -> ApiResult<Json<CodeView>> {
        auth.staff()?;
        Ok(Json(
            discounts::update(&state, id.0, body.input()?).await?.into(),
        ))
    }

    /// Delete a code (orders keep its name) (staff).
    #[oai(
        path = "/discount-codes/:id",
        method = "delete",
        operation_id = "deleteDiscountCode"
    )]
    async fn delete_code(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        auth.staff()?;
        discounts::delete(&state, id.0).await?;
        Ok(NoContent::Done)
    }
}
