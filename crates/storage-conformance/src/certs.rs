//! [`latchkey_storage::CertStorage`] and TPM activation ([`latchkey_storage::TpmStorage`]):
//! authorities created once, the CRL compare-and-set, certificates that follow their Hello
//! key, renewals once, and credential activations used once.

use latchkey_storage::audit::event;
use latchkey_storage::cert::{
    CertAuthorityRecord, CertTemplateRecord, CertificateRecord, IssueOutcome, RevokeOutcome,
    CASCADE_REASONS, KIND_USER, ROLE_ISSUING, ROLE_RA, STATE_REVOKED, STATE_SUPERSEDED,
    STATE_VALID,
};
use latchkey_storage::tpm::{DeviceTpm, FinishOutcome, PendingActivation, TpmIdentity};
use latchkey_storage::{KeyCredential, StorageError};

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome, Violation};

fn authority(role: &str) -> CertAuthorityRecord {
    CertAuthorityRecord {
        role: role.to_owned(),
        algorithm: "p256".to_owned(),
        cert_pem: format!("{role}-cert"),
        key_pem: "sealed:v1:placeholder".to_owned(),
        created_at: 1,
    }
}

/// A Hello certificate `serial` of key `k`.
pub fn certificate(
    serial: &str,
    k: &KeyCredential,
    renewed_from: Option<&str>,
) -> CertificateRecord {
    CertificateRecord {
        serial: serial.to_owned(),
        kind: KIND_USER.to_owned(),
        user_id: Some(k.user_id.clone()),
        upn: None,
        device_id: Some(k.device_id.clone()),
        key_id: Some(k.key_id.clone()),
        template: "hello".to_owned(),
        subject: "CN=alice".to_owned(),
        not_before: 1_000,
        not_after: FAR,
        der: vec![0x30, 0x03, 0x02, 0x01, 0x01],
        fingerprint: format!("fp-{serial}"),
        state: STATE_VALID.to_owned(),
        revoked_at: None,
        reason: None,
        renewed_from: renewed_from.map(str::to_owned),
        issued_at: 1_000,
    }
}

async fn state_of(b: &Backend, p: &'static str, serial: &str) -> Result<Option<String>, Violation> {
    Ok(b.main
        .storage
        .certificate(TENANT, serial)
        .await
        .or_fail(p)?
        .map(|c| c.state))
}

/// Authorities, templates and the PKI state are created once (of two concurrent creators one
/// stores); the CRL is stored only over the number it replaces; templates are replaced in
/// place, audited; the base URL is recorded.
pub async fn cert_authorities_are_created_once(b: &Backend) -> Outcome {
    const P: &str = "cert_authorities_are_created_once";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    ensure!(
        P,
        s.pki_state(TENANT).await.or_fail(P)?.is_none(),
        "PKI state before creation"
    );
    let auths = [authority(ROLE_ISSUING), authority(ROLE_RA)];
    let templates = [CertTemplateRecord {
        name: "hello".to_owned(),
        body: "{}".to_owned(),
        updated_at: 1,
    }];
    let (l1, l2) = (
        line(event::CERT_AUTHORITY_CREATE, "ca1"),
        line(event::CERT_AUTHORITY_CREATE, "ca2"),
    );
    let (one, two) = tokio::join!(
        s.create_cert_authorities(TENANT, &auths, &templates, &l1),
        b.peer
            .storage
            .create_cert_authorities(TENANT, &auths, &templates, &l2),
    );
    let (one, two) = (one.or_fail(P)?, two.or_fail(P)?);
    ensure!(P, one != two, "both or neither creator stored: {one} {two}");
    ensure_eq!(
        P,
        s.cert_authorities(TENANT).await.or_fail(P)?.len(),
        2,
        "authorities"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "ca1").await? + audited(&**s, P, "ca2").await?,
        1,
        "audit lines"
    );
    let Some(mut next) = s.pki_state(TENANT).await.or_fail(P)? else {
        return Err(Violation::Broken {
            property: P,
            detail: "no PKI state after creation".to_owned(),
        });
    };
    next.crl_number = 1;
    next.crl_der = Some(vec![1, 2, 3]);
    ensure!(
        P,
        s.store_crl(TENANT, 0, &next).await.or_fail(P)?,
        "the first CRL"
    );
    ensure!(
        P,
        !s.store_crl(TENANT, 0, &next).await.or_fail(P)?,
        "a second CRL over number 0"
    );
    ensure_eq!(
        P,
        s.pki_state(TENANT).await.or_fail(P)?.map(|p| p.crl_number),
        Some(1),
        "CRL number"
    );
    s.set_pki_base_url(TENANT, "https://id.example")
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        s.pki_state(TENANT)
            .await
            .or_fail(P)?
            .and_then(|p| p.base_url),
        Some("https://id.example".to_owned()),
        "base URL"
    );
    let changed = CertTemplateRecord {
        name: "hello".to_owned(),
        body: "{\"days\":1}".to_owned(),
        updated_at: 2,
    };
    s.put_cert_template(TENANT, &changed, &line(event::CERT_TEMPLATE_SET, "t"))
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        s.cert_templates(TENANT).await.or_fail(P)?,
        vec![changed],
        "templates"
    );
    ensure!(
        P,
        s.cert_authorities(OTHER_TENANT)
            .await
            .or_fail(P)?
            .is_empty(),
        "another tenant's authorities"
    );
    Ok(())
}

