//! The HTTP side: a pooled HTTPS client trusting the tenant CA, and JSON posts. With
//! several replicas each request goes to the next one in turn (reqwest keeps each
//! replica's connections alive in its own pool).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::{de::DeserializeOwned, Serialize};

/// A client for the service's replicas.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    /// The replicas' base URLs.
    bases: Arc<Vec<String>>,
    /// The next replica a request goes to (modulo their number).
    next: Arc<AtomicUsize>,
}

impl Api {
    /// Connects to the replicas at `bases` (https) trusting only the CA in `ca_pem`,
    /// keeping up to `pool` idle connections to each.
    pub fn new(bases: &[String], ca_pem: &[u8], pool: usize) -> Result<Self> {
        anyhow::ensure!(!bases.is_empty(), "no service URL");
        let ca = reqwest::Certificate::from_pem(ca_pem).context("tenant CA")?;
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .pool_max_idle_per_host(pool)
            .build()
            .context("HTTP client")?;
        Ok(Api {
            http,
            bases: Arc::new(
                bases
                    .iter()
                    .map(|b| b.trim_end_matches('/').to_string())
                    .collect(),
            ),
            next: Arc::new(AtomicUsize::new(0)),
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
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len();
        let base = self.bases.get(n).context("no service URL")?;
        let mut req = self.http.post(format!("{base}{path}")).json(body);
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
