-- The Latchkey schema on PostgreSQL: the SQLite backend's migrations 0001-0015 as one
-- schema (the same tables, columns and keys, so that rows move between the backends as
-- they are). Times are Unix seconds in BIGINT, binary is BYTEA, and text compares
-- byte-wise (COLLATE "C", as SQLite's BINARY) whatever the database's locale, so that
-- keyset paging and prefix ranges order as on SQLite. Every table but `tenants` carries
-- tenant_id, part of every key and every query.

CREATE TABLE tenants (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    name                TEXT COLLATE "C" NOT NULL,
    ca_cert_pem         TEXT COLLATE "C" NOT NULL,
    ca_key_pem          TEXT COLLATE "C" NOT NULL,
    signing_key_pkcs8   BYTEA NOT NULL,
    signing_kid         TEXT COLLATE "C" NOT NULL,
    nonce_secret        BYTEA NOT NULL,
    created_at          BIGINT NOT NULL,
    secrets_sealed_by   TEXT COLLATE "C",
    -- One database holds one tenant: of concurrent creators exactly one inserts.
    singleton           BOOLEAN NOT NULL DEFAULT TRUE UNIQUE CHECK (singleton)
);

CREATE TABLE users (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    id                  TEXT COLLATE "C" NOT NULL,
    upn                 TEXT COLLATE "C" NOT NULL,
    display_name        TEXT COLLATE "C" NOT NULL,
    password_hash       TEXT COLLATE "C" NOT NULL,
    totp_secret         BYTEA NOT NULL,
    last_totp_step      BIGINT,
    disabled            BOOLEAN NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, upn)
);

CREATE TABLE devices (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    id                  TEXT COLLATE "C" NOT NULL,
    display_name        TEXT COLLATE "C" NOT NULL,
    os                  TEXT COLLATE "C" NOT NULL,
    join_type           TEXT COLLATE "C" NOT NULL,
    owner_user_id       TEXT COLLATE "C" NOT NULL,
    joined_with_mfa     BOOLEAN NOT NULL,
    public_key_spki     BYTEA NOT NULL,
    cert_pem            TEXT COLLATE "C" NOT NULL,
    cert_thumbprint     TEXT COLLATE "C" NOT NULL,
    disabled            BOOLEAN NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_user_id) REFERENCES users(tenant_id, id)
);

CREATE TABLE key_credentials (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    key_id              TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL,
    device_id           TEXT COLLATE "C" NOT NULL,
    alg                 TEXT COLLATE "C" NOT NULL,
    public_key          BYTEA NOT NULL,
    usage               TEXT COLLATE "C" NOT NULL,
    attestation         TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key_id),
    UNIQUE (tenant_id, user_id, device_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);

CREATE TABLE prts (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    token_hash          TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL,
    device_id           TEXT COLLATE "C" NOT NULL,
    key_id              TEXT COLLATE "C" NOT NULL,
    issued_at           BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    revoked             BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);

CREATE TABLE used_nonces (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    nonce_id            TEXT COLLATE "C" NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, nonce_id)
);
CREATE INDEX used_nonces_by_expiry ON used_nonces (tenant_id, expires_at);

CREATE TABLE audit (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    at                  BIGINT NOT NULL,
    event               TEXT COLLATE "C" NOT NULL,
    actor               TEXT COLLATE "C",
    device_id           TEXT COLLATE "C",
    key_id              TEXT COLLATE "C",
    source              TEXT COLLATE "C",
    outcome             TEXT COLLATE "C" NOT NULL,
    reason              TEXT COLLATE "C"
);
CREATE INDEX audit_by_time ON audit (tenant_id, at);
-- One user's devices in id order (the web administration's paging by owner).
CREATE INDEX devices_by_owner ON devices (tenant_id, owner_user_id, id);

CREATE TABLE policy_state (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    version             BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id)
);

CREATE TABLE policy_csp_values (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    scope               TEXT COLLATE "C" NOT NULL,
    principal           TEXT COLLATE "C" NOT NULL,
    node                TEXT COLLATE "C" NOT NULL,
    format              TEXT COLLATE "C" NOT NULL,
    data                TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, scope, principal, node)
);

CREATE TABLE policy_csp_tenant_nodes (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    scope               TEXT COLLATE "C" NOT NULL,
    principal           TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, scope, principal)
);

