//! The enrolment-agent step: the registration authority countersigns a verified request
//! together with the profile it approved, as CMS SignedData (RFC 5652) carrying the RA
//! certificate; the issuing CA checks that countersignature before it issues.
//!
//! The signed content (eContentType id-data, no signed attributes, so the RA signature is
//! over the eContent octets) is the DER of
//!
//! ```text
//! CountersignedRequest ::= SEQUENCE {
//!     request  CertificationRequest,   -- the PKCS#10 request, as the device sent it
//!     profile  CertificateProfile }    -- what the RA approved (see profile.rs)
//! ```

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, OctetString, SetOfVec};
use der::{Decode, Encode, Sequence};
use rcgen::{KeyPair, SigningKey};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use time::OffsetDateTime;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::Certificate;

use crate::hierarchy::RegistrationAuthority;
use crate::issue::to_offset;
use crate::profile::{CertificateProfile, ProfileDer};
use crate::request::{verify_request, VerifiedRequest};
use crate::sigverify;
use crate::{asn1, PkiError};

/// The largest countersigned request accepted by the CA (DER bytes).
pub const MAX_COUNTERSIGNED_LEN: usize = 64 * 1024;
/// How long after the profile's notBefore the CA still accepts its countersignature. The
/// profile starts five minutes before the RA approved it, so this leaves 55 minutes between
/// countersigning and issuing; an older countersignature is a replay.
const COUNTERSIGNATURE_LIFETIME: time::Duration = time::Duration::hours(1);

/// The signed content.
#[derive(Sequence)]
pub(crate) struct CountersignedContent {
    pub(crate) request: Any,
    pub(crate) profile: ProfileDer,
}

impl RegistrationAuthority {
    /// Countersigns `request_der` with the approved `profile`: re-verifies the request,
    /// checks that its key is the profile's key and that the RA certificate is valid at
    /// `now`, then returns a CMS ContentInfo/SignedData (DER) over both, signed with the RA
    /// key and carrying the RA certificate.
    pub fn countersign(
        &self,
        request_der: &[u8],
        profile: &CertificateProfile,
        now: OffsetDateTime,
    ) -> Result<Vec<u8>, PkiError> {
        let verified = verify_request(request_der)?;
        profile.validate()?;
        check_same_key(&verified, profile)?;
        check_validity(&self.loaded.cert, now)?;
        let content = CountersignedContent {
            request: Any::from_der(request_der)?,
            profile: ProfileDer::from_der(&profile.to_der()?)?,
        }
        .to_der()?;
        sign_content(&self.loaded.cert, &self.key, &content)
    }
}

/// A SignedData over `content` signed by `key`, naming and carrying `cert`.
pub(crate) fn sign_content(
    cert: &Certificate,
    key: &KeyPair,
    content: &[u8],
) -> Result<Vec<u8>, PkiError> {
    let signature = key
        .sign(content)
        .map_err(|e| PkiError::Signing(e.to_string()))?;
    let sha256 = AlgorithmIdentifierOwned {
        oid: asn1::SHA256,
        parameters: None,
    };
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256.clone(),
        signed_attrs: None,
        signature_algorithm: crate::issue::signature_algorithm(key),
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: asn1::DATA,
            econtent: Some(Any::encode_from(&OctetString::new(content)?)?),
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(vec![
            CertificateChoices::Certificate(cert.clone()),
        ])?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer])?),
    };
    Ok(ContentInfo {
        content_type: asn1::SIGNED_DATA,
        content: Any::encode_from(&signed)?,
    }
    .to_der()?)
}

/// What the CA learns from a countersignature that passed every check.
pub(crate) struct Checked {
    pub(crate) profile: CertificateProfile,
}

