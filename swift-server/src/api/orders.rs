//! `/api/v1/orders` (customers) and `/api/v1/admin/orders` (staff).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use swift_core::idempotency::{Claimed, Saved};
use swift_core::orders::checkout::{self, AddressChoice, CheckoutRequest, PlacedOrder};
use swift_core::orders::repository::OrderFilter;
use swift_core::orders::types::{Address, AddressFields, AddressInput, HistoryRole, OrderEvent};
use swift_core::orders::{Order, OrderStatus, PaymentStatus};
use swift_core::orders::{guest, lifecycle};
use swift_core::pagination::PageRequest;
use swift_core::validation::Invalid;
use uuid::Uuid;

use super::ApiTags;
use super::admin::{default_page, default_page_size};
use super::caching::JsonBytes;
use super::catalog::OptionValueBody;
use super::money::MoneyString;
use crate::AppState;
use crate::auth::Auth;
use crate::problem::ApiResult;
use crate::shopper::ShopperAuth;

/// Order statuses (docs/API.md).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "OrderStatus", rename_all = "snake_case")]
pub enum Status {
    Pending,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
}

impl From<OrderStatus> for Status {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::Pending => Self::Pending,
            OrderStatus::Paid => Self::Paid,
            OrderStatus::Shipped => Self::Shipped,
            OrderStatus::Delivered => Self::Delivered,
            OrderStatus::Cancelled => Self::Cancelled,
            OrderStatus::Refunded => Self::Refunded,
        }
    }
}

impl From<Status> for OrderStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Pending => Self::Pending,
            Status::Paid => Self::Paid,
            Status::Shipped => Self::Shipped,
            Status::Delivered => Self::Delivered,
            Status::Cancelled => Self::Cancelled,
            Status::Refunded => Self::Refunded,
        }
    }
}

/// A shipping address.
#[derive(Object, Clone)]
#[oai(rename = "Address", skip_serializing_if_is_none)]
pub struct AddressBody {
    #[oai(validator(max_length = 200))]
    pub full_name: String,
    #[oai(validator(max_length = 200))]
    pub line1: String,
    #[oai(validator(max_length = 200))]
    pub line2: Option<String>,
    #[oai(validator(max_length = 100))]
    pub city: String,
    #[oai(validator(max_length = 100))]
    pub region: Option<String>,
    #[oai(validator(max_length = 20))]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. `US`.
    #[oai(validator(max_length = 2))]
    pub country: String,
    #[oai(validator(max_length = 32))]
    pub phone: Option<String>,
}

impl AddressBody {
    /// The address, checked; errors name the fields as `fields` spells them.
    pub fn parse(&self, fields: AddressFields) -> Result<Address, Invalid> {
        Address::parse(
            AddressInput {
                full_name: &self.full_name,
                line1: &self.line1,
                line2: self.line2.as_deref(),
                city: &self.city,
                region: self.region.as_deref(),
                postal_code: &self.postal_code,
                country: &self.country,
                phone: self.phone.as_deref(),
            },
            fields,
        )
    }
}

impl From<Address> for AddressBody {
    fn from(a: Address) -> Self {
        Self {
            full_name: a.full_name,
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
            phone: a.phone,
        }
    }
}

/// A line as bought: name, SKU, option values and price are those of the moment of
/// purchase.
#[derive(Object)]
#[oai(rename = "OrderItem")]
pub struct OrderItemBody {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub sku: String,
    pub name: String,
    /// The variant's option values (`[]` for a simple product).
    pub options: Vec<OptionValueBody>,
    pub unit_price: MoneyString,
    pub quantity: i32,
    pub line_total: MoneyString,
}

/// The tax paid at one rate.
#[derive(Object, Clone)]
#[oai(rename = "TaxLine")]
pub struct TaxLineBody {
    pub name: String,
    /// The rate in percent, as a decimal string: `"20"` is 20 %.
    pub percent: String,
    pub amount: MoneyString,
}

impl From<&swift_core::orders::pricing::TaxLine> for TaxLineBody {
    fn from(t: &swift_core::orders::pricing::TaxLine) -> Self {
        Self {
            name: t.name.clone(),
            percent: t.percent.normalize().to_string(),
            amount: MoneyString(t.amount),
        }
    }
}

/// One status change, or something that happened to the order in its status (`event`).
#[derive(Object)]
#[oai(rename = "OrderHistoryEntry", skip_serializing_if_is_none)]
pub struct HistoryBody {
    /// The status the order moved to (or was in, for an `event`).
    pub status: Status,
    pub at: DateTime<Utc>,
    pub by: ChangedBy,
    /// Present when the entry is not (only) a status change.
    pub event: Option<HistoryEvent>,
    /// Details in words: a payment failure's message, a refund's amount.
    pub note: Option<String>,
}

