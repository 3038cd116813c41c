//! The rest of [`latchkey_storage::Storage`] and its sub-traits: sealing a data directory's
//! secrets once, PIN resets answered once and only for a live key, and the Kerberos
//! settings.

use latchkey_storage::audit::event;
use latchkey_storage::pin_recovery::{AnsweredBlob, ResetOutcome};
use latchkey_storage::{SealedTenantSecrets, SecretsError};

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome, Violation};

/// Two concurrent `seal_secrets` on the two handles: exactly one seals (the tenant's secrets
/// and every user's TOTP secret, in one transaction), the other returns false; a sealing
/// whose TOTP sealer fails writes nothing.
pub async fn secrets_are_sealed_once(b: &Backend) -> Outcome {
    const P: &str = "secrets_are_sealed_once";
    with_tenant(b, P).await?;
    let alice = add_user(b, P, "alice").await?;
    let s = &b.main.storage;
    let sealed = |kek: &str| SealedTenantSecrets {
        kek_id: kek.to_owned(),
        ca_key_pem: format!("sealed-ca-{kek}"),
        signing_key_pkcs8: vec![8; 4],
        nonce_secret: vec![9; 4],
    };
    let failing = |_: &str, _: &[u8]| -> Result<Vec<u8>, SecretsError> {
        Err(SecretsError::Seal {
            slot: "totp".to_owned(),
        })
    };
    let refused = s.seal_secrets(TENANT, &sealed("bad"), &failing).await;
    ensure!(
        P,
        refused.is_err(),
        "a sealing whose TOTP sealer failed succeeded"
    );
    let t = s.load_tenant().await.or_fail(P)?;
    ensure!(
        P,
        t.is_some_and(|t| t.secrets_sealed_by.is_none()),
        "a failed sealing sealed the tenant"
    );
    let seal = |id: &str, secret: &[u8]| -> Result<Vec<u8>, SecretsError> {
        let mut out = id.as_bytes().to_vec();
        out.extend_from_slice(secret);
        Ok(out)
    };
    let (k1, k2) = (sealed("kek1"), sealed("kek2"));
    let (one, two) = tokio::join!(
        s.seal_secrets(TENANT, &k1, &seal),
        b.peer.storage.seal_secrets(TENANT, &k2, &seal),
    );
    let (one, two) = (one.or_fail(P)?, two.or_fail(P)?);
    ensure!(P, one != two, "both or neither sealing won: {one} {two}");
    let t = s.load_tenant().await.or_fail(P)?;
    let by = t.and_then(|t| t.secrets_sealed_by);
    ensure!(
        P,
        by.as_deref() == Some("kek1") || by.as_deref() == Some("kek2"),
        "sealed by {by:?}"
    );
    let u = s.user_by_upn(TENANT, &alice.upn).await.or_fail(P)?;
    let mut expected = alice.id.as_bytes().to_vec();
    expected.extend_from_slice(&alice.totp_secret);
    ensure_eq!(
        P,
        u.map(|u| u.totp_secret),
        Some(expected),
        "the TOTP secret sealed once"
    );
    Ok(())
}

/// A PIN reset is answered once per blob (of concurrent resets of one blob one is answered,
/// the others `AlreadyAnswered`), and not at all once the key is deleted; a refusal writes
/// nothing, not even its nonce.
pub async fn pin_reset_is_answered_once(b: &Backend) -> Outcome {
    const P: &str = "pin_reset_is_answered_once";
    let (alice, d, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let blob = |binding: &str| AnsweredBlob {
        blob_binding: binding.to_owned(),
        recovery_key_id: "rk".to_owned(),
        user_id: alice.id.clone(),
        device_id: d.id.clone(),
        key_id: k.key_id.clone(),
        answered_at: 2_000,
    };
    let mut set = tokio::task::JoinSet::new();
    for i in 0..crate::concurrent::TASKS {
        let h = if i % 2 == 0 {
            b.main.clone()
        } else {
            b.peer.clone()
        };
        let a = blob("blob-1");
        set.spawn(async move {
            let lines = [
                line(event::PIN_RESET_REQUEST, "race"),
                line(event::PIN_RESET, "race"),
            ];
            h.storage
                .record_pin_reset(TENANT, &nonce(&format!("p{i}")), &a, &lines)
                .await
        });
    }
    let (mut answered, mut again) = (0, 0);
    while let Some(done) = set.join_next().await {
        match done
            .map_err(|e| Violation::Task {
                property: P,
                detail: e.to_string(),
            })?
            .or_fail(P)?
        {
            ResetOutcome::Answered => answered += 1,
            ResetOutcome::AlreadyAnswered => again += 1,
            ResetOutcome::KeyGone => ensure!(P, false, "a live key was reported gone"),
        }
    }
    ensure_eq!(
        P,
        (answered, again),
        (1, crate::concurrent::TASKS - 1),
        "answered and refused"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "race").await?,
        2,
        "the answer's two audit lines"
    );
    ensure_eq!(
        P,
        s.counts(TENANT).await.or_fail(P)?.pin_recovery_answers,
        1,
        "answers stored"
    );
    s.delete_key(TENANT, &k.key_id, &line(event::KEY_DELETE, "del"))
        .await
        .or_fail(P)?;
    let gone = s
        .record_pin_reset(
            TENANT,
            &nonce("late"),
            &blob("blob-2"),
            &[line(event::PIN_RESET, "late")],
        )
        .await
        .or_fail(P)?;
    ensure_eq!(P, gone, ResetOutcome::KeyGone, "a reset for a deleted key");
    ensure!(
        P,
        !s.nonce_used(TENANT, "late").await.or_fail(P)?,
        "the refused reset used its nonce"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "late").await?,
        0,
        "the refusal was audited"
    );
    Ok(())
}

