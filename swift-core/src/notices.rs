//! What the shop mails people, rendered from templates (`swift-core/templates/`, with
//! minijinja: plain text, and HTML escaped by its file extension), with the shop's name
//! (`SHOP_NAME`) and links to the storefront (`FRONTEND_URL`). Each notice is written to the
//! outbox in the transaction of the change it reports ([`crate::outbox`]).

use std::sync::LazyLock;

use minijinja::{Environment, context};
use serde::Serialize;

use crate::config::Config;
use crate::mail::Mail;
use crate::orders::{Order, OrderStatus};
use crate::outbox::Event;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("layout.html", include_str!("../templates/layout.html")),
        (
            "account_verification.txt",
            include_str!("../templates/account_verification.txt"),
        ),
        (
            "account_verification.html",
            include_str!("../templates/account_verification.html"),
        ),
        (
            "password_reset.txt",
            include_str!("../templates/password_reset.txt"),
        ),
        (
            "password_reset.html",
            include_str!("../templates/password_reset.html"),
        ),
        (
            "security_notice.txt",
            include_str!("../templates/security_notice.txt"),
        ),
        (
            "security_notice.html",
            include_str!("../templates/security_notice.html"),
        ),
        ("order.txt", include_str!("../templates/order.txt")),
        ("order.html", include_str!("../templates/order.html")),
    ] {
        env.add_template(name, source)
            .expect("the templates in swift-core/templates parse");
    }
    env
});

/// Renders `name`.txt and `name`.html with `values` plus the shop's name and address.
fn render(
    config: &Config,
    name: &str,
    to: &str,
    subject: String,
    values: minijinja::Value,
) -> Mail {
    let values = context! {
        shop => &config.shop_name,
        frontend_url => &config.frontend_url,
        subject => &subject,
        ..values
    };
    let text = TEMPLATES
        .get_template(&format!("{name}.txt"))
        .and_then(|t| t.render(&values))
        .expect("notice templates render");
    let html = TEMPLATES
        .get_template(&format!("{name}.html"))
        .and_then(|t| t.render(&values))
        .expect("notice templates render");
    Mail {
        to: to.to_owned(),
        subject,
        body: text,
        html: Some(html),
    }
}

/// The mail that confirms an address.
pub fn verification(config: &Config, to: &str, link: &str) -> Mail {
    let subject = format!("Confirm your email for {}", config.shop_name);
    render(
        config,
        "account_verification",
        to,
        subject,
        context! { link },
    )
}

/// The mail with a password-reset link.
pub fn password_reset(config: &Config, to: &str, link: &str) -> Mail {
    let subject = format!("Reset your {} password", config.shop_name);
    render(config, "password_reset", to, subject, context! { link })
}

/// A change to how an account signs in, which its owner is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityChange {
    TwoFactorOn,
    TwoFactorOff,
    /// By an operator (`swift-cli user reset-2fa`).
    TwoFactorReset,
    RecoveryCodeUsed {
        left: i64,
    },
    RecoveryCodesRenewed,
    GoogleConnected,
    GoogleDisconnected,
    PasswordRemoved,
}

impl SecurityChange {
    fn subject(self) -> &'static str {
        match self {
            Self::TwoFactorOn => "Two-factor sign-in is on",
            Self::TwoFactorOff => "Two-factor sign-in is off",
            Self::TwoFactorReset => "Two-factor sign-in was reset",
            Self::RecoveryCodeUsed { .. } => "A recovery code was used",
            Self::RecoveryCodesRenewed => "New recovery codes",
            Self::GoogleConnected => "Google sign-in connected",
            Self::GoogleDisconnected => "Google sign-in disconnected",
            Self::PasswordRemoved => "Password sign-in removed",
        }
    }

    fn what(self) -> String {
        match self {
            Self::TwoFactorOn => {
                "Two-factor sign-in was turned on: signing in now also takes a code from your \
                 authenticator app, or one of your recovery codes."
                    .into()
            }
            Self::TwoFactorOff => "Two-factor sign-in was turned off.".into(),
            Self::TwoFactorReset => {
                "The shop's staff turned off two-factor sign-in on your account, as asked.".into()
            }
            Self::RecoveryCodeUsed { left } => format!(
                "One of your recovery codes was used to sign in or change your account. \
                 {left} remain unused."
            ),
            Self::RecoveryCodesRenewed => {
                "New recovery codes were made; the old ones no longer work.".into()
            }
            Self::GoogleConnected => "Your Google account can now sign in to this account.".into(),
            Self::GoogleDisconnected => "Google sign-in was removed from this account.".into(),
            Self::PasswordRemoved => {
                "The password was removed: this account now signs in with Google only.".into()
            }
        }
    }
}

