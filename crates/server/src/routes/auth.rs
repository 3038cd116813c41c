//! `POST /v1/auth/password`: password, and optionally a TOTP code, for an enrolment token.

use axum::extract::State;
use latchkey_proto::api::auth::{EnrollmentToken, PasswordSignIn};
use latchkey_proto::claims::{amr, TokenClaims};

use super::audited;
use super::extract::{ClientAddr, Json};
use crate::audit::{self, event};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{AuditRecord, User};
use crate::tokens::{typ, ENROLLMENT_AUDIENCE, ENROLLMENT_LIFETIME_SECS};
use crate::{password, totp};

/// Signs a user in with a password (+ TOTP) and returns an enrolment token.
pub async fn password(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<PasswordSignIn>,
) -> Result<axum::Json<EnrollmentToken>, ApiError> {
    let upn = req.upn.trim().to_lowercase();
    let now = state.now();
    let ip = addr.ip();
    let line = audit::line(event::PASSWORD_SIGNIN, now)
        .actor(&upn)
        .source(&ip);
    if state.limiter.is_limited(&upn, &ip, now) {
        return Err(audited(&state, line, ApiError::RateLimited).await);
    }
    match check(&state, &upn, &req, now, line.clone()).await {
        Ok(token) => Ok(axum::Json(token)),
        Err(err) => {
            if matches!(err, ApiError::InvalidCredentials | ApiError::InvalidOtp) {
                state.limiter.record_failure(&upn, &ip, now);
            }
            Err(audited(&state, line, err).await)
        }
    }
}

async fn check(
    state: &AppState,
    upn: &str,
    req: &PasswordSignIn,
    now: i64,
    line: AuditRecord,
) -> Result<EnrollmentToken, ApiError> {
    let user = state.storage.user_by_upn(&state.tenant.id, upn).await?;
    let user = verify_password(user, req.password.clone()).await?;
    if user.disabled {
        return Err(ApiError::UserDisabled);
    }
    let (step, methods) = match &req.otp {
        None => (None, vec![amr::PWD]),
        Some(code) => {
            let secret = state.tenant.totp_secret(&user)?;
            let step =
                totp::matching_step(&secret, code.trim(), now).ok_or(ApiError::InvalidOtp)?;
            if user.last_totp_step.is_some_and(|last| step <= last) {
                return Err(ApiError::InvalidOtp);
            }
            (Some(step), vec![amr::PWD, amr::OTP, amr::MFA])
        }
    };
    let amr: Vec<String> = methods.into_iter().map(str::to_owned).collect();
    let line = line.note(amr.join(" "));
    if !state
        .storage
        .password_signin(&state.tenant.id, &user.id, step, &line)
        .await?
    {
        // Another request used this step (or a later one) meanwhile.
        return Err(ApiError::InvalidOtp);
    }
    let claims = TokenClaims {
        iss: state.issuer.to_string(),
        sub: user.id.clone(),
        aud: ENROLLMENT_AUDIENCE.to_owned(),
        iat: now,
        nbf: now,
        exp: now + ENROLLMENT_LIFETIME_SECS,
        jti: state.env.guid()?.to_string(),
        tid: state.tenant.id.clone(),
        oid: user.id.clone(),
        upn: user.upn.clone(),
        deviceid: None,
        amr: amr.clone(),
        typ: typ::ENROLLMENT.to_owned(),
    };
    Ok(EnrollmentToken {
        token: state.tenant.tokens.sign(&claims)?,
        expires_in: ENROLLMENT_LIFETIME_SECS,
        amr,
    })
}

/// Runs Argon2 off the async workers; an unknown user costs the same as a wrong password.
async fn verify_password(user: Option<User>, password: String) -> Result<User, ApiError> {
    tokio::task::spawn_blocking(move || match user {
        Some(user) if password::verify(&user.password_hash, &password) => Ok(user),
        Some(_) => Err(ApiError::InvalidCredentials),
        None => {
            password::verify_dummy(&password);
            Err(ApiError::InvalidCredentials)
        }
    })
    .await
    .map_err(ApiError::internal)?
}
