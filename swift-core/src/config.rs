//! Configuration read once at start-up from the environment (and an optional `.env`).
//!
//! Every value is parsed here, so a typo in a deployment stops the process with one line
//! naming the variable instead of surfacing later as a confusing runtime failure.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use ipnet::IpNet;

/// A variable that is missing or malformed; the binaries print it and exit with code 2.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration error: {name}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub name: &'static str,
    /// What is wrong with its value, in words an operator can act on.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(name: &'static str, reason: impl Into<String>) -> Self {
        Self {
            name,
            reason: reason.into(),
        }
    }
}

/// Where the process runs; production refuses settings that are only safe on a laptop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// How log lines are written: readable for people, JSON for log collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The store's currency: an ISO 4217 code (the `iso_currency` list, not any three letters)
/// of a currency with cents, since amounts here always have two decimals (`money.rs`): JPY
/// (no minor unit) or KWD (three) would be priced wrong, so they are refused at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// The code as it appears in API responses.
    pub fn as_str(&self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point (2: amounts go to payment providers in cents).
    pub fn exponent(&self) -> u32 {
        self.0.exponent().unwrap_or(2).into()
    }

    /// Every currency a store can sell in, by code: what the API may answer in `currency`.
    pub fn all_codes() -> Vec<&'static str> {
        use iso_currency::IntoEnumIterator;
        let mut codes: Vec<&'static str> = iso_currency::Currency::iter()
            .filter(|c| c.exponent() == Some(2))
            .map(|c| c.code())
            .collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }
}

impl FromStr for Currency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let currency = iso_currency::Currency::from_code(s)
            .ok_or_else(|| format!("expected an ISO 4217 code such as USD, got {s:?}"))?;
        if currency.exponent() != Some(2) {
            return Err(format!(
                "{s} does not have two decimals (cents); SWIFT prices in amounts with two decimals"
            ));
        }
        Ok(Self(currency))
    }
}

/// Whether a new account must confirm its email before signing in (allauth's setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerification {
    /// No verification mail is sent.
    None,
    /// A mail is sent; signing in works before it is confirmed.
    Optional,
    /// Sign-in is refused (403 `email_not_verified`) until the email is confirmed.
    Mandatory,
}

/// Where outgoing mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailBackend {
    /// Written to the log (development).
    Log,
    /// One `.eml` file per message in this directory (tests, demos).
    File(PathBuf),
    /// Sent through this SMTP server: `smtp://host:587?tls=required` (STARTTLS),
    /// `smtps://host:465` (TLS), or plain `smtp://` for a local relay.
    Smtp(String),
}

/// Token lifetimes and signing, sessions and cookies.
#[derive(Clone)]
pub struct AuthConfig {
    /// HS256 key for access tokens.
    pub jwt_secret: Vec<u8>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
    /// A rotated refresh token presented again within this many seconds gets the same
    /// successor instead of revoking the session (clients refreshing at once).
    pub refresh_reuse_grace_seconds: i64,
    pub email_verification: EmailVerification,
    /// Cookie mode: token responses also set HttpOnly cookies (docs/API.md "Cookie mode").
    pub cookies: bool,
    pub cookie_secure: bool,
    /// AES-256 key sealing TOTP secrets and keying recovery-code hashes (`TWO_FACTOR_KEY`,
    /// else derived from `JWT_SECRET`).
    pub two_factor_key: [u8; 32],
    /// `STAFF_REQUIRE_2FA`: staff endpoints refuse a staff session signed in without a
    /// second factor.
    pub staff_require_2fa: bool,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &"<redacted>")
            .field("jwt_issuer", &self.jwt_issuer)
            .field("access_ttl_seconds", &self.access_ttl_seconds)
            .field("refresh_ttl_seconds", &self.refresh_ttl_seconds)
            .field("email_verification", &self.email_verification)
            .field("cookies", &self.cookies)
            .finish_non_exhaustive()
    }
}

/// Limits on the endpoints attackers hammer (login, registration, reset, resend, refresh).
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub window_seconds: i64,
    /// Requests per window from one client address, per action.
    pub per_address: i32,
    /// Requests per window naming one account (email), per action.
    pub per_account: i32,
}

/// How long the server keeps what shoppers leave behind (docs/API.md "Carts").
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// A guest cart untouched this many days is pruned (its token stops working).
    pub guest_cart_days: i64,
    /// A customer's cart untouched this many days is pruned.
    pub customer_cart_days: i64,
    /// An `Idempotency-Key`'s answer is replayed this many hours.
    pub idempotency_hours: i64,
    /// A guest's order link works this many days.
    pub guest_order_link_days: i64,
}

