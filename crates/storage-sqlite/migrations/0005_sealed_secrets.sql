-- Secrets at rest are sealed under a key-encryption key kept outside the database
-- (src/secrets). secrets_sealed_by names that key (its id) once the tenant's secrets and
-- every user's TOTP secret are sealed; NULL for a data directory from before sealing,
-- which the service seals at its next start, in one transaction.
ALTER TABLE tenants ADD COLUMN secrets_sealed_by TEXT;