/// A certificate is recorded only for a live key (nonce once, nothing written otherwise),
/// renewed only from a valid one, revoked once, revoked with its key in the key's delete
/// transaction, and listed by user; `register_key` with a certificate writes both.
pub async fn certificates_follow_their_key(b: &Backend) -> Outcome {
    const P: &str = "certificates_follow_their_key";
    let (alice, d, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let issue = |n: &str, c: CertificateRecord, tag: &str| {
        let (n, a) = (nonce(n), vec![line(event::CERT_ISSUE, tag)]);
        async move { s.record_certificate(TENANT, &n, &c, &a).await }
    };
    ensure_eq!(
        P,
        issue("c1", certificate("01", &k, None), "i1")
            .await
            .or_fail(P)?,
        IssueOutcome::Issued,
        "issue"
    );
    let replay = issue("c1", certificate("02", &k, None), "i2").await;
    ensure!(
        P,
        matches!(replay, Err(StorageError::NonceReplayed)),
        "replay: {replay:?}"
    );
    ensure_eq!(
        P,
        issue("c2", certificate("03", &k, Some("01")), "i3")
            .await
            .or_fail(P)?,
        IssueOutcome::Issued,
        "renew"
    );
    ensure_eq!(
        P,
        state_of(b, P, "01").await?,
        Some(STATE_SUPERSEDED.to_owned()),
        "the renewed certificate"
    );
    ensure_eq!(
        P,
        issue("c3", certificate("04", &k, Some("01")), "i4")
            .await
            .or_fail(P)?,
        IssueOutcome::NotRenewable,
        "renew a superseded one"
    );
    ensure!(
        P,
        !s.nonce_used(TENANT, "c3").await.or_fail(P)?,
        "the refused renewal used its nonce"
    );
    ensure!(
        P,
        state_of(b, P, "04").await?.is_none(),
        "the refused renewal stored a certificate"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "i4").await? + audited(&**s, P, "i2").await?,
        0,
        "refusals audited"
    );
    let listed = s
        .list_certificates(TENANT, Some(&alice.upn), None)
        .await
        .or_fail(P)?;
    ensure_eq!(P, listed.len(), 2, "alice's certificates");
    ensure_eq!(
        P,
        listed.first().and_then(|c| c.upn.clone()),
        Some(alice.upn.clone()),
        "UPN in the listing"
    );
    ensure_eq!(
        P,
        s.list_certificates(TENANT, None, Some(1))
            .await
            .or_fail(P)?
            .len(),
        1,
        "limit"
    );
    ensure_eq!(
        P,
        s.revoke_certificate(
            TENANT,
            "01",
            "keyCompromise",
            2_000,
            &line(event::CERT_REVOKE, "v1")
        )
        .await
        .or_fail(P)?,
        RevokeOutcome::Revoked,
        "revoke"
    );
    ensure_eq!(
        P,
        s.revoke_certificate(
            TENANT,
            "01",
            "keyCompromise",
            2_001,
            &line(event::CERT_REVOKE, "v2")
        )
        .await
        .or_fail(P)?,
        RevokeOutcome::AlreadyRevoked,
        "revoke twice"
    );
    ensure_eq!(
        P,
        s.revoke_certificate(
            TENANT,
            "ff",
            "keyCompromise",
            2_001,
            &line(event::CERT_REVOKE, "v3")
        )
        .await
        .or_fail(P)?,
        RevokeOutcome::NotFound,
        "revoke unknown"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "v2").await? + audited(&**s, P, "v3").await?,
        0,
        "refused revocations audited"
    );
    // The key's delete revokes its valid certificate in the same transaction.
    s.delete_key(TENANT, &k.key_id, &line(event::KEY_DELETE, "del"))
        .await
        .or_fail(P)?;
    let c3 = s.certificate(TENANT, "03").await.or_fail(P)?;
    ensure!(
        P,
        c3.as_ref().is_some_and(|c| c.state == STATE_REVOKED
            && c.reason.as_deref() == Some(CASCADE_REASONS.key_deleted)),
        "after the key delete: {c3:?}"
    );
    let revoked: Vec<String> = s
        .revoked_certificates(TENANT, 3_000)
        .await
        .or_fail(P)?
        .into_iter()
        .map(|r| r.serial)
        .collect();
    ensure_eq!(
        P,
        revoked,
        vec!["01".to_owned(), "03".to_owned()],
        "revoked certificates"
    );
    ensure_eq!(
        P,
        issue("c4", certificate("05", &k, None), "i5")
            .await
            .or_fail(P)?,
        IssueOutcome::KeyGone,
        "issue for a deleted key"
    );
    ensure!(
        P,
        !s.nonce_used(TENANT, "c4").await.or_fail(P)?,
        "the refused issue used its nonce"
    );
    // A registration with its certificate writes both, or neither.
    let k2 = key("key-a2", &alice.id, &d.id);
    let cert = certificate("06", &k2, None);
    let lines = [line(event::CERT_ISSUE, "with")];
    s.register_key(
        TENANT,
        &nonce("reg2"),
        &k2,
        false,
        &line(event::KEY_REGISTER, "reg2"),
        Some((&cert, &lines)),
    )
    .await
    .or_fail(P)?;
    ensure_eq!(
        P,
        state_of(b, P, "06").await?,
        Some(STATE_VALID.to_owned()),
        "the certificate of the registration"
    );
    ensure_eq!(P, audited(&**s, P, "with").await?, 1, "its audit line");
    let k3 = key("key-a3", &alice.id, &d.id);
    let dup = certificate("06", &k3, None);
    let failed = s
        .register_key(
            TENANT,
            &nonce("reg3"),
            &k3,
            true,
            &line(event::KEY_REGISTER, "reg3"),
            Some((&dup, &lines)),
        )
        .await;
    ensure!(
        P,
        failed.is_err(),
        "a registration with a duplicate serial succeeded"
    );
    let keys: Vec<String> = s
        .list_keys(TENANT, None)
        .await
        .or_fail(P)?
        .into_iter()
        .map(|l| l.key_id)
        .collect();
    ensure_eq!(
        P,
        keys,
        vec!["key-a2".to_owned()],
        "keys after the failed registration (whole or nothing)"
    );
    ensure!(
        P,
        !s.nonce_used(TENANT, "reg3").await.or_fail(P)?,
        "the failed registration used its nonce"
    );
    ensure_eq!(
        P,
        state_of(b, P, "06").await?,
        Some(STATE_VALID.to_owned()),
        "the failed replace revoked the old certificate"
    );
    Ok(())
}

