//! The OCSP responder (RFC 6960) of the issuing CA: always answers with a DER
//! OCSPResponse, signed by the issuing CA key itself (responderID byKey).

use der::asn1::{BitString, GeneralizedTime, OctetString};
use der::{Decode, Encode, Tagged};
use rcgen::SigningKey;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_ocsp::{
    BasicOcspResponse, OcspGeneralizedTime, OcspRequest, OcspResponse, OcspResponseStatus,
    ResponderId, ResponseBytes, ResponseData, RevokedInfo, SingleResponse, Version,
};

use crate::hierarchy::IssuingCa;
use crate::issue::signature_algorithm;
use crate::revocation::RevocationReason;
use crate::{asn1, PkiError};

/// The largest OCSP request accepted (DER bytes).
pub const MAX_OCSP_REQUEST_LEN: usize = 16 * 1024;
/// The most certificates asked about in one request.
pub const MAX_OCSP_CERTS: usize = 16;

/// The status of one certificate, as the caller's store knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertStatus {
    /// Issued by this CA and not revoked.
    Good,
    /// Revoked at `at` for `reason`.
    Revoked {
        /// When it was revoked.
        at: OffsetDateTime,
        /// Why (`unspecified` is sent without a reason).
        reason: RevocationReason,
    },
    /// Not known to the store.
    Unknown,
}

/// The raw internalError response, if even encoding fails.
const INTERNAL_ERROR: [u8; 5] = [0x30, 0x03, 0x0a, 0x01, 0x02];

fn status_only(status: OcspResponseStatus) -> Vec<u8> {
    OcspResponse {
        response_status: status,
        response_bytes: None,
    }
    .to_der()
    .unwrap_or_else(|_| INTERNAL_ERROR.to_vec())
}

fn ocsp_time(t: OffsetDateTime) -> Result<OcspGeneralizedTime, PkiError> {
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| PkiError::Validity)?;
    let g = GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs))?;
    Ok(OcspGeneralizedTime(g))
}

/// Why a request cannot be answered with a signed response.
enum Refusal {
    Malformed,
    Unauthorized,
    Internal,
}

impl From<PkiError> for Refusal {
    fn from(_: PkiError) -> Self {
        Refusal::Internal
    }
}

impl From<der::Error> for Refusal {
    fn from(_: der::Error) -> Self {
        Refusal::Internal
    }
}

