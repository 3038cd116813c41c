//! COSE_Key decoding (RFC 9053 section 7, RFC 8230 for RSA).
//!
//! ```text
//! EC2: { 1 (kty): 2, 3 (alg): -7|-35, -1 (crv): 1|2, -2 (x): bstr, -3 (y): bstr }
//! OKP: { 1 (kty): 1, 3 (alg): -8,     -1 (crv): 6,   -2 (x): bstr }
//! RSA: { 1 (kty): 3, 3 (alg): -257.., -1 (n): bstr,  -2 (e): bstr }
//! ```

use ciborium::value::Value;

use crate::crypto::{CoseAlg, Curve, PublicKey};
use crate::error::AttestError;

/// A credential public key: its algorithm and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseKey {
    /// The algorithm the credential signs with.
    pub alg: CoseAlg,
    /// The key.
    pub key: PublicKey,
}

fn invalid(detail: impl Into<String>) -> AttestError {
    AttestError::CoseKeyInvalid {
        detail: detail.into(),
    }
}

/// Read one CBOR data item from the front of `input`, advancing it past the item.
pub(crate) fn read_cbor_item(input: &mut &[u8]) -> Result<Value, String> {
    ciborium::de::from_reader::<Value, _>(&mut *input).map_err(|e| e.to_string())
}

/// The integer value of a CBOR item, if it is one.
pub(crate) fn as_int(v: &Value) -> Option<i128> {
    match v {
        Value::Integer(i) => Some(i128::from(*i)),
        _ => None,
    }
}

fn member(map: &[(Value, Value)], label: i128) -> Option<&Value> {
    map.iter()
        .find(|(k, _)| as_int(k) == Some(label))
        .map(|(_, v)| v)
}

fn bytes(map: &[(Value, Value)], label: i128, name: &str) -> Result<Vec<u8>, AttestError> {
    match member(map, label) {
        Some(Value::Bytes(b)) => Ok(b.clone()),
        _ => Err(invalid(format!("{name} missing or not a byte string"))),
    }
}

impl CoseKey {
    /// Decode a COSE_Key from exactly `bytes` (no trailing data).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AttestError> {
        let mut rest = bytes;
        let value = read_cbor_item(&mut rest).map_err(invalid)?;
        if !rest.is_empty() {
            return Err(invalid("trailing bytes after the COSE_Key"));
        }
        Self::from_value(&value)
    }

    /// Decode a COSE_Key from a CBOR value.
    pub fn from_value(value: &Value) -> Result<Self, AttestError> {
        let Value::Map(map) = value else {
            return Err(invalid("not a CBOR map"));
        };
        unique_labels(map)?;
        let kty = member(map, 1)
            .and_then(as_int)
            .ok_or(invalid("kty missing"))?;
        let alg_num = member(map, 3)
            .and_then(as_int)
            .ok_or(invalid("alg missing"))?;
        let alg = i64::try_from(alg_num)
            .map_err(|_| invalid("alg out of range"))
            .and_then(CoseAlg::from_i64)?;
        let crv = member(map, -1).and_then(as_int);
        let key = match kty {
            2 => {
                let (curve, len) = match crv {
                    Some(1) => (Curve::P256, 32),
                    Some(2) => (Curve::P384, 48),
                    _ => return Err(invalid("EC2 curve missing or unsupported")),
                };
                let x = bytes(map, -2, "x")?;
                let y = bytes(map, -3, "y")?;
                if x.len() != len || y.len() != len {
                    return Err(invalid("EC2 coordinate has the wrong length"));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                PublicKey::Ec { curve, point }
            }
            1 => {
                if crv != Some(6) {
                    return Err(invalid("OKP curve missing or not Ed25519"));
                }
                let x = bytes(map, -2, "x")?;
                if x.len() != 32 {
                    return Err(invalid("Ed25519 key is not 32 bytes"));
                }
                PublicKey::Ed25519(x)
            }
            3 => PublicKey::rsa(&bytes(map, -1, "n")?, &bytes(map, -2, "e")?),
            other => return Err(invalid(format!("unsupported kty {other}"))),
        };
        let fits = matches!(
            (&key, alg),
            (
                PublicKey::Ec {
                    curve: Curve::P256,
                    ..
                },
                CoseAlg::Es256
            ) | (
                PublicKey::Ec {
                    curve: Curve::P384,
                    ..
                },
                CoseAlg::Es384
            ) | (PublicKey::Ed25519(_), CoseAlg::EdDsa)
                | (
                    PublicKey::Rsa { .. },
                    CoseAlg::Rs256
                        | CoseAlg::Rs384
                        | CoseAlg::Rs512
                        | CoseAlg::Ps256
                        | CoseAlg::Rs1
                )
        );
        if !fits {
            return Err(invalid(format!(
                "alg {} does not fit a {} key",
                alg.name(),
                key.kind()
            )));
        }
        crate::keycheck::check(&key).map_err(invalid)?;
        Ok(Self { alg, key })
    }
}

