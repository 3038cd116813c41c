//! The tokens: one per Hello key in the state directory, read in-process through the agent
//! library without the PIN (public data only: the user, the key id, the certificate and
//! the public key).

use std::path::{Path, PathBuf};

use latchkey_agent::clock::SystemClock;
use latchkey_agent::container::MAX_TRIES;
use latchkey_agent::provider::StoredKey;
use latchkey_agent::store::StateDir;
use latchkey_agent::Agent;
use latchkey_proto::bcrypt::RsaPublicBlob;

/// An RSA public key, big-endian, without leading zero bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublic {
    /// The modulus.
    pub modulus: Vec<u8>,
    /// The public exponent.
    pub exponent: Vec<u8>,
}

impl RsaPublic {
    /// The key id the agent gives this key (hex SHA-256 of the BCRYPT blob).
    pub fn key_id(&self) -> String {
        hex::encode(RsaPublicBlob::new(&self.exponent, &self.modulus).key_id())
    }

    /// From a `BCRYPT_RSAPUBLIC_BLOB`.
    pub fn from_blob(bytes: &[u8]) -> Option<Self> {
        let blob = RsaPublicBlob::from_bytes(bytes).ok()?;
        Some(RsaPublic {
            modulus: blob.modulus,
            exponent: blob.exponent,
        })
    }

    /// The modulus length in bytes (the signature length).
    pub fn modulus_len(&self) -> usize {
        self.modulus.len()
    }
}

/// The Hello certificate's DER and the fields a PKCS#11 certificate object names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The subject Name, DER.
    pub subject: Vec<u8>,
    /// The issuer Name, DER.
    pub issuer: Vec<u8>,
    /// The serial number as a DER INTEGER.
    pub serial: Vec<u8>,
    /// The certified key.
    pub public: RsaPublic,
}

impl Certificate {
    /// Parses a PEM certificate; `None` when it is not an RSA certificate.
    pub fn from_pem(pem: &str) -> Option<Self> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
        let der = pem.contents;
        let (rest, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
        if !rest.is_empty() {
            return None;
        }
        let public = match cert.public_key().parsed().ok()? {
            x509_parser::public_key::PublicKey::RSA(rsa) => RsaPublic {
                modulus: strip(rsa.modulus),
                exponent: strip(rsa.exponent),
            },
            _ => return None,
        };
        let raw = cert.tbs_certificate.raw_serial();
        let mut serial = vec![0x02];
        serial.extend(der_length(raw.len()));
        serial.extend_from_slice(raw);
        Some(Certificate {
            subject: cert.subject().as_raw().to_vec(),
            issuer: cert.issuer().as_raw().to_vec(),
            serial,
            public,
            der: der.clone(),
        })
    }
}

fn strip(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default().to_vec()
}

fn der_length(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
}

/// One token: a user's Hello key on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The user (the token label).
    pub upn: String,
    /// The key id, hex (CKA_ID is its bytes; the serial its first 16 characters).
    pub key_id: String,
    /// Whether the key is in a TPM.
    pub tpm: bool,
    /// The Hello certificate, when the device holds one for this key.
    pub certificate: Option<Certificate>,
    /// The public key, when known without the PIN (from the certificate, or the TPM's
    /// public area); after a login the signer tells it.
    pub public: Option<RsaPublic>,
}

impl Token {
    /// CKA_ID: the key id's bytes.
    pub fn id_bytes(&self) -> Vec<u8> {
        hex::decode(&self.key_id).unwrap_or_else(|_| self.key_id.as_bytes().to_vec())
    }
}

/// What the container says about the PIN, for the token flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinState {
    /// Failures counted since the last right PIN (software containers).
    pub failures: u32,
    /// Locked out now.
    pub locked: bool,
}

impl PinState {
    /// Tries left before the lockout.
    pub fn remaining(&self) -> u32 {
        MAX_TRIES.saturating_sub(self.failures)
    }
}

/// The agent over `dir` (read-only use: no TPM, no network).
pub fn agent(dir: &Path) -> Agent {
    Agent::new(StateDir::new(dir), Box::new(SystemClock), false)
}

/// The state directory the module reads: `LATCHKEY_STATE_DIR`, else what `latchkey` uses
/// by default.
pub fn state_dir() -> PathBuf {
    latchkey_agent::store::default_state_dir()
}

/// Every token in `dir`, in the order of the users' names. A key whose files cannot be
/// read is left out (the module must not fail to load because of one damaged file).
pub fn discover(dir: &Path) -> Vec<Token> {
    let agent = agent(dir);
    let users = agent.hello_users().unwrap_or_default();
    users
        .into_iter()
        .filter_map(|upn| read_token(&agent, &upn))
        .collect()
}

fn read_token(agent: &Agent, upn: &str) -> Option<Token> {
    let stored = agent.stored_key(upn).ok()??;
    let key_id = stored.key_id().to_owned();
    let certificate = agent
        .certificate(upn)
        .ok()
        .flatten()
        .filter(|c| c.key_id == key_id)
        .and_then(|c| Certificate::from_pem(&c.certificate_pem))
        .filter(|c| c.public.key_id() == key_id);
    let (tpm, public) = match &stored {
        StoredKey::Software(_) => (false, None),
        StoredKey::Tpm(c) => {
            let blob = c.blob("tpm container").ok()?;
            let public = latchkey_agent::tpm_container::public_key(&blob)
                .ok()
                .and_then(|p| latchkey_proto::b64::decode("public key", &p.data).ok())
                .and_then(|b| RsaPublic::from_blob(&b))
                .filter(|p| p.key_id() == key_id);
            (true, public)
        }
    };
    let public = public.or_else(|| certificate.as_ref().map(|c| c.public.clone()));
    Some(Token {
        upn: stored.upn().to_owned(),
        key_id,
        tpm,
        certificate,
        public,
    })
}

/// The PIN state of `upn`'s software container now (a TPM key: the TPM counts, and the
/// module does not open the TPM to read it: all zero).
pub fn pin_state(dir: &Path, upn: &str) -> PinState {
    let agent = agent(dir);
    match agent.container(upn) {
        Ok(Some(c)) => PinState {
            failures: c.lockout.failures,
            locked: c.locked_for(agent.now()).is_some(),
        },
        _ => PinState::default(),
    }
}
