-- Constraints behind the PIN-recovery and certificate operations' contract (pg-policy).

-- A tenant has at most one current PIN-recovery key (`superseded_at IS NULL`): the
-- constraint under `create_first_pin_recovery_key` and `rotate_pin_recovery_key`, which
-- also serialise on the tenant row.
CREATE UNIQUE INDEX pin_recovery_keys_one_current ON pin_recovery_keys (tenant_id)
    WHERE superseded_at IS NULL;

-- Certificates listed newest first (`list_certificates`), all or one user's.
CREATE INDEX certificates_by_issue ON certificates (tenant_id, issued_at DESC, serial);
