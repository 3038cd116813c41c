//! [`latchkey_storage::ResourceStorage`], TPM roots ([`latchkey_storage::TpmStorage`]) and
//! the first PIN-recovery key ([`latchkey_storage::PinRecoveryStorage`]).

use latchkey_storage::audit::event;
use latchkey_storage::pin_recovery::PinRecoveryKeyRecord;
use latchkey_storage::tpm::TpmRoot;
use latchkey_storage::{Resource, StorageError};

use crate::fixtures::*;
use crate::{ensure, ensure_eq, Backend, OrFail, Outcome};

/// Resources: added once (`Conflict` after, unaudited), listed, removed once; `issue_token`
/// for an unknown audience writes nothing (nonce unused), for a known one consumes the
/// nonce once with its line.
pub async fn resources_and_token_issue(b: &Backend) -> Outcome {
    const P: &str = "resources_and_token_issue";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    let r = Resource {
        uri: "api://payroll".to_owned(),
        name: "Payroll".to_owned(),
        created_at: 1,
    };
    s.add_resource(TENANT, &r, &line(event::RESOURCE_ADD, "a1"))
        .await
        .or_fail(P)?;
    let dup = s
        .add_resource(TENANT, &r, &line(event::RESOURCE_ADD, "a2"))
        .await;
    ensure!(
        P,
        matches!(dup, Err(StorageError::Conflict(_))),
        "a second add: {dup:?}"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "a2").await?,
        0,
        "the conflict was audited"
    );
    ensure_eq!(
        P,
        s.list_resources(TENANT).await.or_fail(P)?,
        vec![r.clone()],
        "list"
    );
    let unknown = s
        .issue_token(
            TENANT,
            &nonce("t0"),
            Some("api://none"),
            &line(event::TOKEN, "t0"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !unknown, "a token for an unknown audience");
    ensure!(
        P,
        !s.nonce_used(TENANT, "t0").await.or_fail(P)?,
        "the refused issue used its nonce"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "t0").await?,
        0,
        "the refused issue was audited"
    );
    ensure!(
        P,
        s.issue_token(
            TENANT,
            &nonce("t1"),
            Some(&r.uri),
            &line(event::TOKEN, "t1")
        )
        .await
        .or_fail(P)?,
        "issue"
    );
    ensure!(
        P,
        s.issue_token(TENANT, &nonce("t2"), None, &line(event::TOKEN, "t2"))
            .await
            .or_fail(P)?,
        "issue for the service"
    );
    let replay = s
        .issue_token(
            TENANT,
            &nonce("t1"),
            Some(&r.uri),
            &line(event::TOKEN, "t3"),
        )
        .await;
    ensure!(
        P,
        matches!(replay, Err(StorageError::NonceReplayed)),
        "replay: {replay:?}"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "t1").await? + audited(&**s, P, "t3").await?,
        1,
        "audit lines of the issues"
    );
    ensure!(
        P,
        s.remove_resource(TENANT, &r.uri, &line(event::RESOURCE_REMOVE, "r1"))
            .await
            .or_fail(P)?,
        "remove"
    );
    ensure!(
        P,
        !s.remove_resource(TENANT, &r.uri, &line(event::RESOURCE_REMOVE, "r2"))
            .await
            .or_fail(P)?,
        "remove twice"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "r2").await?,
        0,
        "the second remove was audited"
    );
    let removed = s
        .issue_token(
            TENANT,
            &nonce("t4"),
            Some(&r.uri),
            &line(event::TOKEN, "t4"),
        )
        .await
        .or_fail(P)?;
    ensure!(P, !removed, "a token for a removed resource");
    Ok(())
}

