//! `POST /v1/auth/password`: password, and optionally a TOTP code, for an enrolment token.

use axum::extract::State;
use latchkey_proto::api::auth::{EnrollmentToken, PasswordSignIn};
use latchkey_proto::claims::{amr, TokenClaims};
use zeroize::Zeroizing;

use super::audited;
use super::extract::{ClientAddr, Json};
use crate::audit::{self, event};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{AuditRecord, User};
use crate::tokens::{typ, ENROLLMENT_AUDIENCE, ENROLLMENT_LIFETIME_SECS};
use crate::totp;

/// Signs a user in with a password (+ TOTP) and returns an enrolment token.
pub async fn password(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<PasswordSignIn>,
) -> Result<axum::Json<EnrollmentToken>, ApiError> {
    let upn = sign_in_upn(&req.upn)?;
    let now = state.now();
    let ip = addr.ip();
    let line = audit::line(event::PASSWORD_SIGNIN, now)
        .actor(&upn)
        .source(&ip);
    let reservation = match state.limiter.reserve(&upn, &ip, now).await {
        Ok(Some(reservation)) => reservation,
        Ok(None) => return Err(audited(&state, line, ApiError::RateLimited).await),
        Err(e) => return Err(audited(&state, line, e.into()).await),
    };
    match check(&state, &upn, &req, now, line.clone()).await {
        Ok(token) => {
            reservation.succeeded(state.now()).await;
            Ok(axum::Json(token))
        }
        Err(err) => {
            if counts_as_failure(&err) {
                reservation.failed(state.now()).await;
            }
            Err(audited(&state, line, err).await)
        }
    }
}

/// The longest user name a sign-in accepts, in bytes (longer ones are refused with
/// LK-REQ-003 before any work and without an audit line).
pub const MAX_UPN_LEN: usize = 256;

/// The user name of a sign-in, trimmed and lowercased; refused when longer than
/// [`MAX_UPN_LEN`] or containing control characters.
pub fn sign_in_upn(raw: &str) -> Result<String, ApiError> {
    let upn = raw.trim();
    if upn.len() > MAX_UPN_LEN || upn.chars().any(char::is_control) {
        return Err(ApiError::InvalidField("upn"));
    }
    Ok(upn.to_lowercase())
}

/// Whether a sign-in error spends the attempt (a wrong password or one-time code); other
/// outcomes release the reservation.
pub fn counts_as_failure(err: &ApiError) -> bool {
    matches!(err, ApiError::InvalidCredentials | ApiError::InvalidOtp)
}

async fn check(
    state: &AppState,
    upn: &str,
    req: &PasswordSignIn,
    now: i64,
    line: AuditRecord,
) -> Result<EnrollmentToken, ApiError> {
    let user = state.storage.user_by_upn(&state.tenant.id, upn).await?;
    let user = verify_password(state, user, Zeroizing::new(req.password.clone())).await?;
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

/// Checks a password through the service's [`crate::password::PasswordGate`] (Argon2 off
/// the async workers, a bounded number at once); an unknown user costs the same as a
/// wrong password, and so does a user without a password (imported passwordless: an empty
/// hash), whom no password signs in. Every password check of the service goes through here.
pub async fn verify_password(
    state: &AppState,
    user: Option<User>,
    password: Zeroizing<String>,
) -> Result<User, ApiError> {
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .filter(|hash| !hash.is_empty());
    let ok = state.passwords.verify(stored, password).await?;
    match user {
        Some(user) if ok => Ok(user),
        _ => Err(ApiError::InvalidCredentials),
    }
}
