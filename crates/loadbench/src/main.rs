//! `latchkey-loadbench`: drives Hello sign-ins and key registrations against a real
//! `latchkeyd` (started here, HTTPS on loopback, SQLite in a temporary data directory, or
//! PostgreSQL with `--database`, behind which `--replicas` processes share the load) from
//! many concurrent simulated devices, and prints throughput and latency percentiles as a
//! Markdown table for docs/PERFORMANCE.md. `--seed-users` and `--seed-keys` first fill the
//! directory (`src/seed.rs`), so that the phases run among a million users.
//!
//! On a small machine the load generator shares the cores with the service, and an
//! RSA-2048 *signature* costs the client far more than its *verification* costs the
//! service. So the timed sign-in and registration phases send requests whose signatures were
//! made beforehand (over nonces fetched beforehand, well within their 5-minute life); a last
//! phase runs the whole flow live (nonce, sign, sign-in, token) to show the end-to-end rate
//! this machine reaches when it also plays every device.
//!
//! With `--tpm-devices N`, N of the devices have their Hello key in a private swtpm, are
//! TPM-activated and register it with a TPM2_Certify attestation (`src/tpmdev.rs`); their
//! share of the closed-loop sign-ins (`--tpm-signins`) is signed in the swtpm beforehand.
//! The later open-loop and live phases use the software devices only.

// A benchmark tool run by hand: a failed setup step or an impossible measurement stops it
// with a message, so it may unwrap, expect, panic and index.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client;
mod costs;
mod cpu;
mod database;
mod enrol;
mod fleet;
mod rss;
mod runner;
mod seed;
mod sim;
mod stats;
mod tpmdev;
mod wire;

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use latchkey_proto::api::{auth, key, signin};
use latchkey_proto::proof::Purpose;

use client::Api;
use enrol::{signin_request, token_request};
use fleet::Fleet;
use sim::{DeviceKeyKind, SimDevice};
use stats::Summary;
use wire::Pool;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Load benchmark for latchkeyd: Hello sign-ins and key registrations")]
struct Args {
    /// Simulated devices (each with its own device key and RSA-2048 Hello key).
    #[arg(long, default_value_t = 200)]
    devices: usize,
    /// Users the devices are spread over.
    #[arg(long, default_value_t = 4)]
    users: usize,
    /// Operations in flight at once in the closed-loop phases.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Sign-ins in the closed-loop throughput phase.
    #[arg(long, default_value_t = 20_000)]
    signins: usize,
    /// Key registrations (re-registrations over the devices) in the registration phase; at
    /// least `--devices`, since a device's Hello key is registered there.
    #[arg(long, default_value_t = 4_000)]
    registrations: usize,
    /// Rate of the open-loop latency phase, sign-ins per second.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Duration of the open-loop latency phase, seconds.
    #[arg(long, default_value_t = 10)]
    rate_seconds: u64,
    /// Full live flows (client signs live) in the last phase.
    #[arg(long, default_value_t = 2_000)]
    live: usize,
    /// The simulated devices' key: `rsa` (RSA-2048, what `latchkey join` makes) or `p256`
    /// (devices joined before the agent made RSA device keys).
    #[arg(long, value_enum, default_value_t = DeviceKeyKind::Rsa)]
    device_key: DeviceKeyKind,
    /// Only print the cost table (signature checks and token signing on one core).
    #[arg(long)]
    costs_only: bool,
    /// Devices (of `--devices`) whose Hello key is made in a private swtpm, TPM-activated
    /// and registered with a TPM2_Certify attestation (the service records it as `tpm`).
    /// Their device key stays in software.
    #[arg(long, default_value_t = 0)]
    tpm_devices: usize,
    /// How many of the closed-loop phase's `--signins` sign-ins the TPM devices make, each
    /// signed in the swtpm beforehand (about 50 ms each); the rest cycle over the software
    /// devices. With every device a TPM device it must be at least `--signins`.
    #[arg(long, default_value_t = 2_000)]
    tpm_signins: usize,
    /// Seconds to leave the service idle right before the closed-loop sign-in phase (a
    /// control for `--tpm-devices` runs, whose service idles while the swtpm signs).
    #[arg(long, default_value_t = 0)]
    idle_before_signins: u64,
    /// Where the service keeps its directory: `sqlite` (the data directory), `postgres` (a
    /// throwaway PostgreSQL 15 cluster started here) or the `postgres://` URL of an
    /// existing, empty database.
    #[arg(long, default_value = "sqlite")]
    database: database::Choice,
    /// `latchkeyd serve` processes sharing the database (PostgreSQL only); the clients
    /// send each request to the next one in turn.
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// Passwordless users imported with `latchkeyd user import` before the phases.
    #[arg(long, default_value_t = 0)]
    seed_users: usize,
    /// Devices with a Hello key each, written into the database before the phases and
    /// spread over the seeded users.
    #[arg(long, default_value_t = 0)]
    seed_keys: usize,
}

