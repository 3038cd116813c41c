-- The Latchkey directory. Portable SQL (SQLite now, PostgreSQL later): times are Unix
-- seconds in BIGINT, booleans are BOOLEAN, binary is BLOB here (BYTEA there), and every
-- table but `tenants` carries tenant_id, part of every key and every query.

CREATE TABLE tenants (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    ca_cert_pem         TEXT NOT NULL,
    ca_key_pem          TEXT NOT NULL,
    signing_key_pkcs8   BLOB NOT NULL,
    signing_kid         TEXT NOT NULL,
    nonce_secret        BLOB NOT NULL,
    created_at          BIGINT NOT NULL
);

CREATE TABLE users (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    id                  TEXT NOT NULL,
    upn                 TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    totp_secret         BLOB NOT NULL,
    last_totp_step      BIGINT,
    disabled            BOOLEAN NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, upn)
);

CREATE TABLE devices (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    id                  TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    os                  TEXT NOT NULL,
    join_type           TEXT NOT NULL,
    owner_user_id       TEXT NOT NULL,
    joined_with_mfa     BOOLEAN NOT NULL,
    public_key_spki     BLOB NOT NULL,
    cert_pem            TEXT NOT NULL,
    cert_thumbprint     TEXT NOT NULL,
    disabled            BOOLEAN NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_user_id) REFERENCES users(tenant_id, id)
);

CREATE TABLE key_credentials (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    key_id              TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    device_id           TEXT NOT NULL,
    alg                 TEXT NOT NULL,
    public_key          BLOB NOT NULL,
    usage               TEXT NOT NULL,
    attestation         TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key_id),
    UNIQUE (tenant_id, user_id, device_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);

-- Only the SHA-256 of a primary refresh token is stored, never the token. key_id has no
-- foreign key on purpose: a token outlives a deleted or replaced key's row so that its use
-- can be refused with the precise reason (LK-KEY-001).
CREATE TABLE prts (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    token_hash          TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    device_id           TEXT NOT NULL,
    key_id              TEXT NOT NULL,
    issued_at           BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    revoked             BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);
CREATE INDEX prts_by_device ON prts (tenant_id, device_id);

CREATE TABLE used_nonces (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    nonce_id            TEXT NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, nonce_id)
);
CREATE INDEX used_nonces_by_expiry ON used_nonces (tenant_id, expires_at);

CREATE TABLE audit (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    at                  BIGINT NOT NULL,
    event               TEXT NOT NULL,
    actor               TEXT,
    device_id           TEXT,
    key_id              TEXT,
    source              TEXT,
    outcome             TEXT NOT NULL,
    reason              TEXT
);
CREATE INDEX audit_by_time ON audit (tenant_id, at);
