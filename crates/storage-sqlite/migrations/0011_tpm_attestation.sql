-- TPM attestation (issue 11): the tenant's TPM manufacturer roots, pending credential
-- activations, each device's activated TPM, and the manufacturer of a TPM-attested key.
-- Numbered 0011 so that it cannot collide with migrations written on other branches.

-- Trusted TPM manufacturer certificates (`latchkeyd tpm-roots add`). fingerprint: lowercase
-- hex SHA-256 of der. intermediate: an issuing CA used to build a chain, not an anchor.
CREATE TABLE tpm_roots (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    fingerprint         TEXT NOT NULL,
    der                 BLOB NOT NULL,
    subject             TEXT NOT NULL,
    intermediate        BOOLEAN NOT NULL,
    not_after           BIGINT NOT NULL,
    added_at            BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, fingerprint)
);

-- A credential activation between begin and finish: one per device (a new begin replaces
-- it), one use (deleted by the finish that succeeds), short-lived (expires_at).
-- secret_hash: SHA-256 of the secret sealed in the MakeCredential; the secret itself is
-- never stored.
CREATE TABLE tpm_activations (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    id                  TEXT NOT NULL,
    device_id           TEXT NOT NULL,
    secret_hash         BLOB NOT NULL,
    aik_public          BLOB NOT NULL,
    aik_name            TEXT NOT NULL,
    ek_public_hash      TEXT NOT NULL,
    manufacturer        TEXT NOT NULL,
    model               TEXT NOT NULL,
    version             TEXT NOT NULL,
    family              TEXT NOT NULL,
    root_subject        TEXT NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);
CREATE UNIQUE INDEX tpm_activations_by_device ON tpm_activations (tenant_id, device_id);

-- A device's activated TPM: its AIK (trusted for this device only) and what the EK
-- certificate says of the TPM. aik_name is unique in the tenant: one AIK, one device.
CREATE TABLE tpm_devices (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    device_id           TEXT NOT NULL,
    aik_public          BLOB NOT NULL,
    aik_name            TEXT NOT NULL,
    ek_public_hash      TEXT NOT NULL,
    manufacturer        TEXT NOT NULL,
    model               TEXT NOT NULL,
    version             TEXT NOT NULL,
    family              TEXT NOT NULL,
    root_subject        TEXT NOT NULL,
    activated_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, device_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);
CREATE UNIQUE INDEX tpm_devices_by_aik ON tpm_devices (tenant_id, aik_name);

-- The TPM manufacturer of a key whose attestation is `tpm` (NULL for `software`).
ALTER TABLE key_credentials ADD COLUMN tpm_manufacturer TEXT;
