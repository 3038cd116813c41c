//! The state directory: private files written atomically and read defensively.
//!
//! Writes go to a temporary file created exclusively (`O_EXCL`, a random name, mode 0600:
//! the `tempfile` crate) in the same directory, flushed to disk, and renamed over the old
//! one, then the directory itself is synced: a crash leaves either the old file or the new
//! one, never half of either, and a symbolic link planted at the temporary or final name is
//! replaced, never followed.
//!
//! Reads trust nothing about the path: the file is opened with `O_NOFOLLOW | O_NONBLOCK`
//! (a symbolic link is refused, a FIFO does not block the open), and the OPENED file's
//! metadata is checked (no re-open by path): a regular file, owned by the current user,
//! not accessible by group or others, at most [`MAX_FILE_BYTES`] (read through that limit
//! too, so a file that grows is cut off). The state directory and its subdirectories must
//! be real directories owned by the user with mode 0700 (no group or other bits); every
//! refusal names the path and the fix (`LK-STATE-001..004`).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::AgentError;

/// The largest state file read (1 MiB; the largest the agent writes, the event log, stays
/// far below).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The agent's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// What a file type is, in words, for errors.
fn describe(ft: fs::FileType) -> &'static str {
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// The effective uid of this process.
pub fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Checks owner and mode of `path` whose metadata is `meta`: owned by the current user,
/// no group or other permission bits.
fn check_private(path: &Path, meta: &fs::Metadata, is_dir: bool) -> Result<(), AgentError> {
    let me = current_uid();
    if meta.uid() != me {
        return Err(AgentError::WrongOwner {
            path: path.display().to_string(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        let wanted = if is_dir { "700" } else { "600" };
        return Err(AgentError::InsecurePermissions {
            path: path.display().to_string(),
            mode,
            fix: format!("chmod {wanted} {}", path.display()),
        });
    }
    Ok(())
}

impl StateDir {
    /// Opens `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of `name` (a relative path such as `hello/alice.json`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Checks one directory of the state tree: the root may be reached through a link (it
    /// is the user's choice); below it, links are refused. `Ok(false)` when it is missing.
    fn check_dir(&self, dir: &Path) -> Result<bool, AgentError> {
        let meta = if dir == self.root {
            fs::metadata(dir)
        } else {
            fs::symlink_metadata(dir)
        };
        let meta = match meta {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(AgentError::io("inspect", dir, e)),
        };
        if !meta.file_type().is_dir() {
            return Err(AgentError::NotRegularFile {
                path: dir.display().to_string(),
                found: describe(meta.file_type()),
                expected: "a directory",
            });
        }
        check_private(dir, &meta, true)?;
        Ok(true)
    }

    /// Checks the root and every directory between it and `name`; `Ok(false)` when one is
    /// missing (so `name` cannot exist).
    fn check_parents(&self, name: &str) -> Result<bool, AgentError> {
        if !self.check_dir(&self.root)? {
            return Ok(false);
        }
        let mut dir = self.root.clone();
        let path = Path::new(name);
        let parents: Vec<_> = path
            .parent()
            .map(|p| p.components().collect())
            .unwrap_or_default();
        for part in parents {
            dir.push(part);
            if !self.check_dir(&dir)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn ensure_dir(&self, dir: &Path) -> Result<(), AgentError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| AgentError::io("create directory", dir, e))
    }

    /// Writes `bytes` to `name` atomically with mode 0600.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> Result<(), AgentError> {
        let path = self.path(name);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        self.ensure_dir(&dir)?;
        self.check_parents(name)?;
        // A random name, created with O_EXCL (a planted link or file at that name makes
        // creation fail, it is never followed) and mode 0600 whatever the umask.
        let mut tmp = tempfile::Builder::new()
            .prefix(".lk-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| AgentError::io("create a temporary file in", &dir, e))?;
        tmp.write_all(bytes)
            .map_err(|e| AgentError::io("write", tmp.path(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| AgentError::io("sync", tmp.path(), e))?;
        // rename(2) replaces a link at `path` itself; its target is untouched. On failure
        // the temporary file is removed when `tmp` drops.
        tmp.persist(&path)
            .map_err(|e| AgentError::io("rename into", &path, e.error))?;
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| AgentError::io("sync directory", &dir, e))
    }

    /// Writes `value` as pretty JSON to `name` atomically.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), AgentError> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| AgentError::CorruptState {
            path: self.path(name).display().to_string(),
            reason: e.to_string(),
        })?;
        self.write_bytes(name, &bytes)
    }

    /// Reads `name` as bytes; `None` when it does not exist.
    pub fn read_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, AgentError> {
        if !self.check_parents(name)? {
            return Ok(None);
        }
        let path = self.path(name);
        // O_NOFOLLOW: a link is refused (ELOOP); O_NONBLOCK: opening a FIFO returns at
        // once instead of waiting for a writer. Everything after is checked on the opened
        // file, not on the path.
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(
                (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
            )
            .open(&path);
        let file = match file {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
                return Err(AgentError::NotRegularFile {
                    path: path.display().to_string(),
                    found: "a symbolic link",
                    expected: "a regular file",
                })
            }
            Err(e) => return Err(AgentError::io("open", &path, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| AgentError::io("inspect", &path, e))?;
        if !meta.file_type().is_file() {
            return Err(AgentError::NotRegularFile {
                path: path.display().to_string(),
                found: describe(meta.file_type()),
                expected: "a regular file",
            });
        }
        check_private(&path, &meta, false)?;
        let too_large = || AgentError::TooLarge {
            path: path.display().to_string(),
            limit: MAX_FILE_BYTES,
        };
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_large());
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| AgentError::io("read", &path, e))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large());
        }
        Ok(Some(bytes))
    }

    /// Reads `name` as JSON; `None` when it does not exist.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, AgentError> {
        let Some(bytes) = self.read_bytes(name)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| AgentError::CorruptState {
                path: self.path(name).display().to_string(),
                reason: e.to_string(),
            })
    }

    /// Removes `name` if it exists (a link is removed, not its target).
    pub fn remove(&self, name: &str) -> Result<(), AgentError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(AgentError::io("remove", &path, e)),
        }
    }

    /// The names of the regular files directly in the subdirectory `dir`, sorted; temporary
    /// files, links and anything else are skipped.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, AgentError> {
        let path = self.path(dir);
        if !self.check_parents(&format!("{dir}/x"))? {
            return Ok(Vec::new());
        }
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AgentError::io("list", &path, e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Removes the whole state directory's contents (leaving the organisation).
    pub fn wipe(&self) -> Result<(), AgentError> {
        match fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(AgentError::io("remove", &self.root, e)),
        }
    }
}

