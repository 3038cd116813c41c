//! Where the key-encryption key's file is: `--key-file` (or `LATCHKEY_KEY_FILE`), else the
//! systemd credential `latchkey-kek` when systemd passed one, else the library's default
//! (`DATA_DIR/secrets.key`).

use std::path::PathBuf;

use latchkey_server::secrets::key_file::CREDENTIAL_NAME;

/// The key file to use: `explicit`, else `$CREDENTIALS_DIRECTORY/latchkey-kek` when that
/// file exists, else `None` (the data directory's own).
pub fn resolve(explicit: Option<PathBuf>, credentials_dir: Option<PathBuf>) -> Option<PathBuf> {
    explicit.or_else(|| {
        credentials_dir
            .map(|dir| dir.join(CREDENTIAL_NAME))
            .filter(|path| path.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_then_credential_then_default() {
        let creds = tempfile::tempdir().unwrap();
        let dir = creds.path().to_path_buf();
        assert_eq!(resolve(None, Some(dir.clone())), None, "no credential file");
        std::fs::write(dir.join(CREDENTIAL_NAME), "x").unwrap();
        assert_eq!(
            resolve(None, Some(dir.clone())),
            Some(dir.join(CREDENTIAL_NAME))
        );
        let flag = PathBuf::from("/etc/latchkey/kek");
        assert_eq!(resolve(Some(flag.clone()), Some(dir)), Some(flag));
        assert_eq!(resolve(None, None), None);
    }
}
