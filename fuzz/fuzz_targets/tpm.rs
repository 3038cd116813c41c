//! TPM 2.0 structures: TPMS_ATTEST (`TpmsAttest::parse`) and TPMT_PUBLIC
//! (`TpmtPublic::parse`, then `public_key` and the attribute check).
//!
//! Input: `[which: u8][structure]`; even `which` is TPMS_ATTEST, odd TPMT_PUBLIC.
#![no_main]

use latchkey_attest::tpm::attest::TpmsAttest;
use latchkey_attest::tpm::public::TpmtPublic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        if let Ok(a) = TpmsAttest::parse(body) {
            assert_eq!(TpmsAttest::parse(body).ok(), Some(a));
        }
    } else if let Ok(p) = TpmtPublic::parse(body) {
        let _ = p.public_key();
        let _ = p.attributes.require_tpm_bound();
    }
});
