//! OpenID Connect for applications: the authorization endpoint (code flow, PKCE S256
//! required for public clients), the token endpoint (`authorization_code`,
//! `refresh_token`) and UserInfo. Redirect URIs are compared exactly; errors before the
//! redirect URI is known to be registered are shown to the user, never redirected.

use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use latchkey_proto::api::oidc::{OAuthErrorBody, OidcClaims, OidcTokenResponse, UserInfo};
use latchkey_proto::{b64, ErrorCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::session::{see_other, signed_in};
use latchkey_server::audit::{self, event};
use latchkey_server::error::ApiError;
use latchkey_server::routes::extract::{bearer, ClientAddr};
use latchkey_server::routes::web::{hash_hex, PageError};
use latchkey_server::state::AppState;
use latchkey_server::storage::web::{
    AuthCode, CodeRedemption, Grant, OidcClient, RefreshGrant, Rotation,
};
use latchkey_server::storage::User;
use latchkey_server::tokens::ACCESS_LIFETIME_SECS;

/// Lifetime of an authorization code, seconds.
pub const CODE_LIFETIME_SECS: i64 = 60;
/// Lifetime of a refresh token, seconds (30 days).
pub const REFRESH_LIFETIME_SECS: i64 = 30 * 24 * 3600;
/// `typ` of ID tokens for applications.
pub const TYP_ID: &str = "oidc_id";
/// `typ` of access tokens for applications.
pub const TYP_ACCESS: &str = "oidc_access";

/// An OAuth error (RFC 6749 §5.2) with its stable code.
#[derive(Debug)]
pub struct OAuthError {
    code: ErrorCode,
    description: String,
}

fn oauth(code: ErrorCode, description: impl Into<String>) -> OAuthError {
    OAuthError {
        code,
        description: description.into(),
    }
}

impl From<ApiError> for OAuthError {
    fn from(err: ApiError) -> OAuthError {
        if let ApiError::Internal(detail) = &err {
            tracing::error!(error = %detail, "internal error");
        }
        oauth(err.code(), err.code().default_message())
    }
}

impl From<latchkey_server::storage::StorageError> for OAuthError {
    fn from(err: latchkey_server::storage::StorageError) -> OAuthError {
        ApiError::from(err).into()
    }
}

impl OAuthError {
    fn error_name(&self) -> &'static str {
        match self.code {
            ErrorCode::OidcInvalidClient => "invalid_client",
            ErrorCode::OidcInvalidGrant => "invalid_grant",
            ErrorCode::OidcUnsupportedGrant => "unsupported_grant_type",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::Internal => "server_error",
            _ => "invalid_request",
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = OAuthErrorBody {
            error: self.error_name().to_owned(),
            error_description: self.description.clone(),
            code: self.code.as_str().to_owned(),
        };
        let mut response =
            (status, [(CACHE_CONTROL, "no-store")], axum::Json(body)).into_response();
        latchkey_server::observe::tag_code(&mut response, self.code);
        response
    }
}

#[derive(Debug, Default, Deserialize)]
struct AuthorizeQuery {
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    code_challenge: Option<String>,
    #[serde(default)]
    code_challenge_method: Option<String>,
}

fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{query}")
}

fn invalid_request(what: &str) -> PageError {
    PageError(ApiError::InvalidField(match what {
        "client_id" => "client_id",
        _ => "redirect_uri",
    }))
}

