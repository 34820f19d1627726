//! `/api/v1/auth/two-factor…` and `/api/v1/auth/methods…`: two-factor sign-in and the ways
//! an account signs in (#19). The rules live in `swift_core::accounts::two_factor` and
//! `swift_core::oauth::methods`.

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use swift_core::accounts::two_factor;
use swift_core::oauth::methods::{self, Method, SignInMethod};

use super::ApiTags;
use super::auth::NoContent;
use super::google::GoogleLoginRequest;
use crate::AppState;
use crate::auth::Auth;
use crate::client::client_info;
use crate::problem::ApiResult;

/// Where the account's two-factor sign-in stands.
#[derive(Object)]
#[oai(rename = "TwoFactorStatus")]
pub struct StatusBody {
    /// Signing in takes a code as well as the password (or Google).
    pub enabled: bool,
    /// An enrolment waits for its first code (`confirmTwoFactor`).
    pub pending: bool,
    /// Unused recovery codes (0 while off).
    pub recovery_codes_left: i64,
}

/// A new secret for an authenticator app, shown this once.
#[derive(Object)]
#[oai(rename = "TwoFactorEnrolment")]
pub struct EnrolmentBody {
    /// Base32, for typing into the app.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code.
    pub otpauth_uri: String,
}

#[derive(ApiResponse)]
pub enum Enrolled {
    /// Confirm with the app's first code (`confirmTwoFactor`) to turn it on.
    #[oai(status = 201)]
    Created(Json<EnrolmentBody>),
}

#[derive(Object)]
#[oai(rename = "TwoFactorCode")]
pub struct CodeRequest {
    /// Six digits from the authenticator app (confirming takes the app's code; elsewhere a
    /// recovery code also does).
    #[oai(validator(min_length = 6, max_length = 20))]
    pub code: String,
}

#[derive(Object)]
#[oai(rename = "TwoFactorDisable")]
pub struct DisableRequest {
    /// Required when the account has a password.
    #[oai(validator(max_length = 1024))]
    pub password: Option<String>,
    /// Six digits from the app, or a recovery code.
    #[oai(validator(min_length = 6, max_length = 20))]
    pub code: String,
}

/// Single-use codes for when the app is lost, shown this once: keep them somewhere safe.
#[derive(Object)]
#[oai(rename = "RecoveryCodes")]
pub struct RecoveryCodesBody {
    pub recovery_codes: Vec<String>,
}

/// A way of signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "SignInMethodKind", rename_all = "lowercase")]
pub enum MethodKind {
    Password,
    Google,
}

impl From<Method> for MethodKind {
    fn from(m: Method) -> Self {
        match m {
            Method::Password => MethodKind::Password,
            Method::Google => MethodKind::Google,
        }
    }
}

impl From<MethodKind> for Method {
    fn from(m: MethodKind) -> Self {
        match m {
            MethodKind::Password => Method::Password,
            MethodKind::Google => Method::Google,
        }
    }
}

#[derive(Object)]
#[oai(rename = "SignInMethod", skip_serializing_if_is_none)]
pub struct MethodBody {
    pub method: MethodKind,
    /// Google: the address Google reports for the identity.
    pub email: Option<String>,
    /// Google: when it was connected.
    pub connected_at: Option<DateTime<Utc>>,
}

fn bodies(methods: Vec<SignInMethod>) -> Json<Vec<MethodBody>> {
    Json(
        methods
            .into_iter()
            .map(|m| MethodBody {
                method: m.method.into(),
                email: m.email,
                connected_at: m.connected_at,
            })
            .collect(),
    )
}

pub struct SecurityApi;

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl SecurityApi {
    /// Whether two-factor sign-in is on, and how many recovery codes are left.
    #[oai(path = "/two-factor", method = "get", operation_id = "getTwoFactor")]
    async fn status(&self, state: Data<&AppState>, auth: Auth) -> ApiResult<Json<StatusBody>> {
        let status = two_factor::status(&state, auth.0.id).await?;
        Ok(Json(StatusBody {
            enabled: status.enabled,
            pending: status.pending,
            recovery_codes_left: status.recovery_codes_left,
        }))
    }

    /// Start enrolling an authenticator app (replaces an unconfirmed enrolment).
    #[oai(path = "/two-factor", method = "post", operation_id = "enrolTwoFactor")]
    async fn enrol(&self, state: Data<&AppState>, auth: Auth) -> ApiResult<Enrolled> {
        let enrolment = two_factor::enrol(&state, auth.0.id).await?;
        Ok(Enrolled::Created(Json(EnrolmentBody {
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
        })))
    }

    /// Turn two-factor sign-in on with the app's first code. Answers the ten recovery codes
    /// (the only time they are shown); this session counts as signed in with two factors.
    #[oai(
        path = "/two-factor/confirm",
        method = "post",
        operation_id = "confirmTwoFactor"
    )]
    async fn confirm(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<CodeRequest>,
    ) -> ApiResult<Json<RecoveryCodesBody>> {
        let recovery_codes = two_factor::confirm(&state, auth.0, &body.code).await?;
        Ok(Json(RecoveryCodesBody { recovery_codes }))
    }

    /// Turn two-factor sign-in off: the password (when the account has one) and a code.
    #[oai(
        path = "/two-factor/disable",
        method = "post",
        operation_id = "disableTwoFactor"
    )]
    async fn disable(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: Auth,
        body: Json<DisableRequest>,
    ) -> ApiResult<NoContent> {
        let client = client_info(req, &state);
        two_factor::disable(
            &state,
            auth.0.id,
            body.password.as_deref(),
            &body.code,
            &client,
        )
        .await?;
        Ok(NoContent::Done)
    }

    /// Ten new recovery codes for a code; the old ones stop working.
    #[oai(
        path = "/two-factor/recovery-codes",
        method = "post",
        operation_id = "regenerateRecoveryCodes"
    )]
    async fn regenerate(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<CodeRequest>,
    ) -> ApiResult<Json<RecoveryCodesBody>> {
        let recovery_codes =
            two_factor::regenerate_recovery_codes(&state, auth.0.id, &body.code).await?;
        Ok(Json(RecoveryCodesBody { recovery_codes }))
    }

    /// The ways this account signs in: its password, its Google identities.
    #[oai(path = "/methods", method = "get", operation_id = "listSignInMethods")]
    async fn list_methods(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<MethodBody>>> {
        Ok(bodies(methods::list(&state, auth.0.id).await?))
    }

    /// Connect a Google identity (an id_token or an authorization code, as `googleLogin`
    /// takes) to this account; Google must vouch for its address.
    #[oai(
        path = "/google/connect",
        method = "post",
        operation_id = "connectGoogle"
    )]
    async fn connect_google(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<GoogleLoginRequest>,
    ) -> ApiResult<Json<Vec<MethodBody>>> {
        Ok(bodies(
            methods::connect_google(&state, auth.0.id, body.0.proof()).await?,
        ))
    }

    /// Remove a way of signing in, unless it is the last one. A Google-only account gets a
    /// password through `requestPasswordReset`.
    #[oai(
        path = "/methods/:method",
        method = "delete",
        operation_id = "disconnectSignInMethod"
    )]
    async fn disconnect(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        method: Path<MethodKind>,
    ) -> ApiResult<Json<Vec<MethodBody>>> {
        Ok(bodies(
            methods::disconnect(&state, auth.0.id, method.0.into()).await?,
        ))
    }
}
