//! The compose stack and the Prometheus rules are valid: `docker-compose config -q` (no engine
//! needed), `promtool check rules` and `promtool test rules`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    unitel_testkit::package_dir(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn docker_compose_file_is_valid_with_every_profile() {
    let Ok(probe) = Command::new("docker-compose").arg("version").output() else {
        unitel_testkit::skip_test("docker-compose", "it is not installed");
        return;
    };
    assert!(probe.status.success());
    for profiles in [
        &[][..],
        &["--profile", "loadgen", "--profile", "collector"][..],
    ] {
        let out = Command::new("docker-compose")
            .current_dir(repo())
            .args(profiles)
            .args(["config", "-q"])
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty(),
            "docker-compose {profiles:?} config -q: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every file the stack mounts exists.
    let compose = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    for line in compose
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- ./"))
    {
        let path = line.split(':').next().unwrap();
        assert!(
            repo().join(path).exists(),
            "docker-compose.yml mounts missing ./{path}"
        );
    }
}

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() {
    let Some(check) = unitel_testkit::promtool_check_rules(repo().join("dashboards/alerts.yml"))
    else {
        return;
    };
    check.unwrap();
    let Some(tests) =
        unitel_testkit::promtool_test_rules(repo().join("dashboards/alerts_test.yml"))
    else {
        return;
    };
    tests.unwrap();
}
