//! `POST /v1/token`: an access token for an audience from a primary refresh token.

use axum::extract::State;
use latchkey_proto::api::signin::{TokenRequest, TokenResponse};

use super::audited;
use super::extract::{ClientAddr, Json};
use super::signin::{hello_token, live_prt};
use crate::audit::{self, event};
use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::{typ, ACCESS_LIFETIME_SECS};

/// Longest accepted audience.
const MAX_AUDIENCE: usize = 512;

/// Issues an access token for `audience`. Refused when the token, its device, its key or
/// its user is revoked, disabled or deleted. Successes are not audited (the hot path);
/// failures are.
pub async fn token(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<TokenRequest>,
) -> Result<axum::Json<TokenResponse>, ApiError> {
    let now = state.now();
    let checked = async {
        let audience = req.audience.trim();
        if audience.is_empty() || audience.len() > MAX_AUDIENCE {
            return Err(ApiError::InvalidField("audience"));
        }
        let live = live_prt(&state, &req.prt, now).await?;
        hello_token(
            &state,
            &live.user,
            &live.device,
            &live.key,
            audience,
            typ::ACCESS,
            now,
        )
    }
    .await;
    match checked {
        Ok(access_token) => Ok(axum::Json(TokenResponse {
            access_token,
            expires_in: ACCESS_LIFETIME_SECS,
            token_type: "Bearer".to_owned(),
        })),
        Err(err) => {
            let line = audit::line(event::TOKEN, now).source(addr.ip());
            Err(audited(&state, line, err).await)
        }
    }
}