/// RFC 9052 section 7: a COSE_Key's labels are integers or text strings, each at most
/// once (a duplicate would let two readers see two different keys).
fn unique_labels(map: &[(Value, Value)]) -> Result<(), AttestError> {
    let mut ints = std::collections::HashSet::new();
    let mut texts = std::collections::HashSet::new();
    for (label, _) in map {
        let fresh = match label {
            Value::Integer(i) => ints.insert(i128::from(*i)),
            Value::Text(t) => texts.insert(t.as_str()),
            _ => return Err(invalid("a label is neither an integer nor a text string")),
        };
        if !fresh {
            return Err(invalid("duplicate label in the COSE_Key map"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).unwrap();
        out
    }

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len() / 2)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// The P-256 generator (SEC 2), a point on the curve.
    fn p256_g() -> (Vec<u8>, Vec<u8>) {
        (
            unhex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
            unhex("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
        )
    }

    fn ec2_xy(alg: i64, crv: i64, x: Vec<u8>, y: Vec<u8>) -> Value {
        Value::Map(vec![
            (Value::from(1), Value::from(2)),
            (Value::from(3), Value::from(alg)),
            (Value::from(-1), Value::from(crv)),
            (Value::from(-2), Value::Bytes(x)),
            (Value::from(-3), Value::Bytes(y)),
        ])
    }

    fn ec2(alg: i64, crv: i64, len: usize) -> Value {
        if len == 32 {
            let (x, y) = p256_g();
            return ec2_xy(alg, crv, x, y);
        }
        ec2_xy(alg, crv, vec![1; len], vec![2; len])
    }

    fn rsa(n: Vec<u8>, e: Vec<u8>) -> Value {
        Value::Map(vec![
            (Value::from(1), Value::from(3)),
            (Value::from(3), Value::from(-257)),
            (Value::from(-1), Value::Bytes(n)),
            (Value::from(-2), Value::Bytes(e)),
        ])
    }

    fn modulus(bytes: usize) -> Vec<u8> {
        let mut n = vec![0xc5; bytes];
        n[bytes - 1] = 0x01;
        n
    }

    fn code(v: &Value) -> &'static str {
        match CoseKey::from_bytes(&enc(v)) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn refuses_rsa_keys_of_the_wrong_size_or_exponent() {
        assert_eq!(code(&rsa(modulus(256), vec![1, 0, 1])), "ok");
        assert_eq!(code(&rsa(modulus(512), vec![3])), "ok");
        assert_eq!(code(&rsa(modulus(16 * 1024), vec![1, 0, 1])), "LK-ATT-013");
        assert_eq!(code(&rsa(modulus(128), vec![1, 0, 1])), "LK-ATT-013");
        assert_eq!(code(&rsa(modulus(256), vec![1])), "LK-ATT-013");
        assert_eq!(code(&rsa(modulus(256), vec![1, 0, 0])), "LK-ATT-013");
        assert_eq!(code(&rsa(modulus(256), vec![])), "LK-ATT-013");
    }

    #[test]
    fn refuses_points_off_the_curve_and_the_zero_point() {
        let (x, mut y) = p256_g();
        assert_eq!(code(&ec2_xy(-7, 1, x.clone(), y.clone())), "ok");
        y[31] ^= 0x01;
        assert_eq!(code(&ec2_xy(-7, 1, x, y)), "LK-ATT-013");
        assert_eq!(code(&ec2_xy(-7, 1, vec![0; 32], vec![0; 32])), "LK-ATT-013");
        assert_eq!(
            code(&ec2(-35, 2, 48)),
            "LK-ATT-013",
            "(1.., 2..) is not on P-384"
        );
    }

    #[test]
    fn refuses_duplicate_and_odd_labels() {
        let Value::Map(mut map) = ec2(-7, 1, 32) else {
            unreachable!()
        };
        let good = map.clone();
        map.push((Value::from(3), Value::from(-7)));
        assert_eq!(code(&Value::Map(map)), "LK-ATT-013");
        // A second x after the first: two readers could see two keys.
        let mut twice = good.clone();
        twice.push((Value::from(-2), Value::Bytes(vec![9; 32])));
        assert_eq!(code(&Value::Map(twice)), "LK-ATT-013");
        let mut odd = good;
        odd.push((Value::Bytes(vec![1]), Value::from(0)));
        assert_eq!(code(&Value::Map(odd)), "LK-ATT-013");
    }

    #[test]
    fn ec2_p256_decodes() {
        let k = CoseKey::from_bytes(&enc(&ec2(-7, 1, 32))).unwrap();
        assert_eq!(k.alg, CoseAlg::Es256);
        assert!(matches!(k.key, PublicKey::Ec { ref point, .. } if point.len() == 65));
    }

    #[test]
    fn rejects_alg_curve_mismatch_trailing_and_unknown_alg() {
        assert_eq!(
            CoseKey::from_bytes(&enc(&ec2(-35, 1, 32)))
                .unwrap_err()
                .code(),
            "LK-ATT-013"
        );
        let mut b = enc(&ec2(-7, 1, 32));
        b.push(0);
        assert!(CoseKey::from_bytes(&b).is_err());
        assert_eq!(
            CoseKey::from_bytes(&enc(&ec2(-36, 3, 66)))
                .unwrap_err()
                .code(),
            "LK-ATT-014"
        );
    }
}
