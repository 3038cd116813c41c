//! The in-process service and a device agent with both clocks in the test's hands.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    dead_code
)]

pub mod tpm;

use std::sync::Arc;

use latchkey_agent::clock::FixedClock;
use latchkey_agent::container::KdfParams;
use latchkey_agent::store::StateDir;
use latchkey_agent::{Agent, JoinOptions};
use latchkey_proto::api::device::JoinType;
use latchkey_server::clock::{Env, ManualClock, SystemRandom};
use latchkeyd::data_admin::Admin;
use time::OffsetDateTime;

pub const PASSWORD: &str = "correct horse battery";
pub const PIN: &str = "864213";
pub const CHEAP: KdfParams = KdfParams {
    m_cost_kib: 1024,
    t_cost: 1,
    p_cost: 1,
};

pub struct Shared(pub Arc<FixedClock>);

impl latchkey_agent::clock::Clock for Shared {
    fn now(&self) -> i64 {
        self.0.now()
    }
}

pub struct World {
    pub _dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
    pub server_clock: ManualClock,
    pub device_clock: Arc<FixedClock>,
    pub admin: Admin,
    pub url: String,
    pub ca_pem: String,
    pub state: StateDir,
    /// This test's machine identity (the device key is sealed to it).
    pub machine_id: std::path::PathBuf,
}

pub fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = OffsetDateTime::now_utc();
    let server_clock = ManualClock::new(start);
    let env = || Env {
        clock: Arc::new(server_clock.clone()),
        rng: Arc::new(SystemRandom::new()),
    };
    let data = dir.path().join("data");
    let config = latchkey_server::ServerConfig::new(data.clone(), "127.0.0.1:0".parse().unwrap());
    let server = runtime
        .block_on(latchkey_server::start(config, env()))
        .unwrap();
    let admin = runtime.block_on(Admin::open(&data, env())).unwrap();
    let url = server.base_url.clone();
    let ca_pem = std::fs::read_to_string(&server.ca_file).unwrap();
    // The server runs on the runtime's workers until the runtime is dropped.
    std::mem::forget(server);
    let machine_id = dir.path().join("machine-id");
    std::fs::write(&machine_id, "5c4b0e2f9d8a4c17a3e6b1d0f2c9e874\n").unwrap();
    World {
        state: StateDir::new(dir.path().join("device")),
        machine_id,
        _dir: dir,
        runtime,
        server_clock,
        device_clock: Arc::new(FixedClock::at(start.unix_timestamp())),
        admin,
        url,
        ca_pem,
    }
}

/// The password without a one-time code: what the registered owner presents.
pub fn password_only() -> latchkey_agent::Credentials {
    latchkey_agent::Credentials {
        password: PASSWORD.to_owned().into(),
        otp: None,
    }
}

impl World {
    pub fn agent(&self) -> Agent {
        self.agent_in(self.state.clone())
    }

    /// An agent on another state directory: another device of the same tenant.
    pub fn agent_in(&self, state: StateDir) -> Agent {
        Agent::new(state, Box::new(Shared(self.device_clock.clone())), false)
            .with_kdf(CHEAP)
            .with_machine_binding(latchkey_agent::device_seal::MachineBinding::file(
                &self.machine_id,
            ))
    }

    pub fn otp(&self, secret: &[u8]) -> String {
        let now = self.server_clock.now_unix();
        latchkey_server::totp::code_for_step(secret, latchkey_server::totp::step_at(now))
    }

    /// A user who joined a cloud device with MFA, set up Hello and signed in.
    pub fn enrolled(&self, upn: &str) -> Agent {
        self.enrolled_in(upn, self.state.clone())
    }

    /// [`World::enrolled`] on the device whose state is `state`.
    pub fn enrolled_in(&self, upn: &str, state: StateDir) -> Agent {
        let agent = self.joined_in(upn, JoinType::Cloud, state);
        agent.check_prerequisites(upn).unwrap();
        assert!(
            !agent.mfa_needed(upn).unwrap(),
            "the owner's device stands in for the second factor"
        );
        agent
            .provision(upn, PIN, &password_only(), &mut |_| {})
            .unwrap();
        agent.signin(upn, PIN).unwrap();
        agent
    }

    /// A user who joined a device of `join_type` with MFA (no Hello key yet).
    pub fn joined(&self, upn: &str, join_type: JoinType) -> Agent {
        self.joined_with_secret(upn, join_type).0
    }

    /// [`World::joined`] on the device whose state is `state`.
    pub fn joined_in(&self, upn: &str, join_type: JoinType, state: StateDir) -> Agent {
        self.joined_with_secret_in(upn, join_type, state).0
    }

    /// [`World::joined`], with the user's TOTP secret.
    pub fn joined_with_secret(&self, upn: &str, join_type: JoinType) -> (Agent, Vec<u8>) {
        self.joined_with_secret_in(upn, join_type, self.state.clone())
    }

    /// [`World::joined_with_secret`] on the device whose state is `state`.
    pub fn joined_with_secret_in(
        &self,
        upn: &str,
        join_type: JoinType,
        state: StateDir,
    ) -> (Agent, Vec<u8>) {
        let created = self
            .runtime
            .block_on(self.admin.add_user(upn, PASSWORD, None))
            .unwrap();
        let secret = created
            .otpauth_uri
            .split("secret=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned();
        let secret = base32(&secret);
        let agent = self.agent_in(state);
        agent
            .join(&JoinOptions {
                server: self.url.clone(),
                ca_pem: self.ca_pem.clone(),
                upn: upn.to_owned(),
                password: PASSWORD.to_owned().into(),
                otp: Some(self.otp(&secret)),
                join_type,
                display_name: "test-pc".to_owned(),
                os: "test".to_owned(),
            })
            .unwrap();
        (agent, secret)
    }
}

pub trait NowUnix {
    fn now_unix(&self) -> i64;
}

impl NowUnix for ManualClock {
    fn now_unix(&self) -> i64 {
        use latchkey_server::clock::Clock;
        self.now().unix_timestamp()
    }
}

pub fn base32(text: &str) -> Vec<u8> {
    let mut bits = 0u64;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim_end_matches('=').chars() {
        let v = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
            .find(c.to_ascii_uppercase())
            .unwrap() as u64;
        bits = (bits << 5) | v;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}
