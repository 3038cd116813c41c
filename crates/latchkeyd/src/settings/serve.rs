//! `latchkeyd serve`'s settings: flags and variables over the `[serve]` and `[connections]`
//! sections over the defaults, checked before anything is started.

use std::time::Duration;

use latchkey_proto::ErrorCode;
use latchkey_server::config::{ConnectionLimits, DEFAULT_LISTEN};
use latchkey_server::ServerConfig;

use super::{duration, Common, ConfigFile, Report};
use crate::cli::ServeArgs;
use crate::coded;

/// What `serve` runs with.
#[derive(Debug)]
pub struct ServeSettings {
    /// The service's configuration.
    pub config: ServerConfig,
    /// Whether a tenant name was given (flag, variable or file), so that a difference
    /// from the stored name is reported.
    pub tenant_name_given: bool,
}

fn invalid(message: String) -> anyhow::Error {
    coded(ErrorCode::ConfigValueInvalid, message)
}

fn file_duration(
    section: &str,
    key: &str,
    text: Option<&String>,
) -> anyhow::Result<Option<Duration>> {
    text.map(|t| {
        duration::parse(t).ok_or_else(|| {
            invalid(format!(
                "[{section}] {key} = {t:?} is not a duration between 1ms and 24h (such as \"500ms\", \"10s\", \"2m\")"
            ))
        })
    })
    .transpose()
}

fn at_least(key: &str, value: usize, min: usize) -> anyhow::Result<usize> {
    if value < min {
        return Err(invalid(format!(
            "[connections] {key} must be at least {min}, not {value}"
        )));
    }
    Ok(value)
}

/// Checks a public URL: `http://` or `https://`, a host, no user name, password, query or
/// fragment.
fn check_public_url(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid(format!(
                "public_url {url:?} must start with https:// or http://"
            ))
        })?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(invalid(format!("public_url {url:?} names no host")));
    }
    if authority.contains('@') {
        return Err(invalid(format!(
            "public_url {url:?} must not hold a user name or password"
        )));
    }
    if url.contains('?') || url.contains('#') || url.chars().any(char::is_whitespace) {
        return Err(invalid(format!(
            "public_url {url:?} must not hold a query, a fragment or spaces"
        )));
    }
    Ok(())
}

/// Merges `serve`'s settings, recording each in `report`, and checks them.
pub fn serve_config(
    common: &Common,
    args: ServeArgs,
    file: &ConfigFile,
    report: &mut Report,
) -> anyhow::Result<ServeSettings> {
    let s = &file.serve;
    let default_listen = DEFAULT_LISTEN.parse().map_err(|_| {
        invalid(format!(
            "the built-in listen address {DEFAULT_LISTEN} does not parse"
        ))
    })?;
    let listen = report.pick("serve", "listen", args.listen, s.listen, default_listen);
    let insecure_http = report.pick(
        "serve",
        "insecure_http",
        args.insecure_http,
        s.insecure_http,
        false,
    );
    if insecure_http && !listen.ip().is_loopback() {
        return Err(invalid(format!(
            "insecure_http is only allowed on a loopback address, not {}",
            listen.ip()
        )));
    }
    let public_url =
        report.pick_optional("serve", "public_url", args.public_url, s.public_url.clone());
    if let Some(url) = &public_url {
        check_public_url(url)?;
    }
    let tenant_name_given = args.tenant_name.is_some() || s.tenant_name.is_some();
    let tenant_name = report.pick(
        "serve",
        "tenant_name",
        args.tenant_name,
        s.tenant_name.clone(),
        latchkey_server::tenant::DEFAULT_TENANT_NAME.to_owned(),
    );
    if tenant_name.trim().is_empty() || tenant_name.len() > 256 {
        return Err(invalid(
            "tenant_name must be 1 to 256 characters".to_owned(),
        ));
    }
    if s.audit_retention_days == Some(0) {
        return Err(invalid(
            "[serve] audit_retention_days must be at least 1".to_owned(),
        ));
    }
    let audit_retention_days = report.pick_optional(
        "serve",
        "audit_retention_days",
        args.audit_retention_days,
        s.audit_retention_days,
    );
    let file_alg = s
        .issuing_ca_algorithm
        .as_deref()
        .map(|a| {
            a.parse::<latchkey_pki::CaAlgorithm>().map_err(|_| {
                invalid(format!(
                    "[serve] issuing_ca_algorithm must be p256 or rsa3072, not {a:?}"
                ))
            })
        })
        .transpose()?;
    let issuing_ca_algorithm = report.pick(
        "serve",
        "issuing_ca_algorithm",
        args.issuing_ca_algorithm,
        file_alg,
        latchkey_server::certs::DEFAULT_ALGORITHM,
    );
    if s.password_concurrency == Some(0) {
        return Err(invalid(
            "[serve] password_concurrency must be at least 1".to_owned(),
        ));
    }
    let password_concurrency = report.pick_optional(
        "serve",
        "password_concurrency",
        None,
        s.password_concurrency,
    );
    let password_wait = report.pick(
        "serve",
        "password_wait",
        None,
        file_duration("serve", "password_wait", s.password_wait.as_ref())?,
        latchkey_server::password::DEFAULT_WAIT,
    );
    let metrics_listen = report.pick_optional(
        "serve",
        "metrics_listen",
        args.metrics_listen,
        s.metrics_listen,
    );
    if metrics_listen.is_some_and(|m| m == listen && listen.port() != 0) {
        return Err(invalid(format!(
            "metrics_listen must not be the service's own listen address {listen}"
        )));
    }
    let connections = connection_limits(file, report)?;

    let mut config = ServerConfig::new(common.data_dir.clone(), listen);
    config.key_file = common.key_file.clone();
    config.database = common.database.clone();
    config.insecure_http = insecure_http;
    config.public_url = public_url;
    config.tenant_name = tenant_name;
    config.audit_retention_days = audit_retention_days;
    config.issuing_ca_algorithm = issuing_ca_algorithm;
    config.password_concurrency = password_concurrency;
    config.password_wait = password_wait;
    config.connections = connections;
    config.metrics_listen = metrics_listen;
    Ok(ServeSettings {
        config,
        tenant_name_given,
    })
}