/// `GET /oauth2/authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let raw = raw.unwrap_or_default();
    let q: AuthorizeQuery = serde_urlencoded::from_str(&raw)
        .map_err(|e| PageError(ApiError::MalformedRequest(e.to_string())))?;
    let client = state
        .web
        .client(&state.tenant.id, &q.client_id)
        .await?
        .ok_or_else(|| invalid_request("client_id"))?;
    if !client.allows_redirect(&q.redirect_uri) {
        return Err(invalid_request("redirect_uri"));
    }
    let st = q.state.as_deref().unwrap_or("");
    let back = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        if !st.is_empty() {
            params.push(("state", st));
        }
        see_other(&with_params(&q.redirect_uri, &params), vec![])
    };
    if q.response_type != "code" {
        return Ok(back(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    if !q.scope.split(' ').any(|s| s == "openid") {
        return Ok(back("invalid_scope", "the scope must include openid"));
    }
    match (&q.code_challenge, q.code_challenge_method.as_deref()) {
        (Some(c), Some("S256")) if c.len() == 43 => {}
        (None, None) if !client.is_public() => {}
        (None, _) => {
            return Ok(back(
                "invalid_request",
                "PKCE (code_challenge, S256) is required for public clients",
            ))
        }
        _ => {
            return Ok(back(
                "invalid_request",
                "only code_challenge_method=S256 with a 43-character challenge is supported",
            ))
        }
    }
    let Some(who) = signed_in(&state, &headers).await? else {
        let next = format!("/oauth2/authorize?{raw}");
        let to = with_params("/signin", &[("next", &next)]);
        return Ok(see_other(&to, vec![]));
    };
    let code = b64::encode(state.env.random::<32>().map_err(ApiError::from)?);
    let record = AuthCode {
        code_hash: hash_hex(&code),
        redirect_uri: q.redirect_uri.clone(),
        nonce: q.nonce.clone(),
        code_challenge: q.code_challenge.clone(),
        expires_at: state.now() + CODE_LIFETIME_SECS,
        grant: Grant {
            client_id: client.client_id.clone(),
            user_id: who.user.id.clone(),
            scope: q.scope.clone(),
            amr: who.session.amr.clone(),
            auth_time: who.session.created_at,
        },
    };
    state.web.store_code(&state.tenant.id, &record).await?;
    let mut params = vec![("code", code.as_str()), ("iss", &*state.issuer)];
    if !st.is_empty() {
        params.push(("state", st));
    }
    Ok(see_other(&with_params(&q.redirect_uri, &params), vec![]))
}

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    code_verifier: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

fn percent_decode(s: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()?
        .pop()
        .map(|(_, v)| v)
}

/// Client authentication: HTTP Basic (RFC 6749 §2.3.1) or `client_id`/`client_secret` in
/// the body; a public client sends only `client_id`.
async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    form: &TokenForm,
) -> Result<OidcClient, OAuthError> {
    let bad = || oauth(ErrorCode::OidcInvalidClient, "client authentication failed");
    let (id, secret) = match headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(h) if h.len() > 6 && h[..6].eq_ignore_ascii_case("basic ") => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(h[6..].trim())
                .map_err(|_| bad())?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            let (i, s) = text.split_once(':').ok_or_else(bad)?;
            (
                percent_decode(i).ok_or_else(bad)?,
                Some(percent_decode(s).ok_or_else(bad)?),
            )
        }
        _ => (
            form.client_id.clone().ok_or_else(bad)?,
            form.client_secret.clone(),
        ),
    };
    let client = state
        .web
        .client(&state.tenant.id, &id)
        .await?
        .ok_or_else(bad)?;
    match (&client.secret_hash, secret) {
        (None, None) => Ok(client),
        (Some(hash), Some(secret))
            if latchkey_server::crypto::secrets_equal(
                hash.as_bytes(),
                hash_hex(&secret).as_bytes(),
            ) =>
        {
            Ok(client)
        }
        _ => Err(bad()),
    }
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, OAuthError> {
    // Read here, not with axum's `Bytes` extractor, whose rejection is plain text.
    let body = axum::body::to_bytes(body, latchkey_server::config::BODY_LIMIT)
        .await
        .map_err(|_| {
            oauth(
                ErrorCode::BodyTooLarge,
                ErrorCode::BodyTooLarge.default_message(),
            )
        })?;
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(oauth(
            ErrorCode::OidcInvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let form: TokenForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| oauth(ErrorCode::OidcInvalidRequest, e.to_string()))?;
    let client = authenticate_client(&state, &headers, &form).await?;
    let now = state.now();
    let bad_grant = |why: &str| oauth(ErrorCode::OidcInvalidGrant, why);
    let (grant, nonce, refresh) = match form.grant_type.as_str() {
        "authorization_code" => {
            let code = form
                .code
                .as_deref()
                .ok_or_else(|| oauth(ErrorCode::OidcInvalidRequest, "code is required"))?;
            let reuse = audit::line(event::OIDC_GRANT_REUSE, now)
                .source(addr.ip())
                .failure(format!(
                    "{}: authorization code presented again (client {})",
                    ErrorCode::OidcInvalidGrant,
                    client.client_id
                ));
            let record =
                match state
                    .web
                    .take_code(&state.tenant.id, &hash_hex(code), &reuse)
                    .await?
                {
                    CodeRedemption::Redeemed(record) => record,
                    CodeRedemption::Reused { .. } => return Err(bad_grant(
                        "the code was already used; the refresh tokens issued from it are revoked",
                    )),
                    CodeRedemption::Unknown => {
                        return Err(bad_grant("the code is unknown or was already used"))
                    }
                };
            if record.expires_at <= now || record.grant.client_id != client.client_id {
                return Err(bad_grant(
                    "the code has expired or was issued to another client",
                ));
            }
            if form.redirect_uri.as_deref() != Some(record.redirect_uri.as_str()) {
                return Err(bad_grant(
                    "redirect_uri does not match the authorization request",
                ));
            }
            match (&record.code_challenge, &form.code_verifier) {
                (Some(challenge), Some(verifier)) => {
                    let computed = b64::encode(Sha256::digest(verifier.as_bytes()));
                    if verifier.len() < 43
                        || verifier.len() > 128
                        || !latchkey_server::crypto::secrets_equal(
                            computed.as_bytes(),
                            challenge.as_bytes(),
                        )
                    {
                        return Err(bad_grant("the PKCE code_verifier does not match"));
                    }
                }
                (None, None) => {}
                _ => {
                    return Err(bad_grant(
                        "the PKCE code_verifier does not match the request",
                    ))
                }
            }
            (record.grant, record.nonce, Err(record.code_hash))
        }
        "refresh_token" => {
            let old = form
                .refresh_token
                .as_deref()
                .ok_or_else(|| oauth(ErrorCode::OidcInvalidRequest, "refresh_token is required"))?;
            let (text, new) = new_refresh(&state, None, String::new())?;
            let reuse = audit::line(event::OIDC_GRANT_REUSE, now)
                .source(addr.ip())
                .failure(format!(
                    "{}: rotated refresh token presented again (client {})",
                    ErrorCode::OidcInvalidGrant,
                    client.client_id
                ));
            let rotation = state
                .web
                .rotate_refresh(
                    &state.tenant.id,
                    &hash_hex(old),
                    &client.client_id,
                    &new,
                    now,
                    &reuse,
                )
                .await?;
            let grant = match rotation {
                Rotation::Rotated(grant) => grant,
                Rotation::Reused { .. } => {
                    return Err(bad_grant(
                        "the refresh token was already used; every refresh token of its family is revoked",
                    ))
                }
                Rotation::Invalid => {
                    return Err(bad_grant(
                        "the refresh token is unknown, expired, another client's, or its user is disabled",
                    ))
                }
            };
            if let Some(scope) = &form.scope {
                if scope
                    .split(' ')
                    .any(|s| !grant.scope.split(' ').any(|g| g == s))
                {
                    return Err(oauth(
                        ErrorCode::OidcInvalidRequest,
                        "a refresh cannot widen the scope",
                    ));
                }
            }
            (grant, None, Ok(text))
        }
        _ => {
            return Err(oauth(
                ErrorCode::OidcUnsupportedGrant,
                "grant_type must be authorization_code or refresh_token",
            ))
        }
    };
    let user = state
        .web
        .user_by_id(&state.tenant.id, &grant.user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| bad_grant("the user is disabled"))?;
    // `refresh`: the rotated token, or the code hash whose family a first token starts.
    let refresh_token = match refresh {
        Ok(text) => text,
        Err(family) => {
            let (text, record) = new_refresh(&state, Some(&grant), family)?;
            let line = audit::line(event::OIDC_TOKEN, now)
                .actor(&user.upn)
                .source(addr.ip())
                .note(format!("client {} ({})", client.client_id, grant.amr));
            if !state
                .web
                .store_refresh(&state.tenant.id, &record, &line)
                .await?
            {
                return Err(bad_grant(
                    "the code was presented again meanwhile; nothing is issued from it",
                ));
            }
            text
        }
    };
    let id_token = sign(&state, &user, &grant, nonce, TYP_ID, None)?;
    let access_token = sign(
        &state,
        &user,
        &grant,
        None,
        TYP_ACCESS,
        Some(grant.scope.clone()),
    )?;
    let body = OidcTokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: ACCESS_LIFETIME_SECS,
        id_token,
        refresh_token,
        scope: grant.scope.clone(),
    };
    Ok(([(CACHE_CONTROL, "no-store")], axum::Json(body)).into_response())
}

