//! The text rules of swift-core's parsers, as the regular expressions the OpenAPI document
//! states, each with the words the API answers when a value breaks it.
//!
//! The document carries them (`openapi::PATTERNS`) so that a generated client, Swagger UI and
//! schemathesis know what the server accepts; the body check (`middleware::body_schema`)
//! enforces them and answers with `message`. The parsers in swift-core stay the authority —
//! these patterns are never looser than they are (a test below holds them to that).
//!
//! Each pattern is written in the common subset of Rust's `regex`, ECMA-262 (what clients
//! and Swagger UI use) and Python's `re` (what schemathesis generates from): `\xHH` escapes,
//! classes and counted repetition only, no look-around.

/// One rule: the pattern, and what the API says when a value breaks it.
pub struct Rule {
    pub pattern: &'static str,
    pub message: &'static str,
}

/// Names, address lines, notes: no control characters (`char::is_control`), as
/// `swift_core::validation::plain_text` requires.
pub const TEXT: Rule = Rule {
    pattern: r"^[^\x00-\x1f\x7f-\x9f]*$",
    message: "control characters are not allowed",
};

/// Plain text that must also hold something besides spaces (a product name, an address's
/// first line).
pub const REQUIRED_TEXT: Rule = Rule {
    pattern: r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
    message: "is required",
};

/// Descriptions: line breaks and tabs allowed, other control characters not.
pub const MULTILINE_TEXT: Rule = Rule {
    pattern: r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$",
    message: "control characters other than line breaks and tabs are not allowed",
};

/// `swift_core::catalog::Slug`.
pub const SLUG: Rule = Rule {
    pattern: r"^[a-z0-9]+(-[a-z0-9]+)*$",
    message: "must be lower-case letters, digits and single hyphens, such as walnut-mug",
};

/// `swift_core::catalog::Sku`.
pub const SKU: Rule = Rule {
    pattern: r"^[A-Za-z0-9._-]{1,64}$",
    message: "1 to 64 letters, digits, '-', '_' or '.'",
};

/// A shipping address's phone number.
pub const PHONE: Rule = Rule {
    pattern: r"^[0-9 +().-]*$",
    message: "digits, spaces and + - ( ) . only",
};

/// The parts of the password rules a pattern can say: not only digits, no NUL. (Length is
/// `minLength`/`maxLength`; guessability is judged by the server alone.)
pub const NEW_PASSWORD: Rule = Rule {
    pattern: r"^[^\x00]*[^0-9\x00][^\x00]*$",
    message: "must not be entirely numeric or contain NUL characters",
};

/// An absolute http(s) URL with a host.
pub const HTTP_URL: Rule = Rule {
    pattern: r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?$",
    message: "must be an absolute http(s) URL",
};

/// The `Idempotency-Key` header (`swift_core::idempotency::IdempotencyKey`).
pub const IDEMPOTENCY_KEY: Rule = Rule {
    pattern: r"^[!-~]{1,255}$",
    message: "1 to 255 visible ASCII characters",
};

/// Money strings (`api::money`).
pub const MONEY: Rule = Rule {
    pattern: r"^\d{1,10}\.\d{2}$",
    message: "must be an amount with two decimals, such as 19.99",
};

const ALL: &[&Rule] = &[
    &TEXT,
    &REQUIRED_TEXT,
    &MULTILINE_TEXT,
    &SLUG,
    &SKU,
    &PHONE,
    &NEW_PASSWORD,
    &HTTP_URL,
    &IDEMPOTENCY_KEY,
    &MONEY,
];

/// What the API says about `text`, which breaks `pattern`.
pub fn message_for(pattern: &str, text: &str) -> String {
    if pattern == REQUIRED_TEXT.pattern && !text.trim().is_empty() {
        // Not blank, so it broke the other half of the rule.
        return TEXT.message.to_owned();
    }
    message(pattern)
}

