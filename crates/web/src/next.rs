//! Where a browser may be sent after signing in: only a path on this service.
//!
//! The check follows how a browser resolves a `Location` against this origin (the WHATWG
//! URL parser): it strips leading and trailing C0 controls and spaces, removes every tab
//! and newline, treats `\` like `/` in http(s) URLs, and reads `//host` or `\\host` as
//! another host; anything with a scheme (`https:`, `javascript:`) leaves the path. Rather
//! than normalise like a browser, the validator refuses every input whose meaning could
//! differ between readers: it must start with a single `/` and contain only visible ASCII
//! without `\`, no dot segments (`/./`, `/../`, also percent-encoded), and no
//! percent-encoded `/`, `\` or NUL in the path (`/%2F/host`, which a browser keeps as a path but
//! another hop might decode).

/// Longest accepted target, bytes.
pub const MAX_NEXT_BYTES: usize = 2048;

/// `next` if it is a path on this service, else `None`.
pub fn local_path(next: &str) -> Option<&str> {
    let bytes = next.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NEXT_BYTES {
        return None;
    }
    // Visible ASCII only: no controls, spaces, tabs, newlines, DEL or non-ASCII.
    if !bytes.iter().all(|b| (0x21..0x7f).contains(b)) || bytes.contains(&b'\\') {
        return None;
    }
    if bytes.first() != Some(&b'/') || bytes.get(1) == Some(&b'/') {
        return None;
    }
    let lower = next.to_ascii_lowercase();
    // The query and fragment cannot change the origin; the path is checked strictly.
    let path = lower.split(['?', '#']).next().unwrap_or("");
    if path.contains("%2f") || path.contains("%5c") || path.contains("%00") {
        return None;
    }
    let dot = |seg: &str| {
        let seg = seg.replace("%2e", ".");
        seg == "." || seg == ".."
    };
    if path.split('/').any(dot) {
        return None;
    }
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_slash_paths_on_this_origin_pass() {
        let good = [
            "/",
            "/security-info",
            "/admin?tab=devices",
            "/oauth2/authorize?client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
            "/a/b#frag",
            "/path%20with%20space",
            "/a..b/c.d",
            "/signin?next=%2F%2Fevil.example",
        ];
        for n in good {
            assert_eq!(local_path(n), Some(n), "{n:?} should pass");
        }
    }

    #[test]
    fn everything_a_browser_could_send_elsewhere_is_refused() {
        let bad = [
            "",
            "//evil.example",
            "//evil.example/path",
            "/\\evil.example",
            "\\/evil.example",
            "\\\\evil.example",
            "/\\/evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%5c%5cevil.example",
            "https:evil.example",
            "https://evil.example",
            "http:/evil.example",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,hi",
            " //evil.example",
            " /security-info",
            "\t//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "\u{0}//evil.example",
            "\u{1f}/x",
            "/x\u{7f}",
            "/.//evil.example",
            "/./x",
            "/../x",
            "/a/../../x",
            "/%2e/x",
            "/%2E%2E/x",
            "/a/.",
            "/a/..?q",
            "/\u{3000}/evil.example",
            "/\u{ff0f}evil.example",
            "evil.example",
            "security-info",
            "?next=//evil",
            "#//evil",
            "/%00",
        ];
        for n in bad {
            assert_eq!(local_path(n), None, "{n:?} should be refused");
        }
        let long = format!("/{}", "a".repeat(MAX_NEXT_BYTES));
        assert_eq!(local_path(&long), None);
    }
}
