//! The signer child: the real `latchkey` binary running `latchkey pkcs11-signer`, which
//! unlocks the Hello key and signs, so the key never enters the consumer's process.
//!
//! Which binary: `LATCHKEY_AGENT_BIN` when set; else `latchkey` in the directory of the
//! module file itself (found in `/proc/self/maps`); else `latchkey` on `PATH`.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_agent::prehashed::Prehashed;
use latchkey_agent::signer_wire::{read_frame, Reply, Request};
use zeroize::Zeroizing;

use crate::error::{debug_enabled, P11Error, Result};
use crate::token::RsaPublic;

/// How long the module waits for the signer to exit after closing its input, before it
/// kills it.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// The signer binary to start.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("LATCHKEY_AGENT_BIN") {
        return PathBuf::from(bin);
    }
    if let Some(dir) = module_dir() {
        let candidate = dir.join("latchkey");
        if candidate.is_file() {
            return candidate;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("latchkey");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from("latchkey")
}

/// The directory of the file this code was loaded from: the mapping in
/// `/proc/self/maps` that contains the address of this function.
fn module_dir() -> Option<PathBuf> {
    let here = module_dir as fn() -> Option<PathBuf> as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps_path(&maps, here).and_then(|p| p.parent().map(Path::to_path_buf))
}

/// The path of the mapping in `maps` (the `/proc/self/maps` format) that contains `addr`.
pub fn maps_path(maps: &str, addr: usize) -> Option<PathBuf> {
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let range = fields.next()?;
        let (start, end) = range.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        if !(start <= addr && addr < end) {
            return None;
        }
        let path = fields.nth(4)?;
        path.starts_with('/').then(|| PathBuf::from(path))
    })
}

/// The module's end of the socket pair that is the signer's stdin and stdout. Writes use
/// `MSG_NOSIGNAL`: when the signer has gone, a write fails with EPIPE instead of raising
/// SIGPIPE in the consumer (whose default action would end it).
struct Channel(UnixStream);

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        rustix::net::send(&self.0, buf, rustix::net::SendFlags::NOSIGNAL).map_err(Into::into)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A running, logged-in signer.
pub struct Signer {
    child: Child,
    input: Option<Channel>,
    output: BufReader<UnixStream>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(pid {})", self.child.id())
    }
}

fn signer_err(what: impl std::fmt::Display) -> P11Error {
    P11Error::Signer(format!("the signer (latchkey pkcs11-signer): {what}"))
}

impl Signer {
    /// Starts the signer for `upn` on `state_dir` and logs in with `pin`: the signer and
    /// the key's public half.
    pub fn login(state_dir: &Path, upn: &str, pin: &str) -> Result<(Signer, RsaPublic)> {
        let bin = binary();
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| signer_err(format!("socketpair: {e}")))?;
        let theirs_out = theirs
            .try_clone()
            .map_err(|e| signer_err(format!("socketpair: {e}")))?;
        let reader = ours
            .try_clone()
            .map_err(|e| signer_err(format!("socketpair: {e}")))?;
        let child = Command::new(&bin)
            .arg("--state-dir")
            .arg(state_dir)
            .args(["pkcs11-signer", "--user", upn])
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs_out)))
            .stderr(if debug_enabled() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .map_err(|e| signer_err(format!("cannot start {}: {e}", bin.display())))?;
        let mut signer = Signer {
            child,
            input: Some(Channel(ours)),
            output: BufReader::new(reader),
        };
        let reply = signer.ask(&Request::Login(Zeroizing::new(pin.to_owned())))?;
        match reply {
            Reply::Ok(blob) => {
                let public = RsaPublic::from_blob(&blob)
                    .ok_or_else(|| signer_err("the public key it sent is not a BCRYPT blob"))?;
                Ok((signer, public))
            }
            Reply::WrongPin(left) => Err(P11Error::PinIncorrect(left)),
            Reply::Locked(wait) => Err(P11Error::PinLocked(wait)),
            Reply::Error(message) if message.starts_with("LK-PIN-006") => {
                Err(P11Error::PinExpired(message))
            }
            Reply::Error(message) => Err(signer_err(message)),
        }
    }

    /// Signs `prehashed`.
    pub fn sign(&mut self, prehashed: &Prehashed) -> Result<Vec<u8>> {
        match self.ask(&Request::Sign(prehashed.clone()))? {
            Reply::Ok(signature) => Ok(signature),
            Reply::Error(message) if message.starts_with("LK-AGENT-032") => Err(P11Error::Data {
                reason: message,
                too_long: false,
            }),
            Reply::Error(message) => Err(signer_err(message)),
            other => Err(signer_err(format!("unexpected reply {other:?}"))),
        }
    }

    fn ask(&mut self, request: &Request) -> Result<Reply> {
        let input = self
            .input
            .as_mut()
            .ok_or_else(|| signer_err("its input is closed"))?;
        request.write(input).map_err(signer_err)?;
        let frame = read_frame(&mut self.output)
            .map_err(signer_err)?
            .ok_or_else(|| signer_err("it exited"))?;
        Reply::parse(&frame).map_err(signer_err)
    }
}

impl Drop for Signer {
    /// Closes the signer's input (it exits at the end of its input) and reaps it; one that
    /// has not exited within [`EXIT_WAIT`] is killed.
    fn drop(&mut self) {
        if let Some(channel) = self.input.take() {
            // Both module-side handles share the socket: shut its writing half so the
            // signer reads the end of its input.
            let _ = channel.0.shutdown(std::net::Shutdown::Write);
        }
        let deadline = Instant::now() + EXIT_WAIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_mapping_containing_an_address_is_found() {
        let maps = "\
00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus-daemon
7f0000000000-7f0000010000 r-xp 00000000 08:02 1 /opt/lk/liblatchkey_pkcs11.so
7f0000010000-7f0000020000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0 [vdso]
";
        assert_eq!(
            maps_path(maps, 0x7f0000000100),
            Some(PathBuf::from("/opt/lk/liblatchkey_pkcs11.so"))
        );
        assert_eq!(maps_path(maps, 0x7f0000010100), None, "anonymous mapping");
        assert_eq!(maps_path(maps, 0x7ffd00000010), None, "not a file");
        assert_eq!(maps_path(maps, 0x10), None);
        // This test binary finds itself.
        assert!(module_dir().is_some());
    }
}