/// What happened, when a history entry is not (only) a status change.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "OrderEvent", rename_all = "snake_case")]
pub enum HistoryEvent {
    /// An attempt to pay failed; the order waits for another.
    PaymentFailed,
    /// Not paid within the payment timeout: cancelled, its stock back on sale.
    PaymentExpired,
    /// Money went back without a change of status (a partial refund, a cancelled order's).
    Refund,
    /// A payment arrived after the order was cancelled; it is refunded automatically.
    PaidAfterCancellation,
    /// Stripe reported a payment of another amount or currency than the order's: not applied
    /// (the note says what arrived); staff settle it in Stripe's dashboard.
    PaymentMismatch,
}

impl From<OrderEvent> for HistoryEvent {
    fn from(e: OrderEvent) -> Self {
        match e {
            OrderEvent::PaymentFailed => Self::PaymentFailed,
            OrderEvent::PaymentExpired => Self::PaymentExpired,
            OrderEvent::Refund => Self::Refund,
            OrderEvent::PaidAfterCancellation => Self::PaidAfterCancellation,
            OrderEvent::PaymentMismatch => Self::PaymentMismatch,
        }
    }
}

/// Where an order's money is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "PaymentStatus", rename_all = "snake_case")]
pub enum PaymentStatusBody {
    Unpaid,
    Paid,
    PartiallyRefunded,
    Refunded,
}

impl From<PaymentStatus> for PaymentStatusBody {
    fn from(s: PaymentStatus) -> Self {
        match s {
            PaymentStatus::Unpaid => Self::Unpaid,
            PaymentStatus::Paid => Self::Paid,
            PaymentStatus::PartiallyRefunded => Self::PartiallyRefunded,
            PaymentStatus::Refunded => Self::Refunded,
        }
    }
}

/// Who made a status change.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ChangedBy {
    Customer,
    Staff,
    /// The server itself.
    System,
}

impl From<HistoryRole> for ChangedBy {
    fn from(r: HistoryRole) -> Self {
        match r {
            HistoryRole::Customer => Self::Customer,
            HistoryRole::Staff => Self::Staff,
            HistoryRole::System => Self::System,
        }
    }
}

/// An order (docs/API.md "Order").
#[derive(Object)]
#[oai(rename = "Order", skip_serializing_if_is_none)]
pub struct OrderBody {
    pub id: Uuid,
    /// Human-friendly, e.g. `SW-100042`.
    pub number: String,
    pub status: Status,
    /// Where the money is: `unpaid` until the payment provider confirms it (or staff mark
    /// the order paid), then `paid`, `partially_refunded` or `refunded`.
    pub payment_status: PaymentStatusBody,
    /// Refunded so far.
    pub amount_refunded: MoneyString,
    pub items: Vec<OrderItemBody>,
    pub subtotal: MoneyString,
    pub discount_total: MoneyString,
    pub shipping_total: MoneyString,
    pub tax_total: MoneyString,
    /// `subtotal − discount_total + shipping_total + tax_total`.
    pub total: MoneyString,
    pub currency: String,
    pub shipping_address: AddressBody,
    pub billing_address: Option<AddressBody>,
    /// The shipping method's name at purchase.
    pub shipping_method: Option<String>,
    /// The discount code used.
    pub discount_code: Option<String>,
    pub tax_lines: Vec<TaxLineBody>,
    pub notes: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub history: Vec<HistoryBody>,
    /// A guest order's e-mail address.
    pub guest_email: Option<String>,
    /// Guest checkout only, in its answer alone: the token of this order's link, for
    /// `getGuestOrder` (also mailed to `guest_email`). Keep it: it is the guest's only way
    /// back to the order.
    pub order_token: Option<String>,
}