CREATE TABLE policy_gpos (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    name                TEXT COLLATE "C" NOT NULL,
    scope               TEXT COLLATE "C" NOT NULL,
    target_group        TEXT COLLATE "C",
    link_order          BIGINT NOT NULL,
    settings_json       TEXT COLLATE "C" NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name, scope)
);

CREATE TABLE policy_groups (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    name                TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE policy_group_members (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    group_name          TEXT COLLATE "C" NOT NULL,
    kind                TEXT COLLATE "C" NOT NULL,
    member              TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, group_name, kind, member),
    FOREIGN KEY (tenant_id, group_name) REFERENCES policy_groups(tenant_id, name)
);

CREATE TABLE policy_sessions (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    device_id           TEXT COLLATE "C" NOT NULL,
    session_id          TEXT COLLATE "C" NOT NULL,
    upn                 TEXT COLLATE "C",
    version             BIGINT NOT NULL,
    commands            BIGINT NOT NULL,
    opened_at           BIGINT NOT NULL,
    closed_at           BIGINT,
    failed              BIGINT,
    PRIMARY KEY (tenant_id, device_id, session_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);

CREATE TABLE admin_tokens (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    id                  TEXT COLLATE "C" NOT NULL,
    token_hash          TEXT COLLATE "C" NOT NULL,
    label               TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT NOT NULL,
    revoked             BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash)
);

CREATE TABLE oidc_clients (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    client_id           TEXT COLLATE "C" NOT NULL,
    name                TEXT COLLATE "C" NOT NULL,
    secret_hash         TEXT COLLATE "C",
    redirect_uris       TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id)
);

CREATE TABLE oidc_codes (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    code_hash           TEXT COLLATE "C" NOT NULL,
    client_id           TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL,
    redirect_uri        TEXT COLLATE "C" NOT NULL,
    scope               TEXT COLLATE "C" NOT NULL,
    nonce               TEXT COLLATE "C",
    code_challenge      TEXT COLLATE "C",
    amr                 TEXT COLLATE "C" NOT NULL,
    auth_time           BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code_hash),
    FOREIGN KEY (tenant_id, client_id) REFERENCES oidc_clients(tenant_id, client_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);

CREATE TABLE oidc_refresh_tokens (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    token_hash          TEXT COLLATE "C" NOT NULL,
    client_id           TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL,
    scope               TEXT COLLATE "C" NOT NULL,
    amr                 TEXT COLLATE "C" NOT NULL,
    auth_time           BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    revoked             BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, client_id) REFERENCES oidc_clients(tenant_id, client_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);

CREATE TABLE web_sessions (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    id_hash             TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL,
    amr                 TEXT COLLATE "C" NOT NULL,
    csrf                TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);

CREATE TABLE webauthn_challenges (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    id                  TEXT COLLATE "C" NOT NULL,
    purpose             TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C",
    challenge           BYTEA NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE security_keys (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    credential_id       TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL,
    name                TEXT COLLATE "C" NOT NULL,
    aaguid              TEXT COLLATE "C" NOT NULL,
    format              TEXT COLLATE "C" NOT NULL,
    trusted_root        BOOLEAN NOT NULL,
    public_key_cose     BYTEA NOT NULL,
    sign_count          BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT,
    PRIMARY KEY (tenant_id, credential_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);
CREATE INDEX security_keys_by_user ON security_keys (tenant_id, user_id);

CREATE TABLE security_key_settings (
    tenant_id           TEXT COLLATE "C" PRIMARY KEY REFERENCES tenants(id),
    require_trusted_root BOOLEAN NOT NULL,
    aaguid_mode         TEXT COLLATE "C" NOT NULL,
    aaguids             TEXT COLLATE "C" NOT NULL,
    roots_pem           TEXT COLLATE "C" NOT NULL
);

CREATE TABLE tpm_roots (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    fingerprint         TEXT COLLATE "C" NOT NULL,
    der                 BYTEA NOT NULL,
    subject             TEXT COLLATE "C" NOT NULL,
    intermediate        BOOLEAN NOT NULL,
    not_after           BIGINT NOT NULL,
    added_at            BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, fingerprint)
);

CREATE TABLE tpm_activations (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    id                  TEXT COLLATE "C" NOT NULL,
    device_id           TEXT COLLATE "C" NOT NULL,
    secret_hash         BYTEA NOT NULL,
    aik_public          BYTEA NOT NULL,
    aik_name            TEXT COLLATE "C" NOT NULL,
    ek_public_hash      TEXT COLLATE "C" NOT NULL,
    manufacturer        TEXT COLLATE "C" NOT NULL,
    model               TEXT COLLATE "C" NOT NULL,
    version             TEXT COLLATE "C" NOT NULL,
    family              TEXT COLLATE "C" NOT NULL,
    root_subject        TEXT COLLATE "C" NOT NULL,
    expires_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);
CREATE UNIQUE INDEX tpm_activations_by_device ON tpm_activations (tenant_id, device_id);

CREATE TABLE tpm_devices (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    device_id           TEXT COLLATE "C" NOT NULL,
    aik_public          BYTEA NOT NULL,
    aik_name            TEXT COLLATE "C" NOT NULL,
    ek_public_hash      TEXT COLLATE "C" NOT NULL,
    manufacturer        TEXT COLLATE "C" NOT NULL,
    model               TEXT COLLATE "C" NOT NULL,
    version             TEXT COLLATE "C" NOT NULL,
    family              TEXT COLLATE "C" NOT NULL,
    root_subject        TEXT COLLATE "C" NOT NULL,
    activated_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, device_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);
CREATE UNIQUE INDEX tpm_devices_by_aik ON tpm_devices (tenant_id, aik_name);

ALTER TABLE key_credentials ADD COLUMN tpm_manufacturer TEXT COLLATE "C";

CREATE TABLE cert_authorities (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    role                TEXT COLLATE "C" NOT NULL,
    algorithm           TEXT COLLATE "C" NOT NULL,
    cert_pem            TEXT COLLATE "C" NOT NULL,
    key_pem             TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, role)
);

