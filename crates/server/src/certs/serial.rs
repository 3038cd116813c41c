//! Certificate serial numbers as text: lowercase hex without separators or leading zero
//! bytes, at most 20 bytes (RFC 5280, 4.1.2.2).

/// Most bytes of a serial number.
pub const MAX_SERIAL_BYTES: usize = 20;

/// The canonical form of a serial typed or sent as hex (colons and spaces allowed), `None`
/// if it is not hex or longer than [`MAX_SERIAL_BYTES`].
pub fn normalize(text: &str) -> Option<String> {
    let digits: String = text
        .trim()
        .chars()
        .filter(|c| *c != ':' && *c != ' ')
        .collect::<String>()
        .to_ascii_lowercase();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let padded = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits
    };
    let bytes = hex::decode(padded).ok()?;
    Some(of_bytes(&bytes)).filter(|s| s.len() <= MAX_SERIAL_BYTES * 2)
}

/// The canonical form of a serial's big-endian bytes (an INTEGER's content octets).
pub fn of_bytes(bytes: &[u8]) -> String {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    hex::encode(bytes.get(start..).unwrap_or_default())
}

/// The big-endian bytes of a canonical serial.
pub fn to_bytes(serial: &str) -> Option<Vec<u8>> {
    hex::decode(serial).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_canonical() {
        assert_eq!(normalize("00:AB:cd").as_deref(), Some("abcd"));
        assert_eq!(normalize("abc").as_deref(), Some("0abc"));
        assert_eq!(normalize("00").as_deref(), Some("00"));
        assert_eq!(normalize("xyz"), None);
        assert_eq!(normalize(""), None);
        assert_eq!(normalize(&"1".repeat(42)), None);
        assert_eq!(of_bytes(&[0, 0, 1, 2]), "0102");
    }
}
