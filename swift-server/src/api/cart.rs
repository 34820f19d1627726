//! `/api/v1/cart`: the shopper's cart, a customer's or a guest's (see [`crate::shopper`]).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem::web::cookie::CookieJar;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use swift_core::orders::Quantity;
use swift_core::orders::cart::{self, Cart, Destination};
use uuid::Uuid;

use super::ApiTags;
use super::auth::NoContent;
use super::catalog::OptionValueBody;
use super::money::MoneyString;
use super::orders::TaxLineBody;
use crate::AppState;
use crate::problem::ApiResult;
use crate::shopper::{ShopperAuth, set_cart_cookie};

/// The product and variant of a cart line, at today's price.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CartProduct {
    /// The product's id.
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub variant_id: Uuid,
    pub sku: String,
    /// The variant's option values (`[]` for a simple product).
    pub options: Vec<OptionValueBody>,
    /// The variant's price.
    pub price: MoneyString,
    pub image_url: Option<String>,
    pub in_stock: bool,
}

/// Why a cart line cannot be bought as it stands.
#[derive(poem_openapi::Enum, Clone, Copy)]
#[oai(rename_all = "snake_case")]
pub enum UnavailableReason {
    /// The variant or its product is no longer sold.
    Archived,
    /// None left.
    OutOfStock,
    /// Fewer left than the line asks for: lower the quantity.
    InsufficientStock,
    /// Price × quantity is past the largest amount an order can hold.
    TotalTooLarge,
}

impl From<cart::Unavailable> for UnavailableReason {
    fn from(u: cart::Unavailable) -> Self {
        match u {
            cart::Unavailable::Archived => Self::Archived,
            cart::Unavailable::OutOfStock => Self::OutOfStock,
            cart::Unavailable::InsufficientStock => Self::InsufficientStock,
            cart::Unavailable::TotalTooLarge => Self::TotalTooLarge,
        }
    }
}

#[derive(Object)]
#[oai(rename = "CartLine", skip_serializing_if_is_none)]
pub struct CartLineBody {
    pub id: Uuid,
    pub product: CartProduct,
    pub quantity: i32,
    pub line_total: MoneyString,
    /// False when the line cannot be checked out as it stands; `unavailable_reason` says
    /// why. Such lines stay in the cart (remove them by id) and are left out of `subtotal`.
    pub available: bool,
    pub unavailable_reason: Option<UnavailableReason>,
}

/// Where the cart ships and how, as chosen with `setCartShipping`.
#[derive(Object)]
#[oai(rename = "CartShipping", skip_serializing_if_is_none)]
pub struct CartShippingBody {
    pub country: String,
    pub region: Option<String>,
    pub method_id: Option<Uuid>,
    pub method_name: Option<String>,
}

#[derive(Object)]
#[oai(rename = "Cart", skip_serializing_if_is_none)]
pub struct CartBody {
    pub items: Vec<CartLineBody>,
    /// The sum of the available lines.
    pub subtotal: MoneyString,
    pub discount_total: MoneyString,
    pub shipping_total: MoneyString,
    pub tax_total: MoneyString,
    /// What checkout would charge: `subtotal − discount_total + shipping_total + tax_total`
    /// (with tax-inclusive prices the tax is in the subtotal, and not added).
    pub total: MoneyString,
    pub tax_lines: Vec<TaxLineBody>,
    pub shipping: Option<CartShippingBody>,
    /// Why the chosen method charges nothing now (it cannot carry the cart): choose another.
    pub shipping_note: Option<String>,
    /// The code on the cart.
    pub discount_code: Option<String>,
    /// Why the code takes nothing off now (expired, used up, under its minimum).
    pub discount_note: Option<String>,
    pub currency: String,
    /// Units in the cart.
    pub item_count: i32,
    pub updated_at: DateTime<Utc>,
}

impl CartBody {
    pub fn new(cart: Cart, config: &swift_core::Config) -> Self {
        let price = cart.price(config.tax, chrono::Utc::now());
        let totals = price.priced.totals;
        let choices = cart.choices.clone();
        Self {
            tax_lines: price.priced.tax_lines.iter().map(Into::into).collect(),
            shipping: choices.ship_to.map(|d| CartShippingBody {
                country: d.country,
                region: d.region,
                method_id: choices.method.as_ref().map(|m| m.id),
                method_name: choices.method.as_ref().map(|m| m.name.clone()),
            }),
            shipping_note: price.shipping_refused,
            discount_code: choices.code.as_ref().map(|c| c.code.clone()),
            discount_note: price.discount_refused,
            subtotal: MoneyString(totals.subtotal),
            discount_total: MoneyString(totals.discount_total),
            shipping_total: MoneyString(totals.shipping_total),
            tax_total: MoneyString(totals.tax_total),
            total: MoneyString(totals.total),
            currency: config.store_currency.as_str().to_owned(),
            item_count: cart.item_count,
            updated_at: cart.updated_at,
            items: cart
                .items
                .into_iter()
                .map(|l| {
                    let unavailable = l.unavailable();
                    CartLineBody {
                        id: l.id,
                        quantity: l.quantity,
                        line_total: MoneyString(l.line_total()),
                        available: unavailable.is_none(),
                        unavailable_reason: unavailable.map(Into::into),
                        product: CartProduct {
                            price: MoneyString(l.price()),
                            in_stock: l.in_stock(),
                            id: l.product_id,
                            variant_id: l.variant_id,
                            sku: l.sku,
                            options: l.options.iter().map(Into::into).collect(),
                            slug: l.slug,
                            name: l.name,
                            image_url: l.image_url,
                        },
                    }
                })
                .collect(),
        }
    }
}

