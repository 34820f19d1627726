//! `/api/v1/addresses`: the signed-in customer's address book.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use swift_core::orders::address_book::{self, AddressChange, SavedAddress};
use swift_core::orders::types::AddressFields;
use swift_core::validation::Invalid;
use uuid::Uuid;

use super::ApiTags;
use super::auth::NoContent;
use super::orders::AddressBody;
use crate::AppState;
use crate::auth::Auth;
use crate::problem::ApiResult;

/// A saved address.
#[derive(Object)]
#[oai(rename = "SavedAddress")]
pub struct SavedAddressBody {
    pub id: Uuid,
    pub address: AddressBody,
    /// Checkout ships here when given no address.
    pub is_default_shipping: bool,
    /// Checkout bills here when given no billing address.
    pub is_default_billing: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SavedAddress> for SavedAddressBody {
    fn from(s: SavedAddress) -> Self {
        Self {
            id: s.id,
            address: s.address.0.into(),
            is_default_shipping: s.is_default_shipping,
            is_default_billing: s.is_default_billing,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(rename = "SavedAddressCreate")]
pub struct CreateAddress {
    pub address: AddressBody,
    /// Make it the default shipping address (the first address saved, or one saved while
    /// there is no default, becomes it anyway).
    pub is_default_shipping: Option<bool>,
    /// The same for billing.
    pub is_default_billing: Option<bool>,
}

#[derive(Object)]
#[oai(rename = "SavedAddressUpdate")]
pub struct UpdateAddress {
    pub address: Option<AddressBody>,
    /// `true` makes this the default shipping address. A default cannot be unset, only
    /// moved to another address, so `false` is refused.
    pub is_default_shipping: Option<bool>,
    /// The same for billing.
    pub is_default_billing: Option<bool>,
}

/// `Some(true)` or nothing: a default moves, it is never switched off.
fn only_true(field: &'static str, value: Option<bool>) -> Result<bool, Invalid> {
    match value {
        Some(false) => Err(Invalid::new(
            field,
            "a default moves when another address becomes it; it cannot be switched off",
        )),
        other => Ok(other.unwrap_or(false)),
    }
}

#[derive(ApiResponse)]
pub enum AddressCreated {
    /// The saved address.
    #[oai(status = 201)]
    Created(Json<SavedAddressBody>),
}

pub struct AddressesApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Orders")]
impl AddressesApi {
    /// The customer's saved addresses, oldest first.
    #[oai(path = "/addresses", method = "get", operation_id = "listAddresses")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<SavedAddressBody>>> {
        let saved = address_book::list(&state, auth.0.id).await?;
        Ok(Json(saved.into_iter().map(Into::into).collect()))
    }

    /// Save an address (at most 50).
    #[oai(path = "/addresses", method = "post", operation_id = "createAddress")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<CreateAddress>,
    ) -> ApiResult<AddressCreated> {
        let address = body.address.parse(AddressFields::SAVED)?;
        let saved = address_book::create(
            &state,
            auth.0.id,
            address,
            body.is_default_shipping.unwrap_or(false),
            body.is_default_billing.unwrap_or(false),
        )
        .await?;
        Ok(AddressCreated::Created(Json(saved.into())))
    }

    /// Change a saved address, or make it a default; another customer's is a 404.
    #[oai(
        path = "/addresses/:id",
        method = "patch",
        operation_id = "updateAddress"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<UpdateAddress>,
    ) -> ApiResult<Json<SavedAddressBody>> {
        let change = AddressChange {
            address: body
                .address
                .as_ref()
                .map(|a| a.parse(AddressFields::SAVED))
                .transpose()?,
            default_shipping: only_true("is_default_shipping", body.is_default_shipping)?,
            default_billing: only_true("is_default_billing", body.is_default_billing)?,
        };
        let saved = address_book::update(&state, auth.0.id, id.0, change).await?;
        Ok(Json(saved.into()))
    }

    /// Delete a saved address (orders keep their own copies); another customer's is a 404.
    #[oai(
        path = "/addresses/:id",
        method = "delete",
        operation_id = "deleteAddress"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        address_book::delete(&state, auth.0.id, id.0).await?;
        Ok(NoContent::Done)
    }
}
