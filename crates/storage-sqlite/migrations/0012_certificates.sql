-- Certificate trust (issue 12): the issuing CA and the registration authority, the
-- certificate templates, the certificates issued, and the CRL state. Numbered 0012 so that
-- it cannot collide with migrations written on other branches.

-- The issuing CA (role `issuing`) and the registration authority (role `ra`), both signed
-- by the tenant root. key_pem is sealed (`sealed:v1:...`) under the key-encryption key,
-- exactly as tenants.ca_key_pem: a copy of the database reveals neither key.
CREATE TABLE cert_authorities (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    role                TEXT NOT NULL,
    algorithm           TEXT NOT NULL,
    cert_pem            TEXT NOT NULL,
    key_pem             TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, role)
);

-- Certificate templates: body is the JSON of latchkey_pki::Template.
CREATE TABLE cert_templates (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    name                TEXT NOT NULL,
    body                TEXT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- Every certificate the issuing CA issued. serial: lowercase hex without leading zero
-- bytes. kind: `user` (a Hello certificate; user, device and key set) or `kdc`.
-- state: `valid`, `superseded` (renewed; still valid until not_after, not on the CRL) or
-- `revoked` (revoked_at and reason set; on the CRL until not_after). renewed_from: the
-- serial this one renewed.
CREATE TABLE certificates (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    serial              TEXT NOT NULL,
    kind                TEXT NOT NULL,
    user_id             TEXT,
    device_id           TEXT,
    key_id              TEXT,
    template            TEXT NOT NULL,
    subject             TEXT NOT NULL,
    not_before          BIGINT NOT NULL,
    not_after           BIGINT NOT NULL,
    der                 BLOB NOT NULL,
    fingerprint         TEXT NOT NULL,
    state               TEXT NOT NULL,
    revoked_at          BIGINT,
    reason              TEXT,
    renewed_from        TEXT,
    issued_at           BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, serial),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);
CREATE INDEX certificates_by_key ON certificates (tenant_id, key_id);
CREATE INDEX certificates_by_user ON certificates (tenant_id, user_id);
CREATE INDEX certificates_by_device ON certificates (tenant_id, device_id);
CREATE INDEX certificates_by_state ON certificates (tenant_id, state, not_after);

-- The PKI's state: the public base URL the service last started with (the CRL, CA and
-- OCSP URLs put into certificates), and the current CRL (number, DER, times).
-- revision is incremented by every revocation, in its transaction; signed_revision is the
-- revision the current CRL includes. When they differ, the CRL is signed again before it is
-- next served.
CREATE TABLE cert_pki_state (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    base_url            TEXT,
    crl_number          BIGINT NOT NULL,
    crl_der             BLOB,
    crl_this_update     BIGINT NOT NULL,
    crl_next_update     BIGINT NOT NULL,
    revision            BIGINT NOT NULL,
    signed_revision     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id)
);
