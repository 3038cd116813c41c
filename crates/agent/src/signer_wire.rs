//! The smart-card signer's wire protocol: what the PKCS#11 module (in the consumer's
//! process) and `latchkey pkcs11-signer` (the process that holds the key) say to each
//! other over the signer's stdin and stdout.
//!
//! ```text
//! frame   = length (u32, big-endian, 1..=MAX_FRAME) || tag (u8) || body
//! request = 0x01 LOGIN  body: the PIN, UTF-8, 1..=MAX_PIN bytes
//!         | 0x02 SIGN   body: padding (1 PKCS#1 v1.5, 2 PSS) || hash (1 SHA-1, 2 SHA-256,
//!                             3 SHA-384, 4 SHA-512) || digest
//! reply   = 0x80 OK        body: LOGIN: the key's BCRYPT_RSAPUBLIC_BLOB; SIGN: the signature
//!         | 0x81 WRONG_PIN body: tries left (u32, big-endian; u32::MAX when unknown)
//!         | 0x82 LOCKED    body: seconds to wait (u64, big-endian; 0 when unknown)
//!         | 0x83 ERROR     body: `LK-...: message`, UTF-8
//! ```
//!
//! One reply answers each request, in order. A frame longer than [`MAX_FRAME`] is refused
//! before it is read; an unknown tag, a body of the wrong form, or a SIGN before a
//! successful LOGIN ends the conversation with an ERROR.

use std::io::{Read, Write};

use zeroize::Zeroizing;

use crate::error::AgentError;
use crate::prehashed::{HashAlg, Padding, Prehashed};

/// The longest frame either side accepts (tag and body).
pub const MAX_FRAME: usize = 16 * 1024;
/// The longest PIN (bytes) a LOGIN carries.
pub const MAX_PIN: usize = 256;

const LOGIN: u8 = 0x01;
const SIGN: u8 = 0x02;
const OK: u8 = 0x80;
const WRONG_PIN: u8 = 0x81;
const LOCKED: u8 = 0x82;
const ERROR: u8 = 0x83;

/// What the module asks.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Unlock the key with this PIN.
    Login(Zeroizing<String>),
    /// Sign this digest.
    Sign(Prehashed),
}

/// What the signer answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Done: the public blob (LOGIN) or the signature (SIGN).
    Ok(Vec<u8>),
    /// The PIN was wrong and counted; tries left when known.
    WrongPin(Option<u32>),
    /// Locked out: no PIN was tried; seconds to wait when known.
    Locked(Option<u64>),
    /// Anything else, with its stable code first.
    Error(String),
}

fn protocol(reason: impl Into<String>) -> AgentError {
    AgentError::SignerProtocol {
        reason: reason.into(),
    }
}

/// Reads one frame: `None` at a clean end of input (no byte of a new frame).
pub fn read_frame(input: &mut dyn Read) -> Result<Option<Zeroizing<Vec<u8>>>, AgentError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let buf = len.get_mut(got..).unwrap_or_default();
        match input.read(buf) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(protocol("the input ended inside a frame's length")),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(protocol(format!("reading a frame: {e}"))),
        }
    }
    let n = u32::from_be_bytes(len) as usize;
    if n == 0 || n > MAX_FRAME {
        return Err(protocol(format!(
            "a frame of {n} bytes (1 to {MAX_FRAME} are accepted)"
        )));
    }
    let mut frame = Zeroizing::new(vec![0u8; n]);
    input
        .read_exact(&mut frame)
        .map_err(|e| protocol(format!("the input ended inside a frame: {e}")))?;
    Ok(Some(frame))
}

/// Writes one frame of `tag` and `body` and flushes it.
pub fn write_frame(output: &mut dyn Write, tag: u8, body: &[u8]) -> Result<(), AgentError> {
    let n = body.len() + 1;
    if n > MAX_FRAME {
        return Err(protocol(format!("a frame of {n} bytes is too long")));
    }
    let mut frame = Zeroizing::new(Vec::with_capacity(n + 4));
    frame.extend_from_slice(&(n as u32).to_be_bytes());
    frame.push(tag);
    frame.extend_from_slice(body);
    output
        .write_all(&frame)
        .and_then(|()| output.flush())
        .map_err(|e| protocol(format!("writing a frame: {e}")))
}

impl Request {
    /// Writes the request.
    pub fn write(&self, output: &mut dyn Write) -> Result<(), AgentError> {
        match self {
            Request::Login(pin) => write_frame(output, LOGIN, pin.as_bytes()),
            Request::Sign(p) => {
                let mut body = vec![
                    match p.padding() {
                        Padding::Pkcs1 => 1,
                        Padding::Pss => 2,
                    },
                    p.hash().to_wire(),
                ];
                body.extend_from_slice(p.digest());
                write_frame(output, SIGN, &body)
            }
        }
    }

