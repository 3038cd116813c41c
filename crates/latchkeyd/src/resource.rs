//! `latchkeyd resource ...`: the resources (APIs) access tokens may be issued for, besides
//! the registered applications.

use crate::cli::ConfirmArgs;
use clap::Subcommand;
use latchkeyd::data_admin::Admin;

use crate::admin::admin_error;
use crate::output::{self, table, time};

/// `resource ...`.
#[derive(Debug, Subcommand)]
pub enum ResourceCommand {
    /// Register a resource: `latchkey token --audience URI` then gets tokens for it.
    Add {
        /// The audience URI, e.g. api://payroll (the tokens' `aud`, compared exactly).
        uri: String,
        /// A name for people (default: the URI).
        #[arg(long)]
        name: Option<String>,
    },
    /// List resources.
    List,
    /// Remove a resource: no new tokens for it (issued ones stay valid until they expire).
    Remove {
        /// The audience URI, as listed.
        uri: String,
        /// Confirmation.
        #[command(flatten)]
        confirm: ConfirmArgs,
    },
}

/// Runs `resource ...`.
pub async fn resource(admin: &Admin, json: bool, command: ResourceCommand) -> anyhow::Result<()> {
    match command {
        ResourceCommand::Add { uri, name } => {
            let added = admin
                .resource_add(&uri, name.as_deref())
                .await
                .map_err(admin_error)?;
            if json {
                return output::json(&added);
            }
            println!("added resource {} ({})", added.uri, added.name);
            Ok(())
        }
        ResourceCommand::List => {
            let resources = admin.resources().await.map_err(admin_error)?;
            if json {
                return output::json(&resources);
            }
            let rows: Vec<Vec<String>> = resources
                .iter()
                .map(|r| vec![r.uri.clone(), r.name.clone(), time(r.created_at)])
                .collect();
            table(&["URI", "NAME", "CREATED"], &rows);
            Ok(())
        }
        ResourceCommand::Remove { uri, confirm: c } => {
            let resources = admin.resources().await.map_err(admin_error)?;
            crate::confirm::confirm_if_exists(
                c,
                resources.iter().any(|r| r.uri == uri.trim()),
                &format!("Remove the resource {uri} (no new tokens for it)"),
            )?;
            admin.resource_remove(&uri).await.map_err(admin_error)?;
            if json {
                return output::json(&serde_json::json!({ "removed": uri }));
            }
            println!("removed resource {uri}");
            Ok(())
        }
    }
}
