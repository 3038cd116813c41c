//! A concurrent load of Hello sign-ins and key registrations over HTTPS, made as a device
//! makes them, in which every acknowledged operation leaves an id to check afterwards.
//!
//! The requests are built here rather than by the agent: JSON bodies as `latchkey_proto::api`
//! defines them, over the proof messages of `latchkey_proto::proof`, with signatures made by
//! rustls's ring provider with the device's own keys
//! (read from a state directory that the real `latchkey join` and `hello setup` wrote).
//! Each request goes over a new connection, so a TCP balancer sends each to the next replica.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use latchkey_agent::hello_key::HelloKey;
use latchkey_agent::records::{DeviceRecord, DEVICE_FILE};
use latchkey_agent::store::StateDir;
use rustls::sign::Signer;
use rustls::SignatureScheme;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};

use latchkey_proto::proof::proof_message;
pub use latchkey_proto::proof::Purpose;

/// An RSA private key that signs proofs: RSASSA-PKCS1-v1_5 with SHA-256, by rustls's ring
/// provider (a signer of its own, not the agent's).
#[derive(Debug)]
pub struct ProofKey(Box<dyn Signer>);

impl ProofKey {
    /// The RSA key in PKCS#8 DER `der`.
    pub fn from_pkcs8(der: &[u8]) -> ProofKey {
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()));
        let key = rustls::crypto::ring::sign::any_supported_type(&der).expect("an RSA key");
        let signer = key
            .choose_scheme(&[SignatureScheme::RSA_PKCS1_SHA256])
            .expect("an RSA key signs RSASSA-PKCS1-v1_5 with SHA-256");
        ProofKey(signer)
    }

    /// The base64url signature over the proof message for `purpose`.
    pub fn prove(&self, purpose: Purpose, nonce: &str, fields: &[&str]) -> String {
        let signature = self
            .0
            .sign(&proof_message(purpose, nonce, fields))
            .expect("sign the proof");
        URL_SAFE_NO_PAD.encode(signature)
    }
}

/// One user's Hello key on one joined device: what a sign-in needs.
#[derive(Debug)]
pub struct HelloDevice {
    /// The user.
    pub upn: String,
    /// The tenant the device joined.
    pub tenant_id: String,
    /// The device id (GUID).
    pub device_id: String,
    /// The Hello key's id (lowercase hex).
    pub key_id: String,
    hello: ProofKey,
    device: Arc<ProofKey>,
}

impl HelloDevice {
    /// `upn`'s software Hello key in the state directory `state_dir` (unlocked with `pin`),
    /// with the device's key and ids as `latchkey join` stored them.
    pub fn open(state_dir: &Path, upn: &str, pin: &str) -> HelloDevice {
        let record: DeviceRecord = StateDir::new(state_dir)
            .read_json(DEVICE_FILE)
            .expect("read device.json")
            .expect("a joined device");
        let pem = crate::hello_key::software_hello_key_pem(state_dir, upn, pin);
        let hello = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).expect("PKCS#8 PEM");
        let key_id = HelloKey::from_pkcs8(hello.secret_pkcs8_der())
            .expect("the Hello key")
            .key_id();
        HelloDevice {
            upn: upn.to_owned(),
            tenant_id: record.tenant_id,
            device_id: record.device_id,
            key_id,
            hello: ProofKey::from_pkcs8(hello.secret_pkcs8_der()),
            device: Arc::new(ProofKey::from_pkcs8(&crate::hello_key::device_key_pkcs8(
                state_dir,
            ))),
        }
    }

    /// The device key's signature over the proof message for `purpose`.
    pub fn device_proof(&self, purpose: Purpose, nonce: &str, fields: &[&str]) -> String {
        self.device.prove(purpose, nonce, fields)
    }

    /// The `POST /v1/signin` body over `nonce`: the Hello key's assertion and the device
    /// key's proof over `[tenant, device, upn, key id]`.
    pub fn signin_body(&self, nonce: &str) -> Value {
        let fields = [
            self.tenant_id.as_str(),
            &self.device_id,
            &self.upn,
            &self.key_id,
        ];
        json!({
            "upn": self.upn,
            "device_id": self.device_id,
            "key_id": self.key_id,
            "nonce": nonce,
            "assertion": self.hello.prove(Purpose::SignIn, nonce, &fields),
            "device_signature": self.device_proof(Purpose::SignIn, nonce, &fields),
        })
    }
}

