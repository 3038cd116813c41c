//! The script endpoints around `navigator.credentials`: registering a security key on the
//! Security info page, and signing in with one (username then key, or a discoverable
//! credential). JSON in and out; failures are the usual `{code, message}` bodies.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_proto::api::webauthn::{
    CeremonyDone, CeremonyStart, RegisterBegin, RegisterFinish, SigninBegin, SigninFinish,
};
use latchkey_proto::b64;
use latchkey_proto::claims::amr;
use serde_json::json;

use super::{
    check_csrf, cookie, new_session, require_session, safe_next, set_cookie, SignedIn, CSRF_COOKIE,
    CSRF_HEADER, SESSION_COOKIE, SESSION_LIFETIME_SECS,
};
use crate::ceremony::SigninCeremony;
use crate::seckey::{
    self, AssertionParts, RelyingParty, CEREMONY_LIFETIME_SECS, MAX_KEYS_PER_USER,
};
use latchkey_server::audit::{self, event};
use latchkey_server::error::ApiError;
use latchkey_server::routes::audited;
use latchkey_server::routes::auth::sign_in_upn;
use latchkey_server::routes::extract::{b64 as field_b64, ClientAddr, Json};
use latchkey_server::state::AppState;
use latchkey_server::storage::web::{Challenge, RegisterOutcome, SecurityKey};
use latchkey_server::storage::AuditRecord;

const REGISTER: &str = "register";
const MAX_NAME: usize = 64;

fn csrf_header(headers: &HeaderMap) -> String {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn signed_in_with_csrf(state: &AppState, headers: &HeaderMap) -> Result<SignedIn, ApiError> {
    let who = require_session(state, headers).await?;
    check_csrf(&who.session.csrf, &csrf_header(headers))?;
    Ok(who)
}

fn key_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::InvalidField("name"));
    }
    Ok(name.to_owned())
}

async fn new_challenge(
    state: &AppState,
    purpose: &str,
    user_id: Option<String>,
) -> Result<Challenge, ApiError> {
    let now = state.now();
    let challenge = Challenge {
        id: b64::encode(state.env.random::<18>()?),
        purpose: purpose.to_owned(),
        user_id,
        challenge: state.env.random::<32>()?.to_vec(),
        expires_at: now + CEREMONY_LIFETIME_SECS,
    };
    state
        .web
        .store_challenge(&state.tenant.id, &challenge, now)
        .await?;
    Ok(challenge)
}

async fn live_challenge(state: &AppState, id: &str, purpose: &str) -> Result<Challenge, ApiError> {
    state
        .web
        .challenge(&state.tenant.id, id, state.now())
        .await?
        .filter(|c| c.purpose == purpose)
        .ok_or(ApiError::CeremonyInvalid)
}

/// `POST /web/security-keys/register/begin`: creation options (attestation `direct`, user
/// verification required), refused at once when the user already has 10 keys.
pub async fn register_begin(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<RegisterBegin>,
) -> Result<axum::Json<CeremonyStart>, ApiError> {
    let who = signed_in_with_csrf(&state, &headers).await?;
    key_name(&req.name)?;
    let keys = state
        .web
        .list_security_keys(&state.tenant.id, Some(&who.user.id))
        .await?;
    if keys.len() as i64 >= MAX_KEYS_PER_USER {
        return Err(ApiError::SecurityKeyLimit);
    }
    let challenge = new_challenge(&state, REGISTER, Some(who.user.id.clone())).await?;
    let rp = RelyingParty::from_issuer(&state.issuer);
    let exclude: Vec<_> = keys
        .iter()
        .map(|k| json!({"type": "public-key", "id": k.key.credential_id}))
        .collect();
    Ok(axum::Json(CeremonyStart {
        ceremony: challenge.id,
        public_key: json!({
            "rp": {"id": rp.rp_id, "name": state.tenant.name},
            "user": {
                "id": b64::encode(who.user.id.as_bytes()),
                "name": who.user.upn,
                "displayName": who.user.display_name,
            },
            "challenge": b64::encode(&challenge.challenge),
            "pubKeyCredParams": [
                {"type": "public-key", "alg": -7},
                {"type": "public-key", "alg": -8},
                {"type": "public-key", "alg": -257},
            ],
            "timeout": CEREMONY_LIFETIME_SECS * 1000,
            "attestation": "direct",
            "authenticatorSelection": {
                "residentKey": "required",
                "requireResidentKey": true,
                "userVerification": "required",
            },
            "excludeCredentials": exclude,
        }),
    }))
}

