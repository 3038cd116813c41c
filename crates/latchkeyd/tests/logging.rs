//! `latchkeyd serve`'s log: text by default with a line per request at the default level,
//! one JSON object per line with `--log-format json` or `LATCHKEY_LOG_FORMAT=json`, and the
//! administration commands quiet unless `RUST_LOG` asks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::BIN;

/// A running `latchkeyd serve` on plain HTTP, its standard error kept.
struct Served {
    child: Child,
    addr: String,
}

impl Served {
    fn start(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--insecure-http"])
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .env_remove("RUST_LOG")
            .env_remove("LATCHKEY_LOG_FORMAT")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let addr = loop {
            // The service's own "listening" line; the timeout only bounds a hang.
            let line = rx.recv_timeout(Duration::from_secs(60)).unwrap();
            if let Some(url) = line.split("listening on http://").nth(1) {
                break url.trim().to_owned();
            }
        };
        Served { child, addr }
    }

    /// GET `path` over plain HTTP/1.1; the status.
    fn get(&self, path: &str) -> u16 {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        answer.split(' ').nth(1).unwrap().parse().unwrap()
    }

    /// Stops the service (SIGKILL: every line was written when its request was answered)
    /// and returns what it wrote on standard error.
    fn stop(mut self) -> String {
        self.child.kill().unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let _ = self.child.wait();
        err
    }
}

fn check_json_lines(log: &str) -> Vec<serde_json::Value> {
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l}"));
            assert!(v.is_object(), "{l}");
            v
        })
        .collect();
    assert!(!lines.is_empty());
    lines
}

#[test]
fn json_format_gives_one_object_per_line_with_the_request_fields() {
    for (args, env) in [
        (&["--log-format", "json"][..], &[][..]),
        (&[][..], &[("LATCHKEY_LOG_FORMAT", "json")][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let served = Served::start(&dir.path().join("data"), args, env);
        assert_eq!(served.get("/v1/tenant?token=s3cr3t-in-query"), 200);
        assert_eq!(served.get("/no/such/path-777"), 404);
        let log = served.stop();
        let lines = check_json_lines(&log);
        let started = lines
            .iter()
            .find(|l| l["fields"]["message"] == "service started")
            .unwrap_or_else(|| panic!("no start-up line: {log}"));
        assert_eq!(started["level"], "INFO");
        assert!(started["fields"]["version"].is_string());
        let requests: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["target"] == "latchkey::request")
            .collect();
        assert_eq!(requests.len(), 2, "{log}");
        let ok = &requests[0]["fields"];
        assert_eq!(ok["method"], "GET");
        assert_eq!(ok["route"], "/v1/tenant");
        assert_eq!(ok["status"], 200);
        assert!(ok["latency_ms"].is_number());
        assert_eq!(ok["request_id"].as_str().unwrap().len(), 16);
        assert!(ok["tenant"].is_string());
        assert!(ok.get("code").is_none(), "{ok}");
        let missing = &requests[1]["fields"];
        assert_eq!(missing["route"], "unmatched");
        assert_eq!(missing["status"], 404);
        assert_eq!(missing["code"], "LK-REQ-004");
        assert!(!log.contains("s3cr3t"), "no query string in the log");
        assert!(!log.contains("path-777"), "no raw path in the log");
    }
}

#[test]
fn text_is_the_default_and_serve_logs_requests_at_its_default_level() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(&dir.path().join("data"), &[], &[]);
    assert_eq!(served.get("/healthz"), 200);
    let log = served.stop();
    assert!(
        !log.trim_start().starts_with('{'),
        "text, not JSON, by default: {log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("latchkey::request"))
        .unwrap_or_else(|| panic!("no request line at the default level: {log}"));
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains("route=/healthz status=200"), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "no colours when not on a terminal: {line}"
    );
    // RUST_LOG=warn silences the request lines.
    let served = Served::start(&dir.path().join("data"), &[], &[("RUST_LOG", "warn")]);
    assert_eq!(served.get("/healthz"), 200);
    let log = served.stop();
    assert!(!log.contains("latchkey::request"), "{log}");
}

#[test]
fn admin_commands_log_only_warnings_by_default_and_refuse_an_unknown_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Create the tenant, then run an admin command: nothing at INFO on its standard error.
    let served = Served::start(&data, &[], &[]);
    served.stop();
    let out = Command::new(BIN)
        .args(["tenant", "show", "--data-dir"])
        .arg(&data)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains(" INFO "), "{err}");
    let out = Command::new(BIN)
        .args(["--log-format", "xml", "tenant", "show", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("xml") && err.contains("json"), "{err}");
}
