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

#[tokio::test]
async fn each_call_gets_its_own_database() {
    let (Some(a), Some(b)) = tokio::join!(unitel_testkit::postgres(), unitel_testkit::postgres())
    else {
        return;
    };
    if a.backend() == Backend::Local {
        assert_ne!(a.database(), b.database());
        a.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
            .unwrap();
        assert_eq!(a.psql("SELECT x FROM t").unwrap().trim(), "42");
        assert!(
            b.psql("SELECT x FROM t").is_err(),
            "databases must be isolated"
        );
    }
}
