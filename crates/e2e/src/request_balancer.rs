//! An HTTPS load balancer on loopback that sends each request to the next replica in turn
//! (what an HTTP load balancer in front of replicas does), where [`crate::Balancer`]
//! balances whole connections. It terminates TLS with a server certificate of the tenant's
//! own issuing CA (issued here from the data directory, as `latchkeyd serve` issues its
//! own), so a device that trusts only the tenant CA talks to it as to a replica, and it
//! opens its own HTTPS connections to the replicas.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::Response;
use latchkey_server::clock::Env;
use latchkey_server::storage::{Database, OpenStorage};
use latchkey_server::tenant::{self, DEFAULT_TENANT_NAME};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::World;

/// The largest request or answer body passed on.
const MAX_BODY: usize = 1 << 20;

/// A running request balancer; it stops when dropped.
pub struct RequestBalancer {
    addr: SocketAddr,
    hits: Arc<Vec<AtomicUsize>>,
    upstreams: Arc<Upstreams>,
    _runtime: tokio::runtime::Runtime,
}

struct Upstreams {
    urls: Mutex<Vec<String>>,
    routes: Mutex<Vec<(String, usize)>>,
    next: AtomicUsize,
    hits: Arc<Vec<AtomicUsize>>,
    client: reqwest::Client,
}

impl RequestBalancer {
    /// A balancer for `world`'s tenant (whose issuing CA must exist: `latchkeyd cert
    /// authority init` or a first start) over `replicas` upstreams, each named later with
    /// [`RequestBalancer::upstream`] (so that the replicas can be started with the
    /// balancer's URL as their `--public-url`). Requests go to each upstream in turn,
    /// except that a request whose path is one of `routes` goes to the upstream of that
    /// index, so that a test can say which replica answers which step.
    pub fn start_routed(
        world: &World,
        replicas: usize,
        routes: &[(&str, usize)],
    ) -> RequestBalancer {
        let upstreams = vec![String::new(); replicas];
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the balancer's runtime");
        let acceptor = runtime.block_on(tls_of_tenant(world));
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the balancer");
        let addr = listener.local_addr().expect("balancer address");
        let ca = std::fs::read(world.ca_file()).expect("the tenant CA file");
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("the tenant CA"))
            .build()
            .expect("the balancer's HTTPS client");
        let hits: Arc<Vec<AtomicUsize>> =
            Arc::new(upstreams.iter().map(|_| AtomicUsize::new(0)).collect());
        let state = Arc::new(Upstreams {
            urls: Mutex::new(upstreams),
            routes: Mutex::new(routes.iter().map(|(p, i)| ((*p).to_owned(), *i)).collect()),
            next: AtomicUsize::new(0),
            hits: hits.clone(),
            client,
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req: Request<_>| {
                        let app = app.clone();
                        async move {
                            use tower::ServiceExt;
                            app.oneshot(req.map(Body::new)).await
                        }
                    });
                    // HTTP/1.1 or HTTP/2, whichever the client's ALPN chose.
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
                });
            }
        });
        RequestBalancer {
            addr,
            hits,
            upstreams: state,
            _runtime: runtime,
        }
    }

    /// The URL clients use.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Names upstream `index` (`https://localhost:PORT`).
    pub fn upstream(&self, index: usize, url: &str) {
        let mut urls = self
            .upstreams
            .urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = urls.get_mut(index) {
            url.clone_into(slot);
        }
    }

    /// From now on, requests for `path` go to upstream `index`.
    pub fn route(&self, path: &str, index: usize) {
        let mut routes = self
            .upstreams
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        routes.retain(|(p, _)| p != path);
        routes.push((path.to_owned(), index));
    }

    /// Requests each upstream got so far, in the order given.
    pub fn hits(&self) -> Vec<usize> {
        self.hits.iter().map(|h| h.load(Ordering::SeqCst)).collect()
    }
}

/// The service's own TLS acceptor ([`latchkey_server::tls::acceptor`]): a `localhost`
/// certificate from the tenant's issuing CA, loaded from the data directory as the service
/// loads it.
async fn tls_of_tenant(world: &World) -> TlsAcceptor {
    let database = match &world.database {
        Some(url) => Database::parse(url, None).expect("the world's database URL"),
        None => Database::Sqlite,
    };
    let data_dir = world.data_dir();
    let open = OpenStorage::open(&database, &data_dir)
        .await
        .expect("open the tenant's storage");
    let storage = open.storage();
    let env = Env::system();
    let (tenant, _) = tenant::open_or_create(&*storage, &data_dir, None, DEFAULT_TENANT_NAME, &env)
        .await
        .expect("the tenant");
    let pki = latchkey_server::certs::load(&*storage, &tenant)
        .await
        .expect("the tenant's CAs")
        .expect("the issuing CA (made by the service's first start)");
    open.close().await;
    latchkey_server::tls::acceptor(&tenant.ca, &pki.issuing, "localhost", env.clock.now())
        .expect("the balancer's TLS acceptor")
}

/// Headers of one hop, not passed on.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host" | "connection" | "content-length" | "transfer-encoding" | "keep-alive"
    )
}

/// Sends the request to the next upstream and passes its answer back (502 when none
/// answers).
async fn forward(State(up): State<Arc<Upstreams>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bad_gateway = || {
        Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .unwrap_or_default()
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return bad_gateway();
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let urls = up
        .urls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let routed = up
        .routes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|(p, _)| *p == parts.uri.path())
        .map(|(_, i)| *i % urls.len().max(1));
    let i = routed.unwrap_or_else(|| up.next.fetch_add(1, Ordering::SeqCst) % urls.len().max(1));
    let Some(base) = urls.get(i) else {
        return bad_gateway();
    };
    if let Some(hits) = up.hits.get(i) {
        hits.fetch_add(1, Ordering::SeqCst);
    }
    let mut request = up
        .client
        .request(parts.method, format!("{base}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return bad_gateway();
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    match answer.bytes().await {
        Ok(bytes) => response
            .body(Body::from(bytes))
            .unwrap_or_else(|_| bad_gateway()),
        Err(_) => bad_gateway(),
    }
}