const PASSWORD: &str = "load-bench-password";
/// The resource the token phases ask tokens for (registered before them).
const BENCH_AUDIENCE: &str = "api://bench";

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    if args.tpm_devices > args.devices {
        bail!(
            "--tpm-devices ({}) exceeds --devices ({})",
            args.tpm_devices,
            args.devices
        );
    }
    let software_devices = args.devices - args.tpm_devices;
    if software_devices > 0 && args.registrations < software_devices {
        bail!(
            "--registrations ({}) must be at least the software devices ({software_devices}): \
             each software device's Hello key is registered in that phase, and the sign-in \
             phases use every device",
            args.registrations,
        );
    }
    let tpm_share = if args.tpm_devices > 0 {
        args.tpm_signins.min(args.signins)
    } else {
        0
    };
    if software_devices == 0 && tpm_share < args.signins {
        bail!(
            "every device is a TPM device: --tpm-signins ({}) must be at least --signins ({})",
            args.tpm_signins,
            args.signins
        );
    }
    if args.replicas == 0 {
        bail!("--replicas must be at least 1");
    }
    if args.replicas > 1 && matches!(args.database, database::Choice::Sqlite) {
        bail!(
            "--replicas {} needs PostgreSQL (--database postgres or a postgres:// URL): \
             replicas share one database, and SQLite's belongs to one process",
            args.replicas
        );
    }
    seed::check(args.seed_users, args.seed_keys)?;
    let (costs, cost_line) = costs::measure(2_000, args.device_key)?;
    if args.costs_only {
        println!("{}", costs.join("\n"));
        return Ok(());
    }
    // Declared before the world and the replicas, so that it is dropped after them.
    let backend = database::Backend::open(&args.database).await?;
    let world = backend.world();
    let mut fleet = Fleet::start(&world, args.replicas, backend.postmaster())?;
    let ca = std::fs::read(world.ca_file()).context("reading the tenant CA")?;
    let api = Api::new(&fleet.urls, &ca, args.concurrency)?;
    let wire = Pool::new(&fleet.urls, &ca)?;
    let tenant: latchkey_proto::api::tenant::TenantInfo =
        reqwest_get_json(&fleet.urls[0], &ca, "/v1/tenant").await?;
    let tid = tenant.tenant_id.clone();
    eprintln!(
        "service {} tenant {tid} on {}",
        fleet.urls.join(" "),
        backend.name()
    );
    let mut bench_tpm = if args.tpm_devices > 0 {
        let t = tpmdev::BenchTpm::start()?;
        t.trust_in(&world);
        Some(t)
    } else {
        None
    };

    // Users, and one MFA enrolment token each (joins reuse it within its lifetime).
    let mut tokens = Vec::new();
    for u in 0..args.users.max(1) {
        let upn = format!("bench{u}@example.com");
        let totp = world.add_user(&upn, PASSWORD);
        let t: auth::EnrollmentToken = api
            .post(
                "/v1/auth/password",
                &auth::PasswordSignIn {
                    upn: upn.clone(),
                    password: PASSWORD.into(),
                    otp: Some(totp.fresh()),
                },
                None,
            )
            .await?;
        tokens.push((upn, t.token));
    }
    let mut notes = vec![backend.note(&world, fleet.replicas()).await?];
    let owner = (tokens[0].0.as_str(), tokens[0].1.as_str());
    let seeded = seed::run(
        &backend,
        &world,
        &api,
        &tid,
        owner,
        args.device_key,
        args.seed_users,
        args.seed_keys,
    )
    .await?;
    if !seeded.is_empty() {
        fleet.sample_memory("seeding");
    }
    notes.extend(seeded);

    let t0 = Instant::now();
    let mut tpm_keys = Vec::new();
    if let Some(t) = bench_tpm.as_mut() {
        for _ in 0..args.tpm_devices {
            tpm_keys.push(t.create_hello_key()?);
        }
        eprintln!(
            "made {} Hello keys in the swtpm in {:.1} s",
            tpm_keys.len(),
            t0.elapsed().as_secs_f64()
        );
    }
    let t0 = Instant::now();
    let devices = generate_devices(&tokens, args.devices, args.device_key, &tpm_keys)?;
    eprintln!(
        "generated {} devices (RSA-2048 Hello key, {} of them in the TPM; {:?} device key in \
         software) in {:.1} s",
        devices.len(),
        tpm_keys.len(),
        args.device_key,
        t0.elapsed().as_secs_f64()
    );
    let tpm_indices: Vec<usize> = (0..tpm_keys.len()).collect();
    let sw_indices: Vec<usize> = (tpm_keys.len()..devices.len()).collect();

    let mut table = vec![Summary::header().to_string()];

    // Join every device (timed, informational: each join issues a certificate).
    let devices: Arc<Vec<SimDevice>> = Arc::new(devices);
    let tokens = Arc::new(tokens);
    let (api2, tid2, toks, devs) = (api.clone(), tid.clone(), tokens.clone(), devices.clone());
    let indices: Vec<usize> = (0..devices.len()).collect();
    let cpu0 = fleet.cpu();
    let (summary, _) = runner::closed_loop(
        "device join (live)",
        indices,
        args.concurrency,
        move |i: Arc<usize>| {
            let (api, tid, toks, devs) = (api2.clone(), tid2.clone(), toks.clone(), devs.clone());
            async move {
                let dev = &devs[*i];
                let token = &toks.iter().find(|(u, _)| *u == dev.upn).context("token")?.1;
                enrol::join(&api, &tid, dev, token).await
            }
        },
    )
    .await;
    table.push(fleet.finish(&summary, &cpu0).0);
    anyhow::ensure!(summary.failed == 0, "some devices failed to join");

    // TPM devices: activation, then their attested registrations (made beforehand).
    if let Some(t) = bench_tpm.as_mut() {
        let row = tpmdev::registrations(
            t,
            &api,
            &wire,
            &tid,
            &devices,
            &tpm_indices,
            &tokens,
            &mut fleet,
        )
        .await?;
        table.push(row);
    }

    // Key registrations: nonces fetched and proofs signed beforehand, then sent.
    let regs = presign(
        &api,
        Purpose::RegisterKey,
        if sw_indices.is_empty() {
            0
        } else {
            args.registrations
        },
        &devices,
        &sw_indices,
        &tid,
        enrol::register_request,
    )
    .await?;
    // Re-registering replaces a device's key, which needs a fresh MFA: each request carries
    // its user's enrolment token (password + TOTP), as `latchkey hello setup` would.
    let regs = regs
        .iter()
        .map(|r| {
            let token = &tokens.iter().find(|(u, _)| *u == r.upn).context("token")?.1;
            wire.post_json_with("/v1/keys", r, Some(token))
        })
        .collect::<Result<Vec<_>>>()?;
    let wire2 = wire.clone();
    let cpu0 = fleet.cpu();
    let (summary, _) = runner::closed_loop(
        "key registration (pre-signed, software keys)",
        regs,
        args.concurrency,
        move |req| {
            let wire = wire2.clone();
            async move {
                wire.send_json::<key::RegisterKeyResponse>(&req)
                    .await
                    .map(|_| ())
            }
        },
    )
    .await;
    if !sw_indices.is_empty() {
        table.push(fleet.finish(&summary, &cpu0).0);
    }

    // Nonce issue throughput, then sign-ins with pre-signed assertions: the TPM devices'
    // share signed in the TPM, the rest on every core; mixed evenly.
    let t0 = Instant::now();
    let tpm_signins = match bench_tpm.as_mut() {
        Some(t) if tpm_share > 0 => {
            let nonces = fetch_nonces(&api, Purpose::SignIn, tpm_share).await?;
            let mut out = Vec::with_capacity(tpm_share);
            for (i, nonce) in nonces.iter().enumerate() {
                let d = tpm_indices[i % tpm_indices.len()];
                out.push((d, tpmdev::signin_request(t, &devices[d], nonce, &tid)?));
            }
            eprintln!(
                "signed {tpm_share} sign-ins in the swtpm in {:.1} s",
                t0.elapsed().as_secs_f64()
            );
            out
        }
        _ => Vec::new(),
    };
    let sw_signins = presign_indexed(
        &api,
        Purpose::SignIn,
        args.signins - tpm_signins.len(),
        &devices,
        &sw_indices,
        &tid,
        signin_request,
    )
    .await?;
    eprintln!(
        "prepared {} sign-ins ({} TPM-signed) in {:.1} s",
        sw_signins.len() + tpm_signins.len(),
        tpm_signins.len(),
        t0.elapsed().as_secs_f64()
    );
    // Each prepared sign-in with the index of its device, so that the token phase can sign
    // with the device each token was issued to.
    let signins: Vec<(usize, wire::Prepared)> = tpmdev::interleave(sw_signins, tpm_signins)
        .into_iter()
        .map(|(d, req)| Ok((d, wire.post_json("/v1/signin", &req)?)))
        .collect::<Result<_>>()?;
    let signin_count = signins.len();
    if args.idle_before_signins > 0 {
        eprintln!(
            "idle {} s before the sign-in phase",
            args.idle_before_signins
        );
        tokio::time::sleep(std::time::Duration::from_secs(args.idle_before_signins)).await;
    }
    let wire2 = wire.clone();
    let cpu0 = fleet.cpu();
    let (summary, answers) = runner::closed_loop(
        "Hello sign-in (pre-signed)",
        signins,
        args.concurrency,
        move |req| {
            let wire = wire2.clone();
            async move { Ok((req.0, wire.send_json::<tpmdev::SignInAnswer>(&req.1).await?)) }
        },
    )
    .await;
    let (row, signin_cpu) = fleet.finish(&summary, &cpu0);
    table.push(row);
    anyhow::ensure!(summary.failed == 0, "some sign-ins failed");
    let checked = tpmdev::check_amr(&devices, &answers)?;
    if let Some(service) = signin_cpu.service {
        let per = |cpu: std::time::Duration| cpu.as_secs_f64() * 1e6 / summary.ok.max(1) as f64;
        let us = per(service);
        let summed = match fleet.replicas() {
            1 => String::new(),
            n => format!(" (summed over {n} replicas)"),
        };
        let database = signin_cpu.database.map_or(String::new(), |db| {
            format!("; PostgreSQL CPU {:.0} µs per sign-in", per(db))
        });
        notes.push(format!(
            "closed-loop sign-in: {} sign-ins, {} of them TPM-signed (swtpm) by {} TPM devices \
             with attested keys; service CPU {us:.0} µs per sign-in{summed} = {:.2} × the cost \
             line ({cost_line:.1} µs, \"one sign-in, {:?} device key\"){database}",
            signin_count,
            checked.tpm,
            args.tpm_devices,
            us / cost_line,
            args.device_key,
        ));
    }
    notes.push(format!(
        "tokens: the access and ID tokens of all {} TPM-signed sign-ins carry amr `hwk`, of \
         all {} software-key sign-ins `swk`; device keys in software",
        checked.tpm, checked.software
    ));
    let prts: Vec<(usize, String)> = answers.into_iter().map(|(d, a)| (d, a.prt)).collect();

    // Tokens for an audience: each request carries the device-key proof (pre-signed).
    world
        .admin(&["resource", "add", BENCH_AUDIENCE], "")
        .assert_ok();
    let token_requests = presign_tokens(&api, prts, &devices, &tid).await?;
    let token_requests = prepare(&wire, "/v1/token", &token_requests)?;
    let wire2 = wire.clone();
    let cpu0 = fleet.cpu();
    let (summary, _) = runner::closed_loop(
        "token for an audience",
        token_requests,
        args.concurrency,
        move |req| {
            let wire = wire2.clone();
            async move {
                wire.send_json::<signin::TokenResponse>(&req)
                    .await
                    .map(|_| ())
            }
        },
    )
    .await;
    table.push(fleet.finish(&summary, &cpu0).0);

    if sw_indices.is_empty() {
        notes.push(
            "open-loop and live phases skipped: every device is a TPM device (they sign \
             with software devices only)"
                .to_owned(),
        );
        print_results(&table, &mut notes, &costs, &fleet, &wire);
        return Ok(());
    }

    // Latency at a fixed rate (open loop), software devices.
    let count = (args.rate * args.rate_seconds as f64) as usize;
    let paced = presign(
        &api,
        Purpose::SignIn,
        count,
        &devices,
        &sw_indices,
        &tid,
        signin_request,
    )
    .await?;
    let paced = prepare(&wire, "/v1/signin", &paced)?;
    let wire2 = wire.clone();
    let cpu0 = fleet.cpu();
    let summary = runner::open_loop(
        &format!("Hello sign-in at {:.0}/s (open loop)", args.rate),
        paced,
        args.rate,
        move |req| {
            let wire = wire2.clone();
            async move {
                let answer = wire.send_json::<PrtOnly>(&req).await?;
                anyhow::ensure!(!answer.prt.is_empty(), "a sign-in answer without a PRT");
                Ok(())
            }
        },
    )
    .await;
    table.push(fleet.finish(&summary, &cpu0).0);

    // The whole flow live: nonce, sign (client RSA), sign-in, token; software devices.
    let picks: Vec<usize> = (0..args.live)
        .map(|i| sw_indices[i % sw_indices.len()])
        .collect();
    let (api2, tid2, devs) = (api.clone(), tid.clone(), devices.clone());
    let cpu0 = fleet.cpu();
    let (summary, _) = runner::closed_loop(
        "full flow live: nonce+sign+sign-in+token",
        picks,
        args.concurrency,
        move |i: Arc<usize>| {
            let (api, tid, devs) = (api2.clone(), tid2.clone(), devs.clone());
            async move {
                let dev = &devs[*i];
                let nonce = api.nonce(Purpose::SignIn).await?;
                let req = signin_request(dev, &nonce, &tid)?;
                let r: signin::SignInResponse = api.post("/v1/signin", &req, None).await?;
                let nonce = api.nonce(Purpose::Token).await?;
                let t = token_request(dev, r.prt, &nonce, &tid)?;
                api.post::<_, signin::TokenResponse>("/v1/token", &t, None)
                    .await
                    .map(|_| ())
            }
        },
    )
    .await;
    table.push(fleet.finish(&summary, &cpu0).0);

    print_results(&table, &mut notes, &costs, &fleet, &wire);
    Ok(())
}

