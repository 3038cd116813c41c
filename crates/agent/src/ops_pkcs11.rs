//! The smart-card side of the agent: the users with a Hello key on this device (the
//! PKCS#11 module's tokens) and `latchkey pkcs11-signer`, the process that unlocks and
//! holds the key for the module ([`crate::signer_wire`]).
//!
//! The signer unlocks the key exactly as `latchkey signin` does ([`Agent::unlock_hello`]):
//! the lockout is checked before the PIN is tried, a wrong PIN is counted in the container
//! (or by the TPM) before anything else happens, an expired PIN is refused. Each login is
//! an event (390 success, 391 wrong PIN, 392 locked out, 393 refused otherwise).

use std::io::{Read, Write};

use crate::agent::{Agent, HELLO_DIR};
use crate::error::AgentError;
use crate::events;
use crate::ops_pin::check_expiry_at;
use crate::provider::HelloSigner;
use crate::signer_wire::{read_frame, Reply, Request};
use crate::tpm_container::TPM_HELLO_DIR;

impl Agent {
    /// The users with a Hello key on this device (either provider), sorted, without
    /// repeats. A container that cannot be read is left out.
    pub fn hello_users(&self) -> Result<Vec<String>, AgentError> {
        let mut users = Vec::new();
        for dir in [HELLO_DIR, TPM_HELLO_DIR] {
            for name in self.state.list(dir)? {
                if !name.ends_with(".json") {
                    continue;
                }
                let value: Option<serde_json::Value> = self
                    .state
                    .read_json(&format!("{dir}/{name}"))
                    .unwrap_or(None);
                if let Some(upn) = value
                    .as_ref()
                    .and_then(|v| v.get("upn"))
                    .and_then(|u| u.as_str())
                {
                    users.push(upn.to_owned());
                }
            }
        }
        users.sort();
        users.dedup();
        Ok(users)
    }

    fn p11_event(&self, id: u32, level: &str, message: &str, upn: &str, detail: Option<&str>) {
        let mut data = vec![("UPN".to_owned(), upn.to_owned())];
        if let Some(d) = detail {
            data.push(("Detail".to_owned(), d.to_owned()));
        }
        // The event log is a record, not a gate: a failure to write it does not change
        // the answer to the module.
        let _ = events::record(
            &self.state,
            events::Event {
                id,
                time: self.now(),
                level: level.to_owned(),
                message: message.to_owned(),
                data,
            },
        );
    }

    /// One LOGIN: the reply and, on success, the unlocked key.
    fn p11_login(&self, upn: &str, pin: &str) -> (Reply, Option<Box<dyn HelloSigner>>) {
        let refused = |agent: &Agent, e: AgentError| {
            let reply = match &e {
                AgentError::PinLocked { wait_seconds } => {
                    Reply::Locked(u64::try_from(*wait_seconds).ok())
                }
                AgentError::TpmLockedOut { .. } => Reply::Locked(None),
                AgentError::WrongPin { remaining } => Reply::WrongPin(Some(*remaining)),
                AgentError::TpmWrongPin { tries_left } => Reply::WrongPin(*tries_left),
                other => Reply::Error(other.to_string()),
            };
            let (id, level, message) = match reply {
                Reply::Locked(_) => (
                    events::id::P11_LOCKED_OUT,
                    "Warning",
                    "Smart-card login refused: the PIN is locked out (no PIN was tried)",
                ),
                Reply::WrongPin(_) => (
                    events::id::P11_WRONG_PIN,
                    "Warning",
                    "Smart-card login: the PIN is incorrect (counted)",
                ),
                _ => (
                    events::id::P11_LOGIN_REFUSED,
                    "Warning",
                    "Smart-card login refused",
                ),
            };
            agent.p11_event(id, level, message, upn, Some(&e.to_string()));
            (reply, None)
        };
        if let Err(e) = self.check_pin_lockout(upn) {
            return refused(self, e);
        }
        let (stored, signer) = match self.unlock_hello(upn, pin) {
            Ok(x) => x,
            Err(e) => return refused(self, e),
        };
        let expiry = self
            .policy_for(Some(upn))
            .and_then(|p| check_expiry_at(upn, stored.pin_set_at(), &p, self.now()));
        if let Err(e) = expiry {
            return refused(self, e);
        }
        let blob = match latchkey_proto::b64::decode("public key", &signer.public_key().data) {
            Ok(b) => b,
            Err(e) => return refused(self, AgentError::Crypto(e.to_string())),
        };
        self.p11_event(
            events::id::P11_LOGIN,
            "Information",
            "Smart-card login: the Hello key was unlocked for the PKCS#11 module",
            upn,
            Some(&signer.key_id()),
        );
        (Reply::Ok(blob), Some(signer))
    }

    /// `latchkey pkcs11-signer`: answers the module's requests on `input`/`output` for
    /// `upn` until the input ends (the module logged out, closed its last session,
    /// finalised, or its process died). A protocol error is answered and ends the loop.
    pub fn pkcs11_signer(
        &self,
        upn: &str,
        input: &mut dyn Read,
        output: &mut dyn Write,
    ) -> Result<(), AgentError> {
        let mut signer: Option<Box<dyn HelloSigner>> = None;
        loop {
            let frame = match read_frame(input) {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                Err(e) => {
                    let _ = Reply::Error(e.to_string()).write(output);
                    return Err(e);
                }
            };
            let request = match Request::parse(&frame) {
                Ok(r) => r,
                Err(e) => {
                    Reply::Error(e.to_string()).write(output)?;
                    // A refused digest leaves the conversation usable; anything else
                    // ends it.
                    if e.code() == "LK-AGENT-032" {
                        continue;
                    }
                    return Err(e);
                }
            };
            let reply = match (request, &signer) {
                (Request::Login(_), Some(_)) => {
                    let e = AgentError::SignerProtocol {
                        reason: "already logged in".to_owned(),
                    };
                    Reply::Error(e.to_string())
                }
                (Request::Login(pin), None) => {
                    let (reply, unlocked) = self.p11_login(upn, &pin);
                    signer = unlocked;
                    reply
                }
                (Request::Sign(_), None) => {
                    let e = AgentError::SignerProtocol {
                        reason: "a signature was asked for before a successful login".to_owned(),
                    };
                    Reply::Error(e.to_string()).write(output)?;
                    return Err(e);
                }
                (Request::Sign(p), Some(s)) => match s.sign_prehashed(&p) {
                    Ok(sig) => Reply::Ok(sig),
                    Err(e) => Reply::Error(e.to_string()),
                },
            };
            reply.write(output)?;
        }
    }
}
