//! `latchkeyd user import FILE`: many users in one transaction (see
//! `latchkey_storage::import`). Each user gets a new object id and a new TOTP secret
//! (sealed as `user add` seals it); their password is the Argon2id hash the file gives, or
//! none. The TOTP enrolment URIs go to `--enrolment-out`, a file created for the purpose
//! (mode 0600), written whole before the commit and removed when the import fails.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::import_file::{FileError, ImportFormat, ImportReader, ImportRow};
use super::{Admin, AdminError};
use latchkey_server::audit::event;
use latchkey_server::storage::import::MAX_BATCH;
use latchkey_server::storage::{StorageError, User};
use latchkey_server::totp;

/// What an import did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImportSummary {
    /// Users created.
    pub imported: u64,
    /// Of them, users with a password hash.
    pub with_password: u64,
    /// Of them, users without a password.
    pub passwordless: u64,
    /// The file the TOTP enrolment URIs were written to, if any.
    pub enrolment_file: Option<PathBuf>,
}

/// The enrolment file being written; removed on drop unless [`Enrolment::keep`] ran.
struct Enrolment {
    path: PathBuf,
    out: Option<csv::Writer<BufWriter<File>>>,
}

impl Enrolment {
    /// Creates `path` (refused if it exists), readable by its owner only.
    fn create(path: &Path) -> Result<Enrolment, AdminError> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(path)
            .map_err(|e| enrolment_error(path, &e.to_string()))?;
        let mut enrolment = Enrolment {
            path: path.to_owned(),
            out: Some(csv::Writer::from_writer(BufWriter::new(file))),
        };
        enrolment.write("upn", "otpauth_uri")?;
        Ok(enrolment)
    }

    fn write(&mut self, upn: &str, uri: &str) -> Result<(), AdminError> {
        if let Some(out) = self.out.as_mut() {
            out.write_record([upn, uri])
                .map_err(|e| enrolment_error(&self.path, &e.to_string()))?;
        }
        Ok(())
    }

    /// Flushes the file to disk (before the commit).
    fn finish(&mut self) -> Result<(), AdminError> {
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        let fail = |e: &dyn std::fmt::Display| enrolment_error(&self.path, &e.to_string());
        out.flush().map_err(|e| fail(&e))?;
        out.get_ref().get_ref().sync_all().map_err(|e| fail(&e))
    }

    /// Keeps the file (the import committed).
    fn keep(mut self) {
        self.out = None;
        self.path = PathBuf::new();
    }
}

impl Drop for Enrolment {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn enrolment_error(path: &Path, what: &str) -> AdminError {
    AdminError::ImportEnrolment(format!("{}: {what}", path.display()))
}

fn file_error(path: &Path, err: FileError) -> AdminError {
    match err {
        FileError::Line { .. } => AdminError::ImportLine(format!("{}: {err}", path.display())),
        FileError::Read(what) => AdminError::ImportFile(format!("{}: {what}", path.display())),
    }
}

fn rng_error<E>(_: E) -> AdminError {
    AdminError::Invalid("the random number generator failed".into())
}

impl Admin {
    /// Imports the users of `path` (`format`, or the one its extension says) in one
    /// transaction: all of them or, on any refusal, none. The TOTP enrolment URIs are
    /// written to `enrolment_out` when given.
    pub async fn import_users(
        &self,
        path: &Path,
        format: Option<ImportFormat>,
        enrolment_out: Option<&Path>,
    ) -> Result<ImportSummary, AdminError> {
        let format = format
            .or_else(|| ImportFormat::of_path(path))
            .ok_or_else(|| {
                AdminError::ImportFile(format!(
                    "{}: the file name ends neither in .csv nor in .jsonl; give --format",
                    path.display()
                ))
            })?;
        let file = File::open(path)
            .map_err(|e| AdminError::ImportFile(format!("{}: {e}", path.display())))?;
        let mut reader = ImportReader::new(BufReader::with_capacity(1 << 16, file), format);
        let mut enrolment = enrolment_out.map(Enrolment::create).transpose()?;
        let mut import = self.admin.begin_user_import(&self.tenant.id).await?;
        let mut summary = ImportSummary {
            imported: 0,
            with_password: 0,
            passwordless: 0,
            enrolment_file: enrolment_out.map(Path::to_owned),
        };
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut lines = Vec::with_capacity(MAX_BATCH);
        let now = self.env.clock.unix();
        loop {
            let row = reader.next_row().map_err(|e| file_error(path, e))?;
            let last = row.is_none();
            if let Some(row) = row {
                let (user, uri) = self.imported_user(&row, now)?;
                if let Some(enrolment) = enrolment.as_mut() {
                    enrolment.write(&user.upn, &uri)?;
                }
                match row.password_hash {
                    Some(_) => summary.with_password += 1,
                    None => summary.passwordless += 1,
                }
                batch.push(user);
                lines.push(row.line);
            }
            if batch.len() == MAX_BATCH || (last && !batch.is_empty()) {
                if let Err(err) = import.add(&batch).await {
                    return Err(conflict_at(path, err, &batch, &lines));
                }
                summary.imported += batch.len() as u64;
                batch.clear();
                lines.clear();
            }
            if last {
                break;
            }
        }
        if let Some(enrolment) = enrolment.as_mut() {
            enrolment.finish()?;
        }
        let name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy();
        let line = self.line(event::USER_IMPORT).note(format!(
            "{} users from {name} ({} with a password hash, {} passwordless)",
            summary.imported, summary.with_password, summary.passwordless
        ));
        import.commit(&line).await?;
        if let Some(enrolment) = enrolment {
            enrolment.keep();
        }
        Ok(summary)
    }

    /// The user of one row, with a new id and a new sealed TOTP secret, and the secret's
    /// enrolment URI.
    fn imported_user(&self, row: &ImportRow, now: i64) -> Result<(User, String), AdminError> {
        let secret = self
            .env
            .random::<{ totp::SECRET_LEN }>()
            .map_err(rng_error)?;
        let id = self.env.guid().map_err(rng_error)?.to_string();
        let sealed = self
            .tenant
            .seal_totp(&self.env, &id, &secret)
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let uri = totp::otpauth_uri(&self.tenant.name, &row.upn, &secret);
        let user = User {
            id,
            upn: row.upn.clone(),
            display_name: row.display_name.clone(),
            password_hash: row.password_hash.clone().unwrap_or_default(),
            totp_secret: sealed,
            last_totp_step: None,
            disabled: false,
            created_at: now,
        };
        Ok((user, uri))
    }
}

/// A batch's failure, naming the line of the UPN that is taken.
fn conflict_at(path: &Path, err: StorageError, batch: &[User], lines: &[u64]) -> AdminError {
    let StorageError::Conflict(what) = &err else {
        return err.into();
    };
    let upn = what.strip_prefix("user ").unwrap_or(what);
    // The last row of the batch with this UPN: the repeat, when the batch holds it twice.
    let line = batch
        .iter()
        .zip(lines)
        .rev()
        .find(|(u, _)| u.upn == upn)
        .map(|(_, line)| *line);
    match line {
        Some(line) => AdminError::ImportExists(format!(
            "{}: line {line}: user {upn} exists already or is listed earlier in the file",
            path.display()
        )),
        None => err.into(),
    }
}