CREATE TABLE cert_templates (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    name                TEXT COLLATE "C" NOT NULL,
    body                TEXT COLLATE "C" NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE certificates (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    serial              TEXT COLLATE "C" NOT NULL,
    kind                TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C",
    device_id           TEXT COLLATE "C",
    key_id              TEXT COLLATE "C",
    template            TEXT COLLATE "C" NOT NULL,
    subject             TEXT COLLATE "C" NOT NULL,
    not_before          BIGINT NOT NULL,
    not_after           BIGINT NOT NULL,
    der                 BYTEA NOT NULL,
    fingerprint         TEXT COLLATE "C" NOT NULL,
    state               TEXT COLLATE "C" NOT NULL,
    revoked_at          BIGINT,
    reason              TEXT COLLATE "C",
    renewed_from        TEXT COLLATE "C",
    issued_at           BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, serial),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);
CREATE INDEX certificates_by_key ON certificates (tenant_id, key_id);
CREATE INDEX certificates_by_user ON certificates (tenant_id, user_id);
CREATE INDEX certificates_by_device ON certificates (tenant_id, device_id);
CREATE INDEX certificates_by_state ON certificates (tenant_id, state, not_after);

CREATE TABLE cert_pki_state (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    base_url            TEXT COLLATE "C",
    crl_number          BIGINT NOT NULL,
    crl_der             BYTEA,
    crl_this_update     BIGINT NOT NULL,
    crl_next_update     BIGINT NOT NULL,
    revision            BIGINT NOT NULL,
    signed_revision     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id)
);

CREATE TABLE kerberos_settings (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    realm               TEXT COLLATE "C" NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id)
);

CREATE TABLE kerberos_principals (
    tenant_id           TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL,
    name                TEXT COLLATE "C" NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);

CREATE TABLE pin_recovery_keys (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    key_id              TEXT COLLATE "C" NOT NULL,
    public_key          BYTEA NOT NULL,
    private_sealed      TEXT COLLATE "C",
    created_at          BIGINT NOT NULL,
    superseded_at       BIGINT,
    usable_until        BIGINT,
    PRIMARY KEY (tenant_id, key_id)
);

CREATE TABLE pin_recovery_answers (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    blob_binding        TEXT COLLATE "C" NOT NULL,
    recovery_key_id     TEXT COLLATE "C" NOT NULL,
    user_id             TEXT COLLATE "C" NOT NULL,
    device_id           TEXT COLLATE "C" NOT NULL,
    key_id              TEXT COLLATE "C" NOT NULL,
    answered_at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, blob_binding)
);

CREATE TABLE resources (
    tenant_id           TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    uri                 TEXT COLLATE "C" NOT NULL,
    name                TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, uri)
);

ALTER TABLE oidc_codes ADD COLUMN used BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE oidc_refresh_tokens ADD COLUMN family_id TEXT COLLATE "C";
CREATE INDEX oidc_refresh_tokens_by_family ON oidc_refresh_tokens (tenant_id, family_id);
