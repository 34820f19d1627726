//! Password hashing (argon2id) and strength rules.
//!
//! Hashing is CPU-bound by design; callers in async code run it on the blocking pool, a
//! bounded number at a time (`accounts::service`).
//!
//! Each hash needs 19 MiB of working memory. Allocating it per call made glibc keep every
//! freed buffer in one of its per-thread arenas: a burst of 600 failed sign-ins left the
//! server at 1.3 GB for good. The buffers are therefore allocated once and reused
//! ([`with_memory`]): memory stays at (concurrent hashes) × 19 MiB whatever the traffic.

use std::sync::{LazyLock, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// OWASP's recommended argon2id setting: 19 MiB of memory, 2 passes, 1 lane.
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters")
}

/// Longest accepted password: argon2 cost grows with input and nobody types more.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Shortest accepted password (docs/API.md).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Working memory of finished hashes, kept for the next one. Never more buffers than hashes
/// ever ran at once, which the service's semaphore bounds.
static BUFFERS: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

/// Runs `f` with `blocks` blocks of argon2 working memory, reusing a kept buffer when one of
/// the standard size is free. argon2 writes every block before reading it, so what a buffer
/// held before does not matter (`reused_buffers_give_the_same_hashes` checks it).
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let standard = params().block_count();
    let kept = if blocks == standard {
        BUFFERS.lock().unwrap_or_else(|e| e.into_inner()).pop()
    } else {
        None
    };
    let mut buffer = kept.unwrap_or_else(|| vec![Block::default(); blocks]);
    let result = f(&mut buffer);
    if blocks == standard {
        BUFFERS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(buffer);
    }
    result
}

/// How many working-memory buffers are kept (each 19 MiB).
#[cfg(test)]
pub(crate) fn kept_buffers() -> usize {
    BUFFERS.lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// argon2 over `password` and the raw `salt`, into `out`, in reused memory.
fn compute(argon: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    with_memory(argon.params().block_count(), |memory| {
        argon
            .hash_password_into_with_memory(password, salt, out, memory)
            .is_ok()
    })
}

/// Hashes a password into a PHC string (algorithm, parameters and salt included), the same
/// string `argon2`'s own `hash_password` writes.
pub fn hash(password: &str) -> String {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_bytes)
        .expect("a generated salt decodes");
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    assert!(
        compute(&argon, password.as_bytes(), raw_salt, &mut out),
        "argon2 hashing cannot fail with valid parameters"
    );
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).expect("parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("output length")),
    }
    .to_string()
}

/// Checks a password against a stored PHC string (with the parameters it names); false for
/// any malformed hash. The comparison is constant-time (`Output`'s equality).
pub fn verify(password: &str, phc: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    compute(&argon, password.as_bytes(), raw_salt, &mut out)
        && Output::new(&out).is_ok_and(|computed| computed == expected)
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

    /// Our PHC strings are argon2's own, both ways, and a dirty reused buffer changes nothing.
    #[test]
    fn reused_buffers_give_the_same_hashes() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        // Leave a buffer full of another password's state in the pool first.
        let ours = hash("first password, fills the buffer");
        assert!(
            BUFFERS
                .lock()
                .unwrap()
                .iter()
                .all(|b| b.len() == params().block_count())
        );
        let ours_again = hash("plum-Orbit-cactus-42");
        for phc in [&ours, &ours_again] {
            let parsed = PasswordHash::new(phc).unwrap();
            assert!(reference.verify_password(b"nope", &parsed).is_err());
        }
        let parsed = PasswordHash::new(&ours_again).unwrap();
        reference
            .verify_password(b"plum-Orbit-cactus-42", &parsed)
            .unwrap();
        let theirs = reference
            .hash_password(b"plum-Orbit-cactus-42", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(verify("plum-Orbit-cactus-42", &theirs));
        assert!(!verify("plum-Orbit-cactus-43", &theirs));
        // Other parameters (an older hash) are verified with their own memory size.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"old one", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(verify("old one", &small));
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
