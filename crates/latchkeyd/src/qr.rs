//! `otpauth://` URIs as QR codes in the terminal: two modules per character cell (the
//! Unicode half blocks), dark on light, with the standard four-module quiet zone.

use std::io::IsTerminal;

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

/// Whether to print the QR code: asked for with `--qr`, or standard output is a terminal
/// (and no `--json`).
pub fn wanted(flag: bool, json: bool) -> bool {
    flag || (!json && std::io::stdout().is_terminal())
}

/// The QR code of `text` as lines of Unicode text, or `None` if it does not fit a QR code.
pub fn render(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}
