//! A real OpenID Provider on a random local port, for driving the server's openidconnect
//! code end to end: discovery, JWKS with RSA keys generated here, an authorization endpoint
//! that redirects back with a code, and a token endpoint that checks the client secret and
//! the PKCE verifier and returns an RS256-signed id_token. Knobs make it misbehave.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Form, Json, Query};
use poem::{EndpointExt, Request, Response, Route, get, handler, post};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "swift-test-client";
pub const CLIENT_SECRET: &str = "swift-test-secret";

/// Who signs in at the provider next.
#[derive(Clone, Debug)]
pub struct Person {
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub hd: Option<String>,
}

impl Person {
    pub fn new(sub: &str, email: &str) -> Self {
        Self {
            sub: sub.into(),
            email: email.into(),
            email_verified: true,
            given_name: Some("Grace".into()),
            family_name: Some("Hopper".into()),
            hd: None,
        }
    }
}

/// Ways to make the next id_tokens wrong.
#[derive(Clone, Debug, Default)]
pub struct Tweaks {
    pub audience: Option<String>,
    pub issuer: Option<String>,
    pub expired: bool,
    pub bad_signature: bool,
    pub nonce: Option<String>,
    pub deny_consent: bool,
}

struct Grant {
    nonce: Option<String>,
    challenge: String,
    redirect_uri: String,
    person: Person,
}

struct State {
    issuer: String,
    /// (kid, key); the last one signs.
    keys: Mutex<Vec<(String, RsaPrivateKey)>>,
    codes: Mutex<HashMap<String, Grant>>,
    person: Mutex<Person>,
    tweaks: Mutex<Tweaks>,
}

#[derive(Clone)]
pub struct TestProvider {
    pub issuer: String,
    state: Arc<State>,
}

fn new_key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key")
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl TestProvider {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    /// On a fixed address (CI's stand-in for Google, see examples/oidc_provider.rs).
    pub async fn start_on(addr: &str) -> Self {
        let acceptor = TcpListener::bind(addr.to_owned())
            .into_acceptor()
            .await
            .unwrap();
        let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
        let issuer = format!("http://{addr}");
        let state = Arc::new(State {
            issuer: issuer.clone(),
            keys: Mutex::new(vec![("key-1".into(), new_key())]),
            codes: Mutex::new(HashMap::new()),
            person: Mutex::new(Person::new("google-sub-1", "grace@example.com")),
            tweaks: Mutex::new(Tweaks::default()),
        });
        let app = Route::new()
            .at("/.well-known/openid-configuration", get(discovery))
            .at("/jwks", get(jwks))
            .at("/authorize", get(authorize))
            .at("/token", post(token))
            .data(state.clone());
        tokio::spawn(async move { poem::Server::new_with_acceptor(acceptor).run(app).await });
        Self { issuer, state }
    }

    /// Configuration for a SWIFT instance using this provider; `{base}` is the instance.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GOOGLE_CLIENT_ID", CLIENT_ID.into()),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET.into()),
            (
                "GOOGLE_REDIRECT_URI",
                "{base}/api/v1/auth/google/callback".into(),
            ),
            ("OIDC_ISSUER_URL", self.issuer.clone()),
            ("OIDC_HTTP_TIMEOUT_SECONDS", "3".into()),
        ]
    }

    pub fn sign_in_as(&self, person: Person) {
        *self.state.person.lock().unwrap() = person;
    }

    pub fn tweak(&self, f: impl FnOnce(&mut Tweaks)) {
        f(&mut self.state.tweaks.lock().unwrap());
    }

    /// Publishes a new signing key (kid `key-N`); the JWKS carries old and new keys.
    pub fn rotate_key(&self) {
        let mut keys = self.state.keys.lock().unwrap();
        let kid = format!("key-{}", keys.len() + 1);
        keys.push((kid, new_key()));
    }

    /// An id_token as Google Identity Services would hand a frontend.
    pub fn id_token(&self, person: &Person, audience: &str) -> String {
        mint(&self.state, person, audience, None)
    }
}

