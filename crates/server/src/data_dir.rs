//! The data directory's permissions: created 0700 with every file in it 0600, whatever the
//! umask, and refused when the directory or a file in it is open to group or others.
//!
//! The directory holds the database (password hashes, sealed secrets, the audit trail), the
//! key file that unseals them (by default) and the CA certificate. The service and every
//! administration command check it before opening anything, so a directory left readable
//! (an old install, a careless restore) is named with the fix instead of used.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::secrets::key_file::KEY_FILE;
use crate::storage::sqlite::DB_FILE;
use crate::storage::Database;
use crate::tenant::CA_FILE;

/// The data directory is not private, or cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The directory or a file in it is accessible by group or others.
    #[error(
        "{path} is accessible by group or others (mode {mode:o}); the data directory must be \
         private to the service's user: run `{fix}`",
        path = path.display()
    )]
    NotPrivate {
        /// The directory or file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The command that fixes it.
        fix: String,
    },
    /// A file the service keeps in the data directory is not a regular file.
    #[error("{path} is not a regular file; move it out of the data directory", path = path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// The directory could not be created or inspected.
    #[error("cannot {action} {path}: {source}", path = path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

/// The files the service keeps in the data directory (the database with its WAL and
/// shared-memory files, the CA certificate, the default key file).
fn service_files() -> [String; 6] {
    [
        DB_FILE.to_owned(),
        format!("{DB_FILE}-wal"),
        format!("{DB_FILE}-shm"),
        format!("{DB_FILE}-journal"),
        CA_FILE.to_owned(),
        KEY_FILE.to_owned(),
    ]
}

/// Creates `dir` (mode 0700) if it does not exist, and the empty database file (0600) in
/// it, so that SQLite, which gives its WAL and shared-memory files the database file's
/// mode, never makes a file others can read. Then checks that the directory and every file
/// the service keeps in it are private; see [`check`].
pub fn prepare(dir: &Path) -> Result<(), DataDirError> {
    prepare_for(dir, &Database::Sqlite)
}

/// [`prepare`] for `database`: on PostgreSQL the directory holds only `ca.pem` and the
/// default key file, so no database file is made in it.
pub fn prepare_for(dir: &Path, database: &Database) -> Result<(), DataDirError> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| DataDirError::Io {
            action,
            path,
            source,
        }
    };
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("create", dir))?;
        // The mode given at creation is masked by the umask; set it exactly.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(io("set permissions on", dir))?;
    }
    check(dir)?;
    if *database != Database::Sqlite {
        return Ok(());
    }
    let db = dir.join(DB_FILE);
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&db)
    {
        Ok(file) => file
            .set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io("set permissions on", &db)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io("create", &db)(e)),
    }
}

/// Refuses a data directory that group or others can enter or read, or in which the
/// database, its WAL, the CA file or the key file is accessible by group or others.
pub fn check(dir: &Path) -> Result<(), DataDirError> {
    let meta = fs::metadata(dir).map_err(|source| DataDirError::Io {
        action: "inspect",
        path: dir.to_path_buf(),
        source,
    })?;
    if meta.mode() & 0o077 != 0 {
        return Err(DataDirError::NotPrivate {
            path: dir.to_path_buf(),
            mode: meta.mode() & 0o777,
            fix: format!("chmod 700 {}", dir.display()),
        });
    }
    for name in service_files() {
        let path = dir.join(&name);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(DataDirError::Io {
                    action: "inspect",
                    path,
                    source,
                })
            }
        };
        if !meta.is_file() {
            return Err(DataDirError::NotRegular { path });
        }
        if meta.mode() & 0o077 != 0 {
            let fix = format!("chmod 600 {}", path.display());
            return Err(DataDirError::NotPrivate {
                path,
                mode: meta.mode() & 0o777,
                fix,
            });
        }
    }
    Ok(())
}

/// Writes `contents` to `path` in the data directory atomically with mode 0600 (a temporary
/// file created exclusively beside it, then renamed over it).
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), DataDirError> {
    let io = |action, source| DataDirError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".latchkey.")
        .tempfile_in(dir)
        .map_err(|e| io("create", e))?;
    std::io::Write::write_all(&mut tmp, contents).map_err(|e| io("write", e))?;
    tmp.as_file().sync_all().map_err(|e| io("sync", e))?;
    tmp.persist(path).map_err(|e| io("replace", e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_whatever_the_umask_would_give() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        prepare(&dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(DB_FILE)), 0o600);
        write_private(&dir.join(CA_FILE), b"pem").unwrap();
        assert_eq!(mode(&dir.join(CA_FILE)), 0o600);
        prepare(&dir).unwrap();
    }

    #[test]
    fn a_readable_directory_or_file_is_named_with_its_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        prepare(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let err = prepare(&dir).unwrap_err();
        assert!(matches!(err, DataDirError::NotPrivate { mode: 0o755, .. }));
        assert!(err.to_string().contains("chmod 700"), "{err}");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        for name in [DB_FILE, "latchkey.db-wal", CA_FILE, KEY_FILE] {
            let path = dir.join(name);
            fs::write(&path, b"x").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
            let err = check(&dir).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("chmod 600 {}", path.display())),
                "{err}"
            );
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        check(&dir).unwrap();
    }

    #[test]
    fn a_link_in_place_of_a_service_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        prepare(&dir).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.join(CA_FILE)).unwrap();
        assert!(matches!(check(&dir), Err(DataDirError::NotRegular { .. })));
    }
}
