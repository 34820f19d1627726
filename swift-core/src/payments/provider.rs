//! What the shop needs of a payment provider, whoever it is: create a payment for an order,
//! read it back, cancel it, refund it, and turn a signed webhook delivery into an event.
//! [`super::stripe::Stripe`] is the one implementation; tests run it against a local fake
//! Stripe that speaks the same HTTP, so the trait is never mocked.

use async_trait::async_trait;
use uuid::Uuid;

/// A payment to open for an order.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub order_id: Uuid,
    pub order_number: &'a str,
    /// In the currency's minor units.
    pub amount_minor: i64,
    /// ISO 4217, any case.
    pub currency: &'a str,
    /// The same key gives the same payment: a retry after a crash opens no second one.
    pub idempotency_key: String,
}

/// Where a payment is, in the provider's words (Stripe's PaymentIntent statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
}

/// A payment as the provider holds it.
#[derive(Debug, Clone)]
pub struct Intent {
    pub id: String,
    /// What the storefront hands to the provider's browser library (Stripe.js) to pay.
    pub client_secret: String,
    pub status: IntentStatus,
    pub amount_minor: i64,
    pub currency: String,
}

/// A refund to make of a payment.
#[derive(Debug, Clone)]
pub struct NewRefund<'a> {
    pub intent_id: &'a str,
    pub amount_minor: i64,
    /// Our refund's id: sending it again refunds once.
    pub idempotency_key: String,
}

/// A refund as the provider made it.
#[derive(Debug, Clone)]
pub struct ProviderRefund {
    pub id: String,
}

/// What a verified webhook delivery says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    /// The payment went through: the order is paid.
    PaymentSucceeded {
        event_id: String,
        intent_id: String,
        /// From the payment's metadata, as we set it.
        order_id: Option<Uuid>,
        /// What was received, in `currency`'s minor units.
        amount_minor: i64,
        /// ISO 4217, as the provider writes it (Stripe: lower case).
        currency: String,
    },
    /// An attempt to pay failed (a declined card); the buyer may try again.
    PaymentFailed {
        event_id: String,
        intent_id: String,
        order_id: Option<Uuid>,
        /// The provider's words for the buyer ("Your card was declined.").
        message: Option<String>,
    },
    /// Anything else the endpoint was sent; acknowledged and ignored.
    Other { event_id: String, kind: String },
}

impl WebhookEvent {
    pub fn id(&self) -> &str {
        match self {
            Self::PaymentSucceeded { event_id, .. }
            | Self::PaymentFailed { event_id, .. }
            | Self::Other { event_id, .. } => event_id,
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Self::PaymentSucceeded { .. } => "payment_intent.succeeded",
            Self::PaymentFailed { .. } => "payment_intent.payment_failed",
            Self::Other { kind, .. } => kind,
        }
    }
}

/// Why a webhook delivery was refused; nothing is changed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("no signature matches the payload")]
    Mismatch,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("the payload is not an event")]
    NotAnEvent,
}

/// A provider call that did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// Not reachable, or it failed (5xx, timeout): worth retrying later.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// It refused the request (4xx): retrying the same request will not help.
    #[error("the payment provider refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// The provider's name as stored with each payment (`stripe`).
    fn name(&self) -> &'static str;
    async fn create_payment(&self, p: NewPayment<'_>) -> Result<Intent, ProviderError>;
    async fn retrieve_payment(&self, intent_id: &str) -> Result<Intent, ProviderError>;
    async fn cancel_payment(&self, intent_id: &str) -> Result<(), ProviderError>;
    async fn refund(&self, r: NewRefund<'_>) -> Result<ProviderRefund, ProviderError>;
    /// Checks a delivery's signature (against `now`, Unix seconds) and parses its event.
    fn parse_webhook(
        &self,
        payload: &[u8],
        signature: &str,
        now: i64,
    ) -> Result<WebhookEvent, WebhookError>;
}