/// Prints the table, the notes (with the service's closing notes) and the cost table.
fn print_results(
    table: &[String],
    notes: &mut Vec<String>,
    costs: &[String],
    fleet: &Fleet,
    wire: &Pool,
) {
    notes.extend(fleet.closing_notes(wire));
    println!("{}", table.join("\n"));
    println!();
    for n in notes {
        println!("- {n}");
    }
    println!();
    println!("{}", costs.join("\n"));
}

/// The one field of a sign-in answer the benchmark keeps (for the token phase); decoding it
/// checks that the answer is a sign-in's.
#[derive(serde::Deserialize)]
struct PrtOnly {
    prt: String,
}

/// Serialises `bodies` as `POST path` requests before a timed phase.
fn prepare<B: serde::Serialize>(
    wire: &Pool,
    path: &str,
    bodies: &[B],
) -> Result<Vec<wire::Prepared>> {
    bodies.iter().map(|b| wire.post_json(path, b)).collect()
}

/// Fetches a `token` nonce per primary refresh token (untimed) and signs the token
/// requests on every core with the key of the device each token was issued to.
async fn presign_tokens(
    api: &Api,
    prts: Vec<(usize, String)>,
    devices: &Arc<Vec<SimDevice>>,
    tid: &str,
) -> Result<Vec<signin::TokenRequest>> {
    let api2 = api.clone();
    let (_, nonces) = runner::closed_loop("nonce issue (token)", prts, 64, move |prt| {
        let api = api2.clone();
        async move { Ok(((*prt).clone(), api.nonce(Purpose::Token).await?)) }
    })
    .await;
    on_every_core(nonces.len(), |i| {
        let ((dev, prt), nonce) = &nonces[i];
        let dev = devices
            .get(*dev)
            .ok_or_else(|| anyhow::anyhow!("no device {dev}"))?;
        token_request(dev, prt.clone(), nonce, tid)
    })
}

