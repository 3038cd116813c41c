//! A TCP load balancer on loopback, as in front of replicas: each new connection goes to
//! the next replica in turn (round robin); a replica that refuses the connection (killed)
//! is skipped for the next one. TLS passes through: the replicas' certificates name
//! `localhost`, so a client of `https://localhost:PORT` talks to whichever replica it got.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A running balancer; its thread ends with the test process.
pub struct Balancer {
    addr: SocketAddr,
    hits: Arc<Vec<AtomicUsize>>,
}

impl Balancer {
    /// Balances over `upstreams` (`address:port` each).
    pub fn start(upstreams: Vec<String>) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the balancer");
        let addr = listener.local_addr().expect("balancer address");
        let hits: Arc<Vec<AtomicUsize>> =
            Arc::new(upstreams.iter().map(|_| AtomicUsize::new(0)).collect());
        let counted = hits.clone();
        std::thread::spawn(move || {
            let mut next = 0usize;
            for client in listener.incoming().map_while(Result::ok) {
                for _ in 0..upstreams.len() {
                    let i = next % upstreams.len();
                    next += 1;
                    if let Ok(upstream) = TcpStream::connect(&upstreams[i]) {
                        counted[i].fetch_add(1, Ordering::SeqCst);
                        splice(client, upstream);
                        break;
                    }
                }
            }
        });
        Balancer { addr, hits }
    }

    /// The URL clients use.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Connections each upstream got so far, in the order given.
    pub fn hits(&self) -> Vec<usize> {
        self.hits.iter().map(|h| h.load(Ordering::SeqCst)).collect()
    }
}

/// Copies each way until either side closes.
fn splice(client: TcpStream, upstream: TcpStream) {
    let (Ok(client_read), Ok(upstream_read)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    std::thread::spawn(move || pipe(client_read, upstream));
    std::thread::spawn(move || pipe(upstream_read, client));
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