impl IssuingCa {
    /// Answers the OCSP request `request_der`. Always returns a DER OCSPResponse:
    /// `malformedRequest` for input that is not a strict-DER OCSPRequest of at most 16 KiB
    /// asking about 1..=16 certificates; `unauthorized` when no CertID names this CA;
    /// otherwise a BasicOCSPResponse signed by this CA's key (responderID byKey) with one
    /// SingleResponse per CertID (`unknown` for one naming another issuer or using a hash
    /// other than SHA-1/SHA-256; else what `status_of` says for the serial's big-endian
    /// bytes), thisUpdate `now`, nextUpdate `next_update`, the request's nonce echoed.
    pub fn ocsp_response(
        &self,
        request_der: &[u8],
        status_of: &mut dyn FnMut(&[u8]) -> CertStatus,
        now: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Vec<u8> {
        match self.try_ocsp_response(request_der, status_of, now, next_update) {
            Ok(der) => der,
            Err(Refusal::Malformed) => status_only(OcspResponseStatus::MalformedRequest),
            Err(Refusal::Unauthorized) => status_only(OcspResponseStatus::Unauthorized),
            Err(Refusal::Internal) => status_only(OcspResponseStatus::InternalError),
        }
    }

    fn try_ocsp_response(
        &self,
        request_der: &[u8],
        status_of: &mut dyn FnMut(&[u8]) -> CertStatus,
        now: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Vec<u8>, Refusal> {
        if request_der.len() > MAX_OCSP_REQUEST_LEN {
            return Err(Refusal::Malformed);
        }
        let request = OcspRequest::from_der(request_der).map_err(|_| Refusal::Malformed)?;
        let list = &request.tbs_request.request_list;
        if list.is_empty() || list.len() > MAX_OCSP_CERTS {
            return Err(Refusal::Malformed);
        }
        let tbs = &self.loaded.cert.tbs_certificate;
        let name_der = tbs.subject.to_der()?;
        let key_bits = tbs.subject_public_key_info.subject_public_key.raw_bytes();
        let sha1_name = Sha1::digest(&name_der);
        let sha1_key = Sha1::digest(key_bits);
        let sha256_name = Sha256::digest(&name_der);
        let sha256_key = Sha256::digest(key_bits);

        let this_update = ocsp_time(now)?;
        let next = ocsp_time(next_update)?;
        let mut ours = 0usize;
        let mut responses = Vec::with_capacity(list.len());
        for single in list {
            let id = &single.req_cert;
            let params_ok = match &id.hash_algorithm.parameters {
                None => true,
                Some(p) => p.tag() == der::Tag::Null && p.value().is_empty(),
            };
            let (name, key): (&[u8], &[u8]) = if id.hash_algorithm.oid == asn1::SHA1 {
                (&sha1_name, &sha1_key)
            } else if id.hash_algorithm.oid == asn1::SHA256 {
                (&sha256_name, &sha256_key)
            } else {
                (&[], &[])
            };
            let is_ours = params_ok
                && !name.is_empty()
                && id.issuer_name_hash.as_bytes() == name
                && id.issuer_key_hash.as_bytes() == key;
            let status = if is_ours {
                ours += 1;
                let serial = id.serial_number.as_bytes();
                let magnitude = match serial {
                    [0, rest @ ..] if !rest.is_empty() => rest,
                    other => other,
                };
                status_of(magnitude)
            } else {
                CertStatus::Unknown
            };
            let cert_status = match status {
                CertStatus::Good => x509_ocsp::CertStatus::good(),
                CertStatus::Unknown => x509_ocsp::CertStatus::unknown(),
                CertStatus::Revoked { at, reason } => x509_ocsp::CertStatus::revoked(RevokedInfo {
                    revocation_time: ocsp_time(at)?,
                    revocation_reason: match reason {
                        RevocationReason::Unspecified => None,
                        other => crl_reason(other),
                    },
                }),
            };
            responses.push(SingleResponse {
                cert_id: id.clone(),
                cert_status,
                this_update,
                next_update: Some(next),
                single_extensions: None,
            });
        }
        if ours == 0 {
            return Err(Refusal::Unauthorized);
        }
        let nonce: Vec<_> = request
            .tbs_request
            .request_extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == asn1::OCSP_NONCE)
            .take(1)
            .cloned()
            .collect();
        let data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(OctetString::new(sha1_key.to_vec())?),
            produced_at: this_update,
            responses,
            response_extensions: if nonce.is_empty() { None } else { Some(nonce) },
        };
        let tbs_der = data.to_der()?;
        let key = self.issuer.key();
        let signature = key.sign(&tbs_der).map_err(|_| Refusal::Internal)?;
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: signature_algorithm(key),
            signature: BitString::from_bytes(&signature)?,
            certs: None,
        };
        Ok(OcspResponse {
            response_status: OcspResponseStatus::Successful,
            response_bytes: Some(ResponseBytes {
                response_type: asn1::OCSP_BASIC,
                response: OctetString::new(basic.to_der()?)?,
            }),
        }
        .to_der()?)
    }
}

fn crl_reason(reason: RevocationReason) -> Option<x509_cert::ext::pkix::CrlReason> {
    use x509_cert::ext::pkix::CrlReason as C;
    Some(match reason {
        RevocationReason::Unspecified => C::Unspecified,
        RevocationReason::KeyCompromise => C::KeyCompromise,
        RevocationReason::CaCompromise => C::CaCompromise,
        RevocationReason::AffiliationChanged => C::AffiliationChanged,
        RevocationReason::Superseded => C::Superseded,
        RevocationReason::CessationOfOperation => C::CessationOfOperation,
        RevocationReason::CertificateHold => C::CertificateHold,
        RevocationReason::RemoveFromCrl => C::RemoveFromCRL,
        RevocationReason::PrivilegeWithdrawn => C::PrivilegeWithdrawn,
    })
}

#[cfg(test)]
#[path = "ocsp_tests.rs"]
mod tests;
