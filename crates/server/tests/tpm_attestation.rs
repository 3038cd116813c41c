//! TPM attestation at the service, over real HTTP, with a real swtpm as the device's TPM:
//! credential activation (begin/finish with the TPM's own ActivateCredential), Hello key
//! registration with a real TPM2_Certify over the nonce, `hwk`/`swk` in the tokens, and
//! every refusal with its code and nothing written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use common::{assert_error, rsa_key, Device, Harness};
use latchkey_proto::api::tpm::{
    activate_begin_fields, activate_finish_fields, key_attestation_extra_data,
};
use latchkey_proto::b64;
use latchkey_proto::bcrypt::RsaPublicBlob;
use latchkey_proto::proof::{proof_message, Purpose};
use latchkey_server::storage::Counts;
use latchkey_tpm::swtpm::SwTpm;
use latchkey_tpm::{Endorsement, KeyBlob, Tpm};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const BEGIN: &str = "/v1/devices/tpm/activate/begin";
const FINISH: &str = "/v1/devices/tpm/activate/finish";
const PIN: &[u8] = b"246810";

struct Fx {
    h: Harness,
    sw: SwTpm,
    _dir: tempfile::TempDir,
}

impl Fx {
    /// The device's TPM. swtpm serves one connection at a time: drop it before anything
    /// else connects.
    fn tpm(&self) -> Tpm {
        Tpm::open(&self.sw.tcti().unwrap()).unwrap()
    }

    fn endorsement_and_aik(&self) -> (Endorsement, KeyBlob) {
        let mut tpm = self.tpm();
        (tpm.endorsement().unwrap(), tpm.create_aik().unwrap())
    }

    async fn add_roots(&self) {
        let root = std::fs::read(self.sw.manufacturer_root()).unwrap();
        let inter = std::fs::read(self.sw.manufacturer_intermediate()).unwrap();
        self.h.admin.tpm_root_add(&root, false).await.unwrap();
        self.h.admin.tpm_root_add(&inter, true).await.unwrap();
    }
}

async fn fx() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let sw = SwTpm::start(dir.path()).unwrap();
    Fx {
        h: Harness::start().await,
        sw,
        _dir: dir,
    }
}

fn sign(device: &Device, purpose: Purpose, nonce: &str, fields: &[String]) -> String {
    let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    device.sign(&proof_message(purpose, nonce, &refs))
}

async fn begin_body(
    h: &Harness,
    device: &Device,
    ek: &Endorsement,
    aik_public: &[u8],
    family: &str,
) -> Value {
    let nonce = h.nonce(Purpose::TpmActivate).await;
    let fields = activate_begin_fields(&h.tenant_id, &device.id, &ek.public_area, aik_public);
    json!({
        "device_id": device.id,
        "nonce": nonce,
        "ek_public": b64::encode(&ek.public_area),
        "ek_certificate": b64::encode(&ek.certificate),
        "ek_chain": [],
        "aik_public": b64::encode(aik_public),
        "tpm": {"family": family, "manufacturer": "IBM", "firmware": "1.2.3.4"},
        "device_signature": sign(device, Purpose::TpmActivate, &nonce, &fields),
    })
}

async fn finish_body(h: &Harness, device: &Device, activation: &str, secret: &[u8]) -> Value {
    let nonce = h.nonce(Purpose::TpmActivate).await;
    let fields = activate_finish_fields(&h.tenant_id, &device.id, activation);
    json!({
        "device_id": device.id,
        "activation": activation,
        "secret": b64::encode(secret),
        "nonce": nonce,
        "device_signature": sign(device, Purpose::TpmActivate, &nonce, &fields),
    })
}

/// The TPM recovers the secret of a challenge (TPM2_ActivateCredential).
fn recover(fx: &Fx, aik: &KeyBlob, challenge: &Value) -> Vec<u8> {
    let blob = b64::decode("b", challenge["credential_blob"].as_str().unwrap()).unwrap();
    let secret = b64::decode("s", challenge["encrypted_secret"].as_str().unwrap()).unwrap();
    fx.tpm().activate_credential(aik, &blob, &secret).unwrap()
}

/// Begins an activation of `aik` for `device`: the challenge.
async fn begin(fx: &Fx, device: &Device, ek: &Endorsement, aik: &KeyBlob) -> Value {
    let body = begin_body(&fx.h, device, ek, &aik.public_area().unwrap(), "2.0").await;
    let (status, challenge) = fx.h.post(BEGIN, &body, None).await;
    assert_eq!(status, 200, "{challenge}");
    challenge
}