/// Google sign-in (OpenID Connect); present when a client id is configured. Verifying an
/// id_token the frontend holds (Auth.js, Google Identity Services) needs nothing more;
/// redeeming authorization codes needs the client secret, and the redirect flow the
/// redirect URI too.
#[derive(Clone)]
pub struct GoogleConfig {
    pub client_id: String,
    pub client_secret: Option<String>,
    /// This backend's callback, registered with the provider (redirect flow only).
    pub redirect_uri: Option<String>,
    /// `https://accounts.google.com`, or a local provider in tests.
    pub issuer_url: String,
    /// Where the browser goes after the callback (`{FRONTEND_URL}/auth/callback`).
    pub frontend_callback: String,
    /// Other client ids whose id_tokens `googleLogin` accepts (the frontend's own).
    pub extra_audiences: Vec<String>,
    /// Workspace domains (`hd` claim) allowed to sign in; empty allows any account.
    pub allowed_domains: Vec<String>,
    /// Limit on every call to the provider.
    pub http_timeout_seconds: u64,
}

impl std::fmt::Debug for GoogleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("issuer_url", &self.issuer_url)
            .finish_non_exhaustive()
    }
}

/// The `.env.example` value of `JWT_SECRET`; accepted only in development.
pub const PLACEHOLDER_JWT_SECRET: &str =
    "dev-only-change-me-to-64-random-characters-before-deploying-swift";

/// Everything the server and the CLI need to know about their surroundings.
#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub database_url: String,
    /// Where the catalog-change listener connects, when DATABASE_URL goes through a pooler
    /// in transaction mode (LISTEN needs a session); `None`: DATABASE_URL.
    pub database_listen_url: Option<String>,
    /// Streaming replicas for the storefront's catalog reads (`crate::replicas`).
    pub database_replica_urls: Vec<String>,
    /// How far behind the primary a replica may be and still answer reads.
    pub replica_max_lag_ms: u64,
    /// Prepared statements cached per connection; 0 for poolers that cannot keep them.
    pub db_statement_cache_capacity: usize,
    pub listen_addr: SocketAddr,
    pub db_max_connections: u32,
    pub log_format: LogFormat,
    pub rust_log: String,
    /// Exact origins (scheme://host[:port]) allowed to call the API from a browser.
    pub cors_allowed_origins: Vec<String>,
    /// Base URL of the storefront; links in mails and OAuth redirects point here.
    pub frontend_url: String,
    pub store_currency: Currency,
    pub migrate_on_start: bool,
    /// In-process catalog cache (invalidated across instances by LISTEN/NOTIFY); off is for
    /// measuring the database path.
    pub catalog_cache: bool,
    /// Byte budget of that cache (bodies, keys and counts).
    pub catalog_cache_max_bytes: u64,
    pub auth: AuthConfig,
    pub mail_backend: MailBackend,
    /// The `From:` of every mail.
    pub email_from: String,
    /// The shop's name in mails.
    pub shop_name: String,
    /// Whether this process delivers the outbox (mail); off only for tests that need an
    /// instance which never sends.
    pub outbox_worker: bool,
    pub rate_limits: RateLimitConfig,
    pub lifetimes: Lifetimes,
    /// Whether prices include tax, and whether shipping is taxed.
    pub tax: crate::orders::pricing::TaxPolicy,
    /// Peers whose `X-Forwarded-For` is believed (load balancers, ingress).
    pub trusted_proxies: Vec<IpNet>,
    /// `None` when Google sign-in is not configured (its endpoints answer 503).
    pub google: Option<GoogleConfig>,
    /// `None` when payments are not configured: orders wait for staff to mark them paid, and
    /// the payment endpoints answer 503.
    pub stripe: Option<crate::payments::stripe::StripeConfig>,
    /// How long an order may stay unpaid before it is cancelled and its stock put back
    /// (`PAYMENT_TIMEOUT`: `30m`, `2h`, `900s`); only with a payment provider.
    pub payment_timeout_seconds: i64,
    /// Whether this process runs the payments worker (expiry, stalled refunds); off only for
    /// tests that drive it themselves.
    pub payments_worker: bool,
    /// The bearer token `/metrics` asks for; without one, `/metrics` does not exist.
    pub metrics_token: Option<String>,
}

/// A rotated refresh token presented again this soon is a race between the user's own
/// clients (a Next.js server and the browser, several tabs), answered with the same
/// successor; later it is reuse.
pub const DEFAULT_REFRESH_REUSE_GRACE_SECONDS: i64 = 30;

/// `900s`, `30m`, `2h`, or bare seconds; positive.
fn parse_duration(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (digits, unit) = match raw.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => raw.split_at(at),
        None => (raw, "s"),
    };
    let n: i64 = digits.parse().ok()?;
    let seconds = n.checked_mul(match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return None,
    })?;
    (seconds > 0).then_some(seconds)
}

/// The local default, matching the PostgreSQL that developers and CI run on 127.0.0.1.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/swift";

