//! The agent against the real service (in-process, HTTPS on loopback) with both clocks in
//! the test's hands: primary refresh token renewal near expiry, refusal once it has expired
//! or the device is disabled, and the lockout counter kept in the container file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use latchkey_agent::clock::FixedClock;
use latchkey_agent::container::KdfParams;
use latchkey_agent::store::StateDir;
use latchkey_agent::{Agent, JoinOptions};
use latchkey_proto::api::device::JoinType;
use latchkey_server::admin::Admin;
use latchkey_server::clock::{secs, Env, ManualClock, SystemRandom};
use time::OffsetDateTime;

const PASSWORD: &str = "correct horse battery";
const PIN: &str = "864213";
const CHEAP: KdfParams = KdfParams {
    m_cost_kib: 1024,
    t_cost: 1,
    p_cost: 1,
};

struct Shared(Arc<FixedClock>);

impl latchkey_agent::clock::Clock for Shared {
    fn now(&self) -> i64 {
        self.0.now()
    }
}

struct World {
    _dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    server_clock: ManualClock,
    device_clock: Arc<FixedClock>,
    admin: Admin,
    url: String,
    ca_pem: String,
    state: StateDir,
}

fn world() -> World {
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
    World {
        state: StateDir::new(dir.path().join("device")),
        _dir: dir,
        runtime,
        server_clock,
        device_clock: Arc::new(FixedClock::at(start.unix_timestamp())),
        admin,
        url,
        ca_pem,
    }
}

impl World {
    fn agent(&self) -> Agent {
        Agent::new(
            self.state.clone(),
            Box::new(Shared(self.device_clock.clone())),
            false,
        )
        .with_kdf(CHEAP)
    }

    fn otp(&self, secret: &[u8]) -> String {
        let now = self.server_clock.now_unix();
        latchkey_server::totp::code_for_step(secret, latchkey_server::totp::step_at(now))
    }

    /// A user who joined a cloud device with MFA, set up Hello and signed in.
    fn enrolled(&self, upn: &str) -> Agent {
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
        let agent = self.agent();
        agent
            .join(&JoinOptions {
                server: self.url.clone(),
                ca_pem: self.ca_pem.clone(),
                upn: upn.to_owned(),
                password: PASSWORD.to_owned(),
                otp: Some(self.otp(&secret)),
                join_type: JoinType::Cloud,
                display_name: "test-pc".to_owned(),
                os: "test".to_owned(),
            })
            .unwrap();
        agent.check_prerequisites(upn).unwrap();
        assert!(!agent.mfa_needed(upn).unwrap(), "the owner stands in");
        agent.provision(upn, PIN, None, &mut |_| {}).unwrap();
        agent.signin(upn, PIN).unwrap();
        agent
    }
}

trait NowUnix {
    fn now_unix(&self) -> i64;
}

impl NowUnix for ManualClock {
    fn now_unix(&self) -> i64 {
        use latchkey_server::clock::Clock;
        self.now().unix_timestamp()
    }
}

fn base32(text: &str) -> Vec<u8> {
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

#[test]
fn a_token_renews_the_prt_near_expiry_and_not_before() {
    let w = world();
    let upn = "rosa@example.com";
    let agent = w.enrolled(upn);
    let first = agent.sso(upn).unwrap().unwrap();

    agent.token(upn, "api://payroll").unwrap();
    assert_eq!(
        agent.sso(upn).unwrap().unwrap(),
        first,
        "far from expiry: no renewal"
    );

    // A day later on both clocks, and the device sees its token within the renewal margin.
    w.server_clock.advance(secs(86_400));
    w.device_clock.advance(
        first.prt_expires_at - w.device_clock.0.load(std::sync::atomic::Ordering::SeqCst) - 60,
    );
    agent.token(upn, "api://payroll").unwrap();
    let renewed = agent.sso(upn).unwrap().unwrap();
    assert_ne!(renewed.prt, first.prt, "a new primary refresh token");
    assert!(renewed.prt_expires_at > first.prt_expires_at);

    // The old token was replaced by the renewal: it no longer works.
    let mut stale = renewed.clone();
    stale.prt = first.prt.clone();
    agent
        .state()
        .write_json("sso/rosa@example.com.json", &stale)
        .unwrap();
    let err = agent.renew(upn).unwrap_err();
    assert!(err.code().starts_with("LK-PRT-"), "{err}");
}

#[test]
fn a_disabled_device_stops_tokens_at_once() {
    let w = world();
    let upn = "sam@example.com";
    let agent = w.enrolled(upn);
    agent.token(upn, "api://x").unwrap();

    let device = agent.device().unwrap().unwrap();
    w.runtime
        .block_on(w.admin.disable_device(&device.device_id))
        .unwrap();
    let err = agent.token(upn, "api://x").unwrap_err();
    assert_eq!(err.code(), "LK-DEV-002", "{err}");
}

#[test]
fn the_prt_expires_on_the_service_side() {
    let w = world();
    let upn = "tia@example.com";
    let agent = w.enrolled(upn);
    w.server_clock.advance(secs(15 * 86_400));
    w.device_clock.advance(15 * 86_400);
    let err = agent.token(upn, "api://x").unwrap_err();
    assert!(
        matches!(err.code(), "LK-PRT-002" | "LK-PRT-001"),
        "expired primary refresh token refused: {err}"
    );
    // A fresh sign-in with the PIN gets a new one.
    agent.signin(upn, PIN).unwrap();
    agent.token(upn, "api://x").unwrap();
}

#[test]
fn the_wrong_pin_count_lives_in_the_container_file() {
    let w = world();
    let upn = "uma@example.com";
    let agent = w.enrolled(upn);
    for _ in 0..3 {
        assert_eq!(
            agent.signin(upn, "000000").unwrap_err().code(),
            "LK-PIN-001"
        );
    }
    // Another agent process over the same state sees the count.
    let other = w.agent();
    assert_eq!(other.container(upn).unwrap().unwrap().lockout.failures, 3);
    other.signin(upn, PIN).unwrap();
    assert_eq!(agent.container(upn).unwrap().unwrap().lockout.failures, 0);
}
