//! Test harness: the real service on a free loopback port (HTTPS with the tenant CA), a
//! manual clock, and simulated devices with real P-256 device keys and RSA-2048 / P-256
//! Hello keys.
//!
//! The web crate's tests include this module too (`crates/web/tests/common`), and start the
//! service with its routes through [`Harness::start_routes`].
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    dead_code
)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::Router;
use latchkey_proto::b64;
use latchkey_proto::bcrypt::RsaPublicBlob;
use latchkey_proto::proof::{proof_message, prt_binding, Purpose};
use latchkey_server::clock::{Clock, Env, ManualClock, SystemRandom};
use latchkey_server::state::AppState;
use latchkey_server::storage::postgres::PgOptions;
use latchkey_server::storage::{AuditRecord, Counts, Database, OpenStorage};
use latchkey_server::{RunningServer, ServerConfig};
use latchkeyd::data_admin::Admin;
use p256::ecdsa::signature::Signer;
use p256::pkcs8::EncodePublicKey;
use rsa::signature::SignatureEncoding;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub mod cert;
pub mod log;
pub mod raw;

pub const PASSWORD: &str = "correct horse battery";

/// The environment variable that runs the harness on PostgreSQL: `postgres` gives each
/// [`Harness`] a fresh database on the test process's throwaway cluster
/// (`latchkey-pg-harness`); unset (or `sqlite`), the embedded default in the data directory.
pub const DATABASE_VAR: &str = "LATCHKEY_TEST_DATABASE";

/// Whether this run's harnesses are on PostgreSQL ([`DATABASE_VAR`]).
pub fn on_postgres() -> bool {
    match std::env::var(DATABASE_VAR).as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("{DATABASE_VAR}={other}: expected `postgres` or `sqlite`"),
    }
}

/// The database of a new harness: a fresh PostgreSQL database, or SQLite.
pub async fn test_database() -> Database {
    if !on_postgres() {
        return Database::Sqlite;
    }
    let url = latchkey_pg_harness::PgCluster::fresh_database("harness")
        .await
        .expect("a fresh database on the shared PostgreSQL cluster");
    Database::Postgres(PgOptions::new(url))
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub server: Option<RunningServer>,
    pub url: String,
    pub client: reqwest::Client,
    pub admin: Admin,
    pub tenant_id: String,
    /// Where the service stores its directory ([`test_database`]).
    pub database: Database,
    configure: Arc<dyn Fn(&mut ServerConfig) + Send + Sync>,
    routes: Router<AppState>,
}

pub fn env(clock: &ManualClock) -> Env {
    Env {
        clock: Arc::new(clock.clone()),
        rng: Arc::new(SystemRandom::new()),
    }
}