/// Generates the simulated devices on every core; device i < `tpm_keys.len()` gets the
/// TPM Hello key `tpm_keys[i]`.
fn generate_devices(
    tokens: &[(String, String)],
    count: usize,
    kind: DeviceKeyKind,
    tpm_keys: &[latchkey_tpm::KeyBlob],
) -> Result<Vec<SimDevice>> {
    on_every_core(count, |i| {
        let upn = &tokens[i % tokens.len()].0;
        match tpm_keys.get(i) {
            Some(key) => SimDevice::with_tpm_hello(upn, kind, key.clone()),
            None => SimDevice::generate(upn, kind),
        }
    })
}

/// `f(0)`, ..., `f(count - 1)` computed on every core, returned in index order (callers
/// rely on item i being made from device i % devices).
fn on_every_core<R: Send>(count: usize, f: impl Fn(usize) -> Result<R> + Sync) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..count)
                        .step_by(threads)
                        .map(|i| Ok((i, f(i)?)))
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(count);
        for h in handles {
            all.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("worker thread panicked"))??,
            );
        }
        all.sort_unstable_by_key(|(i, _)| *i);
        Ok(all.into_iter().map(|(_, r)| r).collect())
    })
}

/// Fetches `count` nonces for `purpose` (timed and printed) and builds the signed requests
/// on every core (untimed preparation), cycling over the devices `picks`.
async fn presign<R, F>(
    api: &Api,
    purpose: Purpose,
    count: usize,
    devices: &Arc<Vec<SimDevice>>,
    picks: &[usize],
    tid: &str,
    build: F,
) -> Result<Vec<R>>
where
    R: Send + Sync + 'static,
    F: Fn(&SimDevice, &str, &str) -> Result<R> + Sync,
{
    Ok(
        presign_indexed(api, purpose, count, devices, picks, tid, build)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect(),
    )
}

