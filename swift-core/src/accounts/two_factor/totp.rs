//! RFC 6238 time-based codes (computed by totp-rs), recovery codes, and the sealing of TOTP
//! secrets at rest. Pure functions: the clock and the keys are arguments.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};
use uuid::Uuid;

use crate::accounts::tokens::keyed_digest;

/// What every authenticator app does by default: SHA-1, six digits, 30-second steps.
const DIGITS: u8 = 6;
const STEP_SECONDS: u64 = 30;
/// One step either side, for clocks a little off and codes typed at a step's end (RFC 6238
/// section 5.2 recommends one).
const SKEW: u16 = 1;
/// 160 bits, the size RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

/// A new random TOTP secret.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    secret
}

fn totp(algorithm: Algorithm, digits: u8, secret: &[u8], issuer: &str, account: &str) -> Totp {
    Builder::new()
        .with_algorithm(algorithm)
        .with_digits(digits)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECONDS)
        .with_secret(Secret::new(secret.into()))
        // otpauth labels are "issuer:account"; a colon in either would split them wrongly.
        .with_issuer(Some(issuer.replace(':', " ")))
        .with_account_name(account.replace(':', " "))
        .build()
        .expect("a 160-bit secret, 6 digits and a 30 s step are valid")
}

fn app_totp(secret: &[u8]) -> Totp {
    totp(Algorithm::SHA1, DIGITS, secret, "SWIFT", "account")
}

/// The secret as authenticator apps take it when typed in (base32).
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::new(secret.into()).to_base32()
}

/// The secret's bytes back from its base32 form (what an app does when it is typed in).
pub fn secret_from_base32(text: &str) -> Option<Vec<u8>> {
    Secret::try_from_base32(text)
        .ok()
        .map(|s| s.as_bytes().to_vec())
}

/// The `otpauth://totp/...` URI a QR code carries, labelled with the shop and the account.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    totp(Algorithm::SHA1, DIGITS, secret, issuer, account)
        .to_url()
        .expect("the URI of a valid TOTP")
}

/// The code an app shows at `unix_time` (tests and the TypeScript example compute the same).
pub fn code_at(secret: &[u8], unix_time: u64) -> String {
    app_totp(secret).generate(unix_time).to_string()
}

/// The time step `code` belongs to, when it is right for `unix_time` give or take one step.
/// The caller must still refuse a step already used (RFC 6238 section 5.2).
pub fn matching_step(secret: &[u8], code: &str, unix_time: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    app_totp(secret).check(&code, unix_time)
}

/// Encrypts a secret for the database: a random nonce, then AES-256-GCM with the user's id
/// as associated data, so a sealed secret copied onto another user's row does not open.
pub fn seal(key: &[u8; 32], user_id: Uuid, secret: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: secret,
                aad: user_id.as_bytes(),
            },
        )
        .expect("AES-GCM encrypts any secret this size");
    [nonce.as_slice(), &sealed].concat()
}

/// The secret back, or `None` when the key or the row is not the one it was sealed with.
pub fn open(key: &[u8; 32], user_id: Uuid, sealed: &[u8]) -> Option<Vec<u8>> {
    let (nonce, ciphertext) = sealed.split_at_checked(12)?;
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    Aes256Gcm::new(key.into())
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: user_id.as_bytes(),
            },
        )
        .ok()
}

/// How many recovery codes an account holds after enrolment or regeneration.
pub const RECOVERY_CODES: usize = 10;
/// Crockford's base32 alphabet: no I, L, O or U to misread.
const RECOVERY_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Ten new codes, `xxxxx-xxxxx` (50 random bits each).
pub fn new_recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rng.fill_bytes(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b % 32)]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// A recovery code as typed (any case, with or without the dash or spaces, O for 0, I or
/// L for 1) in its one canonical form; `None` when it cannot be one.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        })
        .collect();
    (code.len() == 10 && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(code)
}