/// Activates a new AIK of the TPM for `device`; returns it.
async fn activate(fx: &Fx, device: &Device) -> KeyBlob {
    let (ek, aik) = fx.endorsement_and_aik();
    let challenge = begin(fx, device, &ek, &aik).await;
    let secret = recover(fx, &aik, &challenge);
    let body = finish_body(
        &fx.h,
        device,
        challenge["activation"].as_str().unwrap(),
        &secret,
    )
    .await;
    let (status, done) = fx.h.post(FINISH, &body, None).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["aik_name"], hex::encode(aik.name().unwrap()));
    assert!(done["manufacturer"].as_str().unwrap().starts_with("id:"));
    aik
}

/// A Hello key made in the TPM, with its BCRYPT_RSAPUBLIC_BLOB.
struct TpmHello {
    blob: KeyBlob,
    bcrypt: Vec<u8>,
}

impl TpmHello {
    fn new(fx: &Fx) -> TpmHello {
        let blob = fx.tpm().create_hello_key(PIN).unwrap();
        let rsa = blob.rsa_public().unwrap();
        let bcrypt = RsaPublicBlob::new(&rsa.exponent, &rsa.modulus).to_bytes();
        TpmHello { blob, bcrypt }
    }

    fn key_id(&self) -> String {
        hex::encode(Sha256::digest(&self.bcrypt))
    }
}

/// What the registration carries as `tpm_attestation`.
enum Att<'a> {
    /// None: a software key as far as the service can tell.
    None,
    /// TPM2_Certify of `certified` by `aik` over `nonce` (this registration's when None).
    Certify {
        aik: &'a KeyBlob,
        certified: &'a TpmHello,
        nonce: Option<&'a str>,
    },
    /// Exactly this JSON.
    Given(Value),
}

/// A registration of `key` for `upn` on `device`; the body (and the attestation sent).
async fn register_body(fx: &Fx, device: &Device, upn: &str, key: &TpmHello, att: Att<'_>) -> Value {
    let nonce = fx.h.nonce(Purpose::RegisterKey).await;
    let msg = proof_message(
        Purpose::RegisterKey,
        &nonce,
        &[&fx.h.tenant_id, &device.id, upn, &key.key_id()],
    );
    let (key_signature, attestation) = {
        let mut tpm = fx.tpm();
        let sig = tpm.sign_message(&key.blob, PIN, &msg).unwrap();
        let att = match att {
            Att::None => Value::Null,
            Att::Given(v) => v,
            Att::Certify {
                aik,
                certified,
                nonce: other,
            } => {
                let extra = key_attestation_extra_data(other.unwrap_or(&nonce));
                let c = tpm.certify(&certified.blob, PIN, aik, &extra).unwrap();
                json!({
                    "key_public": b64::encode(certified.blob.public_area().unwrap()),
                    "certify_info": b64::encode(&c.attest),
                    "signature": b64::encode(&c.signature),
                })
            }
        };
        (sig, att)
    };
    let mut body = json!({
        "device_id": device.id,
        "upn": upn,
        "nonce": nonce,
        "public_key": {"alg": "RSA", "data": b64::encode(&key.bcrypt)},
        "device_signature": device.sign(&msg),
        "key_signature": b64::encode(&key_signature),
    });
    if !attestation.is_null() {
        body["tpm_attestation"] = attestation;
    }
    body
}

/// Signs in with the TPM key; the access token's `amr`.
async fn tpm_signin_amr(fx: &Fx, device: &Device, upn: &str, key: &TpmHello) -> Value {
    let nonce = fx.h.nonce(Purpose::SignIn).await;
    let msg = proof_message(
        Purpose::SignIn,
        &nonce,
        &[&fx.h.tenant_id, &device.id, upn, &key.key_id()],
    );
    let assertion = fx.tpm().sign_message(&key.blob, PIN, &msg).unwrap();
    let body = json!({
        "upn": upn,
        "device_id": device.id,
        "key_id": key.key_id(),
        "nonce": nonce,
        "assertion": b64::encode(&assertion),
        "device_signature": device.sign(&msg),
    });
    let (status, session) = fx.h.post("/v1/signin", &body, None).await;
    assert_eq!(status, 200, "{session}");
    amr_of(session["access_token"].as_str().unwrap())
}

fn amr_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&b64::decode("jwt", payload).unwrap()).unwrap();
    claims["amr"].clone()
}

