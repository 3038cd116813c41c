-- Sign-in attempts and familiar sources shared by the replicas (the failed sign-in
-- throttling, crates/storage/src/attempts.rs). Rows live for the throttling window (the
-- attempts) or the familiarity period (the sources); the service prunes them.

CREATE TABLE signin_attempts (
    tenant_id       TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    upn             TEXT COLLATE "C" NOT NULL,
    source          TEXT COLLATE "C" NOT NULL,
    -- When it was reserved, or when it failed.
    at              BIGINT NOT NULL,
    failed          BOOLEAN NOT NULL DEFAULT FALSE,
    -- Made from a source unfamiliar to the user then: counts in the user's budget.
    unfamiliar      BOOLEAN NOT NULL,
    -- A later success from the same source forgot it for the (user, source) budget; it
    -- still counts for the source's and the user's.
    pair_forgotten  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX signin_attempts_by_pair ON signin_attempts (tenant_id, upn, source, at);
CREATE INDEX signin_attempts_by_source ON signin_attempts (tenant_id, source, at);
CREATE INDEX signin_attempts_by_user ON signin_attempts (tenant_id, upn, at) WHERE unfamiliar;
CREATE INDEX signin_attempts_by_age ON signin_attempts (tenant_id, at);

CREATE TABLE familiar_sources (
    tenant_id       TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
    upn             TEXT COLLATE "C" NOT NULL,
    source          TEXT COLLATE "C" NOT NULL,
    last_success_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, upn, source)
);
CREATE INDEX familiar_sources_by_age ON familiar_sources (tenant_id, last_success_at);