/// The Kerberos principal override is set, replaced and removed, audited; the realm is
/// recorded with its KDC certificate in one transaction.
pub async fn kerberos_settings_round_trip(b: &Backend) -> Outcome {
    const P: &str = "kerberos_settings_round_trip";
    let (alice, _, k) = enrolled(b, P).await?;
    let s = &b.main.storage;
    let set = |name: Option<&'static str>, tag: &'static str| {
        let (uid, a) = (alice.id.clone(), line(event::KERBEROS_PRINCIPAL_SET, tag));
        async move { s.set_kerberos_principal(TENANT, &uid, name, 10, &a).await }
    };
    ensure!(
        P,
        s.kerberos_principal(TENANT, &alice.id)
            .await
            .or_fail(P)?
            .is_none(),
        "no override yet"
    );
    set(Some("alice.admin"), "k1").await.or_fail(P)?;
    set(Some("alice.other"), "k2").await.or_fail(P)?;
    ensure_eq!(
        P,
        s.kerberos_principal(TENANT, &alice.id).await.or_fail(P)?,
        Some("alice.other".to_owned()),
        "override"
    );
    ensure!(
        P,
        s.kerberos_principal(OTHER_TENANT, &alice.id)
            .await
            .or_fail(P)?
            .is_none(),
        "another tenant's override"
    );
    set(None, "k3").await.or_fail(P)?;
    ensure!(
        P,
        s.kerberos_principal(TENANT, &alice.id)
            .await
            .or_fail(P)?
            .is_none(),
        "removed override"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "k1").await?
            + audited(&**s, P, "k2").await?
            + audited(&**s, P, "k3").await?,
        3,
        "audit lines"
    );
    ensure!(
        P,
        s.kerberos_realm(TENANT).await.or_fail(P)?.is_none(),
        "no realm yet"
    );
    let mut kdc = crate::certs::certificate("kdc1", &k, None);
    kdc.kind = latchkey_storage::cert::KIND_KDC.to_owned();
    (kdc.user_id, kdc.device_id, kdc.key_id) = (None, None, None);
    s.record_kdc_setup(
        TENANT,
        &kdc,
        "EXAMPLE.COM",
        20,
        &[line(event::KERBEROS_REALM_SET, "realm")],
    )
    .await
    .or_fail(P)?;
    ensure_eq!(
        P,
        s.kerberos_realm(TENANT).await.or_fail(P)?,
        Some("EXAMPLE.COM".to_owned()),
        "realm"
    );
    ensure!(
        P,
        s.certificate(TENANT, "kdc1").await.or_fail(P)?.is_some(),
        "the KDC certificate"
    );
    // The same serial again: the whole setup fails, the realm stays as it was.
    let again = s
        .record_kdc_setup(
            TENANT,
            &kdc,
            "OTHER.COM",
            21,
            &[line(event::KERBEROS_REALM_SET, "again")],
        )
        .await;
    ensure!(
        P,
        again.is_err(),
        "a KDC setup with a duplicate serial succeeded"
    );
    ensure_eq!(
        P,
        s.kerberos_realm(TENANT).await.or_fail(P)?,
        Some("EXAMPLE.COM".to_owned()),
        "realm after the failed setup"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "again").await?,
        0,
        "the failed setup was audited"
    );
    let mut kdc2 = kdc.clone();
    kdc2.serial = "kdc2".to_owned();
    s.record_kdc_certificate(TENANT, &kdc2, &line(event::CERT_ISSUE, "kdc2"))
        .await
        .or_fail(P)?;
    ensure!(
        P,
        s.certificate(TENANT, "kdc2").await.or_fail(P)?.is_some(),
        "record_kdc_certificate"
    );
    Ok(())
}