/// The state directory `latchkey` uses when `--state-dir` is not given (the PKCS#11
/// module looks in the same place): `$LATCHKEY_STATE_DIR`, else
/// `$XDG_STATE_HOME/latchkey`, else `$HOME/.local/state/latchkey`.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LATCHKEY_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("latchkey");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/state/latchkey")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::process::Command;
    use std::time::{Duration, Instant};

    fn state() -> (tempfile::TempDir, StateDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path().join("state"));
        dir.write_bytes("device.json", b"{}").unwrap();
        (tmp, dir)
    }

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn writes_are_private_atomic_and_leave_no_temporary_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path().join("state"));
        dir.write_json("hello/a.json", &serde_json::json!({"x": 1}))
            .unwrap();
        dir.write_json("hello/a.json", &serde_json::json!({"x": 2}))
            .unwrap();
        let value: serde_json::Value = dir.read_json("hello/a.json").unwrap().unwrap();
        assert_eq!(value["x"], 2);
        let mode = fs::metadata(dir.path("hello/a.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = fs::metadata(dir.path("hello"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o700);
        let all: Vec<_> = fs::read_dir(dir.path("hello")).unwrap().flatten().collect();
        assert_eq!(all.len(), 1, "no temporary file left behind");
        assert_eq!(dir.list("hello").unwrap(), vec!["a.json".to_string()]);
    }

    #[test]
    fn a_corrupt_file_is_reported_with_its_code() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::new(tmp.path().join("state"));
        dir.write_bytes("device.json", b"{ half").unwrap();
        let err = dir
            .read_json::<serde_json::Value>("device.json")
            .unwrap_err();
        assert_eq!(err.code(), "LK-AGENT-003");
        assert!(dir
            .read_json::<serde_json::Value>("missing.json")
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let (_tmp, dir) = state();
        let path = dir.path("device.json");
        fs::remove_file(&path).unwrap();
        let made = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(made.success());
        chmod(&path, 0o600);
        // With no writer, a blocking open would wait forever; the read must return at once
        // (the bound is generous: it only catches a hang).
        let started = Instant::now();
        let err = dir.read_bytes("device.json").unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(err.code(), "LK-STATE-001");
        assert!(err.to_string().contains("a FIFO"), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn a_link_to_dev_zero_or_anything_else_is_refused() {
        let (_tmp, dir) = state();
        let path = dir.path("device.json");
        fs::remove_file(&path).unwrap();
        symlink("/dev/zero", &path).unwrap();
        let err = dir.read_bytes("device.json").unwrap_err();
        assert_eq!(err.code(), "LK-STATE-001");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // A subdirectory that is a link is refused too.
        let elsewhere = tempfile::tempdir().unwrap();
        symlink(elsewhere.path(), dir.path("hello")).unwrap();
        let err = dir.read_bytes("hello/a.json").unwrap_err();
        assert_eq!(err.code(), "LK-STATE-001");
        assert!(err.to_string().contains("a directory"), "{err}");
    }

    #[test]
    fn a_directory_or_a_device_where_a_file_belongs_is_refused() {
        let (_tmp, dir) = state();
        fs::create_dir(dir.path("sso")).unwrap();
        chmod(&dir.path("sso"), 0o700);
        fs::create_dir(dir.path("sso/a.json")).unwrap();
        chmod(&dir.path("sso/a.json"), 0o700);
        assert_eq!(
            dir.read_bytes("sso/a.json").unwrap_err().code(),
            "LK-STATE-001"
        );
    }

    #[test]
    fn a_file_over_the_limit_is_not_read() {
        let (_tmp, dir) = state();
        let big = vec![b' '; usize::try_from(MAX_FILE_BYTES).unwrap() + 1];
        dir.write_bytes("events.json", &big).unwrap();
        let err = dir.read_bytes("events.json").unwrap_err();
        assert_eq!(err.code(), "LK-STATE-002");
        let exact = vec![b' '; usize::try_from(MAX_FILE_BYTES).unwrap()];
        dir.write_bytes("events.json", &exact).unwrap();
        assert_eq!(
            dir.read_bytes("events.json").unwrap().unwrap().len(),
            exact.len()
        );
    }

    #[test]
    fn a_write_replaces_a_planted_link_and_leaves_its_target_untouched() {
        let (tmp, dir) = state();
        let target = tmp.path().join("precious.txt");
        fs::write(&target, b"keep me").unwrap();
        fs::create_dir(dir.path("sso")).unwrap();
        chmod(&dir.path("sso"), 0o700);
        symlink(&target, dir.path("sso/a.json")).unwrap();
        // Links planted at every name the old code used for its temporary file.
        symlink(
            &target,
            dir.path(&format!("sso/.a.json.{}.tmp", std::process::id())),
        )
        .unwrap();
        dir.write_bytes("sso/a.json", b"{\"prt\":\"secret\"}")
            .unwrap();
        assert_eq!(
            fs::read(&target).unwrap(),
            b"keep me",
            "the target is untouched"
        );
        let meta = fs::symlink_metadata(dir.path("sso/a.json")).unwrap();
        assert!(meta.file_type().is_file(), "the link itself was replaced");
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(
            dir.read_bytes("sso/a.json").unwrap().unwrap(),
            b"{\"prt\":\"secret\"}"
        );
    }

    #[test]
    fn loose_permissions_are_refused_naming_the_fix() {
        let (_tmp, dir) = state();
        chmod(dir.root(), 0o777);
        let err = dir.read_bytes("device.json").unwrap_err();
        assert_eq!(err.code(), "LK-STATE-003");
        let fix = format!("chmod 700 {}", dir.root().display());
        assert!(err.to_string().contains(&fix), "{err}");
        // Writes are refused too, and write nothing.
        let err = dir.write_bytes("device.json", b"{\"x\":1}").unwrap_err();
        assert_eq!(err.code(), "LK-STATE-003");
        chmod(dir.root(), 0o700);
        assert_eq!(dir.read_bytes("device.json").unwrap().unwrap(), b"{}");

        chmod(&dir.path("device.json"), 0o644);
        let err = dir.read_bytes("device.json").unwrap_err();
        assert_eq!(err.code(), "LK-STATE-003");
        let fix = format!("chmod 600 {}", dir.path("device.json").display());
        assert!(err.to_string().contains(&fix), "{err}");
        chmod(&dir.path("device.json"), 0o600);
        assert!(dir.read_bytes("device.json").is_ok());
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        let (_tmp, dir) = state();
        let path = dir.path("device.json");
        let me = current_uid();
        let other = if me == 0 { 4242 } else { 0 };
        if std::os::unix::fs::chown(&path, Some(other), None).is_err() {
            // Without the right to give a file away (not root), the case cannot be made.
            assert_ne!(me, 0, "root can always chown");
            return;
        }
        let err = dir.read_bytes("device.json").unwrap_err();
        assert_eq!(err.code(), "LK-STATE-004");
        assert!(err.to_string().contains(&format!("uid {other}")), "{err}");
    }

    #[test]
    fn listing_skips_links_and_special_files() {
        let (tmp, dir) = state();
        dir.write_bytes("hello/a.json", b"{}").unwrap();
        symlink(tmp.path(), dir.path("hello/b.json")).unwrap();
        let made = Command::new("mkfifo")
            .arg(dir.path("hello/c.json"))
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(dir.list("hello").unwrap(), vec!["a.json".to_string()]);
    }
}
