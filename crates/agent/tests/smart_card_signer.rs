//! `latchkey pkcs11-signer`'s conversation, in-process: LOGIN unlocks like `signin` (a
//! wrong PIN counted in the same container, the lockout answered without trying the PIN),
//! SIGN signs only after a successful LOGIN, a broken frame ends the conversation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{world, PIN};
use latchkey_agent::prehashed::{HashAlg, Padding, Prehashed};
use latchkey_agent::signer_wire::{read_frame, Reply, Request};
use zeroize::Zeroizing;

fn requests(list: &[Request]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in list {
        r.write(&mut out).unwrap();
    }
    out
}

fn replies(mut bytes: &[u8]) -> Vec<Reply> {
    let mut out = Vec::new();
    while let Some(frame) = read_frame(&mut bytes).unwrap() {
        out.push(Reply::parse(&frame).unwrap());
    }
    out
}

fn login(pin: &str) -> Request {
    Request::Login(Zeroizing::new(pin.to_owned()))
}

#[test]
fn the_signer_counts_wrong_pins_like_signin_and_signs_after_login() {
    let w = world();
    let upn = "sig@example.com";
    let agent = w.enrolled(upn);
    let digest = HashAlg::Sha256.digest(b"m");
    let sign = Request::Sign(Prehashed::new(Padding::Pkcs1, HashAlg::Sha256, &digest).unwrap());

    let input = requests(&[login("000000"), login(PIN), sign]);
    let mut output = Vec::new();
    agent
        .pkcs11_signer(upn, &mut input.as_slice(), &mut output)
        .unwrap();
    let got = replies(&output);
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], Reply::WrongPin(Some(4)));
    let Reply::Ok(blob) = &got[1] else {
        panic!("{got:?}")
    };
    let public = latchkey_proto::bcrypt::RsaPublicBlob::from_bytes(blob).unwrap();
    assert_eq!(
        hex::encode(public.key_id()),
        agent.container(upn).unwrap().unwrap().key_id
    );
    let Reply::Ok(sig) = &got[2] else {
        panic!("{got:?}")
    };
    assert_eq!(sig.len(), 256);
    // The right PIN reset the counter, as a sign-in does; the events say what happened.
    assert_eq!(agent.container(upn).unwrap().unwrap().lockout.failures, 0);
    let ids: Vec<u32> = agent.events().unwrap().iter().map(|e| e.id).collect();
    assert!(ids.contains(&391) && ids.contains(&390), "{ids:?}");
}

#[test]
fn the_lockout_is_answered_without_trying_the_pin_and_protocol_errors_end_it() {
    let w = world();
    let upn = "lock@example.com";
    let agent = w.enrolled(upn);
    for _ in 0..5 {
        let _ = agent.signin(upn, "000000");
    }
    let path = w
        .state
        .path(&latchkey_agent::records::user_file("hello", upn));
    let before = std::fs::read(&path).unwrap();
    let input = requests(&[login(PIN)]);
    let mut output = Vec::new();
    agent
        .pkcs11_signer(upn, &mut input.as_slice(), &mut output)
        .unwrap();
    assert!(
        matches!(replies(&output)[..], [Reply::Locked(Some(_))]),
        "{output:?}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the container is not written"
    );
    assert!(agent.events().unwrap().iter().any(|e| e.id == 392));

    // SIGN before a successful LOGIN: an error, and the conversation ends there.
    let digest = HashAlg::Sha256.digest(b"m");
    let sign = Request::Sign(Prehashed::new(Padding::Pkcs1, HashAlg::Sha256, &digest).unwrap());
    let input = requests(&[sign, login(PIN)]);
    let mut output = Vec::new();
    let err = agent
        .pkcs11_signer(upn, &mut input.as_slice(), &mut output)
        .unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-033");
    assert!(matches!(&replies(&output)[..], [Reply::Error(m)] if m.starts_with("LK-AGENT-033")));

    // An oversized frame is refused before it is read.
    let mut output = Vec::new();
    let huge = (1u32 << 30).to_be_bytes();
    let err = agent
        .pkcs11_signer(upn, &mut huge.as_slice(), &mut output)
        .unwrap_err();
    assert_eq!(err.code(), "LK-AGENT-033");
}