    /// Parses a request frame.
    pub fn parse(frame: &[u8]) -> Result<Self, AgentError> {
        match frame.split_first() {
            Some((&LOGIN, pin)) => {
                if pin.is_empty() || pin.len() > MAX_PIN {
                    return Err(protocol(format!(
                        "a PIN of {} bytes (1 to {MAX_PIN} are accepted)",
                        pin.len()
                    )));
                }
                let pin = std::str::from_utf8(pin).map_err(|_| protocol("the PIN is not UTF-8"))?;
                Ok(Request::Login(Zeroizing::new(pin.to_owned())))
            }
            Some((&SIGN, [padding, hash, digest @ ..])) => {
                let padding = match padding {
                    1 => Padding::Pkcs1,
                    2 => Padding::Pss,
                    other => return Err(protocol(format!("unknown padding {other}"))),
                };
                let hash = HashAlg::from_wire(*hash)
                    .ok_or_else(|| protocol(format!("unknown hash {hash}")))?;
                Ok(Request::Sign(Prehashed::new(padding, hash, digest)?))
            }
            Some((tag, _)) => Err(protocol(format!("unknown request 0x{tag:02x}"))),
            None => Err(protocol("an empty frame")),
        }
    }
}

impl Reply {
    /// Writes the reply.
    pub fn write(&self, output: &mut dyn Write) -> Result<(), AgentError> {
        match self {
            Reply::Ok(body) => write_frame(output, OK, body),
            Reply::WrongPin(left) => {
                write_frame(output, WRONG_PIN, &left.unwrap_or(u32::MAX).to_be_bytes())
            }
            Reply::Locked(wait) => write_frame(output, LOCKED, &wait.unwrap_or(0).to_be_bytes()),
            Reply::Error(message) => {
                let mut end = message.len().min(MAX_FRAME - 1);
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                write_frame(
                    output,
                    ERROR,
                    message.get(..end).unwrap_or_default().as_bytes(),
                )
            }
        }
    }

    /// Parses a reply frame.
    pub fn parse(frame: &[u8]) -> Result<Self, AgentError> {
        match frame.split_first() {
            Some((&OK, body)) => Ok(Reply::Ok(body.to_vec())),
            Some((&WRONG_PIN, body)) => {
                let left: [u8; 4] = body
                    .try_into()
                    .map_err(|_| protocol("a WRONG_PIN reply is 4 bytes"))?;
                let left = u32::from_be_bytes(left);
                Ok(Reply::WrongPin((left != u32::MAX).then_some(left)))
            }
            Some((&LOCKED, body)) => {
                let wait: [u8; 8] = body
                    .try_into()
                    .map_err(|_| protocol("a LOCKED reply is 8 bytes"))?;
                let wait = u64::from_be_bytes(wait);
                Ok(Reply::Locked((wait != 0).then_some(wait)))
            }
            Some((&ERROR, body)) => Ok(Reply::Error(String::from_utf8_lossy(body).into_owned())),
            Some((tag, _)) => Err(protocol(format!("unknown reply 0x{tag:02x}"))),
            None => Err(protocol("an empty frame")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_request(r: &Request) -> Request {
        let mut buf = Vec::new();
        r.write(&mut buf).unwrap();
        let frame = read_frame(&mut buf.as_slice()).unwrap().unwrap();
        Request::parse(&frame).unwrap()
    }

    #[test]
    fn requests_and_replies_round_trip() {
        let login = Request::Login(Zeroizing::new("864213".to_owned()));
        assert_eq!(round_trip_request(&login), login);
        let sign = Request::Sign(Prehashed::new(Padding::Pss, HashAlg::Sha384, &[7; 48]).unwrap());
        assert_eq!(round_trip_request(&sign), sign);
        for reply in [
            Reply::Ok(vec![1, 2, 3]),
            Reply::WrongPin(Some(3)),
            Reply::WrongPin(None),
            Reply::Locked(Some(60)),
            Reply::Locked(None),
            Reply::Error("LK-AGENT-032: no".to_owned()),
        ] {
            let mut buf = Vec::new();
            reply.write(&mut buf).unwrap();
            let frame = read_frame(&mut buf.as_slice()).unwrap().unwrap();
            assert_eq!(Reply::parse(&frame).unwrap(), reply);
        }
    }

    #[test]
    fn oversized_truncated_and_unknown_frames_are_refused() {
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        let err = read_frame(&mut huge.as_slice()).unwrap_err();
        assert_eq!(err.code(), "LK-AGENT-033");
        assert!(read_frame(&mut [0u8, 0, 0, 0].as_slice()).is_err());
        assert!(read_frame(&mut [0u8, 0].as_slice()).is_err());
        assert!(read_frame(&mut [0u8, 0, 0, 5, 1].as_slice()).is_err());
        assert!(read_frame(&mut [].as_slice()).unwrap().is_none());
        assert!(Request::parse(&[9, 1]).is_err());
        assert!(Request::parse(&[LOGIN]).is_err());
        assert!(Request::parse(&[LOGIN, 0xff]).is_err());
        let mut long_pin = vec![LOGIN];
        long_pin.extend(std::iter::repeat_n(b'1', MAX_PIN + 1));
        assert!(Request::parse(&long_pin).is_err());
        assert!(Request::parse(&[SIGN, 1, 2, 0]).is_err(), "short digest");
        assert!(Request::parse(&[SIGN, 3, 2]).is_err(), "unknown padding");
        assert!(Reply::parse(&[WRONG_PIN, 0]).is_err());
    }
}
