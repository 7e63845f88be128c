//! `skip_test`: a skipped test shows in `cargo test`'s output although libtest captures what a
//! passing test prints, it is recorded in the `UNITEL_SKIP_LOG` file once, and it fails under
//! `UNITEL_REQUIRE_SERVICES=1`. The test runs itself as a child process (this test binary,
//! filtered to this one test) with the environment of each case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::process::{Command, Output};

const TEST: &str = "a_skip_is_shown_recorded_once_and_fails_when_services_are_required";
/// Set in the child: the test then skips instead of checking.
const CHILD: &str = "UNITEL_TESTKIT_SKIP_CHILD";

fn run_child(log: &std::path::Path, require: bool) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    // No --nocapture: the banner must get past libtest's capture by itself.
    command
        .args(["--exact", TEST, "--test-threads=1"])
        .env(CHILD, "1")
        .env(unitel_testkit::SKIP_LOG_ENV, log)
        .env_remove("UNITEL_REQUIRE_SERVICES");
    if require {
        command.env("UNITEL_REQUIRE_SERVICES", "1");
    }
    command.output().unwrap()
}

#[test]
fn a_skip_is_shown_recorded_once_and_fails_when_services_are_required() {
    if std::env::var_os(CHILD).is_some() {
        // A check skipped twice for the same reason, as a proptest case loop would.
        for _ in 0..2 {
            unitel_testkit::skip_test("the probe service", "it is made up\n\tfor this test");
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    let log = dir.path().join("skips.log");
    let out = run_child(&log, false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert_eq!(
        stderr.matches(&format!("SKIPPING test `{TEST}`")).count(),
        1,
        "the banner is not shown exactly once:\n{stderr}"
    );
    assert!(
        stderr.contains("the probe service is unavailable: it is made up"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("skip\t{TEST}\tthe probe service\tit is made up for this test\n")
    );

    let log = dir.path().join("required.log");
    let out = run_child(&log, true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("1 failed"), "{stdout}");
    assert!(
        stdout.contains("needs the probe service, which is required (UNITEL_REQUIRE_SERVICES=1)"),
        "{stdout}"
    );
    assert!(!log.exists(), "a failure is not also recorded as a skip");
}
