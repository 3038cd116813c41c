//! The throwaway cluster starts, answers over sqlx, keeps what is written, gives two
//! clusters different ports, and is gone (server stopped, directory removed) after drop.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use sqlx::{Connection, PgConnection};

use latchkey_pg_harness::PgCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_stores_and_reads_back_then_disappears() {
    let cluster = PgCluster::start().await.expect("start");
    let url = cluster.url();
    assert!(url.starts_with("postgres://postgres@127.0.0.1:"), "{url}");
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    sqlx::query("CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO things (id, name) VALUES ($1, $2), ($3, $4)")
        .bind(1_i64)
        .bind("one")
        .bind(2_i64)
        .bind("two")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    // A second connection sees the committed rows.
    let mut again = PgConnection::connect(&url).await.unwrap();
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM things ORDER BY id")
        .fetch_all(&mut again)
        .await
        .unwrap();
    assert_eq!(rows, vec![(1, "one".to_owned()), (2, "two".to_owned())]);
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut again)
        .await
        .unwrap();
    assert!(version.starts_with("15."), "{version}");
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut again)
        .await
        .unwrap();
    assert_eq!(listen, "127.0.0.1");
    again.close().await.unwrap();

    // A database per test.
    let other = cluster.create_database("conformance_1").await.unwrap();
    let mut conn = PgConnection::connect(&other).await.unwrap();
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'things'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 0, "a new database is empty");
    conn.close().await.unwrap();
    assert!(cluster.create_database("bad name; DROP").await.is_err());

    let dir = cluster.dir().to_path_buf();
    let port = cluster.port();
    drop(cluster);
    assert!(!dir.exists(), "the cluster directory is removed");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clusters_run_at_once_on_different_ports() {
    let (a, b) = tokio::join!(PgCluster::start(), PgCluster::start());
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_ne!(a.port(), b.port());
    for (cluster, marker) in [(&a, "a"), (&b, "b")] {
        let mut conn = PgConnection::connect(&cluster.url()).await.unwrap();
        sqlx::query("CREATE TABLE mark (m TEXT)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO mark VALUES ($1)")
            .bind(marker)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    for (cluster, marker) in [(&a, "a"), (&b, "b")] {
        let mut conn = PgConnection::connect(&cluster.url()).await.unwrap();
        let m: Vec<String> = sqlx::query_scalar("SELECT m FROM mark")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert_eq!(m, vec![marker.to_owned()], "each cluster has its own data");
        conn.close().await.unwrap();
    }
}
