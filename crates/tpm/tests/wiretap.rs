//! The PIN never crosses the wire to the TPM in clear: a recording proxy between the TSS
//! and swtpm sees every command byte of key creation, signing, PIN change and certify.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use latchkey_tpm::{Tcti, Tpm};

type Log = Arc<Mutex<Vec<u8>>>;

/// Copy `from` to `to`, appending every byte to `log`, until `from` closes.
fn pump(mut from: TcpStream, mut to: TcpStream, log: Log) {
    let mut buf = [0u8; 4096];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                log.lock().unwrap().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Forward connections on `listener` to `target`, logging both directions.
fn forward(listener: TcpListener, target: u16, sent: Log, received: Log) {
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { break };
            let server = TcpStream::connect(("127.0.0.1", target)).unwrap();
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (s, r) = (sent.clone(), received.clone());
            thread::spawn(move || pump(client, server, s));
            thread::spawn(move || pump(s2, c2, r));
        }
    });
}

/// A proxy on a free loopback port pair P, P + 1 to swtpm's command and control ports (the
/// swtpm TCTI uses both); returns P and the logs of the command port's bytes sent to the
/// TPM and received from it.
fn tap(tpm_port: u16) -> (u16, Log, Log) {
    let (listener, ctrl) = loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if let Ok(c) = TcpListener::bind(("127.0.0.1", p + 1)) {
            break (l, c);
        }
    };
    let port = listener.local_addr().unwrap().port();
    let (sent, received): (Log, Log) = Default::default();
    forward(listener, tpm_port, sent.clone(), received.clone());
    forward(ctrl, tpm_port + 1, Default::default(), Default::default());
    (port, sent, received)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_pin_is_sent_in_clear() {
    let fx = common::swtpm();
    let (port, sent, received) = tap(fx.swtpm.port());
    let tcti = Tcti::parse(&format!("swtpm:host=127.0.0.1,port={port}")).unwrap();
    let pin1 = b"first-PIN-sentinel-7f3a";
    let pin2 = b"second-PIN-sentinel-91c";
    let wrong = b"wrong-PIN-sentinel-5d2e";
    let modulus;
    {
        let mut tpm = Tpm::open(&tcti).unwrap();
        let aik = tpm.create_aik().unwrap();
        let key = tpm.create_hello_key(pin1).unwrap();
        modulus = key.rsa_public().unwrap().modulus;
        tpm.sign_message(&key, pin1, b"m").unwrap();
        assert_eq!(
            tpm.sign_message(&key, wrong, b"m").unwrap_err().code(),
            "LK-TPM-003"
        );
        let key = tpm.change_auth(&key, pin1, pin2).unwrap();
        tpm.sign_message(&key, pin2, b"m").unwrap();
        tpm.certify(&key, pin2, &aik, b"nonce").unwrap();
    }
    let sent = sent.lock().unwrap().clone();
    let received = received.lock().unwrap().clone();
    // The tap saw the traffic: the new key's modulus came back in TPM2_Create's response.
    assert!(contains(&received, &modulus));
    assert!(sent.len() > 1000, "{} bytes sent", sent.len());
    for (what, pin) in [
        ("first", &pin1[..]),
        ("second", &pin2[..]),
        ("wrong", &wrong[..]),
    ] {
        assert!(!contains(&sent, pin), "{what} PIN sent in clear");
        assert!(!contains(&received, pin), "{what} PIN received in clear");
    }
}
