//! The key file that holds the key-encryption key: 64 hexadecimal digits (a trailing
//! newline allowed), so that `openssl rand -hex 32 > FILE` makes one.
//!
//! By default it is `DATA_DIR/secrets.key`, created (0600) on the first start of a data
//! directory whose secrets are not sealed yet. Deployments that keep it apart from the data
//! directory (and so from its backups) give its path (`latchkeyd --key-file`, or a systemd
//! credential named `latchkey-kek`, which the binary resolves to a path).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::KeyEncryptionKey;

/// The default key file's name in the data directory.
pub const KEY_FILE: &str = "secrets.key";
/// The name of the systemd credential that holds the key file (`LoadCredential=`).
pub const CREDENTIAL_NAME: &str = "latchkey-kek";
/// Larger key files are refused unread.
const MAX_KEY_FILE: u64 = 1024;

/// The key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The database's secrets are sealed, and the key file is not there.
    #[error(
        "the database's secrets are sealed under key-encryption key {sealed_by}, and there is \
         no key file at {path}: restore that file (it is not in the database, by design) or \
         give its location with --key-file"
    )]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
        /// The id of the key the database needs.
        sealed_by: String,
    },
    /// The key file holds another key than the one the database was sealed with.
    #[error(
        "the key file {path} holds key-encryption key {found}, but the database's secrets are \
         sealed under key {sealed_by}: give the service the key file of this data directory"
    )]
    WrongKey {
        /// The file.
        path: PathBuf,
        /// Its key's id.
        found: String,
        /// The id of the key the database needs.
        sealed_by: String,
    },
    /// The file can be read by others than its owner.
    #[error(
        "the key file {path} is accessible by group or others (mode {mode:o}): run `chmod 600 {path}`",
        path = path.display()
    )]
    NotPrivate {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not 64 hexadecimal digits, or not a regular file of at most 1 KiB.
    #[error("the key file {path} is not a key file: {reason}", path = path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// Reading or creating the file failed.
    #[error("cannot {action} the key file {path}: {source}", path = path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

impl KeyFileError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError {
        let path = path.to_path_buf();
        move |source| KeyFileError::Io {
            action,
            path,
            source,
        }
    }
}

/// Loads the key file at `path` for a database whose secrets are sealed under `sealed_by`
/// (`None`: not sealed yet). A missing file is created with `new_key` when the database is
/// not sealed yet, and is an error when it is. Returns the key and whether it was created.
pub fn load_or_create(
    path: &Path,
    sealed_by: Option<&str>,
    new_key: [u8; 32],
) -> Result<(KeyEncryptionKey, bool), KeyFileError> {
    let new_key = Zeroizing::new(new_key);
    let (key, created) = match read(path)? {
        Some(key) => (key, false),
        None => match sealed_by {
            Some(sealed_by) => {
                return Err(KeyFileError::Missing {
                    path: path.to_path_buf(),
                    sealed_by: sealed_by.to_owned(),
                })
            }
            None => create(path, &new_key)?,
        },
    };
    if let Some(sealed_by) = sealed_by {
        if key.id() != sealed_by {
            return Err(KeyFileError::WrongKey {
                path: path.to_path_buf(),
                found: key.id(),
                sealed_by: sealed_by.to_owned(),
            });
        }
    }
    Ok((key, created))
}

/// Reads the key file; `None` when it does not exist.
fn read(path: &Path) -> Result<Option<KeyEncryptionKey>, KeyFileError> {
    // Non-blocking, so that a FIFO planted at the path cannot hang the start.
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(KeyFileError::io("open", path)(e)),
    };
    // The checks are on the opened file, not the path, so a swap in between is harmless.
    let meta = file.metadata().map_err(KeyFileError::io("inspect", path))?;
    let malformed = |reason| KeyFileError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    if !meta.is_file() {
        return Err(malformed("not a regular file"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(KeyFileError::NotPrivate {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o777,
        });
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(malformed("larger than 1 KiB"));
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(KeyFileError::io("read", path))?;
    let bytes = parse(&text).ok_or_else(|| malformed("not 64 hexadecimal digits"))?;
    KeyEncryptionKey::from_bytes(&bytes)
        .map(Some)
        .ok_or_else(|| malformed("refused by AES-256-GCM"))
}

fn parse(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let digits = text.trim_end_matches(['\n', '\r']);
    let mut out = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, &mut out[..]).ok()?;
    Some(out)
}

/// Creates the key file with `key`, mode 0600, never replacing a file that appeared
/// meanwhile (another process starting at the same time): that one is read instead.
fn create(path: &Path, key: &[u8; 32]) -> Result<(KeyEncryptionKey, bool), KeyFileError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".secrets.key.")
        .tempfile_in(dir)
        .map_err(KeyFileError::io("create", path))?;
    let text = Zeroizing::new(format!("{}\n", hex::encode(key)));
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(KeyFileError::io("set permissions on", path))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(KeyFileError::io("write", path))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(KeyFileError::io("sync the directory of", path))?;
            let key = KeyEncryptionKey::from_bytes(key).ok_or(KeyFileError::Malformed {
                path: path.to_path_buf(),
                reason: "refused by AES-256-GCM",
            })?;
            Ok((key, true))
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => match read(path)? {
            Some(key) => Ok((key, false)),
            None => Err(KeyFileError::io("create", path)(e.error)),
        },
        Err(e) => Err(KeyFileError::io("create", path)(e.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let (key, created) = load_or_create(&path, None, [7; 32]).unwrap();
        assert!(created);
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(
            fs::read_to_string(&path).unwrap().trim(),
            hex::encode([7u8; 32])
        );
        let (again, created) = load_or_create(&path, Some(&key.id()), [8; 32]).unwrap();
        assert!(!created);
        assert_eq!(again.id(), key.id());
        // Only the temporary file's absence is checked here: no stray files are left.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_sealed_database_needs_its_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        assert!(matches!(
            load_or_create(&path, Some("00112233aabbccdd"), [1; 32]),
            Err(KeyFileError::Missing { .. })
        ));
        assert!(!path.exists(), "no key is made up for a sealed database");
        fs::write(&path, format!("{}\n", hex::encode([2u8; 32]))).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            load_or_create(&path, Some("00112233aabbccdd"), [1; 32]),
            Err(KeyFileError::WrongKey { .. })
        ));
    }

    #[test]
    fn refuses_readable_malformed_and_special_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        fs::write(&path, hex::encode([3u8; 32])).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path, None, [0; 32]).unwrap_err();
        assert!(matches!(err, KeyFileError::NotPrivate { mode: 0o644, .. }));
        assert!(err.to_string().contains("chmod 600"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        for bad in ["abc", "zz".repeat(32).as_str(), &"a".repeat(2000)] {
            fs::write(&path, bad).unwrap();
            assert!(matches!(
                load_or_create(&path, None, [0; 32]),
                Err(KeyFileError::Malformed { .. })
            ));
        }
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        fs::set_permissions(&fifo, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            load_or_create(&fifo, None, [0; 32]),
            Err(KeyFileError::Malformed {
                reason: "not a regular file",
                ..
            })
        ));
        let sub = dir.path().join("d");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(matches!(
            load_or_create(&sub, None, [0; 32]),
            Err(KeyFileError::Malformed { .. }) | Err(KeyFileError::Io { .. })
        ));
    }
}
