//! `POST /v1/certificates/enroll` and `/renew`: the registration authority's checks, its
//! countersignature, and the issuing CA's certificate (docs/certificates.md; the rules are
//! in the module docs of `latchkey_proto::api::cert`).
//!
//! Every refusal writes only its `cert_refuse` audit line (with the code) and issues
//! nothing: the nonce is consumed, and the certificate recorded, in one transaction that
//! also checks again that the key is registered for this user and device and that neither
//! is disabled. A renewal marks the renewed certificate `superseded` in that transaction: it
//! stays valid until it expires (it is not revoked and not on the CRL), so a device that has
//! not installed the new one yet keeps working.

use axum::extract::State;
use axum::http::HeaderMap;
use latchkey_attest::crypto::Curve;
use latchkey_attest::PublicKey;
use latchkey_pki::{verify_request, CertificateProfile, PkiError, Template};
use latchkey_proto::api::cert::{
    csr_binding, enroll_fields, renew_fields, CertEnrollRequest, CertRenewRequest, CertRequestPart,
    IssuedCertificate,
};
use latchkey_proto::bcrypt::RsaPublicBlob;
use latchkey_proto::claims::TokenClaims;
use latchkey_proto::proof::{proof_message, Purpose};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::audited;
use super::extract::{b64, bearer, ClientAddr, Json};
use crate::audit::{self, event};
use crate::certs::{serial, template, PkiUrls};
use crate::crypto;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::cert::{
    CertificateRecord, IssueOutcome, KIND_USER, STATE_REVOKED, STATE_SUPERSEDED, STATE_VALID,
};
use crate::storage::{AuditRecord, ConsumedNonce, KeyCredential, User};
use crate::tokens::{typ, DEFAULT_AUDIENCE};

/// How old the MFA sign-in behind an enrolment token may be.
pub const MFA_FRESHNESS_SECS: i64 = 600;
/// The largest PKCS#10 request accepted (DER bytes).
pub const MAX_CSR_BYTES: usize = 16 * 1024;

