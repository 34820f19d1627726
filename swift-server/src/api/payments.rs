//! Paying for orders (Stripe), the provider's webhook, and staff refunds.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem::{Request, RequestBody};
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiRequest, ApiResponse, Enum, Object, OpenApi};
use swift_core::orders::guest::OrderToken;
use swift_core::payments::{self, IntentStatus, Payer, RefundReason, RefundStatus, Session};
use uuid::Uuid;

use super::ApiTags;
use super::money::MoneyString;
use crate::AppState;
use crate::auth::Auth;
use crate::problem::ApiResult;

/// Where the provider's payment is (Stripe's PaymentIntent status).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "PaymentIntentStatus", rename_all = "snake_case")]
pub enum IntentStatusBody {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl From<IntentStatus> for IntentStatusBody {
    fn from(s: IntentStatus) -> Self {
        match s {
            IntentStatus::RequiresPaymentMethod => Self::RequiresPaymentMethod,
            IntentStatus::RequiresConfirmation => Self::RequiresConfirmation,
            IntentStatus::RequiresAction => Self::RequiresAction,
            IntentStatus::Processing => Self::Processing,
            IntentStatus::RequiresCapture => Self::RequiresCapture,
            IntentStatus::Canceled => Self::Canceled,
            IntentStatus::Succeeded => Self::Succeeded,
        }
    }
}

/// The payment provider.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum PaymentProviderName {
    Stripe,
}

/// What the storefront hands to Stripe.js (Payment Element) to take the payment. The order
/// becomes `paid` when Stripe tells the server, not when the browser says so.
#[derive(Object)]
#[oai(rename = "Payment")]
pub struct PaymentBody {
    pub provider: PaymentProviderName,
    /// Stripe's PaymentIntent id.
    pub intent_id: String,
    /// For `stripe.confirmPayment` / the Payment Element; keep it in the browser only.
    pub client_secret: String,
    pub status: IntentStatusBody,
    pub amount: MoneyString,
    pub currency: String,
}

impl From<Session> for PaymentBody {
    fn from(s: Session) -> Self {
        Self {
            provider: PaymentProviderName::Stripe,
            intent_id: s.intent_id,
            client_secret: s.client_secret,
            status: s.status.into(),
            amount: MoneyString(s.amount),
            currency: s.currency,
        }
    }
}

/// A webhook delivery's body, taken as the raw bytes Stripe signed: parsing and
/// re-serialising it would change them, and the signature with them.
pub struct RawJson(pub Vec<u8>);

impl Payload for RawJson {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        content_type.starts_with("application/json")
    }

    fn schema_ref() -> MetaSchemaRef {
        StripeEvent::schema_ref()
    }

    fn register(registry: &mut Registry) {
        StripeEvent::register(registry);
    }
}

/// A Stripe event (the parts the shop reads); the webhook takes its bytes as sent.
#[derive(Object)]
pub struct StripeEvent {
    /// `evt_…`: the shop applies each event once.
    pub id: String,
    /// `payment_intent.succeeded` and `payment_intent.payment_failed` are acted on; any
    /// other type is acknowledged and ignored.
    #[oai(rename = "type")]
    pub kind: String,
    pub data: StripeEventData,
}

#[derive(Object)]
pub struct StripeEventData {
    /// The PaymentIntent the event is about.
    pub object: std::collections::HashMap<String, serde_json::Value>,
}

impl ParsePayload for RawJson {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(
            <Vec<u8> as poem::FromRequest>::from_request(request, body).await?,
        ))
    }
}

#[derive(ApiRequest)]
pub enum WebhookBody {
    Json(RawJson),
}

/// The webhook's answer to Stripe.
#[derive(Object)]
pub struct WebhookReceived {
    /// `true` unless this event had been handled before.
    pub applied: bool,
}

/// Why money went back.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RefundReasonBody {
    RequestedByStaff,
    OrderCancelled,
    PaidAfterCancellation,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RefundStatusBody {
    Pending,
    Succeeded,
    Failed,
}

