//! `--database`: where the service keeps its directory. SQLite in the data directory (the
//! default), a throwaway PostgreSQL 15 cluster started here (`latchkey-pg-harness`), or an
//! existing PostgreSQL database named by its URL.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use latchkey_e2e::World;
use latchkey_pg_harness::PgCluster;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};

/// The database the harness cluster gets for the benchmark.
const DATABASE_NAME: &str = "loadbench";

/// What `--database` asked for.
#[derive(Debug, Clone)]
pub enum Choice {
    /// `sqlite`: the embedded default, `latchkey.db` in the data directory.
    Sqlite,
    /// `postgres`: a throwaway PostgreSQL 15 cluster started for this run.
    Cluster,
    /// `postgres://...`: an existing (empty) database.
    Url(String),
}

impl std::str::FromStr for Choice {
    type Err = String;

    fn from_str(s: &str) -> Result<Choice, String> {
        match s {
            "sqlite" => Ok(Choice::Sqlite),
            "postgres" => Ok(Choice::Cluster),
            url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Choice::Url(url.to_owned()))
            }
            other => Err(format!(
                "{other:?}: expected `sqlite`, `postgres` or a postgres:// URL"
            )),
        }
    }
}

/// The database of this run, and the cluster that holds it when started here (stopped and
/// removed when this is dropped: drop it after the services).
pub struct Backend {
    cluster: Option<PgCluster>,
    /// The PostgreSQL URL (`None` on SQLite).
    url: Option<String>,
}

/// An open connection to the run's database, for seeding.
pub enum Db {
    /// The data directory's `latchkey.db`, beside the running service.
    Sqlite(SqliteConnection),
    /// The PostgreSQL database the replicas share.
    Postgres(PgConnection),
}

impl Backend {
    /// Opens the database `choice` names, starting a cluster for [`Choice::Cluster`].
    pub async fn open(choice: &Choice) -> Result<Backend> {
        Ok(match choice {
            Choice::Sqlite => Backend {
                cluster: None,
                url: None,
            },
            Choice::Url(url) => Backend {
                cluster: None,
                url: Some(url.clone()),
            },
            Choice::Cluster => {
                let cluster = PgCluster::start_durable()
                    .await
                    .context("starting a throwaway PostgreSQL cluster")?;
                let url = cluster.create_database(DATABASE_NAME).await?;
                Backend {
                    cluster: Some(cluster),
                    url: Some(url),
                }
            }
        })
    }

    /// Whether the service runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.url.is_some()
    }

    /// A new world (data directory initialised with `latchkeyd init`) on this database.
    pub fn world(&self) -> World {
        match &self.url {
            Some(url) => World::on_database(url),
            None => World::new(),
        }
    }

    /// The postmaster's pid of the cluster started here, whose process tree's CPU is
    /// counted (`None` on SQLite and on an external server).
    pub fn postmaster(&self) -> Option<u32> {
        let pid_file = self.cluster.as_ref()?.dir().join("data/postmaster.pid");
        std::fs::read_to_string(pid_file)
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// One word for the backend: `SQLite` or `PostgreSQL`.
    pub fn name(&self) -> &'static str {
        if self.is_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    /// The notes line naming the backend and, on PostgreSQL, the server's version and
    /// durability settings.
    pub async fn note(&self, world: &World, replicas: usize) -> Result<String> {
        let Some(url) = &self.url else {
            return Ok(format!(
                "database: SQLite ({}, synchronous=FULL), one service process",
                world.data_dir().join("latchkey.db").display()
            ));
        };
        let mut conn = PgConnection::connect(url).await?;
        let mut settings = Vec::new();
        for name in [
            "server_version",
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "shared_buffers",
            "max_connections",
        ] {
            let value: String = sqlx::query_scalar(&format!("SHOW {name}"))
                .fetch_one(&mut conn)
                .await?;
            settings.push(format!("{name}={value}"));
        }
        conn.close().await?;
        let whose = match &self.cluster {
            Some(_) => "a throwaway cluster started by the benchmark (latchkey-pg-harness \
                        `start_durable`: every commit synced, as SQLite's synchronous=FULL; \
                        its CPU is counted in the notes)"
                .to_owned(),
            None => format!("{} (its CPU is not counted)", redacted(url)),
        };
        let replicas = match replicas {
            1 => "one service process".to_owned(),
            n => format!("{n} service replicas on it, with one --public-url"),
        };
        Ok(format!(
            "database: PostgreSQL, {whose}; {}; {replicas}",
            settings.join(", ")
        ))
    }

    /// Opens a connection to the database of `world` for seeding.
    pub async fn connect(&self, world: &World) -> Result<Db> {
        Ok(match &self.url {
            Some(url) => Db::Postgres(PgConnection::connect(url).await?),
            None => Db::Sqlite(
                SqliteConnection::connect_with(
                    &SqliteConnectOptions::new()
                        .filename(sqlite_file(world))
                        .busy_timeout(Duration::from_secs(60)),
                )
                .await
                .context("opening the data directory's latchkey.db")?,
            ),
        })
    }
}

impl Db {
    /// The database's size, in words: SQLite's file and its write-ahead log (which
    /// checkpoints do not shrink), or PostgreSQL's `pg_database_size`.
    pub async fn size(&mut self, world: &World) -> Result<String> {
        let mb = |bytes: u64| bytes as f64 / 1e6;
        Ok(match self {
            Db::Sqlite(_) => {
                let file = sqlite_file(world);
                let len = |f: &std::path::Path| std::fs::metadata(f).map_or(0, |m| m.len());
                format!(
                    "latchkey.db {:.0} MB (its WAL {:.0} MB)",
                    mb(len(&file)),
                    mb(len(&file.with_extension("db-wal")))
                )
            }
            Db::Postgres(conn) => {
                let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(conn)
                    .await?;
                format!("{:.0} MB", mb(u64::try_from(bytes).unwrap_or(0)))
            }
        })
    }
}

/// The SQLite database of `world`.
fn sqlite_file(world: &World) -> PathBuf {
    world.data_dir().join("latchkey.db")
}

/// `url` without a password (`postgres://user:secret@host/db` → `postgres://user@host/db`).
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    format!("{scheme}://{authority}/{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_urls_lose_their_password() {
        assert!(matches!("sqlite".parse(), Ok(Choice::Sqlite)));
        assert!(matches!("postgres".parse(), Ok(Choice::Cluster)));
        assert!(matches!("postgres://h/d".parse(), Ok(Choice::Url(_))));
        assert!("mysql".parse::<Choice>().is_err());
        assert_eq!(
            redacted("postgres://bob:secret@db:5432/lk?sslmode=verify-full"),
            "postgres://bob@db:5432/lk"
        );
        assert_eq!(redacted("postgres://db/lk"), "postgres://db/lk");
    }
}