/// TPM roots: added once by fingerprint, listed, removed once (audited).
pub async fn tpm_roots_are_unique(b: &Backend) -> Outcome {
    const P: &str = "tpm_roots_are_unique";
    with_tenant(b, P).await?;
    let s = &b.main.storage;
    let root = TpmRoot {
        fingerprint: "ab".repeat(32),
        der: vec![0x30, 0x00],
        subject: "CN=Root".to_owned(),
        intermediate: false,
        not_after: 5_000_000_000,
        added_at: 1,
    };
    s.add_tpm_root(TENANT, &root, &line(event::TPM_ROOT_ADD, "a1"))
        .await
        .or_fail(P)?;
    let dup = s
        .add_tpm_root(TENANT, &root, &line(event::TPM_ROOT_ADD, "a2"))
        .await;
    ensure!(
        P,
        matches!(dup, Err(StorageError::Conflict(_))),
        "a second add: {dup:?}"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "a2").await?,
        0,
        "the conflict was audited"
    );
    ensure_eq!(
        P,
        s.list_tpm_roots(TENANT).await.or_fail(P)?,
        vec![root.clone()],
        "list"
    );
    ensure!(
        P,
        s.list_tpm_roots(OTHER_TENANT).await.or_fail(P)?.is_empty(),
        "another tenant's roots"
    );
    ensure!(
        P,
        s.remove_tpm_root(
            TENANT,
            &root.fingerprint,
            &line(event::TPM_ROOT_REMOVE, "r1")
        )
        .await
        .or_fail(P)?,
        "remove"
    );
    ensure!(
        P,
        !s.remove_tpm_root(
            TENANT,
            &root.fingerprint,
            &line(event::TPM_ROOT_REMOVE, "r2")
        )
        .await
        .or_fail(P)?,
        "remove twice"
    );
    ensure_eq!(
        P,
        audited(&**s, P, "r2").await?,
        0,
        "the second remove was audited"
    );
    ensure!(
        P,
        s.device_tpm(TENANT, "dev-x").await.or_fail(P)?.is_none(),
        "device_tpm of none"
    );
    ensure!(
        P,
        s.device_of_aik(TENANT, "aik").await.or_fail(P)?.is_none(),
        "device_of_aik of none"
    );
    Ok(())
}

/// The first PIN-recovery key is stored once: a second first key (a concurrent creator)
/// returns false and writes nothing.
pub async fn pin_recovery_first_key_is_created_once(b: &Backend) -> Outcome {
    const P: &str = "pin_recovery_first_key_is_created_once";
    with_tenant(b, P).await?;
    let key = |id: &str| PinRecoveryKeyRecord {
        key_id: id.to_owned(),
        public_key: vec![1; 32],
        private_sealed: Some("sealed".to_owned()),
        created_at: 1,
        superseded_at: None,
        usable_until: None,
    };
    let s = &b.main.storage;
    let l = |tag: &str| line(event::PIN_RECOVERY_KEY_CREATE, tag);
    let (k1, k2, l1, l2) = (key("k1"), key("k2"), l("k1"), l("k2"));
    let (one, two) = tokio::join!(
        s.create_first_pin_recovery_key(TENANT, &k1, &l1),
        b.peer
            .storage
            .create_first_pin_recovery_key(TENANT, &k2, &l2),
    );
    let (one, two) = (one.or_fail(P)?, two.or_fail(P)?);
    ensure!(
        P,
        one != two,
        "both or neither first key stored: {one} {two}"
    );
    let keys = s.pin_recovery_keys(TENANT).await.or_fail(P)?;
    ensure_eq!(P, keys.len(), 1, "keys stored");
    ensure_eq!(
        P,
        audited(&**s, P, "k1").await? + audited(&**s, P, "k2").await?,
        1,
        "audit lines"
    );
    s.rotate_pin_recovery_key(
        TENANT,
        &key("k3"),
        10,
        20,
        &line(event::PIN_RECOVERY_KEY_ROTATE, "rot"),
    )
    .await
    .or_fail(P)?;
    let keys = s.pin_recovery_keys(TENANT).await.or_fail(P)?;
    let shape: Vec<(String, Option<i64>)> = keys
        .iter()
        .map(|k| (k.key_id.clone(), k.usable_until))
        .collect();
    ensure_eq!(
        P,
        shape.first().cloned(),
        Some(("k3".to_owned(), None)),
        "the current key first"
    );
    ensure_eq!(P, shape.len(), 2, "keys after the rotation");
    Ok(())
}
