//! The Latchkey agent's access to a TPM 2.0, through `tss-esapi` over libtss2.
//!
//! - [`Tpm::open`] a TPM from a [`Tcti`] string (`device:/dev/tpmrm0`,
//!   `swtpm:host=127.0.0.1,port=P`, `mssim:...`); [`default_tcti`]; [`probe`] says whether
//!   it is usable and why; [`Tpm::info`] its manufacturer, firmware and specification.
//! - Keys live under the storage primary key (the standard SRK template; persistent at
//!   0x81000001 when present, else recreated): [`Tpm::create_hello_key`] (PIN-protected,
//!   dictionary-attack protected), [`Tpm::create_device_key`], [`Tpm::sign_message`],
//!   [`Tpm::change_auth`]. A [`KeyBlob`] is the stored form, useless on any other TPM.
//! - The TPM's dictionary-attack state ([`Tpm::dictionary_attack_state`]) and parameters
//!   ([`set_dictionary_attack_parameters`]).
//! - Attestation: [`Tpm::endorsement`] (EK public area and certificate),
//!   [`Tpm::create_aik`], [`Tpm::certify`], [`Tpm::activate_credential`].
//! - With the `swtpm` feature, [`swtpm::SwTpm`] manufactures and runs a private simulator
//!   for tests.
//!
//! Every error is a [`TpmError`] whose message starts with its stable code (`LK-TPM-001`
//! ..), also given by [`TpmError::code`]. Design notes: `docs/tpm.md`, "Device side".

#![forbid(unsafe_code)]

mod attestation;
mod blob;
mod da;
mod device;
mod error;
pub mod family;
mod info;
mod keys;
mod srk;
#[cfg(feature = "swtpm")]
pub mod swtpm;
mod tcti;
mod templates;

pub use attestation::{Certification, Endorsement, EK_CERT_NV_INDEX_RSA, MAX_QUALIFYING_DATA};
pub use blob::{KeyBlob, RsaPublicKey, MAX_BLOB_LEN};
pub use da::{set_dictionary_attack_parameters, DaParameters, DaState};
pub use device::{SrkSource, Tpm, MAX_AUTH_LEN};
pub use error::TpmError;
pub use info::{probe, Probe, TpmInfo};
pub use tcti::{default_tcti, Tcti, DEFAULT_DEVICE};
pub use templates::SRK_PERSISTENT_HANDLE;