/// [`presign`], each request with the index of its device.
async fn presign_indexed<R, F>(
    api: &Api,
    purpose: Purpose,
    count: usize,
    devices: &Arc<Vec<SimDevice>>,
    picks: &[usize],
    tid: &str,
    build: F,
) -> Result<Vec<(usize, R)>>
where
    R: Send + Sync + 'static,
    F: Fn(&SimDevice, &str, &str) -> Result<R> + Sync,
{
    if count == 0 {
        return Ok(Vec::new());
    }
    let nonces = fetch_nonces(api, purpose, count).await?;
    on_every_core(nonces.len(), |i| {
        let d = picks[i % picks.len()];
        Ok((d, build(&devices[d], &nonces[i], tid)?))
    })
}

/// Fetches `count` nonces for `purpose`, 64 in flight (timed, printed to stderr).
async fn fetch_nonces(api: &Api, purpose: Purpose, count: usize) -> Result<Vec<String>> {
    let api2 = api.clone();
    let (summary, nonces) = runner::closed_loop(
        &format!("nonce issue ({})", purpose.as_str()),
        vec![(); count],
        64,
        move |_| {
            let api = api2.clone();
            async move { api.nonce(purpose).await }
        },
    )
    .await;
    eprintln!("{}", summary.row());
    anyhow::ensure!(summary.failed == 0, "some nonces could not be fetched");
    Ok(nonces)
}

async fn reqwest_get_json<T: serde::de::DeserializeOwned>(
    base: &str,
    ca: &[u8],
    path: &str,
) -> Result<T> {
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca)?)
        .build()?;
    Ok(client
        .get(format!("{base}{path}"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}