/// Enrols for a certificate.
pub async fn enroll(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Json(req): Json<CertEnrollRequest>,
) -> Result<axum::Json<IssuedCertificate>, ApiError> {
    let line = refuse_line(&state, &addr, &req.upn, &req.device_id, &req.key_id);
    match enroll_checked(&state, &headers, &req, &line).await {
        Ok(issued) => Ok(axum::Json(issued)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

/// Renews a certificate.
pub async fn renew(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(req): Json<CertRenewRequest>,
) -> Result<axum::Json<IssuedCertificate>, ApiError> {
    let line = refuse_line(&state, &addr, &req.upn, &req.device_id, &req.key_id);
    match renew_checked(&state, &req, &line).await {
        Ok(issued) => Ok(axum::Json(issued)),
        Err(err) => Err(audited(&state, line, err).await),
    }
}

fn refuse_line(
    state: &AppState,
    addr: &ClientAddr,
    upn: &str,
    device_id: &str,
    key_id: &str,
) -> AuditRecord {
    audit::line(event::CERT_REFUSE, state.now())
        .source(addr.ip())
        .actor(upn.trim().to_lowercase())
        .device(device_id)
        .key(key_id.trim().to_lowercase())
}

/// The user, device and key a request names, checked: device and user exist and are
/// enabled, the key is registered for this user on this device.
struct Subject {
    user: User,
    key: KeyCredential,
}

async fn subject(
    state: &AppState,
    upn: &str,
    device_id: &str,
    key_id: &str,
) -> Result<(Subject, crate::storage::Device), ApiError> {
    let upn = upn.trim().to_lowercase();
    let key_id = key_id.trim().to_lowercase();
    let ctx = state
        .storage
        .signin_context(&state.tenant.id, &upn, device_id, &key_id)
        .await?;
    let (device, user, key) = super::signin::enabled_subject(ctx)?;
    Ok((Subject { user, key }, device))
}

/// The bearer token's claims, if it is an enrolment token (or the access token of a
/// Hello sign-in on this device) of this user, carrying `mfa`, issued within
/// [`MFA_FRESHNESS_SECS`].
fn fresh_mfa(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    device_id: &str,
) -> Result<TokenClaims, ApiError> {
    let tenant = &state.tenant;
    let now = state.now();
    let token = bearer(headers)?.ok_or(ApiError::InvalidToken(
        "certificate enrolment needs Authorization: Bearer with a multi-factor token",
    ))?;
    let claims = match tenant
        .tokens
        .verify_enrollment(token, &state.issuer, &tenant.id, now)
    {
        Ok(claims) => claims,
        Err(_) => {
            let claims: TokenClaims = tenant.tokens.verify_json(token, &state.issuer, now)?;
            if claims.typ != typ::ACCESS
                || claims.aud != DEFAULT_AUDIENCE
                || claims.tid != tenant.id
                || claims.deviceid.as_deref() != Some(device_id)
            {
                return Err(ApiError::InvalidToken(
                    "not an enrolment token, nor an access token of this device, of this tenant",
                ));
            }
            claims
        }
    };
    if claims.oid != user.id {
        return Err(ApiError::SubjectMismatch);
    }
    if !claims.is_mfa() {
        return Err(ApiError::MfaRequired(
            "certificate enrolment needs a token carrying mfa (password and one-time code, or a Hello sign-in)",
        ));
    }
    if now.saturating_sub(claims.iat) > MFA_FRESHNESS_SECS {
        return Err(ApiError::CertMfaNotFresh);
    }
    Ok(claims)
}

/// The key id (as registered) of a request's SubjectPublicKeyInfo; LK-CERT-014 for a key
/// that is neither RSA of 2048 to 4096 bits nor P-256.
fn key_id_of_spki(spki: &[u8]) -> Result<String, ApiError> {
    let unacceptable = |what: &str| ApiError::CertKeyUnacceptable(what.to_owned());
    match PublicKey::from_spki_der(spki).map_err(|e| unacceptable(&e.to_string()))? {
        PublicKey::Rsa { n, e } => {
            let blob = RsaPublicBlob::new(&e, &n);
            let bits = blob.bit_length();
            if !(crypto::RSA_MIN_BITS..=crypto::RSA_MAX_BITS).contains(&bits) {
                return Err(unacceptable(&format!("an RSA key of {bits} bits")));
            }
            Ok(hex::encode(blob.key_id()))
        }
        PublicKey::Ec {
            curve: Curve::P256,
            point,
        } => Ok(hex::encode(Sha256::digest(&point))),
        _ => Err(unacceptable("neither RSA nor P-256")),
    }
}

/// A request checked by the RA: its signature verifies and its key is `key`.
struct CheckedRequest {
    der: Vec<u8>,
    spki: Vec<u8>,
}

fn check_request(csr_b64: &str, key: &KeyCredential) -> Result<CheckedRequest, ApiError> {
    let der = b64("csr", csr_b64)?;
    if der.len() > MAX_CSR_BYTES {
        return Err(ApiError::CertRequestInvalid(format!(
            "the request is larger than {MAX_CSR_BYTES} bytes"
        )));
    }
    let verified = verify_request(&der).map_err(|e| match e {
        PkiError::RequestKeyUnsupported(_) | PkiError::RequestKeySize(_) => {
            ApiError::CertKeyUnacceptable(e.to_string())
        }
        other => ApiError::CertRequestInvalid(other.to_string()),
    })?;
    let spki = verified.spki_der;
    if key_id_of_spki(&spki)? != key.key_id {
        return Err(ApiError::CertKeyMismatch);
    }
    Ok(CheckedRequest { der, spki })
}

/// The certificate for a key being registered (`POST /v1/keys` with a
/// `certificate_request`): the registration authority's checks on the request against that
/// key and the user's templates, its countersignature and the CA's certificate; the record
/// and its audit lines go into the registration's transaction.
pub(crate) async fn for_registration(
    state: &AppState,
    user: &User,
    key: &KeyCredential,
    part: &CertRequestPart,
    line: &AuditRecord,
) -> Result<(CertificateRecord, IssuedCertificate, Vec<AuditRecord>), ApiError> {
    let tenant = &state.tenant;
    let request = check_request(&part.csr, key)?;
    let groups = template::user_groups(&*state.storage, &tenant.id, &user.upn).await?;
    let templates = template::all(&*state.storage, &tenant.id).await?;
    let template = template::choose(templates, part.template.as_deref(), &groups)?;
    let subject = Subject {
        user: user.clone(),
        key: key.clone(),
    };
    let (cert, answer) = issue(state, &template, &subject, &request, state.env.clock.now()).await?;
    let mut request_line = success(
        line,
        event::CERT_REQUEST,
        format!("template={}", template.name),
    );
    request_line.key_id = Some(key.key_id.clone());
    let mut issue_line = success(
        line,
        event::CERT_ISSUE,
        format!(
            "serial={} template={} with the key registration",
            cert.serial, template.name
        ),
    );
    issue_line.key_id = Some(key.key_id.clone());
    Ok((cert, answer, vec![request_line, issue_line]))
}

/// The RA countersigns and the CA issues; the record to store and the answer. The
/// tenant's Kerberos realm is the template's when it has none ([`template::with_tenant_realm`]).
async fn issue(
    state: &AppState,
    template: &Template,
    subject: &Subject,
    request: &CheckedRequest,
    now: OffsetDateTime,
) -> Result<(CertificateRecord, IssuedCertificate), ApiError> {
    let realm = state.storage.kerberos_realm(&state.tenant.id).await?;
    let principal = state
        .storage
        .kerberos_principal(&state.tenant.id, &subject.user.id)
        .await?;
    let effective = template::with_tenant_realm(template, realm);
    let template = &effective;
    let pki = &state.pki;
    let urls = PkiUrls::new(&state.issuer);
    let fail = |e: PkiError| ApiError::CertIssuanceFailed(e.to_string());
    let profile = CertificateProfile::for_user(
        template,
        &subject.user.upn,
        &request.spki,
        now,
        Some(&urls.crl),
        Some(&urls.ca_issuers),
        Some(&urls.ocsp),
    )
    .and_then(|p| p.with_kerberos_principal(principal.as_deref()))
    .map_err(fail)?;
    let countersigned = pki
        .ra
        .countersign(&request.der, &profile, now)
        .map_err(fail)?;
    let issued = pki
        .issuing
        .issue(&countersigned, &pki.root_der, now)
        .map_err(fail)?;
    let rfc3339 = |t: OffsetDateTime| t.format(&Rfc3339).map_err(ApiError::internal);
    let renew_after = template.renew_after(issued.not_before, issued.not_after);
    let serial = serial::normalize(&issued.serial_hex)
        .ok_or_else(|| ApiError::CertIssuanceFailed("the serial is not hex".into()))?;
    let record = CertificateRecord {
        serial: serial.clone(),
        kind: KIND_USER.to_owned(),
        user_id: Some(subject.user.id.clone()),
        upn: None,
        device_id: Some(subject.key.device_id.clone()),
        key_id: Some(subject.key.key_id.clone()),
        template: template.name.clone(),
        subject: crate::certs::describe::describe(&issued.certificate.der)
            .map_or_else(|| format!("CN={}", subject.user.upn), |f| f.subject),
        not_before: issued.not_before.unix_timestamp(),
        not_after: issued.not_after.unix_timestamp(),
        der: issued.certificate.der.clone(),
        fingerprint: issued.certificate.fingerprint_sha256.clone(),
        state: STATE_VALID.to_owned(),
        revoked_at: None,
        reason: None,
        renewed_from: None,
        issued_at: now.unix_timestamp(),
    };
    let answer = IssuedCertificate {
        serial,
        template: template.name.clone(),
        certificate: issued.certificate.pem.clone(),
        chain: pki.chain_pem(),
        not_before: rfc3339(issued.not_before)?,
        not_after: rfc3339(issued.not_after)?,
        renew_after: rfc3339(renew_after)?,
    };
    Ok((record, answer))
}

/// Refuses a nonce that was consumed already, before anything is signed (the transaction
/// that records the certificate checks again).
async fn unused(state: &AppState, nonce: &ConsumedNonce) -> Result<(), ApiError> {
    if state
        .storage
        .nonce_used(&state.tenant.id, &nonce.id)
        .await?
    {
        return Err(ApiError::NonceReplayed);
    }
    Ok(())
}

async fn record(
    state: &AppState,
    nonce: &ConsumedNonce,
    record: &CertificateRecord,
    lines: &[AuditRecord],
) -> Result<(), ApiError> {
    match state
        .storage
        .record_certificate(&state.tenant.id, nonce, record, lines)
        .await?
    {
        IssueOutcome::Issued => Ok(()),
        IssueOutcome::KeyGone => Err(ApiError::KeyNotFound),
        IssueOutcome::NotRenewable => Err(ApiError::CertAlreadyRenewed),
    }
}

fn success(line: &AuditRecord, event: &str, note: String) -> AuditRecord {
    let mut out = line.clone();
    out.event = event.to_owned();
    out.outcome = "success".to_owned();
    out.note(note)
}

async fn enroll_checked(
    state: &AppState,
    headers: &HeaderMap,
    req: &CertEnrollRequest,
    line: &AuditRecord,
) -> Result<IssuedCertificate, ApiError> {
    let tenant = &state.tenant;
    let now = state.env.clock.now();
    let nonce = tenant
        .nonces
        .check(&req.nonce, Purpose::CertEnroll, now.unix_timestamp())?;
    let device_signature = b64("device_signature", &req.device_signature)?;
    let (subject, device) = subject(state, &req.upn, &req.device_id, &req.key_id).await?;
    fresh_mfa(state, headers, &subject.user, &device.id)?;
    let csr_der = b64("csr", &req.csr)?;
    let binding = csr_binding(&csr_der);
    let message = proof_message(
        Purpose::CertEnroll,
        &req.nonce,
        &enroll_fields(&tenant.id, req, &binding),
    );
    if !crypto::verify_device(&device.public_key_spki, &message, &device_signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    let request = check_request(&req.csr, &subject.key)?;
    let groups = template::user_groups(&*state.storage, &tenant.id, &subject.user.upn).await?;
    let templates = template::all(&*state.storage, &tenant.id).await?;
    let template = template::choose(templates, req.template.as_deref(), &groups)?;
    unused(state, &nonce).await?;
    let (cert, answer) = issue(state, &template, &subject, &request, now).await?;
    let lines = [
        success(
            line,
            event::CERT_REQUEST,
            format!("template={}", template.name),
        ),
        success(
            line,
            event::CERT_ISSUE,
            format!("serial={} template={}", cert.serial, template.name),
        ),
    ];
    record(state, &nonce, &cert, &lines).await?;
    Ok(answer)
}

async fn renew_checked(
    state: &AppState,
    req: &CertRenewRequest,
    line: &AuditRecord,
) -> Result<IssuedCertificate, ApiError> {
    let tenant = &state.tenant;
    let now = state.env.clock.now();
    let unix = now.unix_timestamp();
    let nonce = tenant.nonces.check(&req.nonce, Purpose::CertRenew, unix)?;
    let device_signature = b64("device_signature", &req.device_signature)?;
    let key_signature = b64("key_signature", &req.key_signature)?;
    let (subject, device) = subject(state, &req.upn, &req.device_id, &req.key_id).await?;
    let csr_der = b64("csr", &req.csr)?;
    let binding = csr_binding(&csr_der);
    let message = proof_message(
        Purpose::CertRenew,
        &req.nonce,
        &renew_fields(&tenant.id, req, &binding),
    );
    if !crypto::verify_device(&device.public_key_spki, &message, &device_signature) {
        return Err(ApiError::DeviceProofInvalid);
    }
    let serial = serial::normalize(&req.serial).ok_or(ApiError::CertNotFound)?;
    let old = state
        .storage
        .certificate(&tenant.id, &serial)
        .await?
        .filter(|c| {
            c.kind == KIND_USER
                && c.user_id.as_deref() == Some(subject.user.id.as_str())
                && c.device_id.as_deref() == Some(device.id.as_str())
                && c.key_id.as_deref() == Some(subject.key.key_id.as_str())
        })
        .ok_or(ApiError::CertNotFound)?;
    if !crypto::verify_hello(
        &subject.key.alg,
        &subject.key.public_key,
        &message,
        &key_signature,
    ) {
        return Err(ApiError::CertRenewalProofInvalid);
    }
    match old.state.as_str() {
        STATE_REVOKED => return Err(ApiError::CertRevoked),
        STATE_SUPERSEDED => return Err(ApiError::CertAlreadyRenewed),
        _ => {}
    }
    if unix >= old.not_after {
        return Err(ApiError::CertExpired);
    }
    let templates = template::all(&*state.storage, &tenant.id).await?;
    let template = templates
        .into_iter()
        .find(|t| t.name == old.template)
        .ok_or_else(|| ApiError::CertTemplateNotFound(old.template.clone()))?;
    let at = |t: i64| OffsetDateTime::from_unix_timestamp(t).map_err(ApiError::internal);
    let window = template.renew_after(at(old.not_before)?, at(old.not_after)?);
    if now < window {
        return Err(ApiError::CertRenewalNotDue(
            window.format(&Rfc3339).map_err(ApiError::internal)?,
        ));
    }
    let request = check_request(&req.csr, &subject.key)?;
    let groups = template::user_groups(&*state.storage, &tenant.id, &subject.user.upn).await?;
    if !template::admits(&template, &groups) {
        return Err(ApiError::CertEnrollmentNotAllowed(template.name));
    }
    unused(state, &nonce).await?;
    let (mut cert, answer) = issue(state, &template, &subject, &request, now).await?;
    cert.renewed_from = Some(old.serial.clone());
    let lines = [
        success(
            line,
            event::CERT_REQUEST,
            format!("template={} renewal of {}", template.name, old.serial),
        ),
        success(
            line,
            event::CERT_RENEW,
            format!("serial={} renewed_from={}", cert.serial, old.serial),
        ),
    ];
    record(state, &nonce, &cert, &lines).await?;
    Ok(answer)
}

/// The template `RegisterKeyResponse.certificate_template` names for `user`: the one the
/// service assigns (auto-enrolment on, the user admitted), if any. A failure to read the
/// templates is logged and answers `None`: the key is registered either way.
pub async fn assigned_template(state: &AppState, user: &User) -> Option<String> {
    let tenant = &state.tenant.id;
    let found = async {
        let groups = template::user_groups(&*state.storage, tenant, &user.upn).await?;
        let templates = template::all(&*state.storage, tenant).await?;
        Ok::<_, ApiError>(template::assigned(&templates, &groups).map(|t| t.name.clone()))
    };
    match found.await {
        Ok(name) => name,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the certificate templates");
            None
        }
    }
}