impl From<Order> for OrderBody {
    fn from(o: Order) -> Self {
        Self {
            id: o.id,
            number: o.number,
            status: o.status.into(),
            payment_status: o.payment_status.into(),
            amount_refunded: MoneyString(o.amount_refunded),
            items: o
                .items
                .into_iter()
                .map(|i| OrderItemBody {
                    product_id: i.product_id,
                    variant_id: i.variant_id,
                    options: i.options.iter().map(Into::into).collect(),
                    sku: i.sku,
                    name: i.name,
                    unit_price: MoneyString(swift_core::money::Money::from_decimal(i.unit_price)),
                    quantity: i.quantity,
                    line_total: MoneyString(swift_core::money::Money::from_decimal(i.line_total)),
                })
                .collect(),
            subtotal: MoneyString(o.subtotal),
            discount_total: MoneyString(o.discount_total),
            shipping_total: MoneyString(o.shipping_total),
            tax_total: MoneyString(o.tax_total),
            total: MoneyString(o.total),
            currency: o.currency,
            shipping_address: o.shipping_address.into(),
            billing_address: o.billing_address.map(Into::into),
            shipping_method: o.shipping_method,
            discount_code: o.discount_code,
            tax_lines: o.tax_lines.iter().map(Into::into).collect(),
            notes: o.notes,
            created_at: o.created_at,
            updated_at: o.updated_at,
            guest_email: o.guest_email,
            order_token: None,
            history: o
                .history
                .into_iter()
                .map(|h| HistoryBody {
                    status: h.status.into(),
                    at: h.at,
                    by: h.by_role.into(),
                    event: h.event.map(Into::into),
                    note: h.note,
                })
                .collect(),
        }
    }
}

/// A page of orders.
#[derive(Object)]
pub struct OrderPage {
    pub items: Vec<OrderBody>,
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
    pub pages: u32,
}

impl From<swift_core::pagination::Page<Order>> for OrderPage {
    fn from(p: swift_core::pagination::Page<Order>) -> Self {
        Self {
            total: p.total,
            page: p.page,
            page_size: p.page_size,
            pages: p.pages,
            items: p.items.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(rename = "OrderCreate")]
pub struct CreateOrder {
    /// Where to ship; or `shipping_address_id` (a saved address); with neither, the
    /// customer's default shipping address.
    pub shipping_address: Option<AddressBody>,
    pub shipping_address_id: Option<Uuid>,
    /// Where to bill; or `billing_address_id`; with neither, the customer's default billing
    /// address, if any.
    pub billing_address: Option<AddressBody>,
    pub billing_address_id: Option<Uuid>,
    #[oai(validator(max_length = 1000))]
    pub notes: Option<String>,
    /// The total the shopper was shown. When the server's total differs (a price changed
    /// meanwhile), the answer is 409 `price_changed` with the `totals` as they are now, and
    /// nothing is placed.
    pub expected_total: Option<MoneyString>,
    /// Guest checkout: where the order is mailed (required of guests, ignored for
    /// customers, whose account has an address).
    #[oai(validator(max_length = 254))]
    pub email: Option<String>,
}

impl From<PlacedOrder> for OrderBody {
    fn from(p: PlacedOrder) -> Self {
        Self {
            order_token: p.guest_token.map(|t| t.as_str().to_owned()),
            ..p.order.into()
        }
    }
}

/// How many guest orders an account claimed.
#[derive(Object)]
pub struct ClaimedOrders {
    pub claimed: u64,
}

#[derive(Object)]
#[oai(rename = "OrderTransition")]
pub struct Transition {
    pub status: Status,
}

#[derive(ApiResponse)]
pub enum OrderCreated {
    /// The order.
    #[oai(status = 201)]
    Created(JsonBytes<OrderBody>),
}

/// An address given inline or by id (not both), or neither.
fn choice(
    field: &'static str,
    given: Option<&AddressBody>,
    id: Option<Uuid>,
    fields: AddressFields,
) -> Result<AddressChoice, Invalid> {
    match (given, id) {
        (Some(_), Some(_)) => Err(Invalid::new(
            field,
            "give an address or the id of a saved one, not both",
        )),
        (Some(address), None) => Ok(AddressChoice::Given(address.parse(fields)?)),
        (None, Some(id)) => Ok(AddressChoice::Saved(id)),
        (None, None) => Ok(AddressChoice::Default),
    }
}

pub struct OrdersApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Orders")]
impl OrdersApi {
    /// Check out the whole cart: a customer's, or a guest's (`X-Cart-Token` and `email`).
    /// Never oversells. A guest's answer carries `order_token`, for `getGuestOrder`.
    #[oai(path = "/orders", method = "post", operation_id = "createOrder")]
    async fn create(
        &self,
        state: Data<&AppState>,
        req: &poem::Request,
        shopper: ShopperAuth,
        body: Json<CreateOrder>,
    ) -> ApiResult<OrderCreated> {
        let shipping = choice(
            "shipping_address",
            body.shipping_address.as_ref(),
            body.shipping_address_id,
            AddressFields::SHIPPING,
        )?;
        let billing = choice(
            "billing_address",
            body.billing_address.as_ref(),
            body.billing_address_id,
            AddressFields::BILLING,
        )?;
        let request = CheckoutRequest::new(
            shipping,
            billing,
            body.notes.as_deref(),
            body.email.as_deref(),
            body.expected_total.map(|m| m.0),
        )?;
        // With an Idempotency-Key, the answer is rendered and saved in checkout's own
        // transaction, and sent as saved.
        let claimed = req.extensions().get::<Claimed>();
        let mut rendered = None;
        let placed = checkout::checkout(&state, &shopper.0, &request, claimed, |placed| {
            let body = OrderBody::from(PlacedOrder {
                order: placed.order.clone(),
                guest_token: placed.guest_token.clone(),
            })
            .to_json_string();
            rendered = Some(body.clone());
            Saved {
                status: 201,
                headers: vec![(
                    "content-type".into(),
                    "application/json; charset=utf-8".into(),
                )],
                body,
            }
        })
        .await?;
        let body = rendered.unwrap_or_else(|| OrderBody::from(placed).to_json_string());
        Ok(OrderCreated::Created(JsonBytes::new(body)))
    }

    /// A guest order, by the token of its link (from checkout's answer or the mail). An
    /// invalid or expired token is a 404.
    #[oai(
        path = "/guest-orders/:token",
        method = "get",
        operation_id = "getGuestOrder"
    )]
    async fn get_guest(
        &self,
        state: Data<&AppState>,
        token: Path<String>,
    ) -> ApiResult<Json<OrderBody>> {
        Ok(Json(guest::get(&state, &token.0).await?.into()))
    }