/// `POST /web/security-keys/register/finish`.
pub async fn register_finish(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Json(req): Json<RegisterFinish>,
) -> Result<axum::Json<CeremonyDone>, ApiError> {
    let who = signed_in_with_csrf(&state, &headers).await?;
    let line = audit::line(event::SECURITY_KEY_REGISTER, state.now())
        .actor(&who.user.upn)
        .source(addr.ip());
    match register_checked(&state, &who, &req, line.clone()).await {
        Ok(done) => Ok(axum::Json(done)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

async fn register_checked(
    state: &AppState,
    who: &SignedIn,
    req: &RegisterFinish,
    line: AuditRecord,
) -> Result<CeremonyDone, ApiError> {
    let name = key_name(&req.name)?;
    let challenge = live_challenge(state, &req.ceremony, REGISTER).await?;
    if challenge.user_id.as_deref() != Some(who.user.id.as_str()) {
        return Err(ApiError::CeremonyInvalid);
    }
    let client_data = field_b64("clientDataJSON", &req.credential.response.client_data_json)?;
    let attestation = field_b64(
        "attestationObject",
        &req.credential.response.attestation_object,
    )?;
    let settings = state.web.security_key_settings(&state.tenant.id).await?;
    let rp = RelyingParty::from_issuer(&state.issuer);
    let checked = seckey::check_registration(
        &rp,
        &challenge.challenge,
        &client_data,
        &attestation,
        &settings,
        state.env.clock.now(),
    )?;
    let key = SecurityKey {
        credential_id: checked.credential_id,
        user_id: who.user.id.clone(),
        name: name.clone(),
        aaguid: checked.aaguid,
        format: checked.format,
        trusted_root: checked.trusted_root,
        public_key_cose: checked.public_key_cose,
        sign_count: i64::from(checked.sign_count),
        created_at: state.now(),
        last_used_at: None,
    };
    let line = line.key(&key.credential_id).note(format!(
        "{name} (AAGUID {}, {}, {})",
        key.aaguid,
        key.format,
        if key.trusted_root {
            "trusted root"
        } else {
            "no trusted root"
        }
    ));
    let outcome = state
        .web
        .register_security_key(
            &state.tenant.id,
            &challenge.id,
            &key,
            MAX_KEYS_PER_USER,
            state.now(),
            &line,
        )
        .await?;
    match outcome {
        RegisterOutcome::Registered => Ok(CeremonyDone {
            redirect: "/security-info".to_owned(),
        }),
        RegisterOutcome::LimitReached => Err(ApiError::SecurityKeyLimit),
        RegisterOutcome::CeremonyGone => Err(ApiError::CeremonyInvalid),
        RegisterOutcome::Duplicate => Err(ApiError::SecurityKeyAttestation(
            "this security key is already registered".into(),
        )),
    }
}

async fn signin_allowed(state: &AppState, upn: Option<&str>) -> Result<(), ApiError> {
    let report =
        latchkey_server::policy::effective::effective(&*state.storage, &state.tenant.id, None, upn)
            .await
            .map_err(ApiError::from)?;
    if report.policy.use_security_key_for_signin.value {
        Ok(())
    } else {
        Err(ApiError::SecurityKeySigninDisabled)
    }
}

fn pre_signin_csrf(headers: &HeaderMap) -> Result<(), ApiError> {
    check_csrf(
        &cookie(headers, CSRF_COOKIE).unwrap_or_default(),
        &csrf_header(headers),
    )
}

/// `POST /web/signin/key/begin`: request options for a discoverable credential. Writes
/// nothing and reads no user: the answer for any user name (known, unknown, with or
/// without keys) has the same shape and names no credential (`allowCredentials` is
/// empty); a user name only binds the ceremony, so that finish accepts only a key of that
/// user ([`crate::ceremony`]).
pub async fn signin_begin(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<SigninBegin>,
) -> Result<axum::Json<CeremonyStart>, ApiError> {
    pre_signin_csrf(&headers)?;
    let upn = match req.upn.as_deref().filter(|u| !u.trim().is_empty()) {
        Some(raw) => Some(sign_in_upn(raw)?),
        None => None,
    };
    // The tenant's setting only: a per-user answer here would tell who exists.
    signin_allowed(&state, None).await?;
    let ceremony = SigninCeremony::issue(
        &state.tenant.nonces,
        &state.env,
        upn.as_deref(),
        CEREMONY_LIFETIME_SECS,
    )?;
    let rp = RelyingParty::from_issuer(&state.issuer);
    Ok(axum::Json(CeremonyStart {
        ceremony: ceremony.token,
        public_key: json!({
            "challenge": b64::encode(&ceremony.challenge),
            "rpId": rp.rp_id,
            "timeout": CEREMONY_LIFETIME_SECS * 1000,
            "userVerification": "required",
            "allowCredentials": [],
        }),
    }))
}

/// `POST /web/signin/key/finish`: verifies the assertion and starts the session.
pub async fn signin_finish(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Json(req): Json<SigninFinish>,
) -> Result<Response, ApiError> {
    pre_signin_csrf(&headers)?;
    let line = audit::line(event::SECURITY_KEY_SIGNIN, state.now())
        .source(addr.ip())
        .key(&req.credential.id);
    match signin_checked(&state, &req, line.clone()).await {
        Ok((cookie_value, done)) => {
            let mut response = axum::Json(done).into_response();
            response.headers_mut().append(
                axum::http::header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, &cookie_value, SESSION_LIFETIME_SECS),
            );
            Ok(response)
        }
        Err((err, actor)) => {
            let mut line = line;
            if let Some(upn) = actor {
                line = line.actor(upn);
            }
            if matches!(err, ApiError::SecurityKeyCounterRegressed) {
                line.event = event::SECURITY_KEY_CLONE.to_owned();
            }
            Err(audited(&state, line, err).await)
        }
    }
}

async fn signin_checked(
    state: &AppState,
    req: &SigninFinish,
    line: AuditRecord,
) -> Result<(String, CeremonyDone), (ApiError, Option<String>)> {
    let ceremony = SigninCeremony::check(&state.tenant.nonces, &req.ceremony, state.now())
        .map_err(|e| (e, None))?;
    if state
        .web
        .ceremony_used(&state.tenant.id, &ceremony.used.id)
        .await
        .map_err(|e| (e.into(), None))?
    {
        return Err((ApiError::CeremonyInvalid, None));
    }
    let key = state
        .web
        .security_key(&state.tenant.id, &req.credential.id)
        .await
        .map_err(|e| (e.into(), None))?
        .ok_or((ApiError::SecurityKeyNotFound, None))?;
    let user = state
        .web
        .user_by_id(&state.tenant.id, &key.user_id)
        .await
        .map_err(|e| (e.into(), None))?
        .ok_or((ApiError::SecurityKeyNotFound, None))?;
    if !ceremony.admits(&user.upn) {
        return Err((ApiError::SecurityKeyNotFound, None));
    }
    let upn = Some(user.upn.clone());
    let fail = |e: ApiError| (e, upn.clone());
    if user.disabled {
        return Err(fail(ApiError::UserDisabled));
    }
    let r = &req.credential.response;
    if let Some(handle) = r.user_handle.as_deref().filter(|h| !h.is_empty()) {
        if handle != b64::encode(user.id.as_bytes()) {
            return Err(fail(ApiError::SecurityKeyAssertion(
                "the user handle does not match".into(),
            )));
        }
    }
    signin_allowed(state, Some(&user.upn)).await.map_err(fail)?;
    let client_data = field_b64("clientDataJSON", &r.client_data_json).map_err(fail)?;
    let auth_data = field_b64("authenticatorData", &r.authenticator_data).map_err(fail)?;
    let signature = field_b64("signature", &r.signature).map_err(fail)?;
    let rp = RelyingParty::from_issuer(&state.issuer);
    let parts = AssertionParts {
        client_data_json: &client_data,
        authenticator_data: &auth_data,
        signature: &signature,
    };
    let count = seckey::check_assertion(&rp, &ceremony.challenge, &key, parts).map_err(fail)?;
    let methods = [amr::HWK, amr::PIN, amr::MFA];
    let (cookie_value, session) = new_session(state, &user, &methods).map_err(fail)?;
    let line = line
        .actor(&user.upn)
        .note(format!("{} ({})", key.name, methods.join(" ")));
    let done = state
        .web
        .security_key_session(
            &state.tenant.id,
            &ceremony.used,
            &key.credential_id,
            key.sign_count,
            i64::from(count),
            &session,
            &line,
        )
        .await
        .map_err(|e| fail(e.into()))?;
    if !done {
        return Err(fail(ApiError::CeremonyInvalid));
    }
    Ok((
        cookie_value,
        CeremonyDone {
            redirect: safe_next(req.next.as_deref()),
        },
    ))
}
