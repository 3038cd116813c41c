//! `latchkeyd serve`: the server library's JSON API with the web crate's pages, OAuth and
//! OpenID Connect routes.

use std::path::PathBuf;

use latchkey_proto::ErrorCode;
use latchkey_server::clock::Env;
use latchkey_server::StartError;

use crate::coded;
use crate::settings::serve::ServeSettings;

/// Starts the service and runs until interrupted.
pub async fn run(settings: ServeSettings, key_file: Option<PathBuf>) -> anyhow::Result<()> {
    let mut config = settings.config;
    config.key_file = key_file;
    let asked_name = config.tenant_name.clone();
    let server = latchkey_server::start_with(config, Env::system(), latchkey_web::router())
        .await
        .map_err(|e| match e {
            StartError::InsecureNotLoopback(_) => coded(ErrorCode::InvalidField, e.to_string()),
            StartError::Setup(setup) => coded(setup.code(), setup.to_string()),
            other => coded(ErrorCode::Internal, other.to_string()),
        })?;
    if server.created_tenant {
        println!(
            "created tenant {} ({})",
            server.tenant_name, server.tenant_id
        );
    } else if settings.tenant_name_given && asked_name != server.tenant_name {
        eprintln!(
            "warning: the tenant name {asked_name:?} given to serve differs from the tenant's name {:?}; \
             the name is only used when the tenant is created. Rename the tenant with \
             `latchkeyd tenant rename`, or drop the setting.",
            server.tenant_name
        );
    }
    println!("URL:            {}", server.base_url);
    println!(
        "tenant:         {} ({})",
        server.tenant_name, server.tenant_id
    );
    println!("CA file:        {}", server.ca_file.display());
    println!("CA SHA-256:     {}", server.ca_fingerprint);
    if let Some(addr) = server.metrics_addr {
        println!("metrics:        http://{addr}/metrics");
    }
    println!("listening on {}", server.base_url);
    wait_for_signal().await;
    server.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
