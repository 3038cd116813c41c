//! `--tpm-devices`: simulated devices whose Hello key lives in a TPM, a private swtpm the
//! benchmark manufactures and runs (the `latchkey-tpm` harness, its local CA playing the
//! manufacturer, trusted by the tenant with `latchkeyd tpm-roots add`).
//!
//! Each such device does what a real agent with a TPM does, as
//! `crates/server/tests/tpm_attestation.rs` does it: credential activation (its own AIK,
//! the service's TPM2_MakeCredential answered with TPM2_ActivateCredential), then a Hello
//! key made in the TPM, registered with a TPM2_Certify of it by the AIK over the
//! registration nonce, so the service records the key as `tpm`; every Hello-key signature
//! is made inside the TPM. The device key stays in software (the service's sign-in work
//! does not depend on where the device key lives).
//!
//! swtpm serves one connection at a time and signs in about 50 ms, so the TPM work is
//! done here, sequentially, before the timed phases.

use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use latchkey_proto::api::tpm::{
    activate_begin_fields, activate_finish_fields, key_attestation_extra_data, KeyAttestation,
    TpmActivateBegin, TpmActivateChallenge, TpmActivateFinish, TpmActivated, TpmDescription,
};
use latchkey_proto::api::{key, signin};
use latchkey_proto::b64;
use latchkey_proto::proof::{proof_message, Purpose};
use latchkey_tpm::swtpm::SwTpm;
use latchkey_tpm::{Endorsement, KeyBlob, Tpm, TpmInfo};

use crate::client::Api;
use crate::sim::SimDevice;
use crate::wire::Pool;
use crate::{fetch_nonces, runner};

/// The Hello keys' authorisation value (the PIN).
const PIN: &[u8] = b"246810";

/// The benchmark's TPM: one open connection to a private swtpm. Fields drop in order:
/// the connection (flushing its storage key) before the simulator is killed.
pub struct BenchTpm {
    tpm: Tpm,
    info: TpmInfo,
    endorsement: Endorsement,
    sw: SwTpm,
    _dir: tempfile::TempDir,
}

impl BenchTpm {
    /// Manufactures and starts the swtpm, connects, reads its EK and certificate.
    pub fn start() -> Result<BenchTpm> {
        let dir = tempfile::tempdir().context("swtpm directory")?;
        let sw = SwTpm::start(dir.path()).context("starting swtpm")?;
        let mut tpm = Tpm::open(&sw.tcti()?).context("connecting to swtpm")?;
        let info = tpm.info().context("TPM properties")?;
        let endorsement = tpm.endorsement().context("EK and EK certificate")?;
        Ok(BenchTpm {
            tpm,
            info,
            endorsement,
            sw,
            _dir: dir,
        })
    }

    /// `latchkeyd tpm-roots add` of the swtpm CA (root, then `--intermediate`) on the
    /// benchmark's data directory.
    pub fn trust_in(&self, world: &latchkey_e2e::World) {
        let root = self.sw.manufacturer_root().display().to_string();
        let inter = self.sw.manufacturer_intermediate().display().to_string();
        world.admin(&["tpm-roots", "add", &root], "").assert_ok();
        world
            .admin(&["tpm-roots", "add", &inter, "--intermediate"], "")
            .assert_ok();
    }

    /// A new Hello key in the TPM, with the PIN as its authorisation.
    pub fn create_hello_key(&mut self) -> Result<KeyBlob> {
        Ok(self.tpm.create_hello_key(PIN)?)
    }

    /// The Hello key's signature over a proof message, made in the TPM (base64url).
    pub fn hello_sign(
        &mut self,
        dev: &SimDevice,
        purpose: Purpose,
        nonce: &str,
        fields: &[&str],
    ) -> Result<String> {
        let blob = dev.tpm_key().context("not a TPM device")?;
        let msg = proof_message(purpose, nonce, fields);
        Ok(b64::encode(self.tpm.sign_message(blob, PIN, &msg)?))
    }

