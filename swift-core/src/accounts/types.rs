//! Account domain types. Input types parse once at the edge and cannot hold bad values.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::validation::{Invalid, plain_text};

/// An email address, trimmed and lower-cased: the login name, unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain.tld` of at most 254 characters, without spaces or control
    /// characters; deliverability is proven by the verification mail, not by a regex.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim().to_lowercase();
        let bad = || Invalid::new("email", "enter a valid email address");
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(bad());
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A first or last name: trimmed, at most 150 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        plain_text(field, raw, 150).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that passed the strength rules of docs/API.md for the account it will protect.
pub struct NewPassword(String);

impl NewPassword {
    /// `field` names the request field in errors (`password`, `new_password`); `user_inputs`
    /// (email, names) make passwords built from them count as weak.
    pub fn parse(field: &'static str, raw: &str, user_inputs: &[&str]) -> Result<Self, Invalid> {
        super::password::check_strength(raw, user_inputs).map_err(|m| Invalid::new(field, m))?;
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// Who is calling: used for rate limits and shown in the session list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// A user as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    #[sqlx(default)]
    pub password_hash: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email_verified: bool,
    pub is_staff: bool,
    pub is_active: bool,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    pub password_changed_at: DateTime<Utc>,
}

impl User {
    pub fn has_password(&self) -> bool {
        self.password_hash.is_some()
    }
}

/// A signed-in session (one refresh-token family) as its owner sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a b@example.com",
            "a@b",
            "a@.com",
            "a@x..com",
            "a\0@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_refuse_control_characters() {
        assert!(PersonName::parse("first_name", "Ada\u{0}").is_err());
        assert_eq!(
            PersonName::parse("first_name", " Ada ").unwrap().as_str(),
            "Ada"
        );
        assert!(PersonName::parse("first_name", &"x".repeat(151)).is_err());
    }
}