impl Harness {
    /// The address the service listens on (its URL names `localhost`, not the address).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().unwrap().local_addr
    }

    pub async fn start() -> Harness {
        Self::start_with(|_| {}).await
    }

    /// Starts the service with `configure` applied to its configuration.
    pub async fn start_with(
        configure: impl Fn(&mut ServerConfig) + Send + Sync + 'static,
    ) -> Harness {
        Self::start_routes(Router::new(), configure).await
    }

    /// Starts the service with `routes` merged into the API's (the web crate's tests pass
    /// `latchkey_web::router()`) and `configure` applied to its configuration.
    pub async fn start_routes(
        routes: Router<AppState>,
        configure: impl Fn(&mut ServerConfig) + Send + Sync + 'static,
    ) -> Harness {
        Self::start_on(test_database().await, routes, configure).await
    }

    /// Starts the service on `database` (whatever [`DATABASE_VAR`] says).
    pub async fn start_on(
        database: Database,
        routes: Router<AppState>,
        configure: impl Fn(&mut ServerConfig) + Send + Sync + 'static,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(OffsetDateTime::now_utc());
        let (server, client) = Self::boot(
            dir.path().join("data"),
            &database,
            &clock,
            "127.0.0.1:0",
            &configure,
            routes.clone(),
        )
        .await;
        let (admin, _) = Admin::create_on(
            &database,
            &dir.path().join("data"),
            None,
            latchkey_server::tenant::DEFAULT_TENANT_NAME,
            env(&clock),
        )
        .await
        .unwrap();
        Harness {
            database,
            url: server.base_url.clone(),
            tenant_id: server.tenant_id.clone(),
            server: Some(server),
            dir,
            clock,
            client,
            admin,
            configure: Arc::new(configure),
            routes,
        }
    }

    async fn boot(
        data: PathBuf,
        database: &Database,
        clock: &ManualClock,
        listen: &str,
        configure: &dyn Fn(&mut ServerConfig),
        routes: Router<AppState>,
    ) -> (RunningServer, reqwest::Client) {
        let mut config = ServerConfig::new(data, listen.parse().unwrap());
        config.database = database.clone();
        configure(&mut config);
        let server = latchkey_server::start_with(config, env(clock), routes)
            .await
            .unwrap();
        let ca = std::fs::read(&server.ca_file).unwrap();
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        (server, client)
    }

    /// Stops the service and starts it again on the same data directory and port.
    pub async fn restart(&mut self) {
        let server = self.server.take().unwrap();
        let addr = server.local_addr.to_string();
        server.shutdown().await;
        let (server, client) = Self::boot(
            self.dir.path().join("data"),
            &self.database,
            &self.clock,
            &addr,
            &*self.configure,
            self.routes.clone(),
        )
        .await;
        self.url = server.base_url.clone();
        self.server = Some(server);
        self.client = client;
    }

    /// A client whose connections come from `source` (any 127.0.0.0/8 address works over
    /// loopback), trusting the tenant CA and not following redirects.
    pub fn client_from(&self, source: &str) -> reqwest::Client {
        let ca = std::fs::read(self.data_dir().join("ca.pem")).unwrap();
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .local_address(source.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    }

    /// Password (+ TOTP) sign-in through `client`; the raw response.
    pub async fn password_via(
        &self,
        client: &reqwest::Client,
        upn: &str,
        password: &str,
        otp: Option<&str>,
    ) -> (u16, Value) {
        let body = match otp {
            Some(code) => json!({"upn": upn, "password": password, "otp": code}),
            None => json!({"upn": upn, "password": password}),
        };
        let resp = client
            .post(format!("{}/v1/auth/password", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The password gate of the running service (its gauges).
    pub fn passwords(&self) -> latchkey_server::password::PasswordGate {
        self.server.as_ref().unwrap().passwords.clone()
    }

    /// A second, independent handle on the service's database (its own pool): what an
    /// administration command or another replica has.
    pub async fn open_storage(&self) -> OpenStorage {
        OpenStorage::open(&self.database, &self.data_dir())
            .await
            .unwrap()
    }

    /// Runs `statement` (plain SQL, no parameters) on the service's database behind its
    /// back, on either backend: how a test breaks or tampers with what is stored.
    pub async fn sql(&self, statement: &str) {
        use sqlx::{Connection as _, Executor as _};
        match &self.database {
            Database::Sqlite => {
                let options = sqlx::sqlite::SqliteConnectOptions::new().filename(
                    self.data_dir()
                        .join(latchkey_server::storage::sqlite::DB_FILE),
                );
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                conn.execute(statement).await.unwrap();
                conn.close().await.unwrap();
            }
            Database::Postgres(options) => {
                let mut conn = sqlx::PgConnection::connect(&options.url).await.unwrap();
                conn.execute(statement).await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }

    /// The row count of every table of the service's database, by table name, read
    /// behind the service's back on either backend (to show that a request wrote nothing).
    pub async fn row_counts(&self) -> Vec<(String, i64)> {
        use sqlx::{Connection as _, Row as _};
        let (tables_sql, url) = match &self.database {
            Database::Sqlite => (
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                None,
            ),
            Database::Postgres(options) => (
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public' ORDER BY table_name",
                Some(options.url.clone()),
            ),
        };
        let mut out = vec![];
        match url {
            None => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(
                        self.data_dir()
                            .join(latchkey_server::storage::sqlite::DB_FILE),
                    )
                    .read_only(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                let tables: Vec<String> = sqlx::query_scalar(tables_sql)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for table in tables {
                    let row = sqlx::query(&format!("SELECT COUNT(*) FROM \"{table}\""))
                        .fetch_one(&mut conn)
                        .await
                        .unwrap();
                    out.push((table, row.get::<i64, _>(0)));
                }
            }
            Some(url) => {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                let tables: Vec<String> = sqlx::query_scalar(tables_sql)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                for table in tables {
                    let row = sqlx::query(&format!("SELECT COUNT(*) FROM \"{table}\""))
                        .fetch_one(&mut conn)
                        .await
                        .unwrap();
                    out.push((table, row.get::<i64, _>(0)));
                }
            }
        }
        out
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub async fn post(&self, path: &str, body: &Value, bearer: Option<&str>) -> (u16, Value) {
        let mut req = self.client.post(format!("{}{path}", self.url)).json(body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Creates a user; returns the TOTP secret.
    pub async fn add_user(&self, upn: &str) -> Vec<u8> {
        let created = self.admin.add_user(upn, PASSWORD, None).await.unwrap();
        let secret = created
            .otpauth_uri
            .split("secret=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        base32_decode(&secret)
    }

    /// The TOTP code `offset` steps from now.
    pub fn otp(&self, secret: &[u8], offset: i64) -> String {
        let now = self.clock.now().unix_timestamp();
        latchkey_server::totp::code_for_step(secret, latchkey_server::totp::step_at(now) + offset)
    }

    /// Password (+ TOTP) sign-in; the raw response.
    pub async fn password(&self, upn: &str, password: &str, otp: Option<&str>) -> (u16, Value) {
        let body = match otp {
            Some(code) => json!({"upn": upn, "password": password, "otp": code}),
            None => json!({"upn": upn, "password": password}),
        };
        self.post("/v1/auth/password", &body, None).await
    }

    /// An enrolment token with MFA (moves the clock one step so the code is fresh).
    pub async fn mfa_token(&self, upn: &str, secret: &[u8]) -> String {
        self.clock.advance(time::Duration::seconds(30));
        let (status, body) = self
            .password(upn, PASSWORD, Some(&self.otp(secret, 0)))
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// A password-only enrolment token (`amr` = `pwd`).
    pub async fn pwd_token(&self, upn: &str) -> String {
        let (status, body) = self.password(upn, PASSWORD, None).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn nonce(&self, purpose: Purpose) -> String {
        let purpose = serde_json::to_value(purpose).unwrap();
        let (status, body) = self
            .post("/v1/nonce", &json!({ "purpose": purpose }), None)
            .await;
        assert_eq!(status, 200, "{body}");
        body["nonce"].as_str().unwrap().to_owned()
    }

    pub async fn counts(&self) -> Counts {
        self.admin.counts().await.unwrap()
    }

    pub async fn audit(&self) -> Vec<AuditRecord> {
        self.admin.audit(0).await.unwrap()
    }

    /// Joins a new device for the holder of `token`.
    pub async fn join(&self, token: &str, join_type: &str) -> Device {
        let mut device = Device::new();
        let (status, body) = device.join(self, token, join_type).await;
        assert_eq!(status, 200, "{body}");
        device.id = body["device_id"].as_str().unwrap().to_owned();
        device
    }

    /// Registers `key` for `upn` on `device`; the raw response.
    pub async fn register(
        &self,
        device: &Device,
        upn: &str,
        key: &HelloKey,
        bearer: Option<&str>,
    ) -> (u16, Value) {
        let nonce = self.nonce(Purpose::RegisterKey).await;
        let key_id = key.key_id();
        let msg = proof_message(
            Purpose::RegisterKey,
            &nonce,
            &[&self.tenant_id, &device.id, upn, &key_id],
        );
        let body = json!({
            "device_id": device.id,
            "upn": upn,
            "nonce": nonce,
            "public_key": key.wire(),
            "device_signature": device.sign(&msg),
            "key_signature": key.sign(&msg),
        });
        self.post("/v1/keys", &body, bearer).await
    }

    /// The body of a sign-in: `key` signs as the Hello key, `key_id` is named.
    pub async fn signin_body(
        &self,
        device: &Device,
        upn: &str,
        key_id: &str,
        key: &HelloKey,
    ) -> Value {
        let nonce = self.nonce(Purpose::SignIn).await;
        self.signin_body_with(device, upn, key_id, key, &nonce)
    }

    /// [`Harness::signin_body`] over a nonce the caller fetched.
    pub fn signin_body_with(
        &self,
        device: &Device,
        upn: &str,
        key_id: &str,
        key: &HelloKey,
        nonce: &str,
    ) -> Value {
        let msg = proof_message(
            Purpose::SignIn,
            nonce,
            &[&self.tenant_id, &device.id, upn, key_id],
        );
        json!({
            "upn": upn,
            "device_id": device.id,
            "key_id": key_id,
            "nonce": nonce,
            "assertion": key.sign(&msg),
            "device_signature": device.sign(&msg),
        })
    }

    pub async fn signin(&self, device: &Device, upn: &str, key: &HelloKey) -> (u16, Value) {
        let body = self.signin_body(device, upn, &key.key_id(), key).await;
        self.post("/v1/signin", &body, None).await
    }

    pub async fn renew(&self, device: &Device, prt: &str) -> (u16, Value) {
        let nonce = self.nonce(Purpose::RenewPrt).await;
        let msg = proof_message(
            Purpose::RenewPrt,
            &nonce,
            &[&self.tenant_id, &device.id, &prt_binding(prt)],
        );
        let body = json!({
            "prt": prt,
            "device_id": device.id,
            "nonce": nonce,
            "device_signature": device.sign(&msg),
        });
        self.post("/v1/prt/renew", &body, None).await
    }

    /// The body of `POST /v1/token` for `prt` and `audience`, with a proof by `device`'s key
    /// over a fresh `token` nonce.
    pub async fn token_body(&self, device: &Device, prt: &str, audience: &str) -> Value {
        let nonce = self.nonce(Purpose::Token).await;
        let msg = proof_message(
            Purpose::Token,
            &nonce,
            &[&self.tenant_id, &device.id, &prt_binding(prt), audience],
        );
        json!({
            "prt": prt,
            "audience": audience,
            "device_id": device.id,
            "nonce": nonce,
            "device_signature": device.sign(&msg),
        })
    }

    /// An access token for `audience` with a proof by `device` (the one `prt` was issued to).
    pub async fn token(&self, device: &Device, prt: &str, audience: &str) -> (u16, Value) {
        let body = self.token_body(device, prt, audience).await;
        self.post("/v1/token", &body, None).await
    }

    /// Registers a resource (an audience of access tokens).
    pub async fn add_resource(&self, uri: &str) {
        self.admin.resource_add(uri, None).await.unwrap();
    }
}

/// Asserts an error response with `code`.
pub fn assert_error(response: &(u16, Value), code: &str) {
    let (status, body) = response;
    assert_eq!(body["code"], code, "status {status}: {body}");
    let expected = latchkey_proto::ErrorCode::from_code(code).unwrap();
    assert_eq!(*status, expected.http_status(), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

/// A simulated device: its device key (P-256 by default, the cheapest to make; RSA-2048
/// with [`Device::rsa`], as the agent makes).
pub struct Device {
    pub key: HelloKey,
    pub id: String,
}

impl Device {
    pub fn new() -> Device {
        Device {
            key: p256_key(),
            id: String::new(),
        }
    }

    /// A device with the `i`-th RSA-2048 device key of this test binary (0 or 1).
    pub fn rsa(i: usize) -> Device {
        Device {
            key: rsa_key(3 + i),
            id: String::new(),
        }
    }

    /// The same key, naming the device `id` (for requests that claim another device).
    pub fn clone_with_id(&self, id: &str) -> Device {
        Device {
            key: self.key.clone(),
            id: id.to_owned(),
        }
    }

    pub fn spki_b64(&self) -> String {
        let der = match &self.key {
            HelloKey::Rsa(key) => key.to_public_key().to_public_key_der().unwrap(),
            HelloKey::P256(key) => key.verifying_key().to_public_key_der().unwrap(),
        };
        b64::encode(der.as_bytes())
    }

    pub fn sign(&self, msg: &[u8]) -> String {
        self.key.sign(msg)
    }

    pub async fn join_body(&self, h: &Harness, join_type: &str) -> Value {
        let nonce = h.nonce(Purpose::Join).await;
        let spki = self.spki_b64();
        let msg = proof_message(Purpose::Join, &nonce, &[&h.tenant_id, &spki]);
        json!({
            "nonce": nonce,
            "display_name": "test-pc",
            "os": "Linux 6.1",
            "join_type": join_type,
            "device_public_key": spki,
            "signature": self.sign(&msg),
        })
    }

    pub async fn join(&self, h: &Harness, token: &str, join_type: &str) -> (u16, Value) {
        let body = self.join_body(h, join_type).await;
        h.post("/v1/devices/join", &body, Some(token)).await
    }
}

impl Default for Device {
    fn default() -> Self {
        Device::new()
    }
}

/// A Hello key as the agent would hold it.
#[derive(Clone)]
pub enum HelloKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
}

/// The `i`-th RSA-2048 key of this test binary (generated once: generation is slow).
/// Keys 0 to 2 are Hello keys, 3 and 4 device keys ([`Device::rsa`]).
pub fn rsa_key(i: usize) -> HelloKey {
    static KEYS: [OnceLock<rsa::RsaPrivateKey>; 5] = [const { OnceLock::new() }; 5];
    let key = KEYS[i].get_or_init(|| rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap());
    HelloKey::Rsa(Box::new(key.clone()))
}

pub fn p256_key() -> HelloKey {
    HelloKey::P256(p256::ecdsa::SigningKey::random(&mut rand_core::OsRng))
}

impl HelloKey {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            HelloKey::Rsa(key) => {
                RsaPublicBlob::new(&key.e().to_bytes_be(), &key.n().to_bytes_be()).to_bytes()
            }
            HelloKey::P256(key) => key
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
        }
    }

    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.bytes()))
    }

    pub fn wire(&self) -> Value {
        let alg = match self {
            HelloKey::Rsa(_) => "RSA",
            HelloKey::P256(_) => "P-256",
        };
        json!({"alg": alg, "data": b64::encode(self.bytes())})
    }

    pub fn sign(&self, msg: &[u8]) -> String {
        match self {
            HelloKey::Rsa(key) => {
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**key).clone());
                b64::encode(signer.sign(msg).to_vec())
            }
            HelloKey::P256(key) => {
                let sig: p256::ecdsa::Signature = key.sign(msg);
                b64::encode(sig.to_bytes())
            }
        }
    }
}

pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// A user with a device joined (cloud, with MFA) and an RSA Hello key registered.
pub struct Enrolled {
    pub upn: String,
    pub secret: Vec<u8>,
    pub device: Device,
    pub key: HelloKey,
}

pub async fn enrolled(h: &Harness, upn: &str, key: HelloKey) -> Enrolled {
    let secret = h.add_user(upn).await;
    let token = h.mfa_token(upn, &secret).await;
    let device = h.join(&token, "cloud").await;
    // The registered owner: a fresh password, the device standing in for the second factor.
    let pwd = h.pwd_token(upn).await;
    let (status, body) = h.register(&device, upn, &key, Some(&pwd)).await;
    assert_eq!(status, 200, "{body}");
    Enrolled {
        upn: upn.to_owned(),
        secret,
        device,
        key,
    }
}