/// What the API says about a value that breaks `pattern`; the pattern itself for one this
/// module does not know.
pub fn message(pattern: &str) -> String {
    ALL.iter()
        .find(|r| r.pattern == pattern)
        .map(|r| r.message.to_owned())
        .unwrap_or_else(|| format!("must match {pattern}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;
    use swift_core::validation::plain_text;

    fn accepts(rule: &Rule, text: &str) -> bool {
        Regex::new(rule.pattern).unwrap().is_match(text)
    }

    /// Every value a pattern lets through, the parser accepts too: a client that checks the
    /// pattern is never surprised by a 400 for the same rule.
    #[test]
    fn patterns_are_never_looser_than_the_parsers() {
        let samples = [
            "",
            " ",
            "Ada",
            "  Ada  ",
            "a\u{0}b",
            "a\nb",
            "a\tb",
            "\u{7f}",
            "\u{85}x",
            "x\u{9f}",
            "Café Crème",
            "0",
            "12345678",
            "1234567a",
            "walnut-mug",
            "walnut--mug",
            "-a",
            "A-1",
            "AB.c_d-9",
            "+44 (0)20 7946-0000",
            "http://x",
            "https://shop.example/p?q=1#top",
            "ftp://x",
            "http://",
            "http:// x",
            "key-1",
            "\u{2028}",
            "\u{200b}",
        ];
        for s in samples {
            if accepts(&TEXT, s) {
                assert!(plain_text("f", s, 1000).is_ok(), "TEXT {s:?}");
            }
            if accepts(&REQUIRED_TEXT, s) {
                assert!(
                    plain_text("f", s, 1000).is_ok_and(|v| !v.is_empty()),
                    "REQUIRED_TEXT {s:?}"
                );
            }
            if accepts(&MULTILINE_TEXT, s) {
                assert!(
                    swift_core::catalog::types::parse_description(s).is_ok(),
                    "MULTILINE_TEXT {s:?}"
                );
            }
            if accepts(&SLUG, s) && s.len() <= 120 {
                assert!(
                    swift_core::catalog::types::Slug::parse("slug", s).is_ok(),
                    "SLUG {s:?}"
                );
            }
            if accepts(&SKU, s) {
                assert!(
                    swift_core::catalog::types::Sku::parse(s).is_ok(),
                    "SKU {s:?}"
                );
            }
            if accepts(&NEW_PASSWORD, s) && s.chars().count() >= 8 {
                let strength = swift_core::accounts::password::check_strength(s, &[]);
                assert!(
                    strength.as_ref().is_ok()
                        || strength.as_ref().is_err_and(|m| m.contains("weak")),
                    "NEW_PASSWORD {s:?}: {strength:?}"
                );
            }
            if accepts(&HTTP_URL, s) {
                assert!(reqwest::Url::parse(s).is_ok(), "HTTP_URL {s:?}");
            }
            if accepts(&IDEMPOTENCY_KEY, s) {
                assert!(
                    swift_core::idempotency::IdempotencyKey::parse(s.as_bytes()).is_ok(),
                    "IDEMPOTENCY_KEY {s:?}"
                );
            }
        }
    }

    /// And they refuse what the parsers refuse, for the cases each rule is about.
    #[test]
    fn patterns_refuse_what_the_parsers_refuse() {
        for s in ["a\u{0}b", "a\nb", "\u{7f}", "x\u{9f}"] {
            assert!(!accepts(&TEXT, s), "{s:?}");
            assert!(!accepts(&REQUIRED_TEXT, s), "{s:?}");
        }
        for s in ["", " ", "\t"] {
            assert!(!accepts(&REQUIRED_TEXT, s), "{s:?}");
        }
        assert!(accepts(&MULTILINE_TEXT, "line\nnext\ttab"));
        assert!(!accepts(&MULTILINE_TEXT, "bell\u{7}"));
        assert!(!accepts(&SLUG, "walnut--mug"));
        assert!(!accepts(&SKU, "has space"));
        assert!(!accepts(&PHONE, "call me"));
        assert!(!accepts(&NEW_PASSWORD, "12345678"));
        assert!(!accepts(&NEW_PASSWORD, "abc\u{0}defgh"));
        assert!(!accepts(&HTTP_URL, "ftp://x"));
        assert!(!accepts(&HTTP_URL, "http://"));
        assert!(!accepts(&IDEMPOTENCY_KEY, "has space"));
        assert!(!accepts(&IDEMPOTENCY_KEY, &"k".repeat(256)));
        assert!(accepts(&IDEMPOTENCY_KEY, "order-2026-11-25-0001"));
    }

    #[test]
    fn every_rule_has_its_message() {
        for rule in ALL {
            assert_eq!(message(rule.pattern), rule.message);
        }
        assert_eq!(message("^x$"), "must match ^x$");
        assert_eq!(message_for(REQUIRED_TEXT.pattern, "  "), "is required");
        assert_eq!(
            message_for(REQUIRED_TEXT.pattern, "a\u{7}"),
            "control characters are not allowed"
        );
    }
}
