//! Durations in the configuration file: a whole number and a unit, `500ms`, `10s`, `2m`, `1h`.

use std::time::Duration;

/// The longest duration a setting may hold (a day): anything longer is a typo.
const MAX: Duration = Duration::from_secs(86_400);

/// Parses `text` (`500ms`, `10s`, `2m`, `1h`); `None` when it is not such a duration, is
/// zero, or is longer than a day.
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(unit_at);
    if number.is_empty() || number.len() > 9 {
        return None;
    }
    let n: u64 = number.parse().ok()?;
    let millis = match unit {
        "ms" => n,
        "s" => n.checked_mul(1_000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    let d = Duration::from_millis(millis);
    (!d.is_zero() && d <= MAX).then_some(d)
}

/// The shortest text [`parse`] reads back as `d` (for printing the effective settings).
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1_000) {
        format!("{}s", ms / 1_000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_bounds_and_round_trip() {
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse(" 2m "), Some(Duration::from_secs(120)));
        assert_eq!(parse("24h"), Some(Duration::from_secs(86_400)));
        for bad in [
            "",
            "s",
            "10",
            "0s",
            "25h",
            "10 s",
            "-1s",
            "1.5s",
            "10d",
            "9999999999s",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        for text in ["500ms", "1500ms", "10s", "90s", "2m", "1h"] {
            let d = parse(text).unwrap();
            assert_eq!(parse(&format(d)), Some(d));
        }
        assert_eq!(format(Duration::from_secs(90)), "90s");
    }
}