/// A refund of (part of) an order's payment.
#[derive(Object)]
#[oai(rename = "Refund", skip_serializing_if_is_none)]
pub struct RefundBody {
    pub id: Uuid,
    pub order_id: Uuid,
    pub amount: MoneyString,
    pub reason: RefundReasonBody,
    /// `pending` while the provider has not answered yet (it is retried), `failed` when it
    /// refused (see `error`).
    pub status: RefundStatusBody,
    /// Stripe's refund id, once made.
    pub provider_refund_id: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<payments::Refund> for RefundBody {
    fn from(r: payments::Refund) -> Self {
        Self {
            id: r.id,
            order_id: r.order_id,
            amount: MoneyString(swift_core::money::Money::from_decimal(r.amount)),
            reason: match r.reason {
                RefundReason::RequestedByStaff => RefundReasonBody::RequestedByStaff,
                RefundReason::OrderCancelled => RefundReasonBody::OrderCancelled,
                RefundReason::PaidAfterCancellation => RefundReasonBody::PaidAfterCancellation,
            },
            status: match r.status {
                RefundStatus::Pending => RefundStatusBody::Pending,
                RefundStatus::Succeeded => RefundStatusBody::Succeeded,
                RefundStatus::Failed => RefundStatusBody::Failed,
            },
            provider_refund_id: r.provider_refund_id,
            error: r.last_error,
            created_at: r.created_at,
        }
    }
}

#[derive(Object)]
#[oai(rename = "RefundCreate")]
pub struct CreateRefund {
    /// How much to refund; all that is left when absent.
    pub amount: Option<MoneyString>,
}

#[derive(ApiResponse)]
pub enum RefundCreated {
    /// The refund, made at the provider.
    #[oai(status = 201)]
    Created(Json<RefundBody>),
}

pub struct PaymentsApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Orders")]
impl PaymentsApi {
    /// Pay one of the user's pending orders: opens its payment at Stripe (once; calling
    /// again returns the same one) and answers with the client secret for Stripe.js. 409
    /// `not_payable` unless the order is pending; 503 `payments_not_configured` without
    /// Stripe.
    #[oai(
        path = "/orders/:id/payment",
        method = "post",
        operation_id = "createPayment"
    )]
    async fn pay(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<PaymentBody>> {
        Ok(Json(
            payments::start(&state, Payer::Customer(auth.0.id), id.0)
                .await?
                .into(),
        ))
    }

    /// Pay a guest order, by the token of its link (`order_token`); as `createPayment`.
    #[oai(
        path = "/guest-orders/:token/payment",
        method = "post",
        operation_id = "createGuestPayment"
    )]
    async fn pay_as_guest(
        &self,
        state: Data<&AppState>,
        token: Path<String>,
    ) -> ApiResult<Json<PaymentBody>> {
        let order = OrderToken::verify(&state.config.auth.jwt_secret, &token.0, Utc::now())
            .ok_or_else(crate::problem::ApiError::not_found)?;
        Ok(Json(
            payments::start(&state, Payer::Guest, order).await?.into(),
        ))
    }

    /// Stripe's webhook endpoint (register it in Stripe's dashboard for
    /// `payment_intent.succeeded` and `payment_intent.payment_failed`). The body is verified
    /// against `Stripe-Signature` (HMAC-SHA256, 5 minutes' tolerance) before anything is
    /// read; a bad or stale signature is 400 `invalid_signature` and changes nothing. Each
    /// event is applied once, whatever the number of deliveries.
    #[oai(
        path = "/payments/stripe/webhook",
        method = "post",
        operation_id = "stripeWebhook"
    )]
    async fn webhook(
        &self,
        state: Data<&AppState>,
        #[oai(name = "Stripe-Signature")] signature: Header<String>,
        body: WebhookBody,
    ) -> ApiResult<Json<WebhookReceived>> {
        let WebhookBody::Json(RawJson(payload)) = body;
        let handled = payments::handle_webhook(&state, &payload, &signature.0).await?;
        Ok(Json(WebhookReceived {
            applied: handled != payments::Handled::Duplicate,
        }))
    }
}

pub struct AdminPaymentsApi;

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl AdminPaymentsApi {
    /// Refund all or part of an order paid through Stripe (staff). A full refund moves the
    /// order to `refunded`; a partial one is recorded on its history. The buyer is mailed.
    /// 409 `not_refundable` (not paid, or paid outside Stripe: mark it refunded with
    /// `transitionOrder`) or `refund_too_large`; 502 `payment_provider_error` when Stripe
    /// refuses or cannot be reached.
    #[oai(
        path = "/orders/:id/refunds",
        method = "post",
        operation_id = "refundOrder"
    )]
    async fn refund(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<CreateRefund>,
    ) -> ApiResult<RefundCreated> {
        let staff = auth.staff()?;
        let refund =
            payments::refund(&state, Some(staff.id), id.0, body.amount.map(|m| m.0)).await?;
        Ok(RefundCreated::Created(Json(refund.into())))
    }

    /// An order's refunds, oldest first (staff).
    #[oai(
        path = "/orders/:id/refunds",
        method = "get",
        operation_id = "listOrderRefunds"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<RefundBody>>> {
        auth.staff()?;
        // An order that does not exist is a 404, not an empty list.
        swift_core::orders::lifecycle::get_any(&state, id.0).await?;
        Ok(Json(
            payments::refunds_of(&state, id.0)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }
}
