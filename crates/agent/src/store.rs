//! The state directory: private files written atomically.
//!
//! Every file is written to a temporary file in the same directory, flushed to disk, and
//! renamed over the old one, then the directory itself is synced: a crash leaves either the
//! old file or the new one, never half of either. Files are mode 0600 and directories 0700.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::AgentError;

/// The agent's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
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

    fn ensure_dir(&self, dir: &Path) -> Result<(), AgentError> {
        if dir.is_dir() {
            return Ok(());
        }
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
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| AgentError::io("create", &tmp, e))?;
            // The mode given at creation is masked by the umask; set it exactly.
            file.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(|e| AgentError::io("set permissions on", &tmp, e))?;
            file.write_all(bytes)
                .map_err(|e| AgentError::io("write", &tmp, e))?;
            file.sync_all()
                .map_err(|e| AgentError::io("sync", &tmp, e))?;
            fs::rename(&tmp, &path).map_err(|e| AgentError::io("rename into", &path, e))?;
            fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| AgentError::io("sync directory", &dir, e))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
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
        let path = self.path(name);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AgentError::io("read", &path, e)),
        }
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

    /// Removes `name` if it exists.
    pub fn remove(&self, name: &str) -> Result<(), AgentError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(AgentError::io("remove", &path, e)),
        }
    }

    /// The names of the regular files directly in the subdirectory `dir`, sorted; temporary
    /// files are skipped.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, AgentError> {
        let path = self.path(dir);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AgentError::io("list", &path, e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_file())
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let dir = StateDir::new(tmp.path());
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
}
