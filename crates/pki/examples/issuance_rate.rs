//! Certificate issuance rate through the whole pure path (verify_request + countersign +
//! issue), against the cost of the raw signatures alone, and CRL generation time with
//! 100,000 revoked entries.
//!
//! `cargo run --release -p latchkey-pki --example issuance_rate [SECONDS]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::time::{Duration as StdDuration, Instant};

use latchkey_pki::{
    build_request, verify_request, CaAlgorithm, CertificateProfile, IssuingCa,
    RegistrationAuthority, RevocationReason, RevokedEntry, Template, TenantCa,
};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use time::{Duration, OffsetDateTime};

const UPN: &str = "alice@contoso.test";

struct Fixture {
    root: TenantCa,
    ca: IssuingCa,
    ra: RegistrationAuthority,
    request: Vec<u8>,
    spki: Vec<u8>,
    now: OffsetDateTime,
}

fn issue_one(f: &Fixture, template: &Template) {
    let verified = verify_request(&f.request).unwrap();
    let profile = CertificateProfile::for_user(
        template,
        UPN,
        &verified.spki_der,
        f.now,
        Some("http://pki.contoso.test/crl"),
        Some("http://pki.contoso.test/ca.crt"),
        Some("http://pki.contoso.test/ocsp"),
    )
    .unwrap();
    let cs = f.ra.countersign(&f.request, &profile, f.now).unwrap();
    let cert = f.ca.issue(&cs, f.root.cert_der(), f.now).unwrap();
    assert!(!cert.certificate.der.is_empty());
}

/// Runs `work` on `threads` threads for about `seconds`; returns operations per second.
fn rate(threads: usize, seconds: f64, work: &(dyn Fn() + Sync)) -> f64 {
    let deadline = StdDuration::from_secs_f64(seconds);
    let start = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0u64;
                    while start.elapsed() < deadline {
                        work();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    counts.iter().sum::<u64>() as f64 / start.elapsed().as_secs_f64()
}

/// The raw crypto of one issuance: the CA signature (P-256 or RSA-3072), the RA's P-256
/// signature, three RSA-2048 verifications of the request (server, RA, CA) and two P-256
/// verifications (the RA certificate by the root, the RA countersignature).
struct RawCrypto {
    ca_p256: EcdsaKeyPair,
    ca_rsa: RsaKeyPair,
    ra: EcdsaKeyPair,
    hello_pub: Vec<u8>,
    hello_sig: Vec<u8>,
    p256_pub: Vec<u8>,
    p256_sig: Vec<u8>,
    rng: SystemRandom,
}

impl RawCrypto {
    fn new() -> RawCrypto {
        let rng = SystemRandom::new();
        let p256 = |rng: &SystemRandom| {
            let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, rng)
                .unwrap();
            EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                doc.as_ref(),
                rng,
            )
            .unwrap()
        };
        let rsa = |bits| {
            let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), bits).unwrap();
            RsaKeyPair::from_pkcs8(key.to_pkcs8_der().unwrap().as_bytes()).unwrap()
        };
        let hello = rsa(2048);
        let mut hello_sig = vec![0; hello.public().modulus_len()];
        hello
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                &[7; 700],
                &mut hello_sig,
            )
            .unwrap();
        let ra = p256(&rng);
        let p256_sig = ra.sign(&rng, &[7; 700]).unwrap().as_ref().to_vec();
        RawCrypto {
            ca_p256: p256(&rng),
            ca_rsa: rsa(3072),
            hello_pub: hello.public_key().as_ref().to_vec(),
            hello_sig,
            p256_pub: ra.public_key().as_ref().to_vec(),
            p256_sig,
            ra,
            rng,
        }
    }

    fn one(&self, alg: CaAlgorithm) {
        let msg = [7u8; 700];
        match alg {
            CaAlgorithm::EcdsaP256 => {
                self.ca_p256.sign(&self.rng, &msg).unwrap();
            }
            CaAlgorithm::Rsa3072 => {
                let mut sig = vec![0; self.ca_rsa.public().modulus_len()];
                self.ca_rsa
                    .sign(&signature::RSA_PKCS1_SHA256, &self.rng, &msg, &mut sig)
                    .unwrap();
            }
        }
        self.ra.sign(&self.rng, &msg).unwrap();
        let rsa = UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.hello_pub);
        for _ in 0..3 {
            rsa.verify(&msg, &self.hello_sig).unwrap();
        }
        let ec = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.p256_pub);
        for _ in 0..2 {
            ec.verify(&msg, &self.p256_sig).unwrap();
        }
    }
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("issuance_rate: {seconds} s per measurement, {cores} cores available");

    let now = OffsetDateTime::now_utc();
    let hello = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let spki = hello
        .to_public_key()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec();
    let hello_ring = RsaKeyPair::from_pkcs8(hello.to_pkcs8_der().unwrap().as_bytes()).unwrap();
    let rng = SystemRandom::new();
    let request = build_request(&spki, UPN, &mut |m| {
        let mut sig = vec![0; hello_ring.public().modulus_len()];
        hello_ring
            .sign(&signature::RSA_PKCS1_SHA256, &rng, m, &mut sig)
            .map_err(|e| e.to_string())?;
        Ok(sig)
    })
    .unwrap();
    let template = Template {
        kerberos_realm: Some("CONTOSO.TEST".into()),
        ..Template::hello_default()
    };
    let raw = RawCrypto::new();

    for alg in [CaAlgorithm::EcdsaP256, CaAlgorithm::Rsa3072] {
        let root = TenantCa::create("Contoso", now).unwrap();
        let fixture = Fixture {
            ca: IssuingCa::create(&root, "Contoso", alg, now).unwrap(),
            ra: RegistrationAuthority::create(&root, "Contoso", now).unwrap(),
            root,
            request: request.clone(),
            spki: spki.clone(),
            now,
        };
        assert_eq!(
            verify_request(&fixture.request).unwrap().spki_der,
            fixture.spki
        );
        for threads in [1, 2] {
            let path = rate(threads, seconds, &|| issue_one(&fixture, &template));
            let crypto = rate(threads, seconds, &|| raw.one(alg));
            println!(
                "{alg:>8} issuing CA, {threads} thread(s): {path:8.0} certificates/s; \
                 crypto alone {crypto:8.0}/s; path/crypto {:.2}",
                path / crypto
            );
        }

        let entries: Vec<RevokedEntry> = (0..100_000u32)
            .map(|i| {
                let mut serial = vec![0x40; 16];
                serial[12..].copy_from_slice(&i.to_be_bytes());
                RevokedEntry {
                    serial,
                    revoked_at: now - Duration::seconds(i64::from(i)),
                    reason: if i % 2 == 0 {
                        RevocationReason::KeyCompromise
                    } else {
                        RevocationReason::Unspecified
                    },
                }
            })
            .collect();
        let start = Instant::now();
        let crl = fixture
            .ca
            .crl(&entries, 1, now, now + Duration::days(1))
            .unwrap();
        println!(
            "{alg:>8} issuing CA: CRL with {} entries in {:.0} ms ({} bytes)",
            entries.len(),
            start.elapsed().as_secs_f64() * 1000.0,
            crl.len()
        );
    }
}
