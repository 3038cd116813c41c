//! The HTTP side: a pooled HTTPS client trusting the tenant CA, and JSON posts.

use anyhow::{bail, Context, Result};
use serde::{de::DeserializeOwned, Serialize};

/// A client for one service.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// Connects to `base` (https) trusting only the CA in `ca_pem`.
    pub fn new(base: &str, ca_pem: &[u8], pool: usize) -> Result<Self> {
        let ca = reqwest::Certificate::from_pem(ca_pem).context("tenant CA")?;
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .pool_max_idle_per_host(pool)
            .build()
            .context("HTTP client")?;
        Ok(Api {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// POSTs JSON to `path` and decodes the JSON answer; a non-2xx answer is an error
    /// carrying the service's `{code, message}`.
    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        bearer: Option<&str>,
    ) -> Result<R> {
        let mut req = self.http.post(format!("{}{}", self.base, path)).json(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.with_context(|| format!("POST {path}"))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            bail!("POST {path}: {status}: {text}");
        }
        resp.json()
            .await
            .with_context(|| format!("POST {path}: decoding the answer"))
    }

    /// A fresh nonce for `purpose`.
    pub async fn nonce(&self, purpose: latchkey_proto::proof::Purpose) -> Result<String> {
        let r: latchkey_proto::api::nonce::NonceResponse = self
            .post(
                "/v1/nonce",
                &latchkey_proto::api::nonce::NonceRequest { purpose },
                None,
            )
            .await?;
        Ok(r.nonce)
    }
}
