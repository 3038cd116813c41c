-- Kerberos PKINIT (issue 13): the tenant's Kerberos realm, recorded by
-- `latchkeyd kerberos kdc-setup`. Hello certificates issued or renewed under a template
-- without a realm of its own carry the id-pkinit-san KRB5PrincipalName `localpart@realm`.
-- Numbered 0013 so that it cannot collide with migrations written on other branches.
CREATE TABLE kerberos_settings (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    realm               TEXT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- Per-user principal names (`latchkeyd kerberos set-principal`): the name (one component,
-- without the realm) Hello certificates of this user carry in the id-pkinit-san instead of
-- the UPN's local part.
CREATE TABLE kerberos_principals (
    tenant_id           TEXT NOT NULL,
    user_id             TEXT NOT NULL,
    name                TEXT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id)
);