#[derive(Object)]
#[oai(rename = "CartItemAdd")]
pub struct AddCartItem {
    /// The variant to buy (a simple product's only variant is `variants[0]`).
    pub variant_id: Uuid,
    /// 1 to 100; added to the line when the variant is already in the cart.
    #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
    pub quantity: i64,
}

#[derive(Object)]
#[oai(rename = "CartItemUpdate")]
pub struct UpdateCartItem {
    #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
    pub quantity: i64,
}

/// A shipping method that ships to the country asked, priced for the cart.
#[derive(Object)]
pub struct ShippingOption {
    pub id: Uuid,
    pub name: String,
    pub price: MoneyString,
}

#[derive(Object)]
pub struct CartShippingChoice {
    /// ISO 3166-1 alpha-2.
    #[oai(validator(max_length = 2))]
    pub country: String,
    /// Where tax differs by region (a state, a province).
    #[oai(validator(max_length = 100))]
    pub region: Option<String>,
    pub method_id: Uuid,
}

#[derive(Object)]
pub struct DiscountCodeChoice {
    /// As the shopper typed it; case does not matter.
    #[oai(validator(max_length = 40))]
    pub code: String,
}

#[derive(ApiResponse)]
pub enum CartCreated {
    /// The cart after adding. When this opened a guest cart, `X-Cart-Token` carries its
    /// token (send it on every cart and checkout call; in cookie mode it is also set as an
    /// HttpOnly cookie). It is shown only here.
    #[oai(status = 201)]
    Created(
        Json<CartBody>,
        #[oai(header = "X-Cart-Token")] Option<String>,
    ),
}

pub struct CartApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Cart")]
impl CartApi {
    /// The cart (empty when there is none yet). A guest sends `X-Cart-Token`; a token that
    /// names no cart (merged at sign-in, or expired) is a 404.
    #[oai(path = "/cart", method = "get", operation_id = "getCart")]
    async fn get_cart(
        &self,
        state: Data<&AppState>,
        shopper: ShopperAuth,
    ) -> ApiResult<Json<CartBody>> {
        let cart = cart::get(&state, &shopper.0).await?;
        Ok(Json(CartBody::new(cart, &state.config)))
    }

    /// Add a variant (404 when it is not sold). Without a session or cart token this
    /// opens a guest cart and answers its token in `X-Cart-Token`.
    #[oai(path = "/cart/items", method = "post", operation_id = "addCartItem")]
    async fn add_item(
        &self,
        state: Data<&AppState>,
        jar: &CookieJar,
        shopper: ShopperAuth,
        body: Json<AddCartItem>,
    ) -> ApiResult<CartCreated> {
        let quantity = Quantity::parse(body.quantity)?;
        let added = cart::add(&state, &shopper.0, body.variant_id, quantity).await?;
        if let Some(token) = &added.opened {
            set_cart_cookie(jar, &state, token);
        }
        Ok(CartCreated::Created(
            Json(CartBody::new(added.cart, &state.config)),
            added.opened.map(|t| t.as_str().to_owned()),
        ))
    }

