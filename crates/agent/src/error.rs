//! The agent's one error type, with the stable codes users see in messages.

use thiserror::Error;

/// Everything that can go wrong on the device. Every message starts with its stable code
/// (`LK-AGENT-…`, `LK-STATE-…` for state files that are unsafe to use, `LK-PIN-…`, or the service's own code for refusals by the service).
#[derive(Debug, Error)]
pub enum AgentError {
    /// The device has not joined (or has left).
    #[error("LK-AGENT-001: this device is not joined; run `latchkey join` first")]
    NotJoined,
    /// The device is joined already.
    #[error("LK-AGENT-002: this device is already joined to tenant {tenant} as device {device}; run `latchkey leave` first")]
    AlreadyJoined {
        /// Tenant id.
        tenant: String,
        /// Device id.
        device: String,
    },
    /// A state file exists but cannot be understood.
    #[error("LK-AGENT-003: the state file {path} is unreadable or corrupt: {reason}")]
    CorruptState {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Reading or writing the state directory failed.
    #[error("LK-AGENT-004: cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The service could not be reached: the connection was refused, the host name is not
    /// known, no answer came in time.
    #[error("LK-AGENT-005: cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The service answered with something that is not the documented response.
    #[error("LK-AGENT-006: unexpected response from the service ({context}): {reason}")]
    BadResponse {
        /// Which call.
        context: &'static str,
        /// Why.
        reason: String,
    },
    /// The server answered, but its TLS certificate is not one this device trusts (not
    /// signed by the pinned tenant CA, not for the host name, expired).
    #[error("LK-AGENT-039: the server at {url} is not trusted: {reason}")]
    NotTrusted {
        /// The URL.
        url: String,
        /// Which check failed, in words.
        reason: String,
    },
    /// The service's CA is not trusted and could not be confirmed.
    #[error("LK-AGENT-007: the service's CA is not trusted: {0}")]
    UntrustedCa(String),
    /// A CA file or fingerprint given on the command line is unusable or does not match.
    #[error("LK-AGENT-008: {0}")]
    BadCa(String),
    /// The user has no Hello key on this device.
    #[error(
        "LK-AGENT-009: {upn} has no Windows Hello key on this device; run `latchkey hello setup`"
    )]
    NotProvisioned {
        /// The user.
        upn: String,
    },
    /// The prerequisite check failed: provisioning will not launch.
    #[error("LK-AGENT-010: provisioning will not launch: {failed}")]
    WillNotProvision {
        /// The failed checks, in words.
        failed: String,
    },
    /// No primary refresh token is held for the user.
    #[error("LK-AGENT-011: no primary refresh token for {upn}; run `latchkey signin`")]
    NoPrt {
        /// The user.
        upn: String,
    },
    /// A key could not be generated or used.
    #[error("LK-AGENT-012: key operation failed: {0}")]
    Crypto(String),
    /// A command-line value is unusable.
    #[error("LK-AGENT-013: {0}")]
    InvalidInput(String),
    /// Policy requires the certificate step (UseCertificateForOnPremAuth) and it did not
    /// complete: provisioning waits for it.
    #[error("LK-AGENT-014: waiting for certificate enrollment: {detail}; Hello is not provisioned on this device until the certificate step completes (nothing was stored here; run `latchkey hello setup` again)")]
    WaitingForCertificate {
        /// The policy and its source, in words.
        detail: String,
    },
    /// The user has no Hello certificate on this device.
    #[error(
        "LK-AGENT-029: {upn} has no Hello certificate on this device; run `latchkey cert enroll`"
    )]
    NoCertificate {
        /// The user.
        upn: String,
    },
    /// The certificate expired: it cannot be renewed, only replaced by a new enrolment.
    #[error("LK-AGENT-030: the Hello certificate of {upn} expired at {at}; an expired certificate is not renewed: run `latchkey cert enroll` (a fresh multi-factor sign-in)")]
    CertificateExpired {
        /// The user.
        upn: String,
        /// When it expired (RFC 3339).
        at: String,
    },
    /// The certificate the service returned is not for this key or this tenant.
    #[error("LK-AGENT-031: the service's certificate was not installed: {reason}")]
    CertificateNotForKey {
        /// What is wrong.
        reason: String,
    },
    /// This Hello key cannot be reset without making a new one (no recovery part, a TPM
    /// key, or `EnablePinRecovery` off).
    #[error("LK-AGENT-037: the PIN of {upn} cannot be reset on this key: {reason}; `latchkey pin reset --destructive` makes a new key")]
    PinRecoveryUnavailable {
        /// The user.
        upn: String,
        /// Why.
        reason: String,
    },
    /// The recovery data (the service's answer, the recovery wrap) could not be used.
    #[error("LK-AGENT-038: the PIN recovery failed on this device: {detail}")]
    PinRecoveryFailed {
        /// What failed (with the recovery crate's code).
        detail: String,
    },
    /// The certificate record is damaged, of an unknown version, or names another user.
    #[error("LK-STATE-013: the Hello certificate record {path} is damaged: {reason}; remove it and run `latchkey cert enroll`")]
    CertificateRecordDamaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A state path is not what the agent wrote: a FIFO, device, socket, directory or
    /// symbolic link where a regular file (or a directory where a directory) belongs.
    #[error("LK-STATE-001: {path} is {found}, not {expected}; the agent only uses what it wrote itself: remove it (`rm {path}`) and, if it held the join, join again")]
    NotRegularFile {
        /// The path.
        path: String,
        /// What was found (`a FIFO`, `a symbolic link`, ...).
        found: &'static str,
        /// What belongs there (`a regular file`, `a directory`).
        expected: &'static str,
    },
    /// A state file is larger than any file the agent writes.
    #[error("LK-STATE-002: {path} is larger than {limit} bytes, which no state file of the agent is; it is not read")]
    TooLarge {
        /// The path.
        path: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// A state directory or file is accessible by group or others.
    #[error("LK-STATE-003: {path} has mode {mode:04o}: group or others may use it, so its secrets cannot be trusted; fix it with `{fix}` (and check nobody changed it)")]
    InsecurePermissions {
        /// The path.
        path: String,
        /// Its permission bits.
        mode: u32,
        /// The command that fixes it.
        fix: String,
    },
    /// A state directory or file belongs to another user.
    #[error("LK-STATE-004: {path} belongs to uid {owner}, not to this user (uid {me}); fix it with `chown {me} {path}` if that is right, or use your own --state-dir")]
    WrongOwner {
        /// The path.
        path: String,
        /// Its owner's uid.
        owner: u32,
        /// The current user's uid.
        me: u32,
    },
    /// A container's Argon2id parameters are outside the fixed bounds.
    #[error("LK-STATE-005: {what} asks for Argon2id parameters outside the accepted bounds ({detail}); it is refused without trying the PIN")]
    KdfOutOfBounds {
        /// Whose parameters (`the container of a@example.com`).
        what: String,
        /// Which parameter and the bound.
        detail: String,
    },
    /// A state file carries a format version this agent does not know.
    #[error("LK-STATE-006: {path} has format version {version}, which this agent does not know (it knows {known}); use the agent version that wrote it")]
    UnknownVersion {
        /// The file.
        path: String,
        /// Its version.
        version: u32,
        /// The versions known.
        known: &'static str,
    },
    /// A container's header (user, key id, parameters, ciphertext) fails its integrity
    /// check: damage, not a wrong PIN (no try is counted).
    #[error("LK-STATE-007: the Hello container of {upn} is damaged ({reason}); no PIN was tried and no try was counted; run `latchkey hello setup` to make a new key")]
    ContainerDamaged {
        /// The user.
        upn: String,
        /// What failed.
        reason: String,
    },
    /// The device key is sealed to a machine binding that is missing or different.
    #[error("LK-STATE-008: the device key cannot be unsealed: {reason}; if this machine's identity changed, leave (`latchkey leave --force`) and join again")]
    DeviceKeySealed {
        /// Why.
        reason: String,
    },
    /// The TPM failed (any error other than the ones below); the TPM's own code follows.
    #[error("LK-AGENT-015: TPM error: {0}")]
    Tpm(latchkey_tpm::TpmError),
    /// The TPM refused the PIN; the TPM counted the failure (its dictionary-attack
    /// protection is the authority, not a counter in a file).
    #[error("LK-AGENT-016: the PIN is incorrect; the TPM counted the failure ({})", tries_words(*.tries_left))]
    TpmWrongPin {
        /// Tries the TPM allows before it locks out, when it could be read.
        tries_left: Option<u32>,
    },
    /// The TPM is in dictionary-attack lockout: no PIN is asked for or tried.
    #[error("LK-AGENT-017: the TPM is locked out after too many incorrect PINs ({counter} of {max_tries} failures counted); {wait}; no PIN was asked for or tried")]
    TpmLockedOut {
        /// The TPM's failure counter.
        counter: u32,
        /// The TPM's maximum.
        max_tries: u32,
        /// How long to wait, in words.
        wait: String,
    },
    /// The stored Hello key was made by another TPM (or the state directory was copied to
    /// another machine): this TPM cannot load it.
    #[error("LK-AGENT-018: the Hello key of {upn} was made by another TPM and cannot be used with the TPM at {tcti} ({detail}); run `latchkey hello setup` on this device to make a new key")]
    TpmKeyNotHere {
        /// The user.
        upn: String,
        /// The TPM in use.
        tcti: String,
        /// What the TPM said.
        detail: String,
    },
    /// `--key-provider tpm` was asked for and no usable TPM 2.0 answered.
    #[error("LK-AGENT-019: the TPM key provider was requested but no usable TPM 2.0 was found: {reason}")]
    TpmUnavailable {
        /// What the probe found.
        reason: String,
    },
    /// The user's Hello key was made by another key provider than the one in use.
    #[error("LK-AGENT-020: the Hello key of {upn} was made by the {stored} provider, but this command uses the {active} provider; pass `--key-provider {hint}` (or run `latchkey hello setup` again)")]
    ProviderMismatch {
        /// The user.
        upn: String,
        /// The provider that made the key.
        stored: String,
        /// The provider in use.
        active: String,
        /// The `--key-provider` value that would use the stored key.
        hint: &'static str,
    },
    /// A TPM Hello container cannot be used (bad encoding, unknown version, a public area
    /// that does not match its key id).
    #[error("LK-STATE-009: the TPM Hello container {path} is damaged: {reason}; run `latchkey hello setup` to make a new key")]
    TpmContainerDamaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The service does not offer TPM attestation: it answered 404 on the activation
    /// route (a version from before TPM attestation).
    #[error("LK-AGENT-021: the service at {url} does not offer TPM attestation (it answered {code} for {route}: a version from before TPM attestation); the device stays joined and its Hello keys register without attestation")]
    TpmAttestationUnsupported {
        /// The service.
        url: String,
        /// The route that was not found.
        route: &'static str,
        /// The service's code for the 404.
        code: String,
    },
    /// TPM attestation was asked for but the key provider in use has no TPM.
    #[error("LK-AGENT-022: TPM attestation needs the TPM key provider, but this command uses the {provider}; pass `--key-provider tpm` (and `--tpm TCTI` when the TPM is not /dev/tpmrm0)")]
    TpmAttestationNeedsTpm {
        /// The provider in use.
        provider: String,
    },
    /// The TPM could not certify the new Hello key with the device's AIK.
    #[error("LK-AGENT-023: the TPM could not certify the Hello key with this device's attestation key ({detail}); nothing was registered; run `latchkey tpm attest --renew` to make and activate a new one")]
    TpmCertifyFailed {
        /// What the TPM said.
        detail: String,
    },
    /// The TPM identity file cannot be used (bad encoding, blobs, or an AIK name that is
    /// not its public area's).
    #[error("LK-STATE-010: the TPM identity file {path} is damaged: {reason}; run `latchkey tpm attest --renew` to replace it")]
    TpmIdentityDamaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The device key is in a TPM that cannot load it: the state directory was copied to
    /// another machine, or another TPM is in use.
    #[error("LK-AGENT-027: the device key was made by another TPM and cannot be used with the TPM at {tcti} ({detail}); if this is not the machine that joined, join from this machine; if the TPM was cleared or replaced, `latchkey leave --force` and join again")]
    DeviceKeyNotThisTpm {
        /// The TPM in use.
        tcti: String,
        /// What the TPM said.
        detail: String,
    },
    /// The device key is in a TPM and no TPM is in use or it does not answer.
    #[error("LK-AGENT-028: the device key is in a TPM, which cannot be used now: {reason}; use the TPM that joined (`--key-provider tpm` or `auto`, `--tpm TCTI`)")]
    DeviceKeyTpmUnreachable {
        /// Why.
        reason: String,
    },
    /// A TPM key-pool entry cannot be used (bad encoding, a key id that is not its public
    /// area's, a sealed authorisation value that does not open here). It is removed and
    /// not used; `hello setup` makes a key as without a pool.
    #[error("LK-STATE-012: the TPM key-pool entry {path} is damaged or not from this machine: {reason}; it is removed and not used")]
    TpmPoolEntryDamaged {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The TPM identity file names another device than the join.
    #[error("LK-STATE-011: the TPM identity file {path} belongs to device {found}, not to this device {device}; run `latchkey tpm attest --renew` to replace it")]
    TpmIdentityOfAnotherDevice {
        /// The file.
        path: String,
        /// The device it names.
        found: String,
        /// The joined device.
        device: String,
    },
    /// A signature over a caller-supplied digest that is not offered (an unknown
    /// DigestInfo, a digest of the wrong length, a scheme the key's store cannot make).
    #[error("LK-AGENT-032: this signature is not offered: {reason}")]
    PrehashedRefused {
        /// Why.
        reason: String,
    },
    /// The smart-card signer's conversation with the module broke its protocol (a frame
    /// too long, an unknown request, a request out of order).
    #[error("LK-AGENT-033: smart-card signer protocol error: {reason}")]
    SignerProtocol {
        /// What was wrong.
        reason: String,
    },
    /// The p11-kit module file (UseHelloCertificatesAsSmartCardCertificates) could not be
    /// written or removed.
    #[error("LK-AGENT-034: cannot update the smart-card module file {path}: {reason}")]
    SmartCardModuleFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The wrong PIN was entered.
    #[error("LK-PIN-001: the PIN is incorrect ({remaining} tries left before a lockout)")]
    WrongPin {
        /// Tries left before the lockout begins (0 when the next failure extends it).
        remaining: u32,
    },
    /// Too many wrong PINs: tries are refused until the delay has passed.
    #[error("LK-PIN-002: too many incorrect PINs; try again in {wait_seconds} s")]
    PinLocked {
        /// Seconds until the next try is accepted.
        wait_seconds: i64,
    },
    /// The PIN breaks the PIN policy.
    #[error("LK-PIN-003: the PIN {0}")]
    PinPolicy(String),
    /// The two PIN entries differ.
    #[error("LK-PIN-004: the PINs do not match")]
    PinMismatch,
    /// The new PIN is one of the last PINs the history policy remembers.
    #[error("LK-PIN-005: the new PIN was used recently; PIN history forbids reusing any of the last {history} PINs (the current one included)")]
    PinReused {
        /// PINComplexity/History in force.
        history: u32,
    },
    /// The PIN is older than PINComplexity/Expiration allows.
    #[error("LK-PIN-006: the PIN of {upn} expired {expired_on} (PINs expire after {days} days); run `latchkey hello pin change` to set a new one")]
    PinExpired {
        /// The user.
        upn: String,
        /// PINComplexity/Expiration in force, in days.
        days: u32,
        /// When it expired (RFC 3339).
        expired_on: String,
    },
    /// The service refused the request; `code` is the service's stable code.
    #[error("{code}: {message}")]
    Service {
        /// The service's code, e.g. `LK-KEY-001`.
        code: String,
        /// The service's message.
        message: String,
        /// The HTTP status.
        status: u16,
    },
}

impl AgentError {
    /// The stable code, e.g. `LK-PIN-001`.
    pub fn code(&self) -> &str {
        match self {
            AgentError::NotJoined => "LK-AGENT-001",
            AgentError::AlreadyJoined { .. } => "LK-AGENT-002",
            AgentError::CorruptState { .. } => "LK-AGENT-003",
            AgentError::Io { .. } => "LK-AGENT-004",
            AgentError::Unreachable { .. } => "LK-AGENT-005",
            AgentError::BadResponse { .. } => "LK-AGENT-006",
            AgentError::NotTrusted { .. } => "LK-AGENT-039",
            AgentError::UntrustedCa(_) => "LK-AGENT-007",
            AgentError::BadCa(_) => "LK-AGENT-008",
            AgentError::NotProvisioned { .. } => "LK-AGENT-009",
            AgentError::WillNotProvision { .. } => "LK-AGENT-010",
            AgentError::NoPrt { .. } => "LK-AGENT-011",
            AgentError::Crypto(_) => "LK-AGENT-012",
            AgentError::InvalidInput(_) => "LK-AGENT-013",
            AgentError::WaitingForCertificate { .. } => "LK-AGENT-014",
            AgentError::NotRegularFile { .. } => "LK-STATE-001",
            AgentError::TooLarge { .. } => "LK-STATE-002",
            AgentError::InsecurePermissions { .. } => "LK-STATE-003",
            AgentError::WrongOwner { .. } => "LK-STATE-004",
            AgentError::KdfOutOfBounds { .. } => "LK-STATE-005",
            AgentError::UnknownVersion { .. } => "LK-STATE-006",
            AgentError::ContainerDamaged { .. } => "LK-STATE-007",
            AgentError::DeviceKeySealed { .. } => "LK-STATE-008",
            AgentError::Tpm(_) => "LK-AGENT-015",
            AgentError::TpmWrongPin { .. } => "LK-AGENT-016",
            AgentError::TpmLockedOut { .. } => "LK-AGENT-017",
            AgentError::TpmKeyNotHere { .. } => "LK-AGENT-018",
            AgentError::TpmUnavailable { .. } => "LK-AGENT-019",
            AgentError::ProviderMismatch { .. } => "LK-AGENT-020",
            AgentError::TpmContainerDamaged { .. } => "LK-STATE-009",
            AgentError::TpmAttestationUnsupported { .. } => "LK-AGENT-021",
            AgentError::TpmAttestationNeedsTpm { .. } => "LK-AGENT-022",
            AgentError::TpmCertifyFailed { .. } => "LK-AGENT-023",
            AgentError::TpmIdentityDamaged { .. } => "LK-STATE-010",
            AgentError::TpmIdentityOfAnotherDevice { .. } => "LK-STATE-011",
            AgentError::DeviceKeyNotThisTpm { .. } => "LK-AGENT-027",
            AgentError::DeviceKeyTpmUnreachable { .. } => "LK-AGENT-028",
            AgentError::TpmPoolEntryDamaged { .. } => "LK-STATE-012",
            AgentError::NoCertificate { .. } => "LK-AGENT-029",
            AgentError::CertificateExpired { .. } => "LK-AGENT-030",
            AgentError::CertificateNotForKey { .. } => "LK-AGENT-031",
            AgentError::PinRecoveryUnavailable { .. } => "LK-AGENT-037",
            AgentError::PinRecoveryFailed { .. } => "LK-AGENT-038",
            AgentError::CertificateRecordDamaged { .. } => "LK-STATE-013",
            AgentError::PrehashedRefused { .. } => "LK-AGENT-032",
            AgentError::SignerProtocol { .. } => "LK-AGENT-033",
            AgentError::SmartCardModuleFile { .. } => "LK-AGENT-034",
            AgentError::WrongPin { .. } => "LK-PIN-001",
            AgentError::PinLocked { .. } => "LK-PIN-002",
            AgentError::PinPolicy(_) => "LK-PIN-003",
            AgentError::PinMismatch => "LK-PIN-004",
            AgentError::PinReused { .. } => "LK-PIN-005",
            AgentError::PinExpired { .. } => "LK-PIN-006",
            AgentError::Service { code, .. } => code,
        }
    }

    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        AgentError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

fn tries_words(tries_left: Option<u32>) -> String {
    match tries_left {
        Some(n) => format!("{n} tries left before the TPM locks out"),
        None => "the TPM's remaining tries could not be read".to_owned(),
    }
}
