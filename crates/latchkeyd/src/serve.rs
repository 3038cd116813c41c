//! `latchkeyd serve`.

use std::path::Path;

use latchkey_proto::ErrorCode;
use latchkey_server::clock::Env;
use latchkey_server::{ServerConfig, StartError};

use crate::cli::ServeArgs;
use crate::coded;

/// Starts the service and runs until interrupted.
pub async fn run(data_dir: &Path, key_file: Option<&Path>, args: ServeArgs) -> anyhow::Result<()> {
    let mut config = ServerConfig::new(data_dir, args.listen);
    config.key_file = key_file.map(Path::to_path_buf);
    config.insecure_http = args.insecure_http;
    config.tenant_name = args.tenant_name;
    config.public_url = args.public_url;
    config.audit_retention_days = args.audit_retention_days;
    config.issuing_ca_algorithm = args.issuing_ca_algorithm;
    config.metrics_listen = args.metrics_listen;
    let server = latchkey_server::start(config, Env::system())
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
