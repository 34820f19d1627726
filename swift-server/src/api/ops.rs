//! Liveness and readiness probes (outside `/api/v1`, as orchestrators expect).

use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::AppState;
use crate::problem::{ApiError, ApiResult, ProblemCode};

/// Probe answer.
#[derive(Object)]
pub struct Status {
    /// `ok` for liveness, `ready` for readiness.
    pub status: String,
}

pub struct OpsApi;

#[OpenApi(tag = "ApiTags::Ops")]
impl OpsApi {
    /// Liveness: 200 while the process serves, whatever the database does.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Status> {
        Json(Status {
            status: "ok".into(),
        })
    }

    /// Readiness: 200 when the database answers and every migration is applied; 503
    /// `not_ready` otherwise, so a load balancer sends traffic elsewhere.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&AppState>) -> ApiResult<Json<Status>> {
        swift_core::db::check_ready(&state.pool)
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ProblemCode::NotReady,
                    e.to_string(),
                )
                .with_retry_after(5)
            })?;
        Ok(Json(Status {
            status: "ready".into(),
        }))
    }
}
