-- The web administration pages devices by owner: one user's devices, in id order, read
-- from this index instead of a scan of the tenant's devices.
CREATE INDEX devices_by_owner ON devices (tenant_id, owner_user_id, id);