/// One valid certificate renewed by many tasks at once: exactly one renewal is issued, the
/// others are `NotRenewable` and write nothing.
pub async fn race_certificate_renewal_happens_once(b: &Backend) -> Outcome {
    const P: &str = "race_certificate_renewal_happens_once";
    let (_, _, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    s.record_certificate(
        TENANT,
        &nonce("c0"),
        &certificate("01", &k, None),
        &[line(event::CERT_ISSUE, "c0")],
    )
    .await
    .or_fail(P)?;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..crate::concurrent::TASKS {
        let h = if i % 2 == 0 {
            b.main.clone()
        } else {
            b.peer.clone()
        };
        let c = certificate(&format!("1{i:02}"), &k, Some("01"));
        set.spawn(async move {
            h.storage
                .record_certificate(
                    TENANT,
                    &nonce(&format!("r{i}")),
                    &c,
                    &[line(event::CERT_RENEW, "race")],
                )
                .await
        });
    }
    let mut issued = 0;
    while let Some(done) = set.join_next().await {
        let outcome = done
            .map_err(|e| Violation::Task {
                property: P,
                detail: e.to_string(),
            })?
            .or_fail(P)?;
        match outcome {
            IssueOutcome::Issued => issued += 1,
            IssueOutcome::NotRenewable => {}
            IssueOutcome::KeyGone => ensure!(P, false, "a live key was reported gone"),
        }
    }
    ensure_eq!(P, issued, 1, "renewals issued");
    ensure_eq!(
        P,
        s.counts(TENANT).await.or_fail(P)?.certificates,
        2,
        "certificates stored"
    );
    ensure_eq!(P, audited(&**s, P, "race").await?, 1, "audit lines");
    Ok(())
}

fn identity(device_id: &str, aik: &str) -> TpmIdentity {
    TpmIdentity {
        device_id: device_id.to_owned(),
        aik_public: vec![1; 8],
        aik_name: aik.to_owned(),
        ek_public_hash: "ek".to_owned(),
        manufacturer: "id:49424D00".to_owned(),
        model: "swtpm".to_owned(),
        version: "1".to_owned(),
        family: "2.0".to_owned(),
        root_subject: "CN=Root".to_owned(),
    }
}

/// A credential activation is begun (replacing the device's earlier one), finished once
/// (concurrent finishes: one `Activated`, the rest `AlreadyUsed`), and an AIK already
/// another device's is refused, writing nothing.
pub async fn tpm_activation_finishes_once(b: &Backend) -> Outcome {
    const P: &str = "tpm_activation_finishes_once";
    let (alice, d, _) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let pending = |id: &str, dev: &str, aik: &str| PendingActivation {
        id: id.to_owned(),
        secret_hash: vec![5; 32],
        expires_at: FAR,
        identity: identity(dev, aik),
    };
    s.begin_tpm_activation(
        TENANT,
        &nonce("b0"),
        &pending("old", &d.id, "aik-a"),
        &line(event::TPM_ACTIVATE_BEGIN, "b0"),
    )
    .await
    .or_fail(P)?;
    s.begin_tpm_activation(
        TENANT,
        &nonce("b1"),
        &pending("act", &d.id, "aik-a"),
        &line(event::TPM_ACTIVATE_BEGIN, "b1"),
    )
    .await
    .or_fail(P)?;
    ensure!(
        P,
        s.tpm_activation(TENANT, &d.id, "old")
            .await
            .or_fail(P)?
            .is_none(),
        "the replaced activation is still there"
    );
    ensure!(
        P,
        s.tpm_activation(TENANT, &d.id, "act")
            .await
            .or_fail(P)?
            .is_some(),
        "the activation"
    );
    let tpm = DeviceTpm {
        identity: identity(&d.id, "aik-a"),
        activated_at: 2_000,
    };
    let mut set = tokio::task::JoinSet::new();
    for i in 0..crate::concurrent::TASKS {
        let h = if i % 2 == 0 {
            b.main.clone()
        } else {
            b.peer.clone()
        };
        let tpm = tpm.clone();
        set.spawn(async move {
            h.storage
                .finish_tpm_activation(
                    TENANT,
                    &nonce(&format!("f{i}")),
                    "act",
                    &tpm,
                    &line(event::TPM_ACTIVATE, "race"),
                )
                .await
        });
    }
    let mut activated = 0;
    while let Some(done) = set.join_next().await {
        let outcome = done
            .map_err(|e| Violation::Task {
                property: P,
                detail: e.to_string(),
            })?
            .or_fail(P)?;
        match outcome {
            FinishOutcome::Activated => activated += 1,
            FinishOutcome::AlreadyUsed => {}
            FinishOutcome::AikOfAnotherDevice => {
                ensure!(P, false, "the device's own AIK was refused")
            }
        }
    }
    ensure_eq!(P, activated, 1, "activations finished");
    ensure_eq!(P, audited(&**s, P, "race").await?, 1, "audit lines");
    ensure_eq!(
        P,
        s.device_tpm(TENANT, &d.id).await.or_fail(P)?,
        Some(tpm),
        "the device's TPM"
    );
    ensure_eq!(
        P,
        s.device_of_aik(TENANT, "aik-a").await.or_fail(P)?,
        Some(d.id.clone()),
        "device_of_aik"
    );
    // Another device presenting the same AIK.
    let d2 = add_device(b, P, "dev-2", &alice).await?;
    s.begin_tpm_activation(
        TENANT,
        &nonce("b2"),
        &pending("act2", &d2.id, "aik-a"),
        &line(event::TPM_ACTIVATE_BEGIN, "b2"),
    )
    .await
    .or_fail(P)?;
    let stolen = DeviceTpm {
        identity: identity(&d2.id, "aik-a"),
        activated_at: 2_001,
    };
    let out = s
        .finish_tpm_activation(
            TENANT,
            &nonce("f-x"),
            "act2",
            &stolen,
            &line(event::TPM_ACTIVATE, "stolen"),
        )
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        out,
        FinishOutcome::AikOfAnotherDevice,
        "another device's AIK"
    );
    ensure!(
        P,
        s.device_tpm(TENANT, &d2.id).await.or_fail(P)?.is_none(),
        "the refused TPM was recorded"
    );
    ensure!(
        P,
        s.tpm_activation(TENANT, &d2.id, "act2")
            .await
            .or_fail(P)?
            .is_some(),
        "the refused finish consumed the activation"
    );
    ensure!(
        P,
        !s.nonce_used(TENANT, "f-x").await.or_fail(P)?,
        "the refused finish used its nonce"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "stolen").await?,
        0,
        "the refusal was audited"
    );
    Ok(())
}