/// A registration to make: a new RSA-2048 Hello key of `upn` on a joined device, with the
/// user's enrolment token. Once registered, [`Registration::key`] signs in with it.
#[derive(Debug)]
pub struct Registration {
    /// The new key as a sign-in uses it.
    pub key: HelloDevice,
    public_key: Value,
    token: String,
}

impl Registration {
    /// A new key for `upn` on `device`'s device (RSA-2048 generation: the slow part),
    /// registered with the enrolment `token`.
    pub fn new(device: &HelloDevice, upn: &str, token: &str) -> Registration {
        let hello = HelloKey::generate().expect("an RSA-2048 Hello key");
        Registration {
            key: HelloDevice {
                upn: upn.to_owned(),
                tenant_id: device.tenant_id.clone(),
                device_id: device.device_id.clone(),
                key_id: hello.key_id(),
                hello: ProofKey::from_pkcs8(&hello.to_pkcs8().expect("PKCS#8")),
                device: device.device.clone(),
            },
            public_key: serde_json::to_value(hello.public_key()).expect("the public key"),
            token: token.to_owned(),
        }
    }

    /// The `POST /v1/keys` body over `nonce`: the device key's proof and the new key's
    /// proof of possession over `[tenant, device, upn, key id]`.
    fn body(&self, nonce: &str) -> Value {
        let k = &self.key;
        let fields = [k.tenant_id.as_str(), &k.device_id, &k.upn, &k.key_id];
        json!({
            "device_id": k.device_id,
            "upn": k.upn,
            "nonce": nonce,
            "public_key": self.public_key,
            "device_signature": k.device_proof(Purpose::RegisterKey, nonce, &fields),
            "key_signature": k.hello.prove(Purpose::RegisterKey, nonce, &fields),
        })
    }
}

/// Why a request was not acknowledged.
#[derive(Debug)]
pub enum Failure {
    /// No answer: the connection was refused, reset or closed before a whole answer came.
    Dropped(String),
    /// An answer other than 200.
    Refused { status: u16, body: String },
    /// A 200 whose body is not what the operation answers (e.g. no `prt`).
    Malformed { body: String },
}

/// The service's `/v1` API at one base URL, trusting only the tenant CA. Every request
/// opens a new connection (no pool), so that a balancer of connections spreads them.
#[derive(Debug, Clone)]
pub struct Api {
    client: reqwest::blocking::Client,
    base: String,
}