impl Config {
    /// Loads `.env` when present (real environment variables win), then parses the environment.
    pub fn load() -> Result<Self, ConfigError> {
        // A missing .env is normal (production, CI); a malformed one is an operator error.
        if let Err(err) = dotenvy::dotenv()
            && !err.not_found()
        {
            return Err(ConfigError::new(".env", err.to_string()));
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses configuration from any lookup function, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Vars(&lookup);
        let environment = match env.string("SWIFT_ENV", "development").as_str() {
            "development" => Environment::Development,
            "production" => Environment::Production,
            other => {
                return Err(ConfigError::new(
                    "SWIFT_ENV",
                    format!("expected development or production, got {other:?}"),
                ));
            }
        };
        let log_format = match env.string("LOG_FORMAT", "pretty").as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("expected pretty or json, got {other:?}"),
                ));
            }
        };
        let database_url = env.string("DATABASE_URL", DEFAULT_DATABASE_URL);
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "expected a postgres:// URL",
            ));
        }
        let cors_allowed_origins = env
            .string("CORS_ALLOWED_ORIGINS", "http://localhost:3000")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|origin| {
                parse_origin(origin).map_err(|r| ConfigError::new("CORS_ALLOWED_ORIGINS", r))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let frontend_url = env
            .string("FRONTEND_URL", "http://localhost:3000")
            .trim_end_matches('/')
            .to_owned();
        parse_origin_or_url(&frontend_url).map_err(|r| ConfigError::new("FRONTEND_URL", r))?;
        let db_max_connections: u32 = env.parse("DB_MAX_CONNECTIONS", 10)?;
        if db_max_connections == 0 {
            return Err(ConfigError::new("DB_MAX_CONNECTIONS", "must be at least 1"));
        }

        let auth = AuthConfig {
            jwt_secret: env
                .string("JWT_SECRET", PLACEHOLDER_JWT_SECRET)
                .into_bytes(),
            jwt_issuer: env.string("JWT_ISSUER", "swift"),
            jwt_audience: env.string("JWT_AUDIENCE", "swift-api"),
            access_ttl_seconds: env.parse_positive("ACCESS_TOKEN_TTL_SECONDS", 15 * 60)?,
            refresh_ttl_seconds: env.parse_positive("REFRESH_TOKEN_TTL_SECONDS", 7 * 24 * 3600)?,
            refresh_reuse_grace_seconds: env
                .parse(
                    "REFRESH_REUSE_GRACE_SECONDS",
                    DEFAULT_REFRESH_REUSE_GRACE_SECONDS,
                )?
                .max(0),
            email_verification: match env.string("EMAIL_VERIFICATION", "optional").as_str() {
                "none" => EmailVerification::None,
                "optional" => EmailVerification::Optional,
                "mandatory" => EmailVerification::Mandatory,
                other => {
                    return Err(ConfigError::new(
                        "EMAIL_VERIFICATION",
                        format!("expected none, optional or mandatory, got {other:?}"),
                    ));
                }
            },
            cookies: env.parse_bool("AUTH_COOKIES", false)?,
            cookie_secure: env.parse_bool("AUTH_COOKIE_SECURE", true)?,
            two_factor_key: [0; 32],
            staff_require_2fa: env.parse_bool("STAFF_REQUIRE_2FA", false)?,
        };
        // Its own key when given (so rotating JWT_SECRET keeps enrolled factors readable);
        // otherwise one derived from JWT_SECRET, never the JWT key itself.
        let two_factor_key = match env.raw("TWO_FACTOR_KEY") {
            Some(key) if environment == Environment::Production && is_placeholder(&key) => {
                return Err(ConfigError::new(
                    "TWO_FACTOR_KEY",
                    "production refuses a placeholder value (it contains change-me or example)",
                ));
            }
            Some(key) if key.trim().len() >= 32 => {
                crate::accounts::tokens::keyed_digest(key.trim().as_bytes(), "two-factor-key", b"")
            }
            Some(_) => {
                return Err(ConfigError::new(
                    "TWO_FACTOR_KEY",
                    "must be at least 32 characters (e.g. openssl rand -base64 32)",
                ));
            }
            None => crate::accounts::tokens::keyed_digest(&auth.jwt_secret, "two-factor-key", b""),
        };
        let auth = AuthConfig {
            two_factor_key,
            ..auth
        };
        let mail_backend = match env.string("EMAIL_BACKEND", "log").as_str() {
            "log" => MailBackend::Log,
            "file" => MailBackend::File(PathBuf::from(env.string("EMAIL_FILE_DIR", "./mail"))),
            "smtp" => match env.raw("SMTP_URL") {
                Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => {
                    MailBackend::Smtp(url)
                }
                _ => {
                    return Err(ConfigError::new(
                        "SMTP_URL",
                        "EMAIL_BACKEND=smtp needs an smtp:// or smtps:// URL",
                    ));
                }
            },
            other => {
                return Err(ConfigError::new(
                    "EMAIL_BACKEND",
                    format!("expected log, file or smtp, got {other:?}"),
                ));
            }
        };
        let email_from = env.string("EMAIL_FROM", "SWIFT <no-reply@swift.localhost>");
        if email_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                "EMAIL_FROM",
                format!("{email_from:?} is not a mailbox"),
            ));
        }
        let rate_limits = RateLimitConfig {
            enabled: env.parse_bool("RATE_LIMITS", true)?,
            window_seconds: env.parse_positive("RATE_LIMIT_WINDOW_SECONDS", 60)?,
            per_address: env.parse_positive("RATE_LIMIT_PER_ADDRESS", 30)? as i32,
            per_account: env.parse_positive("RATE_LIMIT_PER_ACCOUNT", 10)? as i32,
        };
        let lifetimes = Lifetimes {
            guest_cart_days: env.parse_positive("GUEST_CART_TTL_DAYS", 30)?,
            customer_cart_days: env.parse_positive("CUSTOMER_CART_TTL_DAYS", 90)?,
            idempotency_hours: env.parse_positive("IDEMPOTENCY_TTL_HOURS", 24)?,
            guest_order_link_days: env.parse_positive("GUEST_ORDER_LINK_TTL_DAYS", 30)?,
        };
        let tax = crate::orders::pricing::TaxPolicy {
            mode: if env.parse_bool("PRICES_INCLUDE_TAX", false)? {
                crate::orders::pricing::TaxMode::Inclusive
            } else {
                crate::orders::pricing::TaxMode::Exclusive
            },
            on_shipping: env.parse_bool("TAX_SHIPPING", false)?,
        };
        let trusted_proxies = env
            .string("TRUSTED_PROXIES", "")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ConfigError::new("TRUSTED_PROXIES", format!("{s:?} is not an IP or CIDR"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let list = |name: &str| -> Vec<String> {
            env.string(name, "")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let google = match (
            env.raw("GOOGLE_CLIENT_ID"),
            env.raw("GOOGLE_CLIENT_SECRET"),
            env.raw("GOOGLE_REDIRECT_URI"),
        ) {
            (None, None, None) => None,
            (None, _, _) => {
                return Err(ConfigError::new(
                    "GOOGLE_CLIENT_ID",
                    "GOOGLE_CLIENT_SECRET and GOOGLE_REDIRECT_URI need GOOGLE_CLIENT_ID",
                ));
            }
            (Some(_), None, Some(_)) => {
                return Err(ConfigError::new(
                    "GOOGLE_CLIENT_SECRET",
                    "the redirect flow (GOOGLE_REDIRECT_URI) needs GOOGLE_CLIENT_SECRET",
                ));
            }
            (Some(client_id), client_secret, redirect_uri) => {
                if let Some(uri) = &redirect_uri {
                    parse_origin_or_url(uri)
                        .map_err(|r| ConfigError::new("GOOGLE_REDIRECT_URI", r))?;
                }
                let issuer_url = env.string("OIDC_ISSUER_URL", "https://accounts.google.com");
                parse_origin_or_url(&issuer_url)
                    .map_err(|r| ConfigError::new("OIDC_ISSUER_URL", r))?;
                let frontend_callback = env.string(
                    "OIDC_FRONTEND_CALLBACK_URL",
                    &format!("{frontend_url}/auth/callback"),
                );
                parse_origin_or_url(&frontend_callback)
                    .map_err(|r| ConfigError::new("OIDC_FRONTEND_CALLBACK_URL", r))?;
                Some(GoogleConfig {
                    client_id,
                    client_secret,
                    redirect_uri,
                    issuer_url,
                    frontend_callback,
                    extra_audiences: list("GOOGLE_EXTRA_AUDIENCES"),
                    allowed_domains: list("GOOGLE_ALLOWED_DOMAINS")
                        .into_iter()
                        .map(|d| d.to_lowercase())
                        .collect(),
                    http_timeout_seconds: env.parse_positive("OIDC_HTTP_TIMEOUT_SECONDS", 10)?
                        as u64,
                })
            }
        };

        let stripe = match (
            env.raw("STRIPE_SECRET_KEY"),
            env.raw("STRIPE_WEBHOOK_SECRET"),
        ) {
            (None, None) => None,
            (Some(secret_key), Some(webhook_secret)) => {
                let api_base = env
                    .string("STRIPE_API_BASE", "https://api.stripe.com")
                    .trim_end_matches('/')
                    .to_owned();
                parse_origin_or_url(&api_base)
                    .map_err(|r| ConfigError::new("STRIPE_API_BASE", r))?;
                Some(crate::payments::stripe::StripeConfig {
                    secret_key,
                    webhook_secret,
                    api_base,
                })
            }
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "STRIPE_WEBHOOK_SECRET",
                    "STRIPE_SECRET_KEY needs the webhook endpoint's signing secret (whsec_...), \
                     or payments could never be confirmed",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "STRIPE_SECRET_KEY",
                    "STRIPE_WEBHOOK_SECRET needs STRIPE_SECRET_KEY",
                ));
            }
        };
        let payment_timeout_seconds = match env.raw("PAYMENT_TIMEOUT") {
            None => 30 * 60,
            Some(raw) => parse_duration(&raw).ok_or_else(|| {
                ConfigError::new(
                    "PAYMENT_TIMEOUT",
                    format!("expected a positive duration such as 30m, 2h or 900s, got {raw:?}"),
                )
            })?,
        };

        let database_replica_urls = env
            .string("DATABASE_REPLICA_URLS", "")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(
                |url| match url.parse::<sqlx::postgres::PgConnectOptions>() {
                    Ok(_) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                        Ok(url.to_owned())
                    }
                    _ => Err(ConfigError::new(
                        "DATABASE_REPLICA_URLS",
                        "expected postgres:// URLs separated by commas",
                    )),
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        let database_listen_url = env.raw("DATABASE_LISTEN_URL");
        if let Some(url) = &database_listen_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "DATABASE_LISTEN_URL",
                "expected a postgres:// URL",
            ));
        }
        let config = Self {
            environment,
            database_url,
            database_listen_url,
            database_replica_urls,
            replica_max_lag_ms: env.parse_positive("REPLICA_MAX_LAG_MS", 1000)? as u64,
            db_statement_cache_capacity: env.parse("DB_STATEMENT_CACHE_CAPACITY", 100usize)?,
            listen_addr: env.parse("LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            db_max_connections,
            log_format,
            rust_log: env.string("RUST_LOG", "info,sqlx=warn"),
            cors_allowed_origins,
            frontend_url,
            store_currency: env.parse("STORE_CURRENCY", Currency(iso_currency::Currency::USD))?,
            migrate_on_start: env.parse_bool("MIGRATE_ON_START", true)?,
            catalog_cache: env.parse_bool("CATALOG_CACHE", true)?,
            catalog_cache_max_bytes: env.parse_positive(
                "CATALOG_CACHE_MAX_BYTES",
                crate::catalog::cache::DEFAULT_MAX_BYTES as i64,
            )? as u64,
            auth,
            mail_backend,
            email_from,
            shop_name: env.string("SHOP_NAME", "SWIFT"),
            outbox_worker: env.parse_bool("OUTBOX_WORKER", true)?,
            rate_limits,
            lifetimes,
            tax,
            trusted_proxies,
            google,
            stripe,
            payment_timeout_seconds,
            payments_worker: env.parse_bool("PAYMENTS_WORKER", true)?,
            metrics_token: env.raw("METRICS_TOKEN"),
        };
        config.check_production()?;
        Ok(config)
    }

    /// Refuses settings that would be unsafe in front of real customers.
    fn check_production(&self) -> Result<(), ConfigError> {
        if self.environment != Environment::Production {
            return Ok(());
        }
        let secret = String::from_utf8_lossy(&self.auth.jwt_secret);
        if secret.len() < MIN_SECRET_BYTES || is_placeholder(&secret) {
            return Err(ConfigError::new(
                "JWT_SECRET",
                "production needs a random secret of at least 32 bytes, not an example value \
                 (openssl rand -hex 32)",
            ));
        }
        let placeholders = [
            ("DATABASE_URL", url_password(&self.database_url)),
            (
                "SMTP_URL",
                match &self.mail_backend {
                    MailBackend::Smtp(url) => url_password(url),
                    _ => None,
                },
            ),
            (
                "GOOGLE_CLIENT_SECRET",
                self.google
                    .as_ref()
                    .and_then(|g| g.client_secret.as_deref()),
            ),
            (
                "GOOGLE_CLIENT_ID",
                self.google.as_ref().map(|g| g.client_id.as_str()),
            ),
            (
                "STRIPE_SECRET_KEY",
                self.stripe.as_ref().map(|s| s.secret_key.as_str()),
            ),
            ("METRICS_TOKEN", self.metrics_token.as_deref()),
            (
                "STRIPE_WEBHOOK_SECRET",
                self.stripe.as_ref().map(|s| s.webhook_secret.as_str()),
            ),
        ];
        for (name, value) in placeholders {
            if value.is_some_and(is_placeholder) {
                return Err(ConfigError::new(
                    name,
                    "production refuses a placeholder value (it contains change-me or example)",
                ));
            }
        }
        if self.mail_backend == MailBackend::Log {
            return Err(ConfigError::new(
                "EMAIL_BACKEND",
                "production refuses log: it writes whole messages, reset links included, to the \
                 log; use smtp",
            ));
        }
        if let MailBackend::Smtp(url) = &self.mail_backend {
            let host = url.split("://").nth(1).unwrap_or_default();
            let host = host.rsplit('@').next().unwrap_or_default();
            let encrypted = url.starts_with("smtps://") || url.contains("tls=required");
            if !encrypted && !is_loopback_origin(&format!("http://{host}")) {
                return Err(ConfigError::new(
                    "SMTP_URL",
                    "production mail to a remote server needs smtps:// or ?tls=required",
                ));
            }
        }
        if let Some(stripe) = &self.stripe
            && stripe.secret_key.starts_with("sk_test_")
        {
            return Err(ConfigError::new(
                "STRIPE_SECRET_KEY",
                "production refuses a test-mode key (sk_test_...): no money would be taken",
            ));
        }
        if self.auth.cookies && !self.auth.cookie_secure {
            return Err(ConfigError::new(
                "AUTH_COOKIE_SECURE",
                "production cookies must be Secure",
            ));
        }
        if self
            .cors_allowed_origins
            .iter()
            .any(|o| o.starts_with("http://") && !is_loopback_origin(o))
        {
            return Err(ConfigError::new(
                "CORS_ALLOWED_ORIGINS",
                "production allows only https origins",
            ));
        }
        if self.frontend_url.starts_with("http://") && !is_loopback_origin(&self.frontend_url) {
            return Err(ConfigError::new(
                "FRONTEND_URL",
                "production needs an https frontend URL",
            ));
        }
        Ok(())
    }
}

