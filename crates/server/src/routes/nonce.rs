//! `POST /v1/nonce`.

use axum::extract::State;
use latchkey_proto::api::nonce::{NonceRequest, NonceResponse};

use super::extract::Json;
use crate::error::ApiError;
use crate::state::AppState;

/// Issues a nonce for the requested purpose.
pub async fn issue(
    State(state): State<AppState>,
    Json(req): Json<NonceRequest>,
) -> Result<axum::Json<NonceResponse>, ApiError> {
    let (nonce, expires_at) = state.tenant.nonces.issue(&state.env, req.purpose)?;
    Ok(axum::Json(NonceResponse { nonce, expires_at }))
}
