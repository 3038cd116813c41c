//! Small DER reading helpers over `asn1-rs` (as re-exported by `x509-parser`), for the
//! attestation extensions that X.509 libraries do not model (Android KeyDescription, Apple
//! nonce, FIDO AAGUID).

use x509_parser::asn1_rs::{Any, Class, FromDer, Tag};

/// One DER element: its class, tag number, constructed bit and contents.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub class: Class,
    pub tag: u32,
    pub contents: &'a [u8],
}

impl Tlv<'_> {
    /// Is this a universal element with tag `tag`?
    pub fn is_universal(&self, tag: Tag) -> bool {
        self.class == Class::Universal && self.tag == tag.0
    }

    /// Is this a context-specific element `[tag]`?
    pub fn is_context(&self, tag: u32) -> bool {
        self.class == Class::ContextSpecific && self.tag == tag
    }
}

/// Read one element from the front of `input`; returns it and the rest.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (rest, any) = Any::from_der(input).ok()?;
    Some((
        Tlv {
            class: any.header.class(),
            tag: any.header.tag().0,
            contents: any.data,
        },
        rest,
    ))
}

/// Read exactly one element (no trailing bytes).
pub(crate) fn read_single(input: &[u8]) -> Option<Tlv<'_>> {
    match read_tlv(input)? {
        (tlv, []) => Some(tlv),
        _ => None,
    }
}

/// All elements of a SEQUENCE's (or SET's, or explicit tag's) contents.
pub(crate) fn elements(mut contents: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !contents.is_empty() {
        let (tlv, rest) = read_tlv(contents)?;
        out.push(tlv);
        contents = rest;
    }
    Some(out)
}

/// The value of a small non-negative INTEGER's contents.
pub(crate) fn small_uint(contents: &[u8]) -> Option<u64> {
    let first = *contents.first()?;
    if contents.len() > 9 || first & 0x80 != 0 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in contents {
        v = v.checked_mul(256)?.checked_add(u64::from(b))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sequence_of_integers_and_high_tags() {
        // SEQUENCE { INTEGER 2, [702] EXPLICIT INTEGER 0 }
        let der = [
            0x30, 0x0a, 0x02, 0x01, 0x02, 0xbf, 0x85, 0x3e, 0x03, 0x02, 0x01, 0x00,
        ];
        let seq = read_single(&der).unwrap();
        assert!(seq.is_universal(Tag::Sequence));
        let items = elements(seq.contents).unwrap();
        assert_eq!(small_uint(items[0].contents), Some(2));
        assert!(items[1].is_context(702));
        let inner = read_single(items[1].contents).unwrap();
        assert_eq!(small_uint(inner.contents), Some(0));
        assert_eq!(small_uint(&[0x80]), None);
        assert_eq!(small_uint(&[]), None);
        assert_eq!(small_uint(&[0; 10]), None);
        assert_eq!(small_uint(&[0, 0xff]), Some(255));
    }
}