/// The directory's revocations revoke the certificates they concern in their own
/// transaction, with the reason of [`CASCADE_REASONS`]: a replaced key's (`superseded`), a
/// disabled device's, a disabled user's; each marks the CRL stale.
pub async fn revocations_cascade_to_certificates(b: &Backend) -> Outcome {
    const P: &str = "revocations_cascade_to_certificates";
    let (alice, d, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let auths = [authority(ROLE_ISSUING), authority(ROLE_RA)];
    s.create_cert_authorities(
        TENANT,
        &auths,
        &[],
        &line(event::CERT_AUTHORITY_CREATE, "ca"),
    )
    .await
    .or_fail(P)?;
    let issue = |n: &str, c: CertificateRecord| {
        let (n, a) = (nonce(n), vec![line(event::CERT_ISSUE, "issue")]);
        async move { s.record_certificate(TENANT, &n, &c, &a).await }
    };
    let reason_of = |serial: &'static str| async move {
        let c = s.certificate(TENANT, serial).await?;
        Ok::<_, StorageError>(c.map(|c| (c.state, c.reason)))
    };
    let revoked = |why: &str| Some((STATE_REVOKED.to_owned(), Some(why.to_owned())));
    issue("c1", certificate("01", &k, None)).await.or_fail(P)?;
    let revision = s.pki_state(TENANT).await.or_fail(P)?.map(|p| p.revision);
    let k2 = key("key-a2", &alice.id, &d.id);
    s.register_key(
        TENANT,
        &nonce("r2"),
        &k2,
        true,
        &line(event::KEY_REGISTER, "r2"),
        None,
    )
    .await
    .or_fail(P)?;
    ensure_eq!(
        P,
        reason_of("01").await.or_fail(P)?,
        revoked(CASCADE_REASONS.key_replaced),
        "a replaced key's certificate"
    );
    let later = s.pki_state(TENANT).await.or_fail(P)?.map(|p| p.revision);
    ensure!(
        P,
        later > revision,
        "the revocation did not mark the CRL stale: {revision:?} -> {later:?}"
    );
    issue("c2", certificate("02", &k2, None)).await.or_fail(P)?;
    s.disable_device(TENANT, &d.id, &line(event::DEVICE_DISABLE, "off"))
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        reason_of("02").await.or_fail(P)?,
        revoked(CASCADE_REASONS.device_disabled),
        "a disabled device's certificate"
    );
    let bob = add_user(b, P, "bob").await?;
    let db = add_device(b, P, "dev-b", &bob).await?;
    let kb = add_key(b, P, "key-b", &bob, &db).await?;
    issue("c3", certificate("03", &kb, None)).await.or_fail(P)?;
    s.disable_user(TENANT, &bob.upn, &line(event::USER_DISABLE, "off"))
        .await
        .or_fail(P)?;
    ensure_eq!(
        P,
        reason_of("03").await.or_fail(P)?,
        revoked(CASCADE_REASONS.user_disabled),
        "a disabled user's certificate"
    );
    Ok(())
}
