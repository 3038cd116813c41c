//! The configuration file with the real binary: `config check`, the order file <
//! `LATCHKEY_*` variable < flag, `serve` and the admin commands reading the file, and each
//! kind of bad file refused with its code before anything is started or written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_latchkeyd");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `latchkeyd ARGS` with exactly the `LATCHKEY_*` variables given.
fn latchkeyd(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("LATCHKEY_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.display().to_string()
}

/// The value `config check` reports for `key` in `section`, and its source comment.
fn setting(out: &Out, section: &str, key: &str) -> String {
    let mut current = String::new();
    for line in out.stdout.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
        } else if current == section && line.starts_with(&format!("{key} = ")) {
            return line[key.len() + 3..].to_owned();
        }
    }
    panic!("no {section}.{key} in\n{}", out.stdout);
}

#[test]
fn a_flag_beats_a_variable_beats_the_file_beats_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir.path().join("latchkeyd.toml"),
        "data_dir = \"/srv/from-file\"\n[serve]\nlisten = \"127.0.0.1:1111\"\n\
         tenant_name = \"File Corp\"\n[connections]\nidle_timeout = \"90s\"\n",
    );
    let env = [("LATCHKEY_LISTEN", "127.0.0.1:2222")];

    let flag = latchkeyd(
        &[
            "--config",
            &file,
            "config",
            "check",
            "--listen",
            "127.0.0.1:3333",
        ],
        &env,
    );
    assert_eq!(flag.code, 0, "{}", flag.stderr);
    assert_eq!(
        setting(&flag, "serve", "listen"),
        "\"127.0.0.1:3333\"  # flag or environment"
    );
    let variable = latchkeyd(&["--config", &file, "config", "check"], &env);
    assert_eq!(
        setting(&variable, "serve", "listen"),
        "\"127.0.0.1:2222\"  # flag or environment"
    );
    let from_file = latchkeyd(&["--config", &file, "config", "check"], &[]);
    assert_eq!(
        setting(&from_file, "serve", "listen"),
        "\"127.0.0.1:1111\"  # file"
    );
    assert_eq!(
        setting(&from_file, "", "data_dir"),
        "\"/srv/from-file\"  # file"
    );
    assert_eq!(
        setting(&from_file, "serve", "tenant_name"),
        "\"File Corp\"  # file"
    );
    assert_eq!(
        setting(&from_file, "connections", "idle_timeout"),
        "\"90s\"  # file"
    );
    assert_eq!(
        setting(&from_file, "connections", "body_timeout"),
        "\"30s\"  # default"
    );
    assert!(
        from_file
            .stdout
            .contains(&format!("# configuration file: {file}")),
        "{}",
        from_file.stdout
    );
    assert!(
        from_file
            .stdout
            .contains("does not exist: serve creates it"),
        "{}",
        from_file.stdout
    );

    // The variable form of the file given through LATCHKEY_CONFIG, and no file at all.
    let via_env = latchkeyd(&["config", "check"], &[("LATCHKEY_CONFIG", file.as_str())]);
    assert_eq!(
        setting(&via_env, "serve", "listen"),
        "\"127.0.0.1:1111\"  # file"
    );
    let none = latchkeyd(&["config", "check", "--data-dir", "/srv/flag"], &[]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert_eq!(
        setting(&none, "serve", "listen"),
        "\"127.0.0.1:8443\"  # default"
    );
    assert_eq!(
        setting(&none, "", "data_dir"),
        "\"/srv/flag\"  # flag or environment"
    );

    // The printed settings are themselves a valid configuration file that says the same.
    let again_file = write(&dir.path().join("effective.toml"), &flag.stdout);
    let again = latchkeyd(&["--config", &again_file, "config", "check"], &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        setting(&again, "serve", "listen"),
        "\"127.0.0.1:3333\"  # file"
    );

    // --insecure-http=false turns off what the file turned on.
    let on = write(
        &dir.path().join("on.toml"),
        "[serve]\ninsecure_http = true\n",
    );
    let off = latchkeyd(
        &["--config", &on, "config", "check", "--insecure-http=false"],
        &[],
    );
    assert_eq!(
        setting(&off, "serve", "insecure_http"),
        "false  # flag or environment"
    );
    let json = latchkeyd(&["--config", &on, "--json", "config", "check"], &[]);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(parsed["settings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["key"] == "insecure_http" && s["value"] == "true" && s["source"] == "file"));
}

#[test]
fn bad_files_and_values_are_refused_with_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml").display().to_string();
    for (text, code, words) in [
        (None, "LK-CFG-001", vec![missing.as_str()]),
        (
            Some("[serve]\nlisten_address = \"0.0.0.0:1\"\n"),
            "LK-CFG-002",
            vec!["listen_address", "line 2"],
        ),
        (Some("[serve\n"), "LK-CFG-002", vec!["line 1"]),
        (
            Some("[serve]\nlisten = 8443\n"),
            "LK-CFG-002",
            vec!["listen"],
        ),
        (
            Some("[connections]\nidle_timeout = \"forever\"\n"),
            "LK-CFG-003",
            vec!["idle_timeout", "\"forever\""],
        ),
        (
            Some("[connections]\nmax_header_bytes = 10\n"),
            "LK-CFG-003",
            vec!["max_header_bytes must be at least 1024"],
        ),
        (
            Some("[serve]\nlisten = \"0.0.0.0:8443\"\ninsecure_http = true\n"),
            "LK-CFG-003",
            vec!["loopback", "0.0.0.0"],
        ),
        (
            Some("[serve]\npublic_url = \"https://admin:pw@id.example\"\n"),
            "LK-CFG-003",
            vec!["user name or password"],
        ),
        (
            Some("[serve]\nissuing_ca_algorithm = \"dsa\"\n"),
            "LK-CFG-003",
            vec!["p256 or rsa3072"],
        ),
        (
            Some("[log]\nformat = \"xml\"\n"),
            "LK-CFG-003",
            vec!["text or json"],
        ),
        (
            Some("[log]\nlevel = \"info,[\"\n"),
            "LK-CFG-003",
            vec!["not a log filter"],
        ),
    ] {
        let path = match text {
            Some(text) => write(&dir.path().join("bad.toml"), text),
            None => missing.clone(),
        };
        let data = dir.path().join("data").display().to_string();
        for args in [
            vec!["--config", &path, "config", "check"],
            vec!["--config", &path, "--data-dir", &data, "user", "list"],
        ] {
            let out = latchkeyd(&args, &[]);
            assert_eq!(out.code, 1, "{text:?} {args:?}: {}", out.stdout);
            assert!(
                out.stderr.starts_with(&format!("error: {code}: ")),
                "{text:?}: {}",
                out.stderr
            );
            for word in &words {
                assert!(
                    out.stderr.contains(word),
                    "{text:?}: {word:?} not in {}",
                    out.stderr
                );
            }
        }
    }
    assert!(
        !dir.path().join("data").exists(),
        "a refused command wrote its data directory"
    );
    // A file that is not private is refused by check, as serve would refuse it.
    let key = dir.path().join("kek");
    std::fs::write(&key, "00").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let conf = write(
        &dir.path().join("k.toml"),
        &format!("key_file = {:?}\n", key.display().to_string()),
    );
    let out = latchkeyd(&["--config", &conf, "config", "check"], &[]);
    assert!(
        out.stderr.starts_with("error: LK-CFG-003: ") && out.stderr.contains("chmod 600"),
        "{}",
        out.stderr
    );
}

/// Starts `serve` with `args` and `env`; the child and its banner up to the listening line.
fn serve(args: &[&str], env: &[(&str, &str)]) -> (Child, Vec<String>) {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("LATCHKEY_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "serve exited: {lines:?}"
        );
        let done = line.starts_with("listening on ");
        lines.push(line.trim_end().to_owned());
        if done {
            break;
        }
    }
    (child, lines)
}

