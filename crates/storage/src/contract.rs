//! # Isolation contract
//!
//! What each storage operation guarantees when other operations run at the same time, in
//! this process, in another process on the same database (the `latchkeyd` administration
//! commands), or in another replica. Every backend must meet it; the conformance suite
//! (`latchkey-storage-conformance`) checks it, each property under the name given here in
//! brackets.
//!
//! ## Rules for every operation
//!
//! - **One operation, one transaction.** A method that writes commits everything it writes
//!   (its rows, its nonce, its audit lines, cascaded revocations) or nothing. A method that
//!   returns `false`, `Unchanged`, an outcome other than the success one, or an error has
//!   written nothing, except where a method's own documentation says otherwise
//!   ([`crate::Storage::complete_signin`] may leave its nonce consumed).
//! - **The audit line goes with the change.** A change is audited in its own transaction;
//!   a refused or failed change writes no line. Audit fields are capped
//!   ([`crate::audit::MAX_FIELD`], [`crate::audit::MAX_REASON`]) on every write path.
//!   [`crate::Storage::append_audit`] (failures) is a write of its own.
//! - **Tenant.** Every query filters on the tenant id: under another tenant's id reads are
//!   empty and changes find nothing. \[`another_tenant_sees_and_changes_nothing`\]
//! - **Reads are snapshots, decisions are re-checked where they are written.** A read
//!   method (`user_by_upn`, `signin_context`, `prt_context`, `load_csp`, `nonce_used`,
//!   `ceremony_used`, listings) returns one committed state, never a partial one, but it
//!   may be stale by the time the caller acts. Every write whose correctness depends on a
//!   read makes that read again inside its own transaction (the guards below); callers
//!   never rely on an earlier read for safety.
//! - **Writers are serialised where they meet.** Two writes that touch the same rows (or
//!   whose guards read rows the other writes) behave as if one ran entirely before the
//!   other. Writes that share nothing may run in parallel.
//!
//! ## Per operation
//!
//! - **Nonces and ceremonies** (`join_device`, `leave_device`, `register_key`,
//!   `complete_signin`, `renew_prt`, `issue_token`, `consume_with_audit`,
//!   `open_policy_session`, `close_policy_session`, `begin_tpm_activation`,
//!   `finish_tpm_activation`, `record_certificate`, `record_pin_reset`,
//!   `security_key_session`): a nonce is consumed at most once across all concurrent
//!   callers, all operations and all processes; every loser gets
//!   [`crate::StorageError::NonceReplayed`] (`security_key_session`: `false`) and writes
//!   nothing. \[`race_nonce_is_consumed_once`\]
//! - **`register_key`**: after any set of concurrent registrations there is at most one
//!   Hello key per (user, device). Without `allow_replace`, a registration that finds a key
//!   (including one committed by a concurrent registration) gets
//!   [`crate::StorageError::WouldReplace`] and writes nothing, not even its nonce. With
//!   `allow_replace`, concurrent registrations form one chain: each replaces the key the
//!   previous one stored, each replaced key id is returned exactly once, and its
//!   certificates are revoked in the same transaction. A key id registered elsewhere is a
//!   [`crate::StorageError::Conflict`].
//!   \[`race_one_hello_key_per_user_and_device`, `race_replacing_registrations_keep_one_key`,
//!   `register_key_replaces_only_when_allowed`, `register_key_conflict_writes_nothing`\]
//! - **`register_security_key`**: a user never has more than `max` security keys (10 in the
//!   service) under concurrent registrations; the count and the insert are one atomic step.
//!   \[`race_security_keys_stay_within_the_limit`\]
//! - **Policy updates** (`save_csp`): each update applies to the version it read or returns
//!   `Unchanged` and writes nothing: no update is lost, and each successful update gets its
//!   own version. Every other policy change (`put_gpo`, `delete_gpo`, groups and members)
//!   increments the version atomically, so concurrent changes each get their own version
//!   and none is lost. \[`race_csp_updates_are_never_lost`,
//!   `race_group_member_adds_are_never_lost`, `csp_saves_apply_to_the_version_read`\]
//! - **Revocation against sign-ins in flight** (`delete_key`, `disable_device`,
//!   `leave_device`, `disable_user`, and the administration deletes): no sign-in, token
//!   renewal, certificate issue or PIN reset that depends on the key, device or user
//!   commits after the revocation commits, and no password sign-in (`password_signin`,
//!   `password_session`) of a user after the user's disable commits. The dependent write re-checks, inside its own
//!   transaction, that the key is registered for its user and device and neither is
//!   disabled, and that check is ordered with the revocation (it waits for it or the
//!   revocation waits for the write). What is stored afterwards is exactly what the callers
//!   were told was stored. \[`race_no_signin_commits_after_the_key_delete`,
//!   `race_no_signin_commits_after_the_device_disable`,
//!   `signin_stores_the_token_only_for_a_live_key`\]
//! - **TOTP step** (`password_signin`, `password_session`): a step is accepted once, and
//!   never a step at or below the last accepted one, across both methods and all
//!   processes. \[`race_totp_step_is_used_once`, `password_signin_uses_each_totp_step_once`\]
//! - **Single-use tokens and codes** (`renew_prt`, `rotate_refresh`, `take_code`,
//!   `finish_tpm_activation`, `record_pin_reset`'s blob): the old token, code, activation
//!   or blob is taken by exactly one caller; a reuse revokes the family
//!   (`rotate_refresh`, `take_code`). \[`race_prt_renewal_happens_once`,
//!   `race_refresh_token_rotates_once`\]
//! - **Created once** (`create_tenant`, `create_first_pin_recovery_key`,
//!   `create_cert_authorities`, `seal_secrets`): of concurrent creators exactly one
//!   stores; the others return what is stored (`create_tenant`) or `false`, writing
//!   nothing. \[`tenant_is_created_once`, `pin_recovery_first_key_is_created_once`\]
//! - **`store_crl`**: compare-and-set on the CRL number: two writers never store two CRLs of
//!   one number.
//! - **Uniqueness** (`create_user`, `create_group`, `add_resource`, `add_tpm_root`,
//!   `create_admin_token`, `open_policy_session`): a duplicate is a
//!   [`crate::StorageError::Conflict`] and writes nothing, also between concurrent
//!   creators.
//! - **Pruning** (`prune_nonces`, `prune_prts`, `prune_audit`, `prune_expired`): deletes
//!   only rows expired before the time given; it may run beside anything. A nonce is pruned
//!   only after it expired, when the nonce's own expiry already refuses it.
//!
//! ## How the SQLite backend meets it
//!
//! `latchkey-storage-sqlite` serialises every write. In a process, writers queue on one
//! in-process mutex (the write gate, shared by `SqliteStorage`, the `SqliteWebStorage` it
//! hands out and the sign-in writer thread) and then begin `BEGIN IMMEDIATE`, which takes
//! the database's write lock at the start of the transaction; other processes queue on the
//! same lock through SQLite's busy timeout (10 s). Reads see WAL snapshots. A write
//! transaction therefore sees the latest committed state and nothing else commits until it
//! does: each one is serialisable, and every read-then-write above (the security-key count,
//! the policy version check, the key guard of a sign-in) is atomic. The sign-in writer
//! commits several sign-ins in one transaction; each has its own nonce statement and its own
//! guard, and a replayed nonce fails that statement alone. On the hot path a sign-in whose
//! guard refuses keeps its nonce consumed (the request must be retried with a fresh nonce
//! anyway).
//!
//! ## How the PostgreSQL backend does it
//!
//! PostgreSQL's default `READ COMMITTED` alone is not enough for the read-then-write
//! operations. `latchkey-storage-postgres` runs every transaction at `READ COMMITTED` and
//! gives each operation one of the first four means below (its module headers say which);
//! it does not use `SERIALIZABLE`:
//!
//! - **Unique constraints** for nonces (`PRIMARY KEY (tenant_id, nonce_id)`: the second
//!   inserter waits for the first to commit, then gets `23505`, mapped to `NonceReplayed`),
//!   for one key per (user, device) and for every `Conflict`.
//! - **Conditional updates**, which PostgreSQL re-evaluates on the newest row version after
//!   waiting for a concurrent writer: the TOTP step (`... AND last_totp_step < $step`),
//!   `renew_prt` (`AND revoked = FALSE`), `take_code`, `rotate_refresh`, `seal_secrets`,
//!   `store_crl` (`AND crl_number = $previous`), and the policy version as a compare-and-set
//!   (`UPDATE policy_state SET version = version + 1 WHERE version = $expected`, first, so a
//!   stale save writes nothing) or an atomic `version = version + 1` for the other changes.
//! - **Explicit row locks** where a guard reads rows another transaction changes: the
//!   sign-in, renewal, certificate and PIN-reset guards read the key, device and user rows
//!   `FOR SHARE` (a plain `INSERT ... SELECT` does not wait for an uncommitted delete or
//!   disable, and would commit a token after the revocation); `register_key` locks the
//!   device row `FOR UPDATE` before looking for the existing key, so replacing
//!   registrations form a chain; `register_security_key` locks the user row `FOR UPDATE`
//!   before counting; the created-once operations lock the tenant row `FOR UPDATE` (and
//!   `create_tenant` needs a constraint that admits a single tenant, or an advisory lock).
//! - **Statement failures abort the transaction** in PostgreSQL (SQLite undoes only the
//!   failed statement): an operation that turns a uniqueness violation into an answer
//!   (`NonceReplayed`, `Conflict`, `Duplicate`, `AlreadyAnswered`) and goes on writing, and
//!   a batched commit of several sign-ins where one nonce is replayed, needs
//!   `INSERT ... ON CONFLICT DO NOTHING` (checking the row count) or a savepoint per item.
//! - **Advisory locks** where no row exists to lock: the failed sign-in throttling shared
//!   by replicas (`attempts`) takes a transaction lock per user and per source, in a fixed
//!   order, before it counts and inserts.
//! - A transaction that locks several rows may meet another in a deadlock; PostgreSQL
//!   aborts one (`40P01`), and it is run again whole with the same inputs, a bounded number
//!   of times (`retrying!`; `40001` too, should a transaction ever run `SERIALIZABLE`).
//!   `SERIALIZABLE` for these transactions would be simpler to get right, at the cost of
//!   retries under contention on the sign-in path.
//!
//! The sign-in's write is one statement: the nonce insert (`ON CONFLICT DO NOTHING`), the
//! guard (`FOR SHARE` of key, device and user), the token and the audit line as
//! data-modifying `WITH` parts, so a sign-in costs one round trip.
//!
//! The backend runs the conformance suite with two independent handles (pools)
//! on one database, which is what two replicas are.
