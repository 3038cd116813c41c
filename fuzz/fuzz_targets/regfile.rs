//! The `.reg` import (UTF-16LE or UTF-8 text from an administrator's file), and the GPO
//! settings it yields.
#![no_main]

use latchkey_policy::gpo::GpoScope;
use latchkey_policy::regfile::import_reg_bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(import) = import_reg_bytes(data) {
        for scope in [GpoScope::Computer, GpoScope::User] {
            let settings = import.scope(scope);
            let _ = settings.check_scope(scope);
            let _ = settings.to_settings();
        }
    }
});
