//! Connections, TLS and migrations against a real PostgreSQL server (see `pg_test_server`).

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::migrate::{Migration, migrate_with};
use super::*;
use crate::pg_test_server::{ClusterOptions, TestPgCluster, TlsFiles, skip_or_fail, test_database};

async fn pool(url: &str) -> Result<PgPool, PgError> {
    PgPool::connect(&PgTarget::parse(url)?, PoolOptions::default()).await
}

/// A database on the shared test server, or `None` (one line printed) without PostgreSQL.
macro_rules! database_or_skip {
    () => {
        match test_database().await {
            Some(db) => db,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn three_nodes_migrating_at_once_apply_each_migration_exactly_once() {
    let db = database_or_skip!();
    // Not idempotent on purpose: a second application of 1 fails, of 2 adds a second row.
    const LIST: &[Migration] = &[
        Migration {
            version: 1,
            name: "table",
            sql: "CREATE TABLE applications (version integer NOT NULL); SELECT pg_sleep(0.3);
                  INSERT INTO applications VALUES (1);",
        },
        Migration {
            version: 2,
            name: "row",
            sql: "INSERT INTO applications VALUES (2);",
        },
    ];
    let mut pools = Vec::new();
    for _ in 0..3 {
        pools.push(pool(&db.url).await.unwrap());
    }
    let barrier = tokio::sync::Barrier::new(3);
    let run = |i: usize| {
        let (p, barrier) = (&pools[i], &barrier);
        async move {
            barrier.wait().await;
            migrate_with(p, &format!("node-{i}"), LIST).await
        }
    };
    let (a, b, c) = tokio::join!(run(0), run(1), run(2));
    let results = [a, b, c];
    let mut applied = Vec::new();
    for r in results {
        let r = r.expect("every node migrates without error");
        assert_eq!(r.version, 2);
        applied.extend(r.applied);
    }
    applied.sort();
    assert_eq!(applied, vec![1, 2], "each version applied by exactly one node");

    let client = pools[0].get().await.unwrap();
    let rows: Vec<i32> = client
        .query("SELECT version FROM applications ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, vec![1, 2]);
    let recorded = client
        .query(
            "SELECT version, node FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(recorded.len(), 2);
    for row in recorded {
        assert!(row.get::<_, String>(1).starts_with("node-"));
    }
}

#[tokio::test]
async fn the_shipped_migrations_apply_once_and_a_second_run_applies_nothing() {
    let db = database_or_skip!();
    let p = pool(&db.url).await.unwrap();
    let first = migrate(&p, "a").await.unwrap();
    assert_eq!(first.applied, (1..=MIGRATIONS.len() as i32).collect::<Vec<_>>());
    let second = migrate(&p, "b").await.unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.version, MIGRATIONS.len() as i32);
    let client = p.get().await.unwrap();
    for table in ["node", "lease", "schema_migrations"] {
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = $1",
                &[&table],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "{table}");
    }
}

#[tokio::test]
async fn a_failed_migration_names_its_version_and_keeps_the_ones_before_it() {
    let db = database_or_skip!();
    let p = pool(&db.url).await.unwrap();
    let good = Migration {
        version: 1,
        name: "first",
        sql: "CREATE TABLE first (id integer)",
    };
    let bad = Migration {
        version: 2,
        name: "broken",
        sql: "CREATE TABLE second (id integer); INSERT INTO no_such_table VALUES (1);",
    };
    let e = migrate_with(&p, "n", &[good, bad]).await.unwrap_err();
    match &e {
        PgError::Migration { version, name, .. } => assert_eq!((*version, *name), (2, "broken")),
        other => panic!("expected a migration error, got {other:?}"),
    }
    assert!(e.to_string().contains("no_such_table"), "{e}");
    let client = p.get().await.unwrap();
    let version: i32 = client
        .query_one("SELECT max(version) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 1);
    let second_exists: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'second'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(second_exists, 0, "the failed migration rolled back whole");

    let fixed = Migration {
        version: 2,
        name: "fixed",
        sql: "CREATE TABLE second (id integer)",
    };
    let r = migrate_with(&p, "n", &[good, fixed]).await.unwrap();
    assert_eq!(r.applied, vec![2]);
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_yupiao_is_refused() {
    let db = database_or_skip!();
    let p = pool(&db.url).await.unwrap();
    let one = Migration {
        version: 1,
        name: "one",
        sql: "SELECT 1",
    };
    let two = Migration {
        version: 2,
        name: "two",
        sql: "SELECT 2",
    };
    migrate_with(&p, "new", &[one, two]).await.unwrap();
    let e = migrate_with(&p, "old", &[one]).await.unwrap_err();
    assert!(matches!(e, PgError::SchemaTooNew { found: 2, known: 1 }), "{e:?}");
}

#[tokio::test]
async fn connection_failures_are_typed_and_never_show_the_password() {
    let db = database_or_skip!();
    let url = url::Url::parse(&db.url).unwrap();
    let host = url.host_str().unwrap().to_string();
    let port = url.port().unwrap_or(5432);

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = pool(&format!("postgres://yupiao:hunter2-secret@127.0.0.1:{closed}/x"))
        .await
        .unwrap_err();
    assert!(matches!(e, PgError::Unreachable { .. }), "{e:?}");
    assert!(e.is_transient());
    let text = e.to_string();
    assert!(
        text.contains(&format!("postgres://yupiao@127.0.0.1:{closed}/x")),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");

    let e = pool(&format!(
        "postgres://nobody:hunter2-secret@{host}:{port}/{}",
        db.name
    ))
    .await
    .unwrap_err();
    assert!(matches!(e, PgError::Auth { .. }), "{e:?}");
    assert!(!e.is_transient());
    assert!(!e.to_string().contains("hunter2"), "{e}");

    let mut missing = url.clone();
    missing.set_path("/no_such_db");
    let e = pool(missing.as_str()).await.unwrap_err();
    assert!(
        matches!(&e, PgError::NoDatabase { database, .. } if database == "no_such_db"),
        "{e:?}"
    );

    // The shared test server has no TLS: asking for it must fail as TLS, not as anything else.
    let mut tls = url.clone();
    tls.set_query(Some("sslmode=require"));
    if std::env::var("YUPIAO_TEST_PG_URL").is_err() {
        let e = pool(tls.as_str()).await.unwrap_err();
        assert!(matches!(e, PgError::Tls { .. }), "{e:?}");
    }
}

struct TestCa {
    ca_pem: String,
    server: TlsFiles,
}

/// A CA and a server certificate for `127.0.0.1` only (so `localhost` is a name mismatch).
fn test_ca() -> TestCa {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "yupiao test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "yupiao test server");
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    TestCa {
        ca_pem: ca_cert.pem(),
        server: TlsFiles {
            cert_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
        },
    }
}

async fn uses_tls(p: &PgPool) -> bool {
    p.get()
        .await
        .unwrap()
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn tls_follows_sslmode_against_a_server_with_a_certificate_from_a_test_ca() {
    let ca = test_ca();
    let options = ClusterOptions {
        tls: Some(ca.server.clone()),
        // TLS or nothing, so a connection that works has used TLS.
        hba: Some(
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n"
                .into(),
        ),
    };
    let cluster = match TestPgCluster::start(&options) {
        Ok(c) => c,
        Err(e) => {
            skip_or_fail::<()>(e);
            return;
        }
    };
    let db = cluster.database().await.unwrap();
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), &ca.ca_pem).unwrap();
    let root = ca_file.path().display().to_string();
    let at =
        |host: &str, query: &str| format!("postgres://yupiao@{host}:{}/{}?{query}", cluster.port(), db.name);

    let p = pool(&at("127.0.0.1", "sslmode=require")).await.unwrap();
    assert!(uses_tls(&p).await, "sslmode=require with a self-signed chain");
    let p = pool(&at(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={root}"),
    ))
    .await
    .unwrap();
    assert!(uses_tls(&p).await, "verify-full against the test CA");
    let p = pool(&at("localhost", &format!("sslmode=verify-ca&sslrootcert={root}")))
        .await
        .unwrap();
    assert!(uses_tls(&p).await, "verify-ca ignores the host name");

    let e = pool(&at(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={root}"),
    ))
    .await
    .unwrap_err();
    assert!(matches!(e, PgError::Tls { .. }), "host name mismatch: {e:?}");
    let e = pool(&at("127.0.0.1", "sslmode=verify-full")).await.unwrap_err();
    assert!(
        matches!(e, PgError::Tls { .. }),
        "the test CA is no system root: {e:?}"
    );
    let e = pool(&at(
        "127.0.0.1",
        "sslmode=verify-full&sslrootcert=/nonexistent/root.crt",
    ))
    .await
    .unwrap_err();
    assert!(matches!(e, PgError::Tls { .. }), "unreadable root file: {e:?}");
    let e = pool(&at("127.0.0.1", "sslmode=disable")).await.unwrap_err();
    assert!(
        matches!(e, PgError::Auth { .. }),
        "hostnossl rejects plain TCP: {e:?}"
    );
}