fn connection_limits(file: &ConfigFile, report: &mut Report) -> anyhow::Result<ConnectionLimits> {
    let c = &file.connections;
    let d = ConnectionLimits::default();
    const S: &str = "connections";
    Ok(ConnectionLimits {
        max_connections: at_least(
            "max_connections",
            report.pick(
                S,
                "max_connections",
                None,
                c.max_connections,
                d.max_connections,
            ),
            1,
        )?,
        reject_slots: report.pick(S, "reject_slots", None, c.reject_slots, d.reject_slots),
        tls_handshake_timeout: report.pick(
            S,
            "tls_handshake_timeout",
            None,
            file_duration(S, "tls_handshake_timeout", c.tls_handshake_timeout.as_ref())?,
            d.tls_handshake_timeout,
        ),
        header_read_timeout: report.pick(
            S,
            "header_read_timeout",
            None,
            file_duration(S, "header_read_timeout", c.header_read_timeout.as_ref())?,
            d.header_read_timeout,
        ),
        body_timeout: report.pick(
            S,
            "body_timeout",
            None,
            file_duration(S, "body_timeout", c.body_timeout.as_ref())?,
            d.body_timeout,
        ),
        idle_timeout: report.pick(
            S,
            "idle_timeout",
            None,
            file_duration(S, "idle_timeout", c.idle_timeout.as_ref())?,
            d.idle_timeout,
        ),
        max_header_bytes: at_least(
            "max_header_bytes",
            report.pick(
                S,
                "max_header_bytes",
                None,
                c.max_header_bytes,
                d.max_header_bytes,
            ),
            1024,
        )?,
        max_headers: at_least(
            "max_headers",
            report.pick(S, "max_headers", None, c.max_headers, d.max_headers),
            8,
        )?,
        max_uri_bytes: at_least(
            "max_uri_bytes",
            report.pick(S, "max_uri_bytes", None, c.max_uri_bytes, d.max_uri_bytes),
            256,
        )?,
        shutdown_timeout: report.pick(
            S,
            "shutdown_timeout",
            None,
            file_duration(S, "shutdown_timeout", c.shutdown_timeout.as_ref())?,
            d.shutdown_timeout,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_checked() {
        for ok in [
            "https://id.contoso.test",
            "http://localhost:8080",
            "https://h/latchkey",
        ] {
            check_public_url(ok).unwrap();
        }
        for bad in [
            "id.contoso.test",
            "ftp://h",
            "https://",
            "https://u:p@h",
            "https://h/?a=1",
            "https://h/#x",
            "https://h /",
        ] {
            assert!(check_public_url(bad).is_err(), "{bad}");
        }
    }
}
