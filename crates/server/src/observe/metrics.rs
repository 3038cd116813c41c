//! The service's Prometheus metrics (`GET /metrics` on the metrics listener).
//!
//! Every label value is bounded: route templates of the router (or a fixed word), a fixed
//! list of methods, HTTP status codes, LK codes and fixed outcomes. Nothing a client sends
//! becomes a label value. Counters are atomics; a family takes a read lock on its map of
//! series (a write lock only the first time a series appears); a histogram series takes its
//! own short lock (the client library's design).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::storage::{OpenStorage, StorageFigures};

/// The content type of [`Metrics::encode`]'s output (OpenMetrics text, which Prometheus
/// scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of `latchkey_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: Arc<str>,
    method: &'static str,
    status: u16,
}

/// Labels of `latchkey_http_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Arc<str>,
}

/// Labels of the operation counters: `success` or `failure`, and the LK code (empty on
/// success).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
    code: &'static str,
}

/// Labels of `latchkey_nonce_refusals_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

/// The operations counted by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A Hello sign-in (`POST /v1/signin`) or a PRT renewal (`POST /v1/prt/renew`).
    SignIn,
    /// A Hello key registration (`POST /v1/keys`).
    KeyRegistration,
    /// A device join (`POST /v1/devices/join`).
    DeviceJoin,
    /// An access token issue (`POST /v1/token`, `POST /oauth2/token`).
    TokenIssue,
}

impl Operation {
    /// The operation a request to `route` with `method` is, if it is one.
    pub fn of(method: &str, route: &str) -> Option<Operation> {
        if method != "POST" {
            return None;
        }
        match route {
            "/v1/signin" | "/v1/prt/renew" => Some(Operation::SignIn),
            "/v1/keys" => Some(Operation::KeyRegistration),
            "/v1/devices/join" => Some(Operation::DeviceJoin),
            "/v1/token" | "/oauth2/token" => Some(Operation::TokenIssue),
            _ => None,
        }
    }
}

/// The metrics of one running service.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
    signins: Family<OutcomeLabels, Counter>,
    key_registrations: Family<OutcomeLabels, Counter>,
    device_joins: Family<OutcomeLabels, Counter>,
    token_issues: Family<OutcomeLabels, Counter>,
    nonce_refusals: Family<CodeLabels, Counter>,
}

impl Metrics {
    /// The metrics, with the storage figures read from `storage` at each scrape.
    pub fn new(storage: OpenStorage) -> Metrics {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "latchkey_http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        let http_duration =
            Family::<RouteLabels, Histogram>::new_with_constructor(|| -> Histogram {
                // 1 ms to about 16 s.
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            });
        registry.register(
            "latchkey_http_request_duration_seconds",
            "Time from the request head to the response head, by route template",
            http_duration.clone(),
        );
        let outcome = |registry: &mut Registry, name: &str, help: &str| {
            let family = Family::<OutcomeLabels, Counter>::default();
            registry.register(name, help, family.clone());
            family
        };
        let signins = outcome(
            &mut registry,
            "latchkey_signins",
            "Hello sign-ins and PRT renewals, by outcome and LK code",
        );
        let key_registrations = outcome(
            &mut registry,
            "latchkey_key_registrations",
            "Hello key registrations, by outcome and LK code",
        );
        let device_joins = outcome(
            &mut registry,
            "latchkey_device_joins",
            "Device joins, by outcome and LK code",
        );
        let token_issues = outcome(
            &mut registry,
            "latchkey_token_issues",
            "Access token requests (/v1/token, /oauth2/token), by outcome and LK code",
        );
        let nonce_refusals = Family::<CodeLabels, Counter>::default();
        registry.register(
            "latchkey_nonce_refusals",
            "Requests refused for their nonce (invalid, expired, replayed, wrong purpose)",
            nonce_refusals.clone(),
        );
        registry.register(
            "latchkey_build",
            "The running version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register_collector(Box::new(StorageCollector(storage)));
        // The success series exist from the start, at 0, so that rates work at once.
        for family in [&signins, &key_registrations, &device_joins, &token_issues] {
            let _ = family.get_or_create(&OutcomeLabels {
                outcome: "success",
                code: "",
            });
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            signins,
            key_registrations,
            device_joins,
            token_issues,
            nonce_refusals,
        }
    }

    /// Counts one answered request. `route` is a route template or a fixed word, `method`
    /// one of [`super::bounded_method`]'s values, `code` the LK code of an error answer.
    pub fn request(
        &self,
        route: &Arc<str>,
        method: &'static str,
        status: u16,
        code: Option<&'static str>,
        seconds: f64,
    ) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.clone(),
                method,
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(seconds);
        if let Some(op) = Operation::of(method, route) {
            let success = (200..300).contains(&status);
            let labels = OutcomeLabels {
                outcome: if success { "success" } else { "failure" },
                code: if success { "" } else { code.unwrap_or("") },
            };
            let family = match op {
                Operation::SignIn => &self.signins,
                Operation::KeyRegistration => &self.key_registrations,
                Operation::DeviceJoin => &self.device_joins,
                Operation::TokenIssue => &self.token_issues,
            };
            family.get_or_create(&labels).inc();
        }
        if let Some(code) = code.filter(|c| c.starts_with("LK-NONCE-")) {
            self.nonce_refusals
                .get_or_create(&CodeLabels { code })
                .inc();
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The database pool's and the sign-in writer's figures, read at each scrape.
#[derive(Debug)]
struct StorageCollector(OpenStorage);

impl Collector for StorageCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let StorageFigures {
            pool_size,
            pool_idle,
            pool_max,
            writer_queued,
            writer_batches,
            writer_writes,
        } = self.0.figures();
        let gauges: [(&str, &str, i64); 4] = [
            (
                "latchkey_db_pool_connections",
                "Open connections of the database pool",
                i64::from(pool_size),
            ),
            (
                "latchkey_db_pool_idle_connections",
                "Idle connections of the database pool",
                i64::try_from(pool_idle).unwrap_or(i64::MAX),
            ),
            (
                "latchkey_db_pool_max_connections",
                "Most connections the database pool opens",
                i64::from(pool_max),
            ),
            (
                "latchkey_signin_writer_queue_depth",
                "Sign-in and token writes waiting for the sign-in writer",
                i64::try_from(writer_queued).unwrap_or(i64::MAX),
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        let counters: [(&str, &str, u64); 2] = [
            (
                "latchkey_signin_writer_batches",
                "Transactions committed (or rolled back) by the sign-in writer",
                writer_batches,
            ),
            (
                "latchkey_signin_writer_writes",
                "Sign-in and token writes taken by the sign-in writer (writes / batches = \
                 mean batch size)",
                writer_writes,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}
