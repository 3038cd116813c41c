//! The `database` setting: `sqlite` (the embedded default, in the data directory) or a
//! `postgres://USER[:PASSWORD]@HOST:PORT/DB[?sslmode=...&sslrootcert=...]` URL, and the
//! pool size `database_max_connections`. The URL is never printed with its password.

use latchkey_proto::ErrorCode;
use latchkey_server::storage::Database;

use super::report::Literal;
use super::Report;
use crate::coded;

/// A `database` value as given; prints (in `config check`) without its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl Literal for DatabaseUrl {
    fn literal(&self) -> String {
        toml::Value::String(redacted(&self.0)).to_string()
    }
}

/// `url` with the password of its user info and of a `password=` parameter replaced by
/// `***` (what a log or `config check` may show).
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{user_info}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

/// Merges `database` and `database_max_connections` (flag < variable < file order as
/// every setting), recording both, and parses them: a value that is neither `sqlite` nor
/// a `postgres://`/`postgresql://` URL is `LK-CFG-003`, and so is a pool size of 0.
pub fn pick(
    over_url: Option<String>,
    over_max: Option<u32>,
    file_url: Option<String>,
    file_max: Option<u32>,
    report: &mut Report,
) -> anyhow::Result<Database> {
    let url = report.pick(
        "",
        "database",
        over_url.map(DatabaseUrl),
        file_url.map(DatabaseUrl),
        DatabaseUrl("sqlite".to_owned()),
    );
    let max = report.pick_optional("", "database_max_connections", over_max, file_max);
    if max == Some(0) {
        return Err(coded(
            ErrorCode::ConfigValueInvalid,
            "database_max_connections must be at least 1",
        ));
    }
    Database::parse(&url.0, max).map_err(|reason| {
        coded(
            ErrorCode::ConfigValueInvalid,
            format!("database {}: {reason}", url.literal()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            redacted("postgres://lk:s3cret@db.example:5432/latchkey?sslmode=verify-full"),
            "postgres://lk:***@db.example:5432/latchkey?sslmode=verify-full"
        );
        assert_eq!(
            redacted("postgresql://lk@db/latchkey?password=s3cret&sslmode=require"),
            "postgresql://lk@db/latchkey?password=***&sslmode=require"
        );
        assert_eq!(redacted("postgres://db/x"), "postgres://db/x");
        assert_eq!(redacted("sqlite"), "sqlite");
        assert!(!redacted("postgres://a:b@c:d@host/x").contains("b@c"));
    }

    #[test]
    fn only_sqlite_and_postgres_urls_are_accepted() {
        let mut r = Report::default();
        let ok = pick(None, None, None, None, &mut r).unwrap();
        assert_eq!(ok, Database::Sqlite);
        let pg = pick(
            Some("postgres://lk@db/x".into()),
            Some(4),
            Some("sqlite".into()),
            Some(9),
            &mut r,
        )
        .unwrap();
        let Database::Postgres(options) = pg else {
            panic!("not postgres: {pg:?}")
        };
        assert_eq!(options.max_connections, 4);
        for bad in ["mysql://db/x", "postgres:/db", "", "file:x.db"] {
            let err = pick(Some(bad.into()), None, None, None, &mut r).unwrap_err();
            let code = err.downcast_ref::<crate::Coded>().map(|c| c.code);
            assert_eq!(code, Some(ErrorCode::ConfigValueInvalid), "{bad}");
        }
        let err = pick(None, Some(0), None, None, &mut r).unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
        let err = pick(Some("mysql://u:pw@db/x".into()), None, None, None, &mut r).unwrap_err();
        assert!(!err.to_string().contains("pw@"), "{err}");
    }
}
