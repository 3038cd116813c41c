//! Parsing `--since`: an RFC 3339 time or a duration ago (`30s`, `15m`, `1h`, `7d`).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Resolves `text` to Unix seconds, relative to `now` for durations.
pub fn parse(text: &str, now: i64) -> Option<i64> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(unit_at);
    let n: i64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    Some(now - n.checked_mul(seconds)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse("1h", 10_000), Some(10_000 - 3600));
        assert_eq!(parse("30m", 10_000), Some(10_000 - 1800));
        assert_eq!(parse("1970-01-01T00:01:00Z", 0), Some(60));
        assert_eq!(parse("soon", 0), None);
        assert_eq!(parse("5y", 0), None);
        assert_eq!(parse("h", 0), None);
    }
}
