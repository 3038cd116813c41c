-- Web sign-in, FIDO2 security keys and OpenID Connect for applications. Same conventions as
-- 0001: portable SQL, Unix seconds, tenant_id in every key. Secrets (session ids, codes,
-- refresh tokens, client secrets) are stored as SHA-256 hex only.

-- Applications registered with `latchkeyd client add`. redirect_uris: one URI per line,
-- compared exactly. secret_hash is NULL for public clients (which must use PKCE).
CREATE TABLE oidc_clients (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    client_id           TEXT NOT NULL,
    name                TEXT NOT NULL,
    secret_hash         TEXT,
    redirect_uris       TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id)
);

-- Authorization codes: single use (deleted when redeemed), short-lived.
CREATE TABLE oidc_codes (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    code_hash           TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    redirect_uri        TEXT NOT NULL,
    scope               TEXT NOT NULL,
    nonce               TEXT,
    code_challenge      TEXT,
    amr                 TEXT NOT NULL,
    auth_time           BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code_hash),
    FOREIGN KEY (tenant_id, client_id) REFERENCES oidc_clients(tenant_id, client_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);

-- Refresh tokens: rotated at every use (the old one is revoked in the same transaction).
CREATE TABLE oidc_refresh_tokens (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    token_hash          TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    scope               TEXT NOT NULL,
    amr                 TEXT NOT NULL,
    auth_time           BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    revoked             BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, client_id) REFERENCES oidc_clients(tenant_id, client_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);

-- Browser sessions (cookie `lk_session`; only its SHA-256 is stored). csrf: the token every
-- form and browser request of this session must carry.
CREATE TABLE web_sessions (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    id_hash             TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    amr                 TEXT NOT NULL,
    csrf                TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);

-- WebAuthn challenges: single use (deleted in the transaction that completes the ceremony).
-- purpose: `register` or `signin`; user_id: the user the ceremony is for, if known.
CREATE TABLE webauthn_challenges (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    id                  TEXT NOT NULL,
    purpose             TEXT NOT NULL,
    user_id             TEXT,
    challenge           BLOB NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- FIDO2 security keys. credential_id: base64url of the WebAuthn credential id.
CREATE TABLE security_keys (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    credential_id       TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    name                TEXT NOT NULL,
    aaguid              TEXT NOT NULL,
    format              TEXT NOT NULL,
    trusted_root        BOOLEAN NOT NULL,
    public_key_cose     BLOB NOT NULL,
    sign_count          BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT,
    PRIMARY KEY (tenant_id, credential_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);
CREATE INDEX security_keys_by_user ON security_keys (tenant_id, user_id);

-- The tenant's security-key settings (one row per tenant; absent = defaults).
-- aaguid_mode: `any`, `allow` (only the listed AAGUIDs) or `block` (all but the listed).
-- aaguids: one lowercase hyphenated AAGUID per line. roots_pem: trusted attestation roots.
CREATE TABLE security_key_settings (
    tenant_id           TEXT PRIMARY KEY REFERENCES tenants(id),
    require_trusted_root BOOLEAN NOT NULL,
    aaguid_mode         TEXT NOT NULL,
    aaguids             TEXT NOT NULL,
    roots_pem           TEXT NOT NULL
);