    /// Claim the guest orders placed with the account's address. The address must be
    /// verified first (403 `email_not_verified`): an account merely registered with someone
    /// else's address claims nothing.
    #[oai(
        path = "/orders/claim",
        method = "post",
        operation_id = "claimGuestOrders"
    )]
    async fn claim(&self, state: Data<&AppState>, auth: Auth) -> ApiResult<Json<ClaimedOrders>> {
        Ok(Json(ClaimedOrders {
            claimed: guest::claim(&state, auth.0.id).await?,
        }))
    }

    /// The user's orders, newest first.
    #[oai(path = "/orders", method = "get", operation_id = "listOrders")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        #[oai(default = "default_page", validator(minimum(value = "1")))] page: Query<u32>,
        #[oai(
            default = "default_page_size",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        page_size: Query<u32>,
    ) -> ApiResult<Json<OrderPage>> {
        let page = PageRequest::new(page.0, page_size.0)?;
        let filter = OrderFilter {
            user_id: Some(auth.0.id),
            ..OrderFilter::default()
        };
        Ok(Json(lifecycle::list(&state, &filter, page).await?.into()))
    }

    /// One of the user's orders (404 for anyone else's).
    #[oai(path = "/orders/:id", method = "get", operation_id = "getOrder")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<OrderBody>> {
        Ok(Json(
            lifecycle::get_own(&state, auth.0.id, id.0).await?.into(),
        ))
    }

    /// Cancel one of the user's orders while it is pending; the stock goes back.
    #[oai(
        path = "/orders/:id/cancel",
        method = "post",
        operation_id = "cancelOrder"
    )]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<OrderBody>> {
        Ok(Json(
            lifecycle::cancel_own(&state, auth.0.id, id.0).await?.into(),
        ))
    }
}

pub struct AdminOrdersApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminOrdersApi {
    /// All orders, newest first, by status and customer (staff).
    #[oai(path = "/orders", method = "get", operation_id = "adminListOrders")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        status: Query<Option<Status>>,
        user_id: Query<Option<Uuid>>,
        #[oai(default = "default_page", validator(minimum(value = "1")))] page: Query<u32>,
        #[oai(
            default = "default_page_size",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        page_size: Query<u32>,
    ) -> ApiResult<Json<OrderPage>> {
        auth.staff()?;
        let page = PageRequest::new(page.0, page_size.0)?;
        let filter = OrderFilter {
            user_id: user_id.0,
            status: status.0.map(Into::into),
            since: None,
        };
        Ok(Json(lifecycle::list(&state, &filter, page).await?.into()))
    }

    /// Any order (staff).
    #[oai(path = "/orders/:id", method = "get", operation_id = "adminGetOrder")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<OrderBody>> {
        auth.staff()?;
        Ok(Json(lifecycle::get_any(&state, id.0).await?.into()))
    }

    /// Move an order along its life cycle; any other move is 409 `invalid_transition` (staff).
    #[oai(
        path = "/orders/:id/transition",
        method = "post",
        operation_id = "transitionOrder"
    )]
    async fn transition(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<Transition>,
    ) -> ApiResult<Json<OrderBody>> {
        let staff = auth.staff()?;
        Ok(Json(
            lifecycle::transition(&state, staff.id, id.0, body.status.into())
                .await?
                .into(),
        ))
    }
}
