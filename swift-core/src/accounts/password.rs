//! Password hashing (argon2id) and strength rules.
//!
//! Hashing is CPU-bound by design; callers in async code run it on the blocking pool.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP's recommended argon2id setting: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Longest accepted password: argon2 cost grows with input and nobody types more.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Shortest accepted password (docs/API.md).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Hashes a password into a PHC string (algorithm, parameters and salt included).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid parameters")
        .to_string()
}

/// Checks a password against a stored PHC string; false for any malformed hash.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash that matches no password; verifying against it when an email is unknown makes a
/// failed login take as long as one with a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash("no account has this password"));

/// Spends the time of one verification, for unknown accounts.
pub fn verify_dummy(password: &str) {
    let _ = verify(password, &DUMMY_HASH);
}

/// docs/API.md: at least 8 characters, not too similar to the account's email or names, not a
/// common or all-numeric password. zxcvbn estimates guessability, with the account's own
/// details as extra dictionary words; score 3 means "safely unguessable" for online attacks.
pub fn check_strength(password: &str, user_inputs: &[&str]) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!("must be at most {MAX_PASSWORD_CHARS} characters"));
    }
    if password.chars().all(|c| c.is_ascii_digit()) {
        return Err("must not be entirely numeric".into());
    }
    if password.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    let normalized = alnum_lower(password);
    for input in user_inputs {
        let local = alnum_lower(input.split('@').next().unwrap_or_default());
        if local.len() >= 4 && (normalized.contains(&local) || local.contains(&normalized)) {
            return Err("is too similar to your email or name".into());
        }
    }
    // Email local parts and domains are dictionary words too ("alice", "example").
    let mut inputs: Vec<&str> = Vec::new();
    for input in user_inputs {
        inputs.push(input);
        inputs.extend(
            input
                .split(['@', '.', '_', '-', '+'])
                .filter(|p| p.len() >= 3),
        );
    }
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if u8::from(estimate.score()) < 3 {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "it is too easy to guess".into());
        return Err(format!(
            "this password is too weak: {hint}. Add words or symbols"
        ));
    }
    Ok(())
}

fn alnum_lower(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("correct horse battery staple");
        let b = hash("correct horse battery staple");
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("wrong", &a));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_strength("short1!", &[]).is_err());
        assert!(check_strength("12345678901", &[]).is_err());
        assert!(check_strength("password1", &[]).is_err());
        assert!(check_strength("qwertyuiop", &[]).is_err());
        assert!(
            check_strength(
                "margaretthatcher2024",
                &["margaretthatcher2024@example.com"]
            )
            .is_err()
        );
        assert!(check_strength("carol.smith.example", &["carol.smith@example.com"]).is_err());
        assert!(check_strength("plum-Orbit-cactus-42", &["alice@example.com"]).is_ok());
    }
}