    /// Credential activation of a new AIK for `dev` (joined): begin, the TPM's
    /// ActivateCredential, finish. Returns the AIK, now trusted for this device.
    pub async fn activate(&mut self, api: &Api, tid: &str, dev: &SimDevice) -> Result<KeyBlob> {
        let aik = self.tpm.create_aik()?;
        let aik_public = aik.public_area()?;
        let nonce = api.nonce(Purpose::TpmActivate).await?;
        let fields =
            activate_begin_fields(tid, dev.id(), &self.endorsement.public_area, &aik_public);
        let begin = TpmActivateBegin {
            device_id: dev.id().to_string(),
            nonce: nonce.clone(),
            ek_public: b64::encode(&self.endorsement.public_area),
            ek_certificate: b64::encode(&self.endorsement.certificate),
            ek_chain: Vec::new(),
            aik_public: b64::encode(&aik_public),
            tpm: TpmDescription {
                family: self.info.family.clone(),
                manufacturer: self.info.manufacturer.clone(),
                firmware: self.info.firmware(),
            },
            device_signature: dev.device_sign(Purpose::TpmActivate, &nonce, &refs(&fields))?,
        };
        let challenge: TpmActivateChallenge = api
            .post("/v1/devices/tpm/activate/begin", &begin, None)
            .await?;
        let blob = b64::decode("credential_blob", &challenge.credential_blob)?;
        let secret = b64::decode("encrypted_secret", &challenge.encrypted_secret)?;
        let secret = self.tpm.activate_credential(&aik, &blob, &secret)?;
        let nonce = api.nonce(Purpose::TpmActivate).await?;
        let fields = activate_finish_fields(tid, dev.id(), &challenge.activation);
        let finish = TpmActivateFinish {
            device_id: dev.id().to_string(),
            activation: challenge.activation.clone(),
            secret: b64::encode(&secret),
            nonce: nonce.clone(),
            device_signature: dev.device_sign(Purpose::TpmActivate, &nonce, &refs(&fields))?,
        };
        let done: TpmActivated = api
            .post("/v1/devices/tpm/activate/finish", &finish, None)
            .await?;
        ensure!(
            done.aik_name == hex::encode(aik.name()?),
            "the service recorded another AIK ({}) for device {}",
            done.aik_name,
            dev.id()
        );
        Ok(aik)
    }

    /// The registration of `dev`'s TPM Hello key with its attestation: the key's proof
    /// signed in the TPM, and TPM2_Certify of the key by `aik` over this registration's
    /// nonce.
    pub fn registration(
        &mut self,
        dev: &SimDevice,
        aik: &KeyBlob,
        nonce: &str,
        tid: &str,
    ) -> Result<key::RegisterKeyRequest> {
        let blob = dev.tpm_key().context("not a TPM device")?;
        let fields = [tid, dev.id(), dev.upn.as_str(), dev.key_id.as_str()];
        let msg = proof_message(Purpose::RegisterKey, nonce, &fields);
        let key_signature = self.tpm.sign_message(blob, PIN, &msg)?;
        let certified = self
            .tpm
            .certify(blob, PIN, aik, &key_attestation_extra_data(nonce))?;
        Ok(key::RegisterKeyRequest {
            device_id: dev.id().to_string(),
            upn: dev.upn.clone(),
            nonce: nonce.to_string(),
            public_key: key::PublicKey {
                alg: key::KeyAlgorithm::Rsa,
                data: b64::encode(&dev.hello_blob),
            },
            device_signature: dev.device_sign(Purpose::RegisterKey, nonce, &fields)?,
            key_signature: b64::encode(&key_signature),
            tpm_attestation: Some(KeyAttestation {
                key_public: b64::encode(blob.public_area()?),
                certify_info: b64::encode(&certified.attest),
                signature: b64::encode(&certified.signature),
            }),
            certificate_request: None,
            pin_reset: false,
        })
    }
}

fn refs(fields: &[String]) -> Vec<&str> {
    fields.iter().map(String::as_str).collect()
}

/// The `amr` claim of a JWT (payload decoded without verification: the benchmark only
/// reports what the service put there).
pub fn amr_of(jwt: &str) -> Result<Vec<String>> {
    let payload = jwt.split('.').nth(1).context("a JWT has three parts")?;
    let claims: serde_json::Value = serde_json::from_slice(&b64::decode("jwt", payload)?)?;
    Ok(claims["amr"]
        .as_array()
        .context("no amr claim")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect())
}

/// What the closed-loop sign-in phase keeps of an answer: the primary refresh token (for
/// the token phase) and the two JWTs (whose `amr` is checked after the phase).
#[derive(serde::Deserialize)]
pub struct SignInAnswer {
    /// The primary refresh token.
    pub prt: String,
    /// The ID token.
    pub id_token: String,
    /// The access token.
    pub access_token: String,
}

/// How many sign-in answers were checked, by the kind of Hello key.
pub struct AmrChecked {
    /// Sign-ins by TPM devices.
    pub tpm: usize,
    /// Sign-ins by software devices.
    pub software: usize,
}