    /// Set a line's quantity.
    #[oai(
        path = "/cart/items/:item_id",
        method = "patch",
        operation_id = "updateCartItem"
    )]
    async fn update_item(
        &self,
        state: Data<&AppState>,
        shopper: ShopperAuth,
        item_id: Path<Uuid>,
        body: Json<UpdateCartItem>,
    ) -> ApiResult<Json<CartBody>> {
        let quantity = Quantity::parse(body.quantity)?;
        let cart = cart::update(&state, &shopper.0, item_id.0, quantity).await?;
        Ok(Json(CartBody::new(cart, &state.config)))
    }

    /// Remove a line.
    #[oai(
        path = "/cart/items/:item_id",
        method = "delete",
        operation_id = "removeCartItem"
    )]
    async fn remove_item(
        &self,
        state: Data<&AppState>,
        shopper: ShopperAuth,
        item_id: Path<Uuid>,
    ) -> ApiResult<Json<CartBody>> {
        let cart = cart::remove(&state, &shopper.0, item_id.0).await?;
        Ok(Json(CartBody::new(cart, &state.config)))
    }

    /// The shipping methods that ship to `country`, each priced for this cart (methods that
    /// cannot carry its weight are left out).
    #[oai(
        path = "/cart/shipping-methods",
        method = "get",
        operation_id = "listShippingOptions"
    )]
    async fn shipping_options(
        &self,
        state: Data<&AppState>,
        shopper: ShopperAuth,
        /// ISO 3166-1 alpha-2.
        country: Query<String>,
    ) -> ApiResult<Json<Vec<ShippingOption>>> {
        let country = swift_core::orders::shipping::country("country", &country.0)?;
        let options = cart::shipping_options(&state, &shopper.0, &country).await?;
        Ok(Json(
            options
                .into_iter()
                .map(|(m, price)| ShippingOption {
                    id: m.id,
                    name: m.name,
                    price: MoneyString(price),
                })
                .collect(),
        ))
    }

    /// Where the cart ships, and by which method (one of `listShippingOptions`' for that
    /// country; another is 409 `shipping_unavailable`). The destination also sets the tax
    /// the cart shows; checkout ships to its shipping address, which must be in the method's
    /// zone.
    #[oai(
        path = "/cart/shipping",
        method = "put",
        operation_id = "setCartShipping"
    )]
    async fn set_shipping(
        &self,
        state: Data<&AppState>,
        shopper: ShopperAuth,
        body: Json<CartShippingChoice>,
    ) -> ApiResult<Json<CartBody>> {
        let destination = Destination {
            country: swift_core::orders::shipping::country("country", &body.country)?,
            region: body
                .region
                .as_deref()
                .map(|r| swift_core::validation::plain_text("region", r, 100))
                .transpose()?
                .filter(|r| !r.is_empty()),
        };
        let cart = cart::set_shipping(&state, &shopper.0, destination, body.method_id).await?;
        Ok(Json(CartBody::new(cart, &state.config)))
    }

    /// Put a discount code on the cart (one at a time; this replaces any other). A code that
    /// is unknown, expired, not yet valid or used up is 409 `discount_not_applicable`.
    #[oai(
        path = "/cart/discount",
        method = "put",
        operation_id = "applyDiscountCode"
    )]
    async fn apply_code(
        &self,
        state: Data<&AppState>,
        shopper: ShopperAuth,
        body: Json<DiscountCodeChoice>,
    ) -> ApiResult<Json<CartBody>> {
        let cart = cart::apply_code(&state, &shopper.0, &body.code).await?;
        Ok(Json(CartBody::new(cart, &state.config)))
    }

    /// Take the discount code off the cart.
    #[oai(
        path = "/cart/discount",
        method = "delete",
        operation_id = "removeDiscountCode"
    )]
    async fn remove_code(
        &self,
        state: Data<&AppState>,
        shopper: ShopperAuth,
    ) -> ApiResult<Json<CartBody>> {
        let cart = cart::remove_code(&state, &shopper.0).await?;
        Ok(Json(CartBody::new(cart, &state.config)))
    }

    /// Empty the cart.
    #[oai(path = "/cart", method = "delete", operation_id = "clearCart")]
    async fn clear(&self, state: Data<&AppState>, shopper: ShopperAuth) -> ApiResult<NoContent> {
        cart::clear(&state, &shopper.0).await?;
        Ok(NoContent::Done)
    }
}

/// A guest line whose quantity, added to the account's, went past 100 and was cut to it.
#[derive(Object)]
#[oai(rename = "CartMergeClamped")]
pub struct ClampedLine {
    pub variant_id: Uuid,
    pub sku: String,
    /// The account's quantity plus the guest's.
    pub requested: i32,
    /// What the line holds now.
    pub quantity: i32,
}

/// A guest line left out of the merge.
#[derive(Object)]
#[oai(rename = "CartMergeDropped")]
pub struct DroppedLine {
    pub variant_id: Uuid,
    pub sku: String,
    pub quantity: i32,
    pub reason: UnavailableReason,
}

/// What signing in did with the guest cart the request carried (`X-Cart-Token`): its lines
/// joined the account's cart, which the storefront should now show, and the guest token
/// stops working.
#[derive(Object)]
#[oai(rename = "CartMerge")]
pub struct CartMergeBody {
    /// Guest lines now in the account's cart (clamped ones included).
    pub merged: u32,
    pub clamped: Vec<ClampedLine>,
    /// Lines whose variant is no longer sold. Sold-out lines are merged; the cart shows them
    /// as unavailable like any other.
    pub dropped: Vec<DroppedLine>,
}

impl From<cart::Merged> for CartMergeBody {
    fn from(m: cart::Merged) -> Self {
        Self {
            merged: m.merged as u32,
            clamped: m
                .clamped
                .into_iter()
                .map(|c| ClampedLine {
                    variant_id: c.variant_id,
                    sku: c.sku,
                    requested: c.requested,
                    quantity: c.quantity,
                })
                .collect(),
            dropped: m
                .dropped
                .into_iter()
                .map(|d| DroppedLine {
                    variant_id: d.variant_id,
                    sku: d.sku,
                    quantity: d.quantity,
                    reason: d.reason.into(),
                })
                .collect(),
        }
    }
}
