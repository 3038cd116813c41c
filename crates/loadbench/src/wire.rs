//! A lean HTTP/1.1-over-TLS client for the timed phases.
//!
//! The load generator shares the machine's two cores with the service, so every microsecond
//! it spends per request is taken from the service being measured. A general client (reqwest:
//! URL parsing, a connection pool, and a hand-off to a connection task and back for every
//! request) cost the generator about 90 µs of CPU per sign-in; this client, about 35 µs.
//! Here each connection is a TLS stream owned by whoever holds it: a request is one
//! write of bytes serialised beforehand, the answer is read on the same task, its head parsed
//! by `httparse` (hyper's parser), its body read to its `Content-Length`.
//!
//! With several replicas (`--replicas`) each request goes to the next replica in turn, on
//! one of that replica's kept-alive connections (a new one when none is idle).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The most header lines an answer may carry.
const MAX_HEADERS: usize = 32;

/// A POST serialised once, sent as is.
#[derive(Debug, Clone)]
pub struct Prepared(Vec<u8>);

/// Connections to the service's replicas, kept open and handed out one at a time.
#[derive(Clone)]
pub struct Pool {
    connector: TlsConnector,
    /// The `Host` of every request: the first replica's `host:port` (the service checks
    /// no host, and behind a balancer every replica would see the same one).
    host: String,
    name: ServerName<'static>,
    replicas: Arc<Vec<Replica>>,
    /// The next replica a request goes to (modulo their number).
    next: Arc<AtomicUsize>,
}

/// One replica's address, idle connections and counters.
struct Replica {
    addr: String,
    idle: Mutex<Vec<Conn>>,
    /// Requests sent to it.
    requests: AtomicU64,
    /// Connections opened to it.
    connections: AtomicU64,
}

/// One kept-alive connection with its read buffer.
struct Conn {
    tls: TlsStream<TcpStream>,
    buf: Vec<u8>,
}

impl Pool {
    /// Connections to the replicas at `urls` (`https://HOST:PORT` each, one host name for
    /// all) trusting only the CA in `ca_pem`.
    pub fn new(urls: &[String], ca_pem: &[u8]) -> Result<Pool> {
        let addrs = urls
            .iter()
            .map(|url| {
                Ok(url
                    .strip_prefix("https://")
                    .context("the service URL is not https")?
                    .trim_end_matches('/')
                    .to_owned())
            })
            .collect::<Result<Vec<String>>>()?;
        let addr = addrs.first().context("no service URL")?.clone();
        let host = addr
            .rsplit_once(':')
            .map_or(addr.as_str(), |(host, _)| host);
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            roots
                .add(cert.context("reading the tenant CA")?)
                .context("trusting the tenant CA")?;
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Pool {
            connector: TlsConnector::from(Arc::new(config)),
            name: ServerName::try_from(host.to_string())?,
            host: addr,
            replicas: Arc::new(
                addrs
                    .into_iter()
                    .map(|addr| Replica {
                        addr,
                        idle: Mutex::new(Vec::new()),
                        requests: AtomicU64::new(0),
                        connections: AtomicU64::new(0),
                    })
                    .collect(),
            ),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Requests sent and connections opened so far, per replica.
    pub fn spread(&self) -> Vec<(u64, u64)> {
        self.replicas
            .iter()
            .map(|r| {
                (
                    r.requests.load(Ordering::Relaxed),
                    r.connections.load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// `POST path` with `body` as JSON, serialised now to be sent later.
    pub fn post_json<B: serde::Serialize>(&self, path: &str, body: &B) -> Result<Prepared> {
        self.post_json_with(path, body, None)
    }

    /// [`Pool::post_json`] with an `Authorization: Bearer` header when `bearer` is given.
    pub fn post_json_with<B: serde::Serialize>(
        &self,
        path: &str,
        body: &B,
        bearer: Option<&str>,
    ) -> Result<Prepared> {
        let json = serde_json::to_vec(body)?;
        let authorization = bearer
            .map(|t| format!("authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let mut bytes = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             {authorization}content-length: {}\r\n\r\n",
            self.host,
            json.len()
        )
        .into_bytes();
        bytes.extend_from_slice(&json);
        Ok(Prepared(bytes))
    }

    /// Sends `request` to the next replica on an idle connection (a new one if none is
    /// idle) and returns the status and body; the connection goes back to that replica's
    /// idle ones when the answer was whole.
    pub async fn send(&self, request: &Prepared) -> Result<(u16, Vec<u8>)> {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.replicas.len();
        let replica = &self.replicas[n];
        replica.requests.fetch_add(1, Ordering::Relaxed);
        let idle = replica.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let (mut conn, reused) = match idle {
            Some(conn) => (conn, true),
            None => (self.connect(replica).await?, false),
        };
        let answer = match conn.exchange(&request.0).await {
            Ok(answer) => answer,
            // The service closes keep-alive connections left idle (its idle and header
            // timeouts), as it should: a connection that ended before a single byte of an
            // answer was never read by it, so the request goes again on a new one, as
            // HTTP clients do.
            Err(_) if reused && conn.buf.is_empty() => {
                conn = self.connect(replica).await?;
                conn.exchange(&request.0).await?
            }
            Err(e) => return Err(e),
        };
        replica
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
        Ok(answer)
    }

    /// Sends `request` and decodes a 200 answer's JSON; any other status is an error with
    /// the service's body.
    pub async fn send_json<R: serde::de::DeserializeOwned>(&self, request: &Prepared) -> Result<R> {
        let (status, body) = self.send(request).await?;
        if status != 200 {
            bail!("status {status}: {}", String::from_utf8_lossy(&body));
        }
        serde_json::from_slice(&body).context("decoding the answer")
    }

    async fn connect(&self, replica: &Replica) -> Result<Conn> {
        replica.connections.fetch_add(1, Ordering::Relaxed);
        let tcp = TcpStream::connect(&replica.addr).await?;
        tcp.set_nodelay(true)?;
        let tls = self.connector.connect(self.name.clone(), tcp).await?;
        Ok(Conn {
            tls,
            buf: Vec::with_capacity(8192),
        })
    }
}

impl Conn {
    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>)> {
        self.tls.write_all(request).await?;
        self.tls.flush().await?;
        self.buf.clear();
        let (status, head_len, body_len) = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            self.fill().await?;
        };
        while self.buf.len() < head_len + body_len {
            self.fill().await?;
        }
        if self.buf.len() > head_len + body_len {
            bail!("the service sent more than one answer");
        }
        Ok((status, self.buf.split_off(head_len)))
    }

    async fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.tls.read(&mut chunk).await?;
        if n == 0 {
            bail!("the service closed the connection");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// The status, head length and body length of a complete answer head in `buf`, or `None`
/// while the head is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = response.parse(buf)? else {
        return Ok(None);
    };
    let status = response.code.context("answer without a status")?;
    let length = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .context("answer without content-length")?;
    let body_len = std::str::from_utf8(length.value)?.trim().parse()?;
    Ok(Some((status, head_len, body_len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_parsed_only_when_complete() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx: y\r\n\r\nhello";
        assert_eq!(parse_head(&answer[..20]).unwrap(), None);
        let (status, head, body) = parse_head(answer).unwrap().unwrap();
        assert_eq!((status, &answer[head..head + body]), (200, &b"hello"[..]));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n").is_err());
    }
}
