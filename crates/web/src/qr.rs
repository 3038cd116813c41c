//! A QR code as inline SVG (one `<path>` of dark modules), for the `otpauth://` URI of a
//! new TOTP secret. Inline SVG is part of the page, so the Content-Security-Policy's
//! `img-src 'self'` needs no `data:` exception.

use qrcode::{Color, QrCode};

/// The quiet zone around the code, modules.
const QUIET: usize = 4;

/// `text` as an SVG QR code with an accessible name, or a note if it does not fit.
pub fn svg(text: &str) -> String {
    let Ok(code) = QrCode::new(text.as_bytes()) else {
        return "<p>The link is too long for a QR code; copy it instead.</p>".to_owned();
    };
    let width = code.width();
    let size = width + 2 * QUIET;
    let mut path = String::new();
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == Color::Dark {
            let (x, y) = (i % width + QUIET, i / width + QUIET);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    format!(
        "<svg class=\"qr\" role=\"img\" aria-label=\"QR code\" xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {size} {size}\" width=\"240\" height=\"240\" shape-rendering=\"crispEdges\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}
