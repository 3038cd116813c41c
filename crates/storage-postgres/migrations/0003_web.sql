-- One user's Hello keys in key id order (the web administration's keys page by owner):
-- the page's condition (user) and order (key id) in one index, so the page is one range
-- whatever the number of keys. Written on key registration only, not on sign-in.
CREATE INDEX key_credentials_by_user ON key_credentials (tenant_id, user_id, key_id);
