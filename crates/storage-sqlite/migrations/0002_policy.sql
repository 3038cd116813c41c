-- The tenant's policy: the MDM (CSP) layer, the Group Policy layer, groups, the policy
-- version, device policy sessions, and the administrators' API tokens. Portable SQL, as in
-- 0001: every table carries tenant_id, part of every key and every query.

-- One row per tenant: the policy version, bumped by every change to any layer or group.
CREATE TABLE policy_state (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    version             BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- CSP node values. scope is 'device' or 'user'; principal is '' for the device scope and
-- for the all-users user scope, or a user's UPN for that user's own user-scope values.
-- node is the node's path below PassportForWork/ with the literal `{TenantId}` segment
-- (e.g. `{TenantId}/Policies/PINComplexity/Digits`); format is the OMA-DM format (bool,
-- int, chr) and data its text form.
CREATE TABLE policy_csp_values (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    scope               TEXT NOT NULL,
    principal           TEXT NOT NULL,
    node                TEXT NOT NULL,
    format              TEXT NOT NULL,
    data                TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scope, principal, node)
);

-- The `{TenantId}` interior node exists in this scope store (created by Add, removed by
-- Delete).
CREATE TABLE policy_csp_tenant_nodes (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    scope               TEXT NOT NULL,
    principal           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, scope, principal)
);

-- Group Policy objects: one row per GPO half (computer or user configuration). target_group
-- NULL means all devices / all users. link_order: lower applies first (wins).
CREATE TABLE policy_gpos (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    name                TEXT NOT NULL,
    scope               TEXT NOT NULL,
    target_group        TEXT,
    link_order          BIGINT NOT NULL,
    settings_json       TEXT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name, scope)
);

-- Security groups for GPO filtering: named sets of users and devices. Names are stored
-- lower-cased (they compare case-insensitively, as in AD).
CREATE TABLE policy_groups (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    name                TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- kind is 'user' (member = UPN) or 'device' (member = device id).
CREATE TABLE policy_group_members (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    group_name          TEXT NOT NULL,
    kind                TEXT NOT NULL,
    member              TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_name, kind, member),
    FOREIGN KEY (tenant_id, group_name) REFERENCES policy_groups(tenant_id, name)
);

-- Device policy sessions (POST /v1/policy/session): opened by message 1, closed by the
-- device's statuses in message 2.
CREATE TABLE policy_sessions (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    device_id           TEXT NOT NULL,
    session_id          TEXT NOT NULL,
    upn                 TEXT,
    version             BIGINT NOT NULL,
    commands            BIGINT NOT NULL,
    opened_at           BIGINT NOT NULL,
    closed_at           BIGINT,
    failed              BIGINT,
    PRIMARY KEY (tenant_id, device_id, session_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices(tenant_id, id)
);

-- Administrators' API tokens (the SyncML admin endpoint). Only the SHA-256 of a token is
-- stored.
CREATE TABLE admin_tokens (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    id                  TEXT NOT NULL,
    token_hash          TEXT NOT NULL,
    label               TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    revoked             BOOLEAN NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash)
);