/// Every answer's access and ID token says `hwk` for a TPM device's sign-in and `swk` for
/// a software device's; any other answer fails the run.
pub fn check_amr(devices: &[SimDevice], answers: &[(usize, SignInAnswer)]) -> Result<AmrChecked> {
    let mut checked = AmrChecked {
        tpm: 0,
        software: 0,
    };
    for (d, answer) in answers {
        let tpm = devices[*d].tpm_key().is_some();
        let want = if tpm { "hwk" } else { "swk" };
        for jwt in [&answer.access_token, &answer.id_token] {
            let amr = amr_of(jwt)?;
            if !amr.iter().any(|m| m == want) {
                bail!("a sign-in of device {d} (TPM: {tpm}) got amr {amr:?}, without {want}");
            }
        }
        if tpm {
            checked.tpm += 1;
        } else {
            checked.software += 1;
        }
    }
    Ok(checked)
}

/// `b` spread evenly among `a`, keeping each list's order.
pub fn interleave<T>(a: Vec<T>, b: Vec<T>) -> Vec<T> {
    let total = a.len() + b.len();
    let nb = b.len();
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    let mut out = Vec::with_capacity(total);
    let mut taken_b = 0;
    for k in 0..total {
        let from_b = (k + 1) * nb / total > taken_b;
        let next = if from_b {
            taken_b += 1;
            b.next().or_else(|| a.next())
        } else {
            a.next().or_else(|| b.next())
        };
        out.extend(next);
    }
    out
}

/// A sign-in of a TPM device, its assertion signed in the TPM.
pub fn signin_request(
    t: &mut BenchTpm,
    dev: &SimDevice,
    nonce: &str,
    tid: &str,
) -> Result<signin::SignInRequest> {
    let fields = [tid, dev.id(), dev.upn.as_str(), dev.key_id.as_str()];
    Ok(signin::SignInRequest {
        upn: dev.upn.clone(),
        device_id: dev.id().to_string(),
        key_id: dev.key_id.clone(),
        nonce: nonce.to_string(),
        assertion: t.hello_sign(dev, Purpose::SignIn, nonce, &fields)?,
        device_signature: dev.device_sign(Purpose::SignIn, nonce, &fields)?,
    })
}

/// TPM devices: credential activation (sequential, the TPM's work included), then their
/// attested Hello key registrations, made beforehand and sent as a timed phase; every
/// answer must say `tpm`. Returns the phase's table row.
#[allow(clippy::too_many_arguments)]
pub async fn registrations(
    t: &mut BenchTpm,
    api: &Api,
    wire: &Pool,
    tid: &str,
    devices: &[SimDevice],
    tpm_indices: &[usize],
    tokens: &[(String, String)],
    fleet: &mut crate::fleet::Fleet,
) -> Result<String> {
    let t0 = Instant::now();
    let mut aiks = Vec::with_capacity(tpm_indices.len());
    for &d in tpm_indices {
        aiks.push(t.activate(api, tid, &devices[d]).await?);
    }
    eprintln!(
        "TPM-activated {} devices in {:.1} s",
        aiks.len(),
        t0.elapsed().as_secs_f64()
    );
    let nonces = fetch_nonces(api, Purpose::RegisterKey, tpm_indices.len()).await?;
    let mut regs = Vec::with_capacity(tpm_indices.len());
    for ((&d, aik), nonce) in tpm_indices.iter().zip(&aiks).zip(&nonces) {
        let dev = &devices[d];
        let req = t.registration(dev, aik, nonce, tid)?;
        let token = &tokens
            .iter()
            .find(|(u, _)| *u == dev.upn)
            .context("token")?
            .1;
        regs.push(wire.post_json_with("/v1/keys", &req, Some(token))?);
    }
    let wire2 = wire.clone();
    let cpu0 = fleet.cpu();
    let (summary, answers) = runner::closed_loop(
        "key registration (pre-signed, TPM-attested)",
        regs,
        1,
        move |req| {
            let wire = wire2.clone();
            async move { wire.send_json::<key::RegisterKeyResponse>(&req).await }
        },
    )
    .await;
    let row = fleet.finish(&summary, &cpu0).0;
    anyhow::ensure!(summary.failed == 0, "some TPM key registrations failed");
    if let Some(a) = answers.iter().find(|a| a.attestation != "tpm") {
        bail!(
            "the service recorded TPM key {} as {:?}, not \"tpm\"",
            a.key_id,
            a.attestation
        );
    }
    Ok(row)
}