/// A new refresh token in `family` (for a rotation, the storage sets the family and grant
/// of the token it replaces).
fn new_refresh(
    state: &AppState,
    grant: Option<&Grant>,
    family_id: String,
) -> Result<(String, RefreshGrant), OAuthError> {
    let text = b64::encode(state.env.random::<32>().map_err(ApiError::from)?);
    let record = RefreshGrant {
        token_hash: hash_hex(&text),
        expires_at: state.now() + REFRESH_LIFETIME_SECS,
        revoked: false,
        family_id,
        grant: grant.cloned().unwrap_or(Grant {
            client_id: String::new(),
            user_id: String::new(),
            scope: String::new(),
            amr: String::new(),
            auth_time: 0,
        }),
    };
    Ok((text, record))
}

fn sign(
    state: &AppState,
    user: &User,
    grant: &Grant,
    nonce: Option<String>,
    typ: &str,
    scope: Option<String>,
) -> Result<String, OAuthError> {
    let now = state.now();
    let claims = OidcClaims {
        iss: state.issuer.to_string(),
        sub: user.id.clone(),
        aud: grant.client_id.clone(),
        azp: grant.client_id.clone(),
        iat: now,
        nbf: now,
        exp: now + ACCESS_LIFETIME_SECS,
        jti: state.env.guid().map_err(ApiError::from)?.to_string(),
        tid: state.tenant.id.clone(),
        oid: user.id.clone(),
        upn: user.upn.clone(),
        preferred_username: user.upn.clone(),
        name: user.display_name.clone(),
        auth_time: grant.auth_time,
        amr: grant
            .amr
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        nonce,
        scope,
        typ: typ.to_owned(),
    };
    Ok(state.tenant.tokens.sign_json(&claims)?)
}

/// `GET` or `POST /oauth2/userinfo` with `Authorization: Bearer <access token>`.
pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<axum::Json<UserInfo>, ApiError> {
    let token = bearer(&headers)?.ok_or(ApiError::InvalidToken("an access token is required"))?;
    let claims: OidcClaims = state
        .tenant
        .tokens
        .verify_json(token, &state.issuer, state.now())?;
    if claims.typ != TYP_ACCESS || claims.tid != state.tenant.id {
        return Err(ApiError::InvalidToken(
            "not an access token of this service",
        ));
    }
    let user = state
        .web
        .user_by_id(&state.tenant.id, &claims.sub)
        .await?
        .filter(|u| !u.disabled)
        .ok_or(ApiError::InvalidToken("the user is disabled"))?;
    Ok(axum::Json(UserInfo {
        sub: user.id,
        name: user.display_name,
        preferred_username: user.upn.clone(),
        upn: user.upn,
        amr: claims.amr,
    }))
}
