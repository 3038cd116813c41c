//! `latchkeyd pin-recovery ...`: the tenant's PIN-recovery key (docs/pin-reset.md).

use clap::Subcommand;
use latchkeyd::data_admin::Admin;

use crate::admin::admin_error;
use crate::output::{self, table, time};

/// `pin-recovery ...`.
#[derive(Debug, Subcommand)]
pub enum PinRecoveryCommand {
    /// List the PIN-recovery keys: the current one, those still in their grace period, and
    /// the retired ones (no private material is shown).
    Show,
    /// Make a new PIN-recovery key. Devices re-make their recovery blobs under it at their
    /// next sign-in; blobs made under the previous key still open during the grace period.
    Rotate {
        /// Days the previous key keeps opening blobs (1 to 365).
        #[arg(long, default_value_t = latchkey_server::pin_recovery::DEFAULT_GRACE_DAYS)]
        grace_days: u32,
    },
}

/// Runs `pin-recovery ...`.
pub async fn pin_recovery(
    admin: &Admin,
    json: bool,
    command: PinRecoveryCommand,
) -> anyhow::Result<()> {
    match command {
        PinRecoveryCommand::Show => {
            let keys = admin.pin_recovery_keys().await.map_err(admin_error)?;
            if json {
                return output::json(&keys);
            }
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|k| {
                    vec![
                        k.key_id.clone(),
                        k.state.to_owned(),
                        time(k.created_at),
                        k.usable_until.map(time).unwrap_or_else(|| "-".to_owned()),
                    ]
                })
                .collect();
            table(&["KEY ID", "STATE", "CREATED", "USABLE UNTIL"], &rows);
            Ok(())
        }
        PinRecoveryCommand::Rotate { grace_days } => {
            let key_id = admin
                .pin_recovery_rotate(grace_days)
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(
                    &serde_json::json!({ "key_id": key_id, "grace_days": grace_days }),
                );
            }
            println!(
                "new PIN-recovery key {key_id}; the previous key opens recovery blobs for {grace_days} more days"
            );
            Ok(())
        }
    }
}