/// The mail telling an account's owner how its sign-in changed.
pub fn security(config: &Config, to: &str, change: SecurityChange) -> Mail {
    let subject = format!("{} — {}", change.subject(), config.shop_name);
    render(
        config,
        "security_notice",
        to,
        subject,
        context! { what => change.what() },
    )
}

#[derive(Serialize)]
struct ItemView {
    quantity: i32,
    name: String,
    sku: String,
    options: String,
    line_total: String,
}

#[derive(Serialize)]
struct OrderView {
    number: String,
    currency: String,
    items: Vec<ItemView>,
    subtotal: String,
    discount: String,
    shipping: String,
    tax: String,
    total: String,
    ship_to: String,
}

impl OrderView {
    fn of(o: &Order) -> Self {
        let a = &o.shipping_address;
        Self {
            number: o.number.clone(),
            currency: o.currency.clone(),
            items: o
                .items
                .iter()
                .map(|i| ItemView {
                    quantity: i.quantity,
                    name: i.name.clone(),
                    sku: i.sku.clone(),
                    options: i
                        .options
                        .iter()
                        .map(|v| format!("{}: {}", v.name, v.value))
                        .collect::<Vec<_>>()
                        .join(", "),
                    line_total: crate::money::Money::from_decimal(i.line_total).to_string(),
                })
                .collect(),
            subtotal: o.subtotal.to_string(),
            discount: o.discount_total.to_string(),
            shipping: o.shipping_total.to_string(),
            tax: o.tax_total.to_string(),
            total: o.total.to_string(),
            ship_to: [
                Some(a.full_name.as_str()),
                Some(a.line1.as_str()),
                a.line2.as_deref(),
                Some(a.city.as_str()),
                Some(a.postal_code.as_str()),
                Some(a.country.as_str()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        }
    }
}

/// The event and mail that tell the buyer their order reached `status` (placed, shipped,
/// cancelled, refunded…); `link` is where they see it (their account's order page, or a
/// guest's order link).
pub fn order(
    config: &Config,
    to: &str,
    order: &Order,
    status: OrderStatus,
    link: &str,
) -> (Event, Mail) {
    let (event, subject, headline, note) = match status {
        OrderStatus::Pending => (
            Event::OrderPlaced,
            format!("Your order {}", order.number),
            "Thank you for your order.".to_owned(),
            None,
        ),
        OrderStatus::Paid => (
            Event::OrderPaid,
            format!("Payment received for order {}", order.number),
            "We have received your payment.".to_owned(),
            None,
        ),
        OrderStatus::Shipped => (
            Event::OrderShipped,
            format!("Your order {} has shipped", order.number),
            "Your order is on its way.".to_owned(),
            None,
        ),
        OrderStatus::Delivered => (
            Event::OrderDelivered,
            format!("Your order {} was delivered", order.number),
            "Your order was delivered.".to_owned(),
            None,
        ),
        OrderStatus::Cancelled => (
            Event::OrderCancelled,
            format!("Your order {} was cancelled", order.number),
            "Your order was cancelled.".to_owned(),
            Some("Nothing was charged for it, or the charge is refunded.".to_owned()),
        ),
        OrderStatus::Refunded => (
            Event::OrderRefunded,
            format!("Your order {} was refunded", order.number),
            "Your order was refunded.".to_owned(),
            Some("The refund reaches your account within a few days.".to_owned()),
        ),
    };
    let values = context! { headline, note, link, order => OrderView::of(order) };
    (event, render(config, "order", to, subject, values))
}

/// The mail that tells the buyer money went back without their order changing status: part
/// of it, or a cancelled order's payment.
pub fn refund(
    config: &Config,
    to: &str,
    order: &Order,
    amount: crate::money::Money,
    link: &str,
) -> (Event, Mail) {
    let subject = format!("A refund for your order {}", order.number);
    let headline = format!("We have refunded {amount} {} to you.", order.currency);
    let note = Some("The refund reaches your account within a few days.".to_owned());
    let values = context! { headline, note, link, order => OrderView::of(order) };
    (
        Event::OrderRefunded,
        render(config, "order", to, subject, values),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_lookup(|k| match k {
            "SHOP_NAME" => Some("Tea & Co".into()),
            "FRONTEND_URL" => Some("https://shop.example".into()),
            _ => None,
        })
        .unwrap()
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let mail = verification(&config(), "a@example.com", "https://shop.example/v?key=a&b");
        assert_eq!(mail.subject, "Confirm your email for Tea & Co");
        assert!(mail.body.contains("Welcome to Tea & Co."), "{}", mail.body);
        assert!(mail.body.contains("https://shop.example/v?key=a&b"));
        let html = mail.html.unwrap();
        assert!(html.contains("Tea &amp; Co"), "{html}");
        assert!(html.contains("key=a&amp;b"), "{html}");
    }
}