fn mint(state: &State, person: &Person, audience: &str, nonce: Option<&str>) -> String {
    let tweaks = state.tweaks.lock().unwrap().clone();
    let now = chrono::Utc::now().timestamp();
    let (iat, exp) = if tweaks.expired {
        (now - 7200, now - 3600)
    } else {
        (now, now + 3600)
    };
    let mut claims = json!({
        "iss": tweaks.issuer.clone().unwrap_or_else(|| state.issuer.clone()),
        "sub": person.sub,
        "aud": tweaks.audience.clone().unwrap_or_else(|| audience.to_owned()),
        "iat": iat,
        "exp": exp,
        "email": person.email,
        "email_verified": person.email_verified,
    });
    if let Some(n) = tweaks.nonce.as_deref().or(nonce) {
        claims["nonce"] = json!(n);
    }
    for (key, value) in [
        ("given_name", &person.given_name),
        ("family_name", &person.family_name),
        ("hd", &person.hd),
    ] {
        if let Some(v) = value {
            claims[key] = json!(v);
        }
    }
    let keys = state.keys.lock().unwrap();
    let (kid, key) = keys.last().unwrap();
    let signing_key = if tweaks.bad_signature {
        new_key()
    } else {
        key.clone()
    };
    let der = signing_key.to_pkcs1_der().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.clone());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
    )
    .unwrap()
}

#[handler]
fn discovery(state: Data<&Arc<State>>) -> Json<Value> {
    let i = &state.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "email", "email_verified", "given_name", "family_name", "hd"],
    }))
}

#[handler]
fn jwks(state: Data<&Arc<State>>) -> Json<Value> {
    let keys: Vec<Value> = state
        .keys
        .lock()
        .unwrap()
        .iter()
        .map(|(kid, key)| {
            json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            })
        })
        .collect();
    Json(json!({ "keys": keys }))
}

fn redirect(location: String) -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location)
        .finish()
}

#[handler]
fn authorize(state: Data<&Arc<State>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let redirect_uri = get("redirect_uri");
    let ok = get("client_id") == CLIENT_ID
        && get("response_type") == "code"
        && get("code_challenge_method") == "S256"
        && !get("code_challenge").is_empty()
        && get("scope").split(' ').any(|s| s == "openid");
    if !ok {
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body("bad authorization request");
    }
    if state.tweaks.lock().unwrap().deny_consent {
        return redirect(format!(
            "{redirect_uri}?error=access_denied&state={}",
            get("state")
        ));
    }
    let code = random();
    state.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            nonce: q.get("nonce").cloned(),
            challenge: get("code_challenge"),
            redirect_uri: redirect_uri.clone(),
            // OpenID Connect's `login_hint` picks the account, as Google's account chooser
            // does: the fuzzer's hooks connect fresh identities that way.
            person: match q.get("login_hint") {
                Some(hint) => Person::new(&format!("google-sub-{hint}"), hint),
                None => state.person.lock().unwrap().clone(),
            },
        },
    );
    redirect(format!("{redirect_uri}?code={code}&state={}", get("state")))
}

fn token_error(error: &str) -> Response {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .content_type("application/json")
        .body(json!({ "error": error }).to_string())
}

#[handler]
fn token(
    state: Data<&Arc<State>>,
    req: &Request,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // Client authentication: HTTP Basic (openidconnect's default) or form fields.
    let basic = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let credentials = basic.or_else(|| {
        Some(format!(
            "{}:{}",
            form.get("client_id")?,
            form.get("client_secret")?
        ))
    });
    if credentials.as_deref() != Some(&format!("{CLIENT_ID}:{CLIENT_SECRET}")) {
        return token_error("invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return token_error("unsupported_grant_type");
    }
    let Some(grant) = form
        .get("code")
        .and_then(|c| state.codes.lock().unwrap().remove(c))
    else {
        return token_error("invalid_grant");
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return token_error("invalid_grant");
    }
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return token_error("invalid_grant");
    }
    let id_token = mint(&state, &grant.person, CLIENT_ID, grant.nonce.as_deref());
    Response::builder().content_type("application/json").body(
        json!({ "access_token": random(), "token_type": "Bearer", "expires_in": 3600, "id_token": id_token }).to_string(),
    )
}