fn stop(mut child: Child) -> String {
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn serve_and_the_admin_commands_take_their_settings_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = write(
        &dir.path().join("latchkeyd.toml"),
        &format!(
            "data_dir = {:?}\n[serve]\nlisten = \"127.0.0.1:0\"\ninsecure_http = true\ntenant_name = \"File Corp\"\n",
            data.display().to_string()
        ),
    );
    let (child, banner) = serve(&["--config", &file], &[]);
    let text = banner.join("\n");
    assert!(text.contains("created tenant File Corp"), "{text}");
    assert!(
        banner
            .last()
            .unwrap()
            .starts_with("listening on http://localhost:"),
        "{text}"
    );
    assert!(data.join("ca.pem").is_file());
    stop(child);

    // The admin commands find the data directory through the same file.
    let show = latchkeyd(&["--config", &file, "--json", "tenant", "show"], &[]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let tenant: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(tenant["name"], "File Corp");

    // A variable beats the file: HTTPS again; and a name that differs from the stored one is
    // reported, not silently ignored.
    let (child, banner) = serve(
        &["--config", &file, "--tenant-name", "Other Corp"],
        &[("LATCHKEY_INSECURE_HTTP", "false")],
    );
    assert!(
        banner.last().unwrap().starts_with("listening on https://"),
        "{banner:?}"
    );
    let stderr = stop(child);
    assert!(
        stderr.contains("warning: the tenant name \"Other Corp\" given to serve differs from the tenant's name \"File Corp\""),
        "{stderr}"
    );
}

#[test]
fn init_names_the_tenant_from_the_settings_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir.path().join("latchkeyd.toml"),
        "[serve]\ntenant_name = \"File Corp\"\n",
    );
    for (name, extra, expected) in [
        ("a", vec![], "File Corp"),
        ("b", vec!["--tenant-name", "Flag Corp"], "Flag Corp"),
    ] {
        let data = dir.path().join(name).display().to_string();
        let mut args = vec!["--config", file.as_str(), "--data-dir", &data, "init"];
        args.extend(extra);
        let out = latchkeyd(&args, &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let show = latchkeyd(&["--data-dir", &data, "--json", "tenant", "show"], &[]);
        let tenant: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
        assert_eq!(tenant["name"], expected);
    }
}
