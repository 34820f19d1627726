//! Outgoing mail through the backend chosen in configuration: log, `.eml` files, or SMTP.

use std::sync::Arc;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Config, ConfigError, MailBackend};

/// A message to send: plain text (every link in it readable as text), and an HTML
/// alternative where the message has one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    #[serde(rename = "text")]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("bad address: {0}")]
    Address(String),
    #[error("cannot build message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("file backend: {0}")]
    File(#[from] lettre::transport::file::Error),
    #[error("smtp backend: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

enum Transport {
    Log,
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends mail; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: Arc<Transport>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let transport = match &config.mail_backend {
            MailBackend::Log => Transport::Log,
            MailBackend::File(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| ConfigError {
                    name: "EMAIL_FILE_DIR",
                    reason: format!("cannot create {}: {e}", dir.display()),
                })?;
                Transport::File(AsyncFileTransport::new(dir))
            }
            // from_url: `smtp://host:587?tls=required` is STARTTLS, `smtps://host:465` TLS
            // from the first byte, a plain `smtp://` no TLS at all (local relays only;
            // production refuses it for remote hosts).
            MailBackend::Smtp(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| ConfigError {
                        name: "SMTP_URL",
                        reason: e.to_string(),
                    })?
                    .build(),
            ),
        };
        let from = config.email_from.parse().map_err(|_| ConfigError {
            name: "EMAIL_FROM",
            reason: "not a mailbox".into(),
        })?;
        Ok(Self {
            transport: Arc::new(transport),
            from,
        })
    }

    /// Sends one message now.
    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| MailError::Address(mail.to.clone()))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject);
        let message = match &mail.html {
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(mail.body.clone())?,
            Some(html) => builder.multipart(lettre::message::MultiPart::alternative_plain_html(
                mail.body.clone(),
                html.clone(),
            ))?,
        };
        match &*self.transport {
            Transport::Log => {
                tracing::info!(to = %mail.to, subject = %mail.subject, body = %mail.body, "mail (log backend)");
            }
            Transport::File(t) => {
                t.send(message).await?;
            }
            Transport::Smtp(t) => {
                t.send(message).await?;
            }
        }
        Ok(())
    }
}
