//! # latchkey-pkcs11
//!
//! The Latchkey PKCS#11 module (`liblatchkey_pkcs11.so`): the Hello key and its certificate
//! as a smart-card token for any PKCS#11 consumer (OpenSC's pkcs11-tool, GnuTLS, OpenSSH's
//! `-I`/`PKCS11Provider`, MIT Kerberos PKINIT, p11-kit and the programs behind it).
//!
//! - [`token`]: one token per Hello key in the state directory, read in-process without
//!   the PIN (user, key id, certificate, public key).
//! - [`objects`]: the certificate, public-key and private-key objects and their
//!   attributes.
//! - [`mechanism`]: the signature mechanisms per token and a signing operation.
//! - [`signer`]: the signer child (`latchkey pkcs11-signer`), which holds the unlocked key:
//!   the key never enters the consumer's process.
//! - [`module`]: the state behind one mutex and every function in safe Rust.
//! - `ffi`: the C ABI, the crate's only `unsafe` code.
//!
//! See docs/smart-card.md.
#![deny(unsafe_code)]

pub mod error;
#[allow(unsafe_code)]
mod ffi;
pub mod mechanism;
pub mod module;
pub mod objects;
pub mod signer;
pub mod token;

pub use error::P11Error;
pub use ffi::C_GetFunctionList;