/// The CA side: parses `countersigned` (bounded), checks the RA certificate against the
/// root (`root_cert_der`: signature, validity at `now`, Certificate Request Agent EKU), the
/// RA signature over the content, the embedded request and that its key is the profile's.
pub(crate) fn check_countersigned(
    countersigned: &[u8],
    root_cert_der: &[u8],
    now: OffsetDateTime,
) -> Result<Checked, PkiError> {
    if countersigned.len() > MAX_COUNTERSIGNED_LEN {
        return Err(PkiError::CountersignedTooLarge(countersigned.len()));
    }
    let not = |what: String| PkiError::NotCountersigned(what);
    let info = ContentInfo::from_der(countersigned).map_err(|e| not(e.to_string()))?;
    if info.content_type != asn1::SIGNED_DATA {
        return Err(not(format!("content type {}", info.content_type)));
    }
    let signed: SignedData = info.content.decode_as().map_err(|e| not(e.to_string()))?;
    // Nothing outside the signature is left unchecked: the versions and the digest
    // algorithm set are exactly what `sign_content` writes.
    let digests_ok = signed.digest_algorithms.len() == 1
        && signed
            .digest_algorithms
            .iter()
            .all(|a| a.oid == asn1::SHA256 && a.parameters.is_none());
    if signed.version != CmsVersion::V1 || !digests_ok || signed.crls.is_some() {
        return Err(not(
            "unexpected SignedData version, digest set or CRLs".into()
        ));
    }
    if signed.encap_content_info.econtent_type != asn1::DATA {
        return Err(not("encapsulated content is not id-data".into()));
    }
    let content = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| not("no encapsulated content".into()))?
        .decode_as::<OctetString>()
        .map_err(|e| not(e.to_string()))?;
    let mut signers = signed.signer_infos.0.iter();
    let (Some(signer), None) = (signers.next(), signers.next()) else {
        return Err(not("not exactly one signer".into()));
    };
    let mut certs = signed.certificates.as_ref().map(|c| c.0.iter());
    let ra_cert = match certs.as_mut().map(|c| (c.next(), c.next())) {
        Some((Some(CertificateChoices::Certificate(cert)), None)) => cert,
        _ => return Err(not("not exactly one RA certificate".into())),
    };

    let root =
        Certificate::from_der(root_cert_der).map_err(|e| PkiError::Certificate(e.to_string()))?;
    check_ra_certificate(ra_cert, &root, now)?;

    // The signer must be the RA certificate, and its signature must verify.
    let sid_matches = matches!(&signer.sid, SignerIdentifier::IssuerAndSerialNumber(ias)
        if ias.issuer == ra_cert.tbs_certificate.issuer
            && ias.serial_number == ra_cert.tbs_certificate.serial_number);
    if !sid_matches
        || signer.version != CmsVersion::V1
        || signer.digest_alg.oid != asn1::SHA256
        || signer.digest_alg.parameters.is_some()
        || signer.signed_attrs.is_some()
        || signer.unsigned_attrs.is_some()
    {
        return Err(PkiError::RaSignature);
    }
    sigverify::verify(
        &ra_cert.tbs_certificate.subject_public_key_info,
        &signer.signature_algorithm,
        content.as_bytes(),
        signer.signature.as_bytes(),
    )
    .map_err(|_| PkiError::RaSignature)?;

    let content = CountersignedContent::from_der(content.as_bytes())
        .map_err(|e| not(format!("signed content: {e}")))?;
    let profile = CertificateProfile::from_der_value(&content.profile)?;
    if now < profile.not_before || now > profile.not_before + COUNTERSIGNATURE_LIFETIME {
        return Err(PkiError::CountersignatureStale);
    }
    let verified = verify_request(&content.request.to_der()?)?;
    check_same_key(&verified, &profile)?;
    Ok(Checked { profile })
}

/// The RA certificate is signed by the root, names it as issuer, is valid at `now` and has
/// the Certificate Request Agent EKU.
fn check_ra_certificate(
    ra: &Certificate,
    root: &Certificate,
    now: OffsetDateTime,
) -> Result<(), PkiError> {
    if ra.tbs_certificate.issuer != root.tbs_certificate.subject {
        return Err(PkiError::RaNotTrusted("issued by another CA".into()));
    }
    let tbs = ra.tbs_certificate.to_der()?;
    let signature = ra
        .signature
        .as_bytes()
        .ok_or_else(|| PkiError::RaNotTrusted("signature has unused bits".into()))?;
    sigverify::verify(
        &root.tbs_certificate.subject_public_key_info,
        &ra.signature_algorithm,
        &tbs,
        signature,
    )
    .map_err(|f| PkiError::RaNotTrusted(format!("not signed by the tenant root: {f:?}")))?;
    check_validity(ra, now)?;
    let eku_oid = asn1::EXT_KEY_USAGE;
    let agent = ra
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == eku_oid)
        .filter_map(|e| ExtendedKeyUsage::from_der(e.extn_value.as_bytes()).ok())
        .any(|eku| eku.0.contains(&asn1::CERT_REQUEST_AGENT));
    if !agent {
        return Err(PkiError::RaNotAgent);
    }
    Ok(())
}

fn check_validity(cert: &Certificate, now: OffsetDateTime) -> Result<(), PkiError> {
    let validity = &cert.tbs_certificate.validity;
    let not_before = to_offset(validity.not_before)?;
    let not_after = to_offset(validity.not_after)?;
    if now < not_before || now > not_after {
        return Err(PkiError::RaExpired);
    }
    Ok(())
}

fn check_same_key(
    verified: &VerifiedRequest,
    profile: &CertificateProfile,
) -> Result<(), PkiError> {
    let profile_spki = SubjectPublicKeyInfoOwned::from_der(&profile.spki_der)
        .map_err(|e| PkiError::PublicKey(e.to_string()))?
        .to_der()?;
    if profile_spki != verified.spki_der {
        return Err(PkiError::KeyMismatch);
    }
    Ok(())
}
