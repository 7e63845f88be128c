//! A real PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::Command;

use unitel_testkit::services::Backend;

#[tokio::test]
async fn select_one() {
    let Some(pg) = unitel_testkit::postgres().await else {
        return;
    };
    assert!(pg.url().starts_with("postgres://"), "{}", pg.url());
    assert_eq!(pg.psql("SELECT 1").unwrap().trim(), "1");

    // Also through the psql binary directly, with the URL as a test would use it.
    let out = Command::new("psql")
        .args([pg.url(), "-XAtc", "select current_database()"])
        .output();
    if let Ok(out) = out {
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), pg.database());
    }
}

/// Locally and with Docker every call has a database of its own; an external server
/// (`UNITEL_TEST_DATABASE_URL`) is used as is, so both calls share its one database, as
/// documented. Either way the test checks what a table created through one handle does to the
/// other.
#[tokio::test]
async fn each_call_gets_its_own_database() {
    let (Some(a), Some(b)) = tokio::join!(unitel_testkit::postgres(), unitel_testkit::postgres())
    else {
        return;
    };
    assert_eq!(a.backend(), b.backend());
    let table = format!("unitel_isolation_{}", std::process::id());
    a.psql(&format!(
        "CREATE TABLE {table} (x int); INSERT INTO {table} VALUES (42)"
    ))
    .unwrap();
    assert_eq!(
        a.psql(&format!("SELECT x FROM {table}")).unwrap().trim(),
        "42"
    );
    let seen_by_b = b.psql(&format!("SELECT x FROM {table}"));
    match a.backend() {
        Backend::Local => {
            // One shared server, a database per call.
            assert_ne!(a.database(), b.database());
            assert!(seen_by_b.is_err(), "databases must be isolated");
        }
        Backend::Docker => {
            // A container per call.
            assert_ne!(a.url(), b.url());
            assert!(seen_by_b.is_err(), "databases must be isolated");
        }
        Backend::External => {
            assert_eq!(a.url(), b.url());
            assert_eq!(
                seen_by_b.unwrap().trim(),
                "42",
                "the external database is shared"
            );
            a.psql(&format!("DROP TABLE {table}")).unwrap();
        }
    }
}
