//! `GET /healthz` and `GET /readyz`: for load balancers, orchestrators and systemd
//! watchdogs. Neither needs a credential nor says anything about the tenant.
//!
//! - `/healthz` answers as long as the process serves HTTP (liveness).
//! - `/readyz` answers only when the database answers within [`READY_TIMEOUT`]
//!   (readiness); otherwise 503 with `LK-SRV-006`, and a load balancer should send requests
//!   elsewhere.

use std::time::Duration;

use axum::extract::State;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// How long `/readyz` waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness.
pub async fn healthz() -> axum::Json<Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    ready_within(&state, READY_TIMEOUT).await
}

/// [`readyz`]'s check with `timeout`.
pub async fn ready_within(
    state: &AppState,
    timeout: Duration,
) -> Result<axum::Json<Value>, ApiError> {
    match tokio::time::timeout(timeout, state.storage.ping(&state.tenant.id)).await {
        Ok(Ok(())) => Ok(axum::Json(json!({ "status": "ready" }))),
        Ok(Err(e)) => Err(ApiError::DatabaseUnavailable(e.to_string())),
        Err(_) => Err(ApiError::DatabaseUnavailable(format!(
            "no answer within {} s",
            READY_TIMEOUT.as_secs()
        ))),
    }
}