/// What the database keeps of a recovery code: a keyed hash, so a copy of the table alone
/// cannot be searched for the codes (50 bits would fall to an unkeyed brute force).
pub fn recovery_code_hash(key: &[u8; 32], user_id: Uuid, canonical: &str) -> Vec<u8> {
    let message = [user_id.as_bytes().as_slice(), canonical.as_bytes()].concat();
    keyed_digest(key, "recovery-code", &message).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the reference implementation's codes for its three secrets.
    const TIMES: [u64; 6] = [
        59,
        1_111_111_109,
        1_111_111_111,
        1_234_567_890,
        2_000_000_000,
        20_000_000_000,
    ];
    const SHA1: [&str; 6] = [
        "94287082", "07081804", "14050471", "89005924", "69279037", "65353130",
    ];
    const SHA256: [&str; 6] = [
        "46119246", "68084774", "67062674", "91819424", "90698825", "77737706",
    ];
    const SHA512: [&str; 6] = [
        "90693936", "25091201", "99943326", "93441116", "38618901", "47863826",
    ];

    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let sha1_key = b"12345678901234567890";
        let sha256_key = b"12345678901234567890123456789012";
        let sha512_key = b"1234567890123456789012345678901234567890123456789012345678901234";
        for (algorithm, key, expected) in [
            (Algorithm::SHA1, &sha1_key[..], SHA1),
            (Algorithm::SHA256, &sha256_key[..], SHA256),
            (Algorithm::SHA512, &sha512_key[..], SHA512),
        ] {
            let eight = totp(algorithm, 8, key, "RFC", "6238");
            for (time, code) in TIMES.iter().zip(expected) {
                assert_eq!(
                    eight.generate(*time).to_string(),
                    code,
                    "{algorithm:?} at {time}"
                );
            }
        }
    }

    /// The codes the shop asks for are the six-digit form of the same truncation: the last
    /// six digits of the RFC's eight.
    #[test]
    fn app_codes_are_the_rfc_codes_in_six_digits() {
        let key = b"12345678901234567890";
        for (time, code) in TIMES.iter().zip(SHA1) {
            assert_eq!(code_at(key, *time), &code[2..]);
            assert_eq!(matching_step(key, &code[2..], *time), Some(time / 30));
        }
    }

    #[test]
    fn a_code_is_good_one_step_either_side_and_no_further() {
        let key = new_secret();
        let t = 1_700_000_000;
        let code = code_at(&key, t);
        assert_eq!(matching_step(&key, &code, t - 30), Some(t / 30));
        assert_eq!(matching_step(&key, &code, t + 30), Some(t / 30));
        assert_eq!(matching_step(&key, &code, t + 90), None);
        assert_eq!(
            matching_step(&key, &format!("{} {}", &code[..3], &code[3..]), t),
            Some(t / 30)
        );
        assert_eq!(matching_step(&key, "12345", t), None);
        assert_eq!(matching_step(&key, "abcdef", t), None);
        assert_eq!(matching_step(&key, "1234567", t), None);
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_user() {
        let key = [7u8; 32];
        let user = Uuid::now_v7();
        let secret = new_secret();
        let sealed = seal(&key, user, &secret);
        assert_ne!(&sealed[12..], secret.as_slice());
        assert_eq!(open(&key, user, &sealed), Some(secret.clone()));
        assert_eq!(open(&[8u8; 32], user, &sealed), None);
        assert_eq!(open(&key, Uuid::now_v7(), &sealed), None);
        assert_eq!(open(&key, user, &sealed[..10]), None);
        assert_ne!(seal(&key, user, &secret), sealed, "a fresh nonce each time");
    }

    #[test]
    fn otpauth_uri_names_the_shop_and_account() {
        let secret = b"12345678901234567890";
        let uri = otpauth_uri(secret, "Tea: Shop", "ada@example.com");
        assert!(
            uri.starts_with("otpauth://totp/Tea%20%20Shop:ada%40example.com?"),
            "{uri}"
        );
        assert!(
            uri.contains(&format!("secret={}", secret_base32(secret))),
            "{uri}"
        );
        assert!(uri.contains("issuer=Tea%20%20Shop"), "{uri}");
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_read_forgivingly() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(
            codes.iter().collect::<std::collections::HashSet<_>>().len(),
            10
        );
        for code in &codes {
            assert_eq!(code.len(), 11);
            let canonical = normalise_recovery_code(code).unwrap();
            assert_eq!(
                normalise_recovery_code(&code.to_uppercase()).as_deref(),
                Some(canonical.as_str())
            );
            assert_eq!(
                normalise_recovery_code(&code.replace('-', " ")).as_deref(),
                Some(canonical.as_str())
            );
        }
        assert_eq!(
            normalise_recovery_code("OIL00-11111").as_deref(),
            Some("0110011111")
        );
        assert_eq!(normalise_recovery_code("abcde-fghj"), None);
        assert_eq!(
            normalise_recovery_code("abcde-fghju"),
            None,
            "u is not in the alphabet"
        );
        let key = [1u8; 32];
        let user = Uuid::now_v7();
        assert_eq!(
            recovery_code_hash(&key, user, "0110011111"),
            recovery_code_hash(&key, user, "0110011111")
        );
        assert_ne!(
            recovery_code_hash(&key, user, "0110011111"),
            recovery_code_hash(&key, Uuid::now_v7(), "0110011111")
        );
    }
}
