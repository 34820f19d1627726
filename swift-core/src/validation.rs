//! The error every domain newtype returns when input does not parse.

/// One field of a request that cannot become a domain value; rendered as a 400
/// `validation_error` entry naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Free text from users: PostgreSQL rejects NUL bytes in `text`, and control characters have
/// no business in names, so both are refused here rather than failing in SQL.
pub fn plain_text(field: &'static str, value: &str, max_chars: usize) -> Result<String, Invalid> {
    let value = value.trim();
    if value.chars().count() > max_chars {
        return Err(Invalid::new(
            field,
            format!("at most {max_chars} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Invalid::new(field, "control characters are not allowed"));
    }
    Ok(value.to_owned())
}