impl Api {
    /// A client of `base` (e.g. the balancer's URL) that trusts the CA in `ca_file`.
    pub fn new(base: &str, ca_file: &Path) -> Api {
        let ca = std::fs::read(ca_file).expect("read the tenant CA");
        let client = reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("the tenant CA"))
            .pool_max_idle_per_host(0)
            // An upper bound only: a hung request fails the test instead of hanging it.
            .timeout(Duration::from_secs(60))
            .build()
            .expect("the HTTPS client");
        Api {
            client,
            base: base.to_owned(),
        }
    }

    /// `POST path` with the JSON `body` (and `Authorization: Bearer` when given): the
    /// answer's JSON when it is 200.
    pub fn post(&self, path: &str, body: &Value, bearer: Option<&str>) -> Result<Value, Failure> {
        let mut request = self.client.post(format!("{}{path}", self.base)).json(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .map_err(|e| Failure::Dropped(format!("{e:?}")))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .map_err(|e| Failure::Dropped(format!("status {status}, body cut: {e:?}")))?;
        if status != 200 {
            return Err(Failure::Refused { status, body: text });
        }
        serde_json::from_str(&text).map_err(|_| Failure::Malformed { body: text })
    }

    /// A fresh nonce for `purpose`.
    pub fn nonce(&self, purpose: Purpose) -> Result<String, Failure> {
        let answer = self.post("/v1/nonce", &json!({ "purpose": purpose }), None)?;
        match answer["nonce"].as_str() {
            Some(nonce) => Ok(nonce.to_owned()),
            None => Err(Failure::Malformed {
                body: answer.to_string(),
            }),
        }
    }

    /// A Hello sign-in of `device`: its primary refresh token.
    pub fn signin(&self, device: &HelloDevice) -> Result<String, Failure> {
        let nonce = self.nonce(Purpose::SignIn)?;
        let answer = self.post("/v1/signin", &device.signin_body(&nonce), None)?;
        match answer["prt"].as_str() {
            Some(prt) if !prt.is_empty() => Ok(prt.to_owned()),
            _ => Err(Failure::Malformed {
                body: answer.to_string(),
            }),
        }
    }

    /// The registration `registration`: the key id the service answered.
    pub fn register(&self, registration: &Registration) -> Result<String, Failure> {
        let nonce = self.nonce(Purpose::RegisterKey)?;
        let answer = self.post(
            "/v1/keys",
            &registration.body(&nonce),
            Some(&registration.token),
        )?;
        match answer["key_id"].as_str() {
            Some(id) if id == registration.key.key_id => Ok(id.to_owned()),
            _ => Err(Failure::Malformed {
                body: answer.to_string(),
            }),
        }
    }

    /// An enrolment token for `upn` from its password and one-time code `otp` (a token
    /// carrying `mfa`, which may register a key on any device).
    pub fn enrolment_token(&self, upn: &str, password: &str, otp: &str) -> String {
        let body = json!({ "upn": upn, "password": password, "otp": otp });
        let answer = self
            .post("/v1/auth/password", &body, None)
            .unwrap_or_else(|e| panic!("password sign-in of {upn}: {e:?}"));
        answer["token"].as_str().expect("a token").to_owned()
    }
}

/// One operation of a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A sign-in of the device at this index.
    SignIn(usize),
    /// The registration at this index.
    Register(usize),
}

/// An operation the service acknowledged, with the id to check it by.
#[derive(Debug)]
pub enum Acked {
    /// A sign-in of the device at `device`, answered with the primary refresh token `prt`.
    SignIn { device: usize, prt: String },
    /// The registration at `registration`, answered with its key id.
    Registered { registration: usize, key_id: String },
}

/// What a load came to: each operation of the plan (by its index) is acknowledged or
/// failed, exactly once.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    /// The acknowledged operations, by plan index, in the order of their answers.
    pub acknowledged: Vec<(usize, Acked)>,
    /// The failed operations, by plan index, and why.
    pub failed: Vec<(usize, Op, Failure)>,
}

/// Runs every operation of `plan` once, on `threads` threads that each take the next one
/// until none is left; no operation is retried. After each acknowledgement,
/// `on_acknowledged` is called (on the thread that got it) with the number acknowledged so
/// far, so that a test can act at an exact point of the load.
pub fn run(
    api: &Api,
    devices: &[HelloDevice],
    registrations: &[Registration],
    plan: &[Op],
    threads: usize,
    on_acknowledged: &(dyn Fn(usize) + Sync),
) -> LoadOutcome {
    let next = AtomicUsize::new(0);
    let acknowledged = AtomicUsize::new(0);
    let outcome = Mutex::new(LoadOutcome::default());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(op) = plan.get(index).copied() else {
                    break;
                };
                let result = match op {
                    Op::SignIn(device) => api
                        .signin(&devices[device])
                        .map(|prt| Acked::SignIn { device, prt }),
                    Op::Register(registration) => {
                        api.register(&registrations[registration])
                            .map(|key_id| Acked::Registered {
                                registration,
                                key_id,
                            })
                    }
                };
                match result {
                    Ok(acked) => {
                        outcome.lock().unwrap().acknowledged.push((index, acked));
                        on_acknowledged(acknowledged.fetch_add(1, Ordering::SeqCst) + 1);
                    }
                    Err(failure) => outcome.lock().unwrap().failed.push((index, op, failure)),
                }
            });
        }
    });
    outcome.into_inner().unwrap()
}
