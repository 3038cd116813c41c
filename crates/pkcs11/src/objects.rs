//! The token's objects and their attributes: the Hello certificate, its public key and its
//! private key (visible after login; its secret parts are sensitive and never leave the
//! signer).

use cryptoki_sys::*;

use crate::token::{RsaPublic, Token};

/// What an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// CKO_CERTIFICATE, CKC_X_509.
    Certificate = 1,
    /// CKO_PUBLIC_KEY, CKK_RSA.
    PublicKey = 2,
    /// CKO_PRIVATE_KEY, CKK_RSA: sign only.
    PrivateKey = 3,
}

/// The object handle of `kind` on `slot` (never 0, CK_INVALID_HANDLE).
pub fn handle(slot: CK_SLOT_ID, kind: Kind) -> CK_OBJECT_HANDLE {
    (slot << 4) | kind as CK_OBJECT_HANDLE
}

/// The slot and kind of an object handle.
pub fn parse_handle(h: CK_OBJECT_HANDLE) -> Option<(CK_SLOT_ID, Kind)> {
    let kind = match h & 0xf {
        1 => Kind::Certificate,
        2 => Kind::PublicKey,
        3 => Kind::PrivateKey,
        _ => return None,
    };
    Some((h >> 4, kind))
}

/// An attribute's value, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// The bytes.
    Bytes(Vec<u8>),
    /// The object has no such attribute (CKR_ATTRIBUTE_TYPE_INVALID).
    Invalid,
    /// The attribute is secret (CKR_ATTRIBUTE_SENSITIVE).
    Sensitive,
}

fn ulong(v: CK_ULONG) -> Value {
    Value::Bytes(v.to_ne_bytes().to_vec())
}

fn bool_(v: bool) -> Value {
    Value::Bytes(vec![if v { CK_TRUE } else { CK_FALSE }])
}

fn bytes(v: &[u8]) -> Value {
    Value::Bytes(v.to_vec())
}

/// The objects of `token` a session sees: the certificate (when the device holds one),
/// the public key (when known), the private key (after login).
pub fn visible(token: &Token, public: Option<&RsaPublic>, logged_in: bool) -> Vec<Kind> {
    let mut out = Vec::new();
    if token.certificate.is_some() {
        out.push(Kind::Certificate);
    }
    if public.is_some() {
        out.push(Kind::PublicKey);
        if logged_in {
            out.push(Kind::PrivateKey);
        }
    }
    out
}

/// Attribute `attr` of the `kind` object of `token`, whose public key is `public`.
pub fn attribute(
    token: &Token,
    public: Option<&RsaPublic>,
    kind: Kind,
    attr: CK_ATTRIBUTE_TYPE,
) -> Value {
    let common = match attr {
        CKA_TOKEN => Some(bool_(true)),
        CKA_PRIVATE => Some(bool_(kind == Kind::PrivateKey)),
        CKA_MODIFIABLE | CKA_COPYABLE | CKA_DESTROYABLE => Some(bool_(false)),
        CKA_LABEL => Some(bytes(token.upn.as_bytes())),
        CKA_ID => Some(bytes(&token.id_bytes())),
        CKA_CLASS => Some(ulong(match kind {
            Kind::Certificate => CKO_CERTIFICATE,
            Kind::PublicKey => CKO_PUBLIC_KEY,
            Kind::PrivateKey => CKO_PRIVATE_KEY,
        })),
        _ => None,
    };
    if let Some(v) = common {
        return v;
    }
    match kind {
        Kind::Certificate => {
            let Some(cert) = &token.certificate else {
                return Value::Invalid;
            };
            match attr {
                CKA_CERTIFICATE_TYPE => ulong(CKC_X_509),
                CKA_VALUE => bytes(&cert.der),
                CKA_SUBJECT => bytes(&cert.subject),
                CKA_ISSUER => bytes(&cert.issuer),
                CKA_SERIAL_NUMBER => bytes(&cert.serial),
                CKA_TRUSTED => bool_(false),
                // 1: a token user's certificate.
                CKA_CERTIFICATE_CATEGORY => ulong(1),
                _ => Value::Invalid,
            }
        }
        Kind::PublicKey | Kind::PrivateKey => {
            let Some(public) = public else {
                return Value::Invalid;
            };
            let private = kind == Kind::PrivateKey;
            match attr {
                CKA_KEY_TYPE => ulong(CKK_RSA),
                CKA_MODULUS => bytes(&public.modulus),
                CKA_PUBLIC_EXPONENT => bytes(&public.exponent),
                CKA_MODULUS_BITS if !private => ulong(public.modulus.len() as CK_ULONG * 8),
                CKA_SUBJECT => match &token.certificate {
                    Some(c) => bytes(&c.subject),
                    None => bytes(&[]),
                },
                CKA_LOCAL => bool_(token.tpm),
                CKA_DERIVE => bool_(false),
                CKA_KEY_GEN_MECHANISM => ulong(CKM_RSA_PKCS_KEY_PAIR_GEN),
                CKA_VERIFY if !private => bool_(true),
                CKA_ENCRYPT | CKA_WRAP | CKA_VERIFY_RECOVER if !private => bool_(false),
                CKA_TRUSTED if !private => bool_(false),
                CKA_SIGN if private => bool_(true),
                CKA_SIGN_RECOVER | CKA_DECRYPT | CKA_UNWRAP if private => bool_(false),
                CKA_SENSITIVE | CKA_ALWAYS_SENSITIVE | CKA_NEVER_EXTRACTABLE if private => {
                    bool_(true)
                }
                CKA_EXTRACTABLE | CKA_ALWAYS_AUTHENTICATE | CKA_WRAP_WITH_TRUSTED if private => {
                    bool_(false)
                }
                CKA_PRIVATE_EXPONENT | CKA_PRIME_1 | CKA_PRIME_2 | CKA_EXPONENT_1
                | CKA_EXPONENT_2 | CKA_COEFFICIENT | CKA_VALUE
                    if private =>
                {
                    Value::Sensitive
                }
                _ => Value::Invalid,
            }
        }
    }
}

/// Whether the object matches every (type, value) of `template`.
pub fn matches(
    token: &Token,
    public: Option<&RsaPublic>,
    kind: Kind,
    template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
) -> bool {
    template
        .iter()
        .all(|(t, want)| match attribute(token, public, kind, *t) {
            Value::Bytes(have) => &have == want,
            _ => false,
        })
}
