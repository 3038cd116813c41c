//! Whether a credential public key is acceptable at all, whatever vouches for it: an RSA
//! modulus of 2048 to 4096 bits with an odd public exponent of at least 3 (and at most 32
//! bits, what signature verification accepts), an EC point on its curve (which also
//! excludes the point at infinity, not representable as `04 || x || y`) with coordinates
//! below the field prime. Pure; public keys only, so nothing here needs constant time.
//!
//! ```text
//! P-256, P-384 (SEC 2, FIPS 186-4 D.1.2):  y^2 = x^3 - 3x + b  (mod p)
//! ```

use num_bigint::BigUint;

use crate::crypto::{strip_zeros, Curve, PublicKey};

/// The smallest RSA modulus accepted, bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, bits.
pub const MAX_RSA_BITS: usize = 4096;

const P256_P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
const P256_B: &str = "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b";
const P384_P: &str = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff";
const P384_B: &str = "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef";

fn hex(text: &str) -> BigUint {
    BigUint::parse_bytes(text.as_bytes(), 16).unwrap_or_default()
}

/// Bits of a big-endian unsigned integer.
fn bit_len(be: &[u8]) -> usize {
    let be = strip_zeros(be);
    match be.first() {
        Some(first) => (be.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        None => 0,
    }
}

/// Checks `key`; the error says what is wrong.
pub fn check(key: &PublicKey) -> Result<(), String> {
    match key {
        PublicKey::Rsa { n, e } => check_rsa(n, e),
        PublicKey::Ec { curve, point } => check_ec(*curve, point),
        PublicKey::Ed25519(x) if x.len() == 32 => Ok(()),
        PublicKey::Ed25519(_) => Err("an Ed25519 key is 32 bytes".into()),
    }
}

fn check_rsa(n: &[u8], e: &[u8]) -> Result<(), String> {
    let bits = bit_len(n);
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(format!(
            "RSA modulus of {bits} bits; {MIN_RSA_BITS} to {MAX_RSA_BITS} are accepted"
        ));
    }
    if n.last().is_none_or(|b| b % 2 == 0) {
        return Err("RSA modulus is even".into());
    }
    let e_bits = bit_len(e);
    let odd = e.last().is_some_and(|b| b % 2 == 1);
    if e_bits > 32 || !odd || (e_bits <= 2 && strip_zeros(e).first().is_none_or(|b| *b < 3)) {
        return Err("RSA public exponent must be odd, at least 3 and at most 32 bits".into());
    }
    Ok(())
}

fn check_ec(curve: Curve, point: &[u8]) -> Result<(), String> {
    let (len, p, b) = match curve {
        Curve::P256 => (32, hex(P256_P), hex(P256_B)),
        Curve::P384 => (48, hex(P384_P), hex(P384_B)),
    };
    let (tag, xy) = point.split_first().ok_or("empty EC point")?;
    if *tag != 0x04 || xy.len() != 2 * len {
        return Err("EC point is not an uncompressed point of its curve".into());
    }
    let (x, y) = xy.split_at(len);
    let (x, y) = (BigUint::from_bytes_be(x), BigUint::from_bytes_be(y));
    if x >= p || y >= p {
        return Err("EC coordinate not below the field prime".into());
    }
    let lhs = (&y * &y) % &p;
    // x^3 - 3x + b, kept non-negative by adding 3p.
    let rhs = ((&x * &x % &p) * &x + &b + 3u32 * &p - 3u32 * &x) % &p;
    if lhs != rhs {
        return Err("EC point is not on the curve".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        hex(text).to_bytes_be()
    }

    /// The generator of each curve (SEC 2), `04 || x || y`.
    fn generator(curve: Curve) -> Vec<u8> {
        let (x, y) = match curve {
            Curve::P256 => (
                "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
                "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
            ),
            Curve::P384 => (
                "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
                "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
            ),
        };
        let mut point = vec![0x04];
        point.extend(unhex(x));
        point.extend(unhex(y));
        point
    }

    #[test]
    fn generators_are_on_their_curves_and_tampered_points_are_not() {
        for curve in [Curve::P256, Curve::P384] {
            let g = generator(curve);
            assert_eq!(check_ec(curve, &g), Ok(()), "{curve:?}");
            let mut off = g.clone();
            if let Some(last) = off.last_mut() {
                *last ^= 1;
            }
            assert!(check_ec(curve, &off)
                .unwrap_err()
                .contains("not on the curve"));
            let len = (g.len() - 1) / 2;
            let mut zero = vec![0x04];
            zero.extend(vec![0; 2 * len]);
            assert!(check_ec(curve, &zero).is_err(), "(0, 0) is not a point");
            assert!(check_ec(curve, &g[..g.len() - 1]).is_err());
        }
        // x = p: out of range even though p = 0 mod p.
        let mut big = vec![0x04];
        big.extend(unhex(P256_P));
        big.extend(generator(Curve::P256)[33..].to_vec());
        assert!(check_ec(Curve::P256, &big).unwrap_err().contains("prime"));
        assert!(check_ec(Curve::P256, &generator(Curve::P384)).is_err());
    }

    fn modulus(bits: usize) -> Vec<u8> {
        let mut n = vec![0xff; bits / 8];
        if let Some(first) = n.first_mut() {
            *first = 0x80 | 0x41;
        }
        n
    }

    #[test]
    fn rsa_modulus_size_and_exponent_are_bounded() {
        let e = [0x01, 0x00, 0x01];
        assert_eq!(check_rsa(&modulus(2048), &e), Ok(()));
        assert_eq!(check_rsa(&modulus(4096), &e), Ok(()));
        assert_eq!(check_rsa(&modulus(3072), &[3]), Ok(()));
        let mut padded = vec![0, 0];
        padded.extend(modulus(2048));
        assert_eq!(check_rsa(&padded, &e), Ok(()), "leading zeros do not count");
        assert!(check_rsa(&modulus(2040), &e).is_err());
        assert!(check_rsa(&modulus(4104), &e).is_err());
        assert!(
            check_rsa(&modulus(16 * 1024 * 8), &e).is_err(),
            "a 16 KB modulus"
        );
        let mut even = modulus(2048);
        if let Some(last) = even.last_mut() {
            *last = 0xfe;
        }
        assert!(check_rsa(&even, &e).is_err());
        for bad in [
            &[1u8][..],
            &[0],
            &[],
            &[2],
            &[0x01, 0x00, 0x00],
            &[1, 0, 0, 0, 1],
        ] {
            assert!(check_rsa(&modulus(2048), bad).is_err(), "e = {bad:?}");
        }
        assert_eq!(check_rsa(&modulus(2048), &[0, 0, 3]), Ok(()));
    }
}
