//! `latchkeyd tpm-roots ...`: the TPM manufacturer certificates the tenant trusts for EK
//! certificates (docs/tpm.md).

use std::io::Read;
use std::path::PathBuf;

use crate::cli::ConfirmArgs;
use anyhow::Context;
use clap::Subcommand;
use latchkeyd::data_admin::Admin;

use crate::admin::admin_error;
use crate::output::{self, table, time};

/// `tpm-roots ...`.
#[derive(Debug, Subcommand)]
pub enum TpmRootsCommand {
    /// Trust a TPM manufacturer's root CA certificate (PEM or DER) for EK certificates.
    Add {
        /// The certificate file (one certificate).
        file: PathBuf,
        /// The certificate is an intermediate (issuing) CA: used to build chains to a root,
        /// never trusted by itself.
        #[arg(long)]
        intermediate: bool,
    },
    /// List the trusted roots and intermediates.
    List,
    /// Stop trusting a root or intermediate: new activations that need it are refused
    /// (devices activated earlier stay activated).
    Remove {
        /// The SHA-256 fingerprint, as listed.
        fingerprint: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
}

/// Runs `tpm-roots ...`.
pub async fn tpm_roots(admin: &Admin, json: bool, command: TpmRootsCommand) -> anyhow::Result<()> {
    match command {
        TpmRootsCommand::Add { file, intermediate } => {
            let limit = latchkeyd::data_admin::MAX_TPM_ROOT_FILE;
            let mut bytes = Vec::new();
            std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?
                .take(u64::try_from(limit).unwrap_or(u64::MAX) + 1)
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let added = admin
                .tpm_root_add(&bytes, intermediate)
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&added);
            }
            let kind = if added.intermediate {
                "intermediate"
            } else {
                "root"
            };
            println!(
                "added TPM {kind} {} ({}), valid until {}",
                added.fingerprint,
                added.subject,
                time(added.not_after)
            );
            Ok(())
        }
        TpmRootsCommand::List => {
            let roots = admin.tpm_roots().await.map_err(admin_error)?;
            if json {
                return output::json(&roots);
            }
            let rows: Vec<Vec<String>> = roots
                .iter()
                .map(|r| {
                    vec![
                        r.fingerprint.clone(),
                        if r.intermediate {
                            "intermediate"
                        } else {
                            "root"
                        }
                        .to_owned(),
                        r.subject.clone(),
                        time(r.not_after),
                        time(r.added_at),
                    ]
                })
                .collect();
            table(
                &["FINGERPRINT", "KIND", "SUBJECT", "VALID UNTIL", "ADDED"],
                &rows,
            );
            Ok(())
        }
        TpmRootsCommand::Remove {
            fingerprint,
            confirm: c,
        } => {
            let wanted = fingerprint.trim().to_lowercase().replace(':', "");
            let roots = admin.tpm_roots().await.map_err(admin_error)?;
            crate::confirm::confirm_if_exists(
                c,
                roots.iter().any(|r| r.fingerprint == wanted),
                &format!("Stop trusting the TPM root {fingerprint} for new activations"),
            )?;
            admin
                .tpm_root_remove(&fingerprint)
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&serde_json::json!({ "removed": fingerprint }));
            }
            println!("removed TPM root {fingerprint}");
            Ok(())
        }
    }
}
