-- Audiences and OAuth grant families (issue 10, "Tokens and the web"). Numbered 0010, not
-- 0005, so that it cannot collide with migrations written at the same time on other
-- branches; sqlx applies any missing migration in version order.

-- Resources a primary refresh token may get access tokens for (`latchkeyd resource add`),
-- besides the registered applications (oidc_clients.client_id). uri: the `aud` value,
-- compared exactly.
CREATE TABLE resources (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    uri                 TEXT NOT NULL,
    name                TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, uri)
);

-- Authorization codes are no longer deleted when redeemed but marked used, so that a second
-- redemption is recognised (and revokes what the first one issued) until the code is pruned.
ALTER TABLE oidc_codes ADD COLUMN used BOOLEAN NOT NULL DEFAULT FALSE;

-- The family of a refresh token: the code_hash of the authorization code its chain of
-- rotations started from. A token of an older chain is its own family.
ALTER TABLE oidc_refresh_tokens ADD COLUMN family_id TEXT;
UPDATE oidc_refresh_tokens SET family_id = token_hash WHERE family_id IS NULL;
CREATE INDEX oidc_refresh_tokens_by_family ON oidc_refresh_tokens (tenant_id, family_id);
