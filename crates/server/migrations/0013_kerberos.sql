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
