//! `latchkey join` and `latchkey leave`.

use latchkey_proto::api::auth::PasswordSignIn;
use latchkey_proto::api::device::{JoinRequest, JoinType, LeaveRequest};
use latchkey_proto::proof::Purpose;
use zeroize::Zeroizing;

use crate::agent::Agent;
use crate::client::ServiceClient;
use crate::error::AgentError;
use crate::policy_sync::PolicyRefresh;
use crate::records::{DeviceRecord, DEVICE_FILE};

/// What `join` needs (`Debug` leaves out the password and code).
#[derive(Clone)]
pub struct JoinOptions {
    /// The service's base URL.
    pub server: String,
    /// The tenant CA (PEM), already trusted by the user (see [`crate::trust`]).
    pub ca_pem: String,
    /// The joining user.
    pub upn: String,
    /// Their password (wiped when dropped).
    pub password: Zeroizing<String>,
    /// Their one-time code (without it the join is recorded as done without MFA).
    pub otp: Option<String>,
    /// Join type.
    pub join_type: JoinType,
    /// The device's display name.
    pub display_name: String,
    /// The operating system.
    pub os: String,
}

impl std::fmt::Debug for JoinOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinOptions")
            .field("server", &self.server)
            .field("upn", &self.upn)
            .field("join_type", &self.join_type)
            .field("display_name", &self.display_name)
            .field("os", &self.os)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Signs the user in, generates the device key (in the TPM with the TPM key provider),
    /// joins, and stores the join and the TPM key pool ([`crate::tpm_pool`]); with the TPM
    /// key provider, activates the device's TPM identity (a failure is recorded, see
    /// [`Agent::tpm_attestation`]); then receives the policy for the registered owner (a
    /// failure there leaves the defaults in force and is reported, not fatal). Nothing is
    /// written unless the service accepted the join.
    pub fn join(&self, opts: &JoinOptions) -> Result<(DeviceRecord, PolicyRefresh), AgentError> {
        if let Some(existing) = self.device()? {
            return Err(AgentError::AlreadyJoined {
                tenant: existing.tenant_id,
                device: existing.device_id,
            });
        }
        let client = ServiceClient::new(&opts.server, &opts.ca_pem)?;
        let tenant = client.tenant()?;
        let token = client.password(&PasswordSignIn {
            upn: opts.upn.clone(),
            password: opts.password.to_string(),
            otp: opts.otp.clone(),
        })?;
        // In the TPM with the TPM key provider, else a software key.
        let key = self.new_device_key()?;
        let spki = key.spki_b64()?;
        let nonce = client.nonce(Purpose::Join)?;
        let signature = key.prove(Purpose::Join, &nonce, &[&tenant.tenant_id, &spki])?;
        // The TPM makes the key pool's keys while the join request runs.
        let pool = self.start_pool_fill();
        let joined = client.join(
            &JoinRequest {
                nonce,
                display_name: opts.display_name.clone(),
                os: opts.os.clone(),
                join_type: opts.join_type,
                device_public_key: spki,
                signature,
            },
            &token.token,
        )?;
        if joined.tenant_id != tenant.tenant_id {
            return Err(AgentError::BadResponse {
                context: "POST /v1/devices/join",
                reason: "the join names another tenant than the service".to_owned(),
            });
        }
        latchkey_pki::pem_to_der(&joined.device_certificate_pem, "CERTIFICATE").map_err(|e| {
            AgentError::BadResponse {
                context: "POST /v1/devices/join",
                reason: format!("device certificate: {e}"),
            }
        })?;
        let mut record = DeviceRecord {
            version: crate::records::RECORD_VERSION,
            server_url: client.base().to_owned(),
            ca_pem: opts.ca_pem.clone(),
            tenant_id: joined.tenant_id,
            tenant_name: joined.tenant_name,
            device_id: joined.device_id,
            join_type: opts.join_type,
            owner_upn: opts.upn.clone(),
            joined_with_mfa: joined.joined_with_mfa,
            joined_at: self.now(),
            device_certificate_pem: joined.device_certificate_pem,
            device_key: String::new(),
            device_key_sealed: None,
            device_key_tpm: None,
        };
        record.set_key(&key, &self.machine)?;
        self.state.write_json(DEVICE_FILE, &record)?;
        self.store_pool_fill(pool, &record);
        // The device's TPM identity (TPM provider only); a failure is recorded, the join
        // stands.
        self.note(
            crate::events::id::DEVICE_JOINED,
            "Information",
            "The device joined the organisation",
            vec![
                ("TenantId".to_owned(), record.tenant_id.clone()),
                ("TenantName".to_owned(), record.tenant_name.clone()),
                ("DeviceId".to_owned(), record.device_id.clone()),
                ("JoinType".to_owned(), record.join_type.as_str().to_owned()),
                ("UPN".to_owned(), record.owner_upn.clone()),
                (
                    "JoinedWithMfa".to_owned(),
                    if record.joined_with_mfa { "YES" } else { "NO" }.to_owned(),
                ),
                (crate::events::DEVICE_AUTH.to_owned(), "SUCCESS".to_owned()),
            ],
        );
        self.attest_tpm_after_join(&record);
        let policy = self.refresh_policy(&record.owner_upn);
        Ok((record, policy))
    }

    /// Asks the service to disable this device, then removes all local state but the event
    /// log, which records the leave (event 202). With `force`, local state is removed even
    /// when the service cannot be told; without, that failure is recorded (event 203).
    pub fn leave(&self, force: bool) -> Result<String, AgentError> {
        let device = self.device()?.ok_or(AgentError::NotJoined)?;
        let told = (|| {
            let client = ServiceClient::new(&device.server_url, &device.ca_pem)?;
            let key = self.device_key(&device)?;
            let nonce = client.nonce(Purpose::Leave)?;
            let signature = key.prove(
                Purpose::Leave,
                &nonce,
                &[&device.tenant_id, &device.device_id],
            )?;
            client.leave(&LeaveRequest {
                device_id: device.device_id.clone(),
                nonce,
                signature,
            })
        })();
        let mut data = vec![("DeviceId".to_owned(), device.device_id.clone())];
        match &told {
            Ok(_) => data.push(("ServiceTold".to_owned(), "YES".to_owned())),
            Err(e) => {
                data.push(("ServiceTold".to_owned(), "NO".to_owned()));
                data.extend(crate::events::failure_data(e));
            }
        }
        if let Err(e) = told {
            if !force {
                self.note(
                    crate::events::id::LEAVE_FAILED,
                    "Error",
                    "Leaving failed: the service could not be told; the device stays joined",
                    data,
                );
                return Err(e);
            }
        }
        // Everything goes but the event log, which records the leave.
        let log = crate::events::read(&self.state).unwrap_or_default();
        self.state.wipe()?;
        if !log.is_empty() {
            let _ = self.state.write_json(crate::events::EVENTS_FILE, &log);
        }
        self.note(
            crate::events::id::DEVICE_LEFT,
            "Information",
            "The device left the organisation; local state was removed",
            data,
        );
        Ok(device.device_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_neither_password_nor_code() {
        let opts = JoinOptions {
            server: "https://idp.example.test".into(),
            ca_pem: String::new(),
            upn: "ada@example.test".into(),
            password: "correct horse".to_owned().into(),
            otp: Some("123456".into()),
            join_type: JoinType::Cloud,
            display_name: "laptop".into(),
            os: "Linux".into(),
        };
        let shown = format!("{opts:?}");
        assert!(shown.contains("ada@example.test"), "{shown}");
        assert!(
            !shown.contains("correct horse") && !shown.contains("123456"),
            "{shown}"
        );
        let creds = crate::Credentials {
            password: "correct horse".to_owned().into(),
            otp: Some("123456".into()),
        };
        let shown = format!("{creds:?}");
        assert!(
            !shown.contains("correct horse") && !shown.contains("123456"),
            "{shown}"
        );
    }
}
