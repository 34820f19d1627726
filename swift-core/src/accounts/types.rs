//! Account domain types. Input types parse once at the edge and cannot hold bad values.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::validation::{Invalid, plain_text};

/// An email address in one canonical form: the login name, unique case-insensitively, and
/// the mailbox every mail goes to. Two spellings of one mailbox must not become two
/// accounts, and nothing a mail library would rewrite (`<x@d>`, `"x"@d`) gets in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Characters RFC 5322 allows in a dot-atom local part besides letters and digits.
const ATEXT_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";

/// Unicode format characters (general category Cf): invisible, so `x@d` and `x@d` followed
/// by a zero-width space would look the same to a person.
fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}' | '\u{070F}'
        | '\u{0890}'..='\u{0891}' | '\u{08E2}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{110BD}' | '\u{110CD}'
        | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

fn is_dot_atom(local: &str) -> bool {
    (1..=64).contains(&local.len())
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ATEXT_SPECIALS.contains(c))
        })
}

/// A host name of LDH labels (after IDNA), with at least two labels and an alphabetic
/// top-level one (so no IP addresses, bracketed or bare).
fn is_hostname(ascii: &str) -> bool {
    let labels: Vec<&str> = ascii.split('.').collect();
    ascii.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()))
}

impl Email {
    /// Accepts `local@domain` where the local part is an RFC 5322 dot-atom (ASCII, no
    /// quotes, no brackets, no commas) and the domain a host name, internationalised ones
    /// included. The result is canonical: lower case, and the domain in its ASCII (IDNA)
    /// form, so full-width or otherwise equivalent spellings meet the same account.
    /// Deliverability is proven by the verification mail, not here.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                "email",
                "enter a valid email address, such as ada@example.com",
            )
        };
        let value = raw.trim();
        if value.len() > 254
            || value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || is_format_char(c))
        {
            return Err(bad());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(bad)?;
        if !is_dot_atom(local) {
            return Err(bad());
        }
        let domain = idna::domain_to_ascii_strict(domain).map_err(|_| bad())?;
        if !is_hostname(&domain) {
            return Err(bad());
        }
        let canonical = format!("{}@{domain}", local.to_ascii_lowercase());
        if canonical.len() > 254 {
            return Err(bad());
        }
        Ok(Self(canonical))
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

    /// Issue #12.8: every spelling the review used to make a second account for one
    /// mailbox, or an address a mail library would rewrite, is refused or folded into the
    /// canonical form.
    #[test]
    fn look_alikes_and_rewritable_addresses_are_refused_or_folded() {
        for bad in [
            "x@example.com\u{200b}", // zero-width space
            "x\u{200b}@example.com",
            "x@exam\u{00ad}ple.com", // soft hyphen
            "x\u{202e}@example.com", // right-to-left override
            "\"x\"@example.com",     // quoted local part
            "<x@example.com>",
            "a,x@example.com",
            "x@[127.0.0.1]",
            "x@127.0.0.1",
            "аlice@example.com", // Cyrillic а in the local part
            "ｘ@example.com",    // full-width local part
            ".x@example.com",
            "x.@example.com",
            "x..y@example.com",
            "x@-example.com",
            "x@exa_mple.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        // Full-width and upper-case domains are the same domain: one account, not two.
        assert_eq!(
            Email::parse("X@ＥＸＡＭＰＬＥ．ｃｏｍ").unwrap().as_str(),
            "x@example.com"
        );
        // Internationalised domains are kept, in their ASCII form.
        assert_eq!(
            Email::parse("anna@bücher.example").unwrap().as_str(),
            "anna@xn--bcher-kva.example"
        );
        for good in ["o'brien+shop@example.co.uk", "a.b-c_d@sub.example.org"] {
            assert_eq!(Email::parse(good).unwrap().as_str(), good);
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
