//! HTML building: escaping and the page layout (a skip link, a navigation bar, a main
//! region; no external resources).

use axum::response::Html;

pub use latchkey_server::routes::web::{document, esc};

use crate::session::SignedIn;

/// A page with the navigation bar for `who` (signed in or not).
pub fn page(
    title: &str,
    who: Option<&SignedIn>,
    admin: bool,
    csrf: &str,
    main: &str,
) -> Html<String> {
    let nav = match who {
        Some(s) => {
            let admin_link = if admin {
                "<li><a href=\"/admin\">Administration</a></li>"
            } else {
                ""
            };
            format!(
                "<nav aria-label=\"Main\"><ul><li><a href=\"/security-info\">Security info</a></li>{admin_link}\
                 <li><span>Signed in as <strong id=\"whoami\">{}</strong></span></li>\
                 <li><form method=\"post\" action=\"/signout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <button type=\"submit\" id=\"signout\">Sign out</button></form></li></ul></nav>",
                esc(&s.user.upn),
                esc(&s.session.csrf)
            )
        }
        None => "<nav aria-label=\"Main\"><ul><li><a href=\"/signin\">Sign in</a></li></ul></nav>"
            .to_owned(),
    };
    let body = format!(
        "<header><p class=\"brand\">Latchkey</p>{nav}</header><main id=\"main\"><h1>{}</h1>{main}</main>",
        esc(title)
    );
    document(title, csrf, &body)
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub fn when(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