/// The shortest secret production accepts (HS256 wants a key as long as its output).
pub const MIN_SECRET_BYTES: usize = 32;

/// Whether a secret is an example left in place: the shipped examples all say so.
fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    ["change-me", "change_me", "changeme", "example"]
        .iter()
        .any(|marker| lower.contains(marker))
}

/// The password of `scheme://user:password@host/...`, if the URL has one.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, password)| password)
}

fn is_loopback_origin(origin: &str) -> bool {
    let host = origin
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    host.starts_with("localhost") || host.starts_with("127.0.0.1") || host.starts_with("[::1]")
}

/// Browsers send `Origin` as scheme://host[:port] with no path; anything else never matches.
fn parse_origin(origin: &str) -> Result<String, String> {
    parse_origin_or_url(origin)?;
    let rest = origin.split_once("://").map(|(_, r)| r).unwrap_or_default();
    if rest.contains('/') {
        return Err(format!("{origin:?} is not an origin (no path allowed)"));
    }
    Ok(origin.to_owned())
}

fn parse_origin_or_url(value: &str) -> Result<(), String> {
    match value.split_once("://") {
        Some(("http" | "https", host)) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(format!("{value:?} is not an http(s) URL")),
    }
}

/// Typed access to the lookup, so each variable's error names it.
struct Vars<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    fn raw(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_owned())
    }

    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|e| ConfigError::new(name, format!("{v:?}: {e}"))),
        }
    }

    fn parse_positive(&self, name: &'static str, default: i64) -> Result<i64, ConfigError> {
        let value: i64 = self.parse(name, default)?;
        if value < 1 {
            return Err(ConfigError::new(name, "must be a positive whole number"));
        }
        Ok(value)
    }

    fn parse_bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).as_deref().map(str::trim) {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::new(
                name,
                format!("expected true or false, got {other:?}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_work_for_local_development() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(c.listen_addr.port(), 8000);
        assert_eq!(c.store_currency.as_str(), "USD");
        assert!(c.migrate_on_start);
        assert_eq!(c.environment, Environment::Development);
        assert!(c.database_replica_urls.is_empty());
        let c = parse(&[(
            "DATABASE_REPLICA_URLS",
            " postgres://r1:5432/swift ,postgresql://r2/swift,",
        )])
        .unwrap();
        assert_eq!(
            c.database_replica_urls,
            ["postgres://r1:5432/swift", "postgresql://r2/swift"]
        );
    }

    #[test]
    fn payments_need_both_stripe_secrets_and_a_real_timeout() {
        let c = parse(&[]).unwrap();
        assert!(c.stripe.is_none());
        assert_eq!(c.payment_timeout_seconds, 1800);
        let c = parse(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_1"),
            ("STRIPE_API_BASE", "http://127.0.0.1:12111/"),
            ("PAYMENT_TIMEOUT", "2h"),
        ])
        .unwrap();
        assert_eq!(c.stripe.unwrap().api_base, "http://127.0.0.1:12111");
        assert_eq!(c.payment_timeout_seconds, 7200);
        assert_eq!(
            parse(&[("STRIPE_SECRET_KEY", "sk_test_1")])
                .unwrap_err()
                .name,
            "STRIPE_WEBHOOK_SECRET"
        );
        assert_eq!(
            parse(&[("STRIPE_WEBHOOK_SECRET", "whsec_1")])
                .unwrap_err()
                .name,
            "STRIPE_SECRET_KEY"
        );
        for (raw, seconds) in [("900", 900), ("900s", 900), ("30m", 1800)] {
            let c = parse(&[("PAYMENT_TIMEOUT", raw)]).unwrap();
            assert_eq!(c.payment_timeout_seconds, seconds, "{raw}");
        }
        for bad in ["0", "-5m", "30 minutes", "1d", "m"] {
            assert_eq!(
                parse(&[("PAYMENT_TIMEOUT", bad)]).unwrap_err().name,
                "PAYMENT_TIMEOUT",
                "{bad}"
            );
        }
    }

    #[test]
    fn the_store_currency_is_a_real_one_with_cents() {
        for code in ["EUR", "GBP", "CHF"] {
            let c = parse(&[("STORE_CURRENCY", code)]).unwrap();
            assert_eq!(c.store_currency.as_str(), code);
        }
        let codes = Currency::all_codes();
        assert!(codes.contains(&"USD") && codes.contains(&"EUR"));
        assert!(!codes.contains(&"JPY") && !codes.contains(&"KWD"));
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (name, value) in [
            ("LISTEN_ADDR", "nope"),
            ("DB_MAX_CONNECTIONS", "-3"),
            ("DB_MAX_CONNECTIONS", "0"),
            ("LOG_FORMAT", "xml"),
            ("STORE_CURRENCY", "usd"),
            ("STORE_CURRENCY", "XYZ"),
            ("STORE_CURRENCY", "JPY"),
            ("STORE_CURRENCY", "KWD"),
            ("MIGRATE_ON_START", "maybe"),
            ("SWIFT_ENV", "staging"),
            ("DATABASE_URL", "mysql://x"),
            ("CORS_ALLOWED_ORIGINS", "localhost:3000"),
            ("CORS_ALLOWED_ORIGINS", "http://a.example/path"),
            ("FRONTEND_URL", "ftp://x"),
            ("ACCESS_TOKEN_TTL_SECONDS", "0"),
            ("EMAIL_VERIFICATION", "sometimes"),
            ("EMAIL_BACKEND", "pigeon"),
            ("TRUSTED_PROXIES", "10.0.0.0/99"),
            ("EMAIL_FROM", "not a mailbox"),
            ("DATABASE_REPLICA_URLS", "postgres://h/db, replica:5432"),
            ("REPLICA_MAX_LAG_MS", "0"),
        ] {
            let err = parse(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{value}");
        }
    }

    #[test]
    fn production_refuses_plain_http_origins() {
        let err = production(&[("CORS_ALLOWED_ORIGINS", "http://shop.test")]).unwrap_err();
        assert_eq!(err.name, "CORS_ALLOWED_ORIGINS");
        let err = production(&[("FRONTEND_URL", "http://shop.test")]).unwrap_err();
        assert_eq!(err.name, "FRONTEND_URL");
    }

    #[test]
    fn production_refuses_weak_or_example_jwt_secrets() {
        for secret in ["short", PLACEHOLDER_JWT_SECRET] {
            let err = production(&[("JWT_SECRET", secret)]).unwrap_err();
            assert_eq!(err.name, "JWT_SECRET");
        }
        assert!(parse(&[]).is_ok(), "development accepts the example secret");
    }

    #[test]
    fn the_two_factor_key_is_its_own_or_derived_never_the_jwt_key() {
        let derived = parse(&[]).unwrap().auth.two_factor_key;
        assert_ne!(
            derived.as_slice(),
            PLACEHOLDER_JWT_SECRET.as_bytes().get(..32).unwrap()
        );
        let own = parse(&[("TWO_FACTOR_KEY", "k9V2pQ7xL4mN8rT1wY6zB3cF5hJ0sD2aE")])
            .unwrap()
            .auth
            .two_factor_key;
        assert_ne!(own, derived);
        let err = parse(&[("TWO_FACTOR_KEY", "short")]).unwrap_err();
        assert_eq!(err.name, "TWO_FACTOR_KEY");
        let err = production(&[(
            "TWO_FACTOR_KEY",
            "CHANGE-ME-to-44-random-characters-openssl-rand-base64-32",
        )])
        .unwrap_err();
        assert_eq!(err.name, "TWO_FACTOR_KEY");
        assert!(!parse(&[]).unwrap().auth.staff_require_2fa);
        assert!(
            parse(&[("STAFF_REQUIRE_2FA", "true")])
                .unwrap()
                .auth
                .staff_require_2fa
        );
    }

    /// A production configuration that passes every check, to vary one value at a time.
    fn production(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut pairs = vec![
            ("SWIFT_ENV", "production"),
            (
                "JWT_SECRET",
                "0f3c9a7d5e1b2c4d6e8f0a1b3c5d7e9f1a2b3c4d5e6f7a8b",
            ),
            ("FRONTEND_URL", "https://shop.test"),
            ("CORS_ALLOWED_ORIGINS", "https://shop.test"),
            ("EMAIL_BACKEND", "smtp"),
            ("SMTP_URL", "smtps://mailer:s3cr3t-Pw@mail.shop.test:465"),
        ];
        for (name, value) in extra {
            pairs.retain(|(n, _)| n != name);
            pairs.push((name, value));
        }
        parse(&pairs)
    }

    #[test]
    fn production_refuses_placeholder_secrets_and_the_log_mailer() {
        production(&[]).unwrap();
        for (name, value) in [
            // The Kubernetes example's values.
            (
                "JWT_SECRET",
                "CHANGE-ME-to-64-random-hex-characters-openssl-rand-hex-32",
            ),
            ("JWT_SECRET", "a-perfectly-long-example-secret-value-here"),
            ("JWT_SECRET", "changeme-changeme-changeme-changeme"),
            ("JWT_SECRET", "31-bytes-of-entropy-is-too-few!"),
            (
                "DATABASE_URL",
                "postgres://swift:CHANGE-ME@postgres.database.svc:5432/swift",
            ),
            (
                "SMTP_URL",
                "smtp://user:CHANGE-ME@smtp.example.com:587?tls=required",
            ),
            ("EMAIL_BACKEND", "log"),
        ] {
            let err = production(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, name, "{value}");
        }
        // A host named example is not a secret.
        production(&[(
            "DATABASE_URL",
            "postgres://swift:Xk9-2pQ@db.example.com/swift",
        )])
        .unwrap();
        let google = [
            ("GOOGLE_CLIENT_ID", "CHANGE-ME.apps.googleusercontent.com"),
            ("GOOGLE_CLIENT_SECRET", "GOCSPX-real-looking"),
            ("GOOGLE_REDIRECT_URI", "https://api.shop.test/cb"),
        ];
        assert_eq!(production(&google).unwrap_err().name, "GOOGLE_CLIENT_ID");
        let mut secret_placeholder = google;
        secret_placeholder[0].1 = "123.apps.googleusercontent.com";
        secret_placeholder[1].1 = "CHANGE-ME";
        assert_eq!(
            production(&secret_placeholder).unwrap_err().name,
            "GOOGLE_CLIENT_SECRET"
        );
    }

    /// Issue #11: an id_token-only frontend (Auth.js) needs only the client id; the code
    /// exchange adds the secret, the redirect flow the redirect URI.
    #[test]
    fn google_needs_only_what_its_flows_use() {
        let g = parse(&[("GOOGLE_CLIENT_ID", "abc.apps.googleusercontent.com")])
            .unwrap()
            .google
            .unwrap();
        assert_eq!((g.client_secret, g.redirect_uri), (None, None));
        let g = parse(&[("GOOGLE_CLIENT_ID", "abc"), ("GOOGLE_CLIENT_SECRET", "s")])
            .unwrap()
            .google
            .unwrap();
        assert_eq!(g.client_secret.as_deref(), Some("s"));
        for (vars, at_fault) in [
            (&[("GOOGLE_CLIENT_SECRET", "s")][..], "GOOGLE_CLIENT_ID"),
            (
                &[
                    ("GOOGLE_CLIENT_ID", "abc"),
                    ("GOOGLE_REDIRECT_URI", "http://localhost:8000/cb"),
                ],
                "GOOGLE_CLIENT_SECRET",
            ),
        ] {
            assert_eq!(parse(vars).unwrap_err().name, at_fault);
        }
    }

    #[test]
    fn url_passwords_are_found_only_in_the_userinfo() {
        assert_eq!(url_password("postgres://u:pw@h:5432/db"), Some("pw"));
        assert_eq!(url_password("postgres://u@h/db"), None);
        assert_eq!(url_password("postgres://h/db?user=x@y"), None);
        assert_eq!(url_password("smtps://u:p:q@h:465"), Some("p:q"));
    }

    #[test]
    fn production_refuses_unencrypted_remote_smtp() {
        let with = |url: &'static str| production(&[("SMTP_URL", url)]);
        assert_eq!(
            with("smtp://user:pw@mail.shop.test:587").unwrap_err().name,
            "SMTP_URL"
        );
        assert!(with("smtp://user:pw@mail.shop.test:587?tls=required").is_ok());
        assert!(with("smtps://mail.shop.test:465").is_ok());
        assert!(with("smtp://localhost:25").is_ok());
    }
}
