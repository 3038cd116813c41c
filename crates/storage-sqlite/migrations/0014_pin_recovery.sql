-- PIN recovery (issue 15, docs/pin-reset.md). Numbered 0014 so that it cannot collide with
-- the Kerberos work's 0013 on another branch.

-- The tenant's PIN-recovery key pairs (X25519, HPKE). The current key has superseded_at
-- NULL; a superseded key opens blobs until usable_until, after which its private key is
-- erased (private_sealed NULL). private_sealed is sealed (`sealed:v1:...`) under the
-- key-encryption key like every tenant private key.
CREATE TABLE pin_recovery_keys (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    key_id              TEXT NOT NULL,
    public_key          BLOB NOT NULL,
    private_sealed      TEXT,
    created_at          BIGINT NOT NULL,
    superseded_at       BIGINT,
    usable_until        BIGINT,
    PRIMARY KEY (tenant_id, key_id)
);

-- Every recovery blob the service answered, by its binding (SHA-256 over the blob): an
-- answered blob is never answered again. Holds no secret.
CREATE TABLE pin_recovery_answers (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    blob_binding        TEXT NOT NULL,
    recovery_key_id     TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    device_id           TEXT NOT NULL,
    key_id              TEXT NOT NULL,
    answered_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, blob_binding)
);