/// A user with a cloud device joined with MFA; the MFA enrolment token.
async fn user_with_device(h: &Harness, upn: &str) -> (Device, String) {
    let secret = h.add_user(upn).await;
    let token = h.mfa_token(upn, &secret).await;
    let device = h.join(&token, "cloud").await;
    let token = h.mfa_token(upn, &secret).await;
    (device, token)
}

/// Asserts the refusal's code and that only its audit line was written.
async fn refused(h: &Harness, before: Counts, response: &(u16, Value), code: &str) {
    assert_error(response, code);
    assert_eq!(
        h.counts().await,
        Counts {
            audit: before.audit + 1,
            ..before
        },
        "a refused request ({code}) wrote more than its audit line"
    );
    let last = h.audit().await.pop().unwrap();
    assert_eq!(last.outcome, "failure");
    assert_eq!(last.reason.as_deref(), Some(code));
}

fn policy(tenant: &str, node: &str, value: bool) -> String {
    format!(
        "<SyncML xmlns=\"SYNCML:SYNCML1.2\"><SyncBody><Replace><CmdID>1</CmdID><Item><Target>\
         <LocURI>./Device/Vendor/MSFT/PassportForWork/{tenant}/Policies/{node}</LocURI></Target>\
         <Meta><Format xmlns=\"syncml:metinf\">bool</Format></Meta><Data>{value}</Data></Item>\
         </Replace></SyncBody></SyncML>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attested_tpm_key_gets_hwk_and_a_software_key_swk() {
    let fx = fx().await;
    fx.add_roots().await;
    let upn = "alice@example.com";
    let (device, token) = user_with_device(&fx.h, upn).await;
    let aik = activate(&fx, &device).await;
    let key = TpmHello::new(&fx);
    let body = register_body(
        &fx,
        &device,
        upn,
        &key,
        Att::Certify {
            aik: &aik,
            certified: &key,
            nonce: None,
        },
    )
    .await;
    let (status, reg) = fx.h.post("/v1/keys", &body, Some(&token)).await;
    assert_eq!(status, 200, "{reg}");
    assert_eq!(reg["attestation"], "tpm");
    assert_eq!(tpm_signin_amr(&fx, &device, upn, &key).await[0], "hwk");

    // The same TPM key without attestation is only a software key to the service.
    let (device2, token2) = user_with_device(&fx.h, "bob@example.com").await;
    let soft = rsa_key(0);
    let (status, reg) =
        fx.h.register(&device2, "bob@example.com", &soft, Some(&token2))
            .await;
    assert_eq!(status, 200, "{reg}");
    assert_eq!(reg["attestation"], "software");
    let (status, session) = fx.h.signin(&device2, "bob@example.com", &soft).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(amr_of(session["access_token"].as_str().unwrap())[0], "swk");

    // key list: tpm with the manufacturer from the EK certificate, and software.
    let reports = fx.h.admin.key_reports(None).await.unwrap();
    let tpm_row = reports
        .iter()
        .find(|r| r.key.key_id == key.key_id())
        .unwrap();
    assert_eq!(tpm_row.key.attestation, "tpm");
    assert!(tpm_row
        .key
        .tpm_manufacturer
        .as_deref()
        .unwrap()
        .starts_with("id:"));
    let soft_row = reports
        .iter()
        .find(|r| r.key.key_id == soft.key_id())
        .unwrap();
    assert_eq!(soft_row.key.attestation, "software");
    assert!(
        !soft_row.flagged_software,
        "no policy requires a device yet"
    );
    let events: Vec<String> = fx.h.audit().await.into_iter().map(|a| a.event).collect();
    assert!(events.contains(&"tpm_activate_begin".to_owned()));
    assert!(events.contains(&"tpm_activate".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_refusals_have_their_codes_and_write_nothing() {
    let fx = fx().await;
    let h = &fx.h;
    let upn = "carol@example.com";
    let (device, _) = user_with_device(h, upn).await;
    let (ek, aik) = fx.endorsement_and_aik();

    // No roots, then a root the EK certificate does not chain to (the tenant's own CA).
    let body = begin_body(h, &device, &ek, &aik.public_area().unwrap(), "2.0").await;
    let before = h.counts().await;
    refused(h, before, &h.post(BEGIN, &body, None).await, "LK-HWK-001").await;
    let (_, ca) = h.get("/v1/ca.pem").await;
    h.admin.tpm_root_add(ca.as_bytes(), false).await.unwrap();
    let body = begin_body(h, &device, &ek, &aik.public_area().unwrap(), "2.0").await;
    let before = h.counts().await;
    refused(h, before, &h.post(BEGIN, &body, None).await, "LK-HWK-001").await;
    fx.add_roots().await;

    // An AIK that is not restricted: a device key's public area.
    let not_aik = fx.tpm().create_device_key().unwrap();
    let body = begin_body(h, &device, &ek, &not_aik.public_area().unwrap(), "2.0").await;
    let before = h.counts().await;
    let response = h.post(BEGIN, &body, None).await;
    assert!(response.1["message"]
        .as_str()
        .unwrap()
        .contains("LK-ATT-049"));
    refused(h, before, &response, "LK-HWK-004").await;

    // A wrong secret; then the right one; then the same activation again.
    let challenge = begin(&fx, &device, &ek, &aik).await;
    let activation = challenge["activation"].as_str().unwrap();
    let secret = recover(&fx, &aik, &challenge);
    let mut wrong = secret.clone();
    wrong[0] ^= 1;
    let body = finish_body(h, &device, activation, &wrong).await;
    let before = h.counts().await;
    assert_eq!(before.tpm_activations, 1);
    refused(h, before, &h.post(FINISH, &body, None).await, "LK-HWK-009").await;
    let body = finish_body(h, &device, activation, &secret).await;
    let (status, done) = h.post(FINISH, &body, None).await;
    assert_eq!(status, 200, "{done}");
    let counts = h.counts().await;
    assert_eq!((counts.tpm_activations, counts.tpm_devices), (0, 1));
    let body = finish_body(h, &device, activation, &secret).await;
    let before = h.counts().await;
    refused(h, before, &h.post(FINISH, &body, None).await, "LK-HWK-007").await;

    // Expired by the service's clock.
    let challenge = begin(&fx, &device, &ek, &aik).await;
    let secret = recover(&fx, &aik, &challenge);
    h.clock.advance(time::Duration::seconds(301));
    let body = finish_body(
        h,
        &device,
        challenge["activation"].as_str().unwrap(),
        &secret,
    )
    .await;
    let before = h.counts().await;
    refused(h, before, &h.post(FINISH, &body, None).await, "LK-HWK-008").await;

    // Another device of the same TPM may not take this device's AIK.
    let (device2, _) = user_with_device(h, "dave@example.com").await;
    let body = begin_body(h, &device2, &ek, &aik.public_area().unwrap(), "2.0").await;
    let before = h.counts().await;
    refused(h, before, &h.post(BEGIN, &body, None).await, "LK-HWK-005").await;

    // A TPM 1.2 under ExcludeSecurityDevices/TPM12 (accepted without the policy).
    let (_, aik2) = fx.endorsement_and_aik();
    let body = begin_body(h, &device2, &ek, &aik2.public_area().unwrap(), "1.2").await;
    let (status, body2) = h.post(BEGIN, &body, None).await;
    assert_eq!(status, 200, "{body2}");
    h.admin
        .apply_syncml(
            &policy(&h.tenant_id, "ExcludeSecurityDevices/TPM12", true),
            None,
        )
        .await
        .unwrap();
    let body = begin_body(h, &device2, &ek, &aik2.public_area().unwrap(), "1.2").await;
    let before = h.counts().await;
    refused(h, before, &h.post(BEGIN, &body, None).await, "LK-HWK-006").await;
    // A TPM 2.0 is still accepted under that policy.
    let body = begin_body(h, &device2, &ek, &aik2.public_area().unwrap(), "2.0").await;
    let (status, body2) = h.post(BEGIN, &body, None).await;
    assert_eq!(status, 200, "{body2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refusals_have_their_codes_and_write_nothing() {
    let fx = fx().await;
    fx.add_roots().await;
    let h = &fx.h;
    let upn = "erin@example.com";
    let (device, token) = user_with_device(h, upn).await;
    let key = TpmHello::new(&fx);
    let other = TpmHello::new(&fx);

    // Attestation from a device without an activated AIK.
    let (_, stray_aik) = fx.endorsement_and_aik();
    let att = Att::Certify {
        aik: &stray_aik,
        certified: &key,
        nonce: None,
    };
    let body = register_body(&fx, &device, upn, &key, att).await;
    let before = h.counts().await;
    refused(
        h,
        before,
        &h.post("/v1/keys", &body, Some(&token)).await,
        "LK-HWK-011",
    )
    .await;

    let aik = activate(&fx, &device).await;

    // A certify over a different key than the one registered.
    let att = Att::Certify {
        aik: &aik,
        certified: &other,
        nonce: None,
    };
    let body = register_body(&fx, &device, upn, &key, att).await;
    let before = h.counts().await;
    let response = h.post("/v1/keys", &body, Some(&token)).await;
    assert!(
        response.1["message"]
            .as_str()
            .unwrap()
            .contains("LK-ATT-067"),
        "{}",
        response.1
    );
    refused(h, before, &response, "LK-HWK-012").await;

    // A certify over another nonce.
    let att = Att::Certify {
        aik: &aik,
        certified: &key,
        nonce: Some("not the registration nonce"),
    };
    let body = register_body(&fx, &device, upn, &key, att).await;
    let before = h.counts().await;
    let response = h.post("/v1/keys", &body, Some(&token)).await;
    assert!(response.1["message"]
        .as_str()
        .unwrap()
        .contains("LK-ATT-060"));
    refused(h, before, &response, "LK-HWK-012").await;

    // A valid registration, then its certify replayed in a second registration.
    let att = Att::Certify {
        aik: &aik,
        certified: &key,
        nonce: None,
    };
    let body = register_body(&fx, &device, upn, &key, att).await;
    let (status, reg) = h.post("/v1/keys", &body, Some(&token)).await;
    assert_eq!(status, 200, "{reg}");
    let replayed = body["tpm_attestation"].clone();
    let body = register_body(&fx, &device, upn, &key, Att::Given(replayed)).await;
    let before = h.counts().await;
    refused(
        h,
        before,
        &h.post("/v1/keys", &body, Some(&token)).await,
        "LK-HWK-012",
    )
    .await;

    // A second device with its own activated AIK cannot use the first device's AIK.
    let (device2, token2) = user_with_device(h, "frank@example.com").await;
    let _aik2 = activate(&fx, &device2).await;
    let key2 = TpmHello::new(&fx);
    let att = Att::Certify {
        aik: &aik,
        certified: &key2,
        nonce: None,
    };
    let body = register_body(&fx, &device2, "frank@example.com", &key2, att).await;
    let before = h.counts().await;
    let response = h.post("/v1/keys", &body, Some(&token2)).await;
    assert!(
        response.1["message"]
            .as_str()
            .unwrap()
            .contains("LK-ATT-057"),
        "{}",
        response.1
    );
    refused(h, before, &response, "LK-HWK-012").await;

    // RequireSecurityDevice: a software key is refused, the earlier software key is
    // flagged, and a TPM-attested key registers.
    let (device3, token3) = user_with_device(h, "gina@example.com").await;
    let soft = rsa_key(1);
    let (status, reg) = h
        .register(&device3, "gina@example.com", &soft, Some(&token3))
        .await;
    assert_eq!(status, 200, "{reg}");
    h.admin
        .apply_syncml(&policy(&h.tenant_id, "RequireSecurityDevice", true), None)
        .await
        .unwrap();
    let flagged = h.admin.key_reports(None).await.unwrap();
    assert!(
        flagged
            .iter()
            .find(|r| r.key.key_id == soft.key_id())
            .unwrap()
            .flagged_software
    );
    assert!(
        !flagged
            .iter()
            .find(|r| r.key.key_id == key.key_id())
            .unwrap()
            .flagged_software
    );
    let (device4, token4) = user_with_device(h, "hank@example.com").await;
    let before = h.counts().await;
    let response = h
        .register(&device4, "hank@example.com", &rsa_key(2), Some(&token4))
        .await;
    refused(h, before, &response, "LK-HWK-013").await;
    // A TPM key without its attestation is refused the same way.
    let key4 = TpmHello::new(&fx);
    let body = register_body(&fx, &device4, "hank@example.com", &key4, Att::None).await;
    let before = h.counts().await;
    refused(
        h,
        before,
        &h.post("/v1/keys", &body, Some(&token4)).await,
        "LK-HWK-013",
    )
    .await;
    let aik4 = activate(&fx, &device4).await;
    let att = Att::Certify {
        aik: &aik4,
        certified: &key4,
        nonce: None,
    };
    let body = register_body(&fx, &device4, "hank@example.com", &key4, att).await;
    let (status, reg) = h.post("/v1/keys", &body, Some(&token4)).await;
    assert_eq!(status, 200, "{reg}");
    assert_eq!(reg["attestation"], "tpm");
}
