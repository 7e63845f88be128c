//! The real `promtool` on exposition text and rule files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use unitel_testkit::{promtool_check_metrics, promtool_check_rules, promtool_test_rules};

const VALID: &str = "\
# HELP http_server_requests_total Requests served.
# TYPE http_server_requests_total counter
http_server_requests_total{route=\"/orders\",code=\"200\"} 7
# HELP http_server_request_duration_seconds Request duration.
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_bucket{le=\"0.1\"} 1
http_server_request_duration_seconds_bucket{le=\"+Inf\"} 3
http_server_request_duration_seconds_sum 0.75
http_server_request_duration_seconds_count 3
";

#[test]
fn valid_exposition_passes() {
    let Some(result) = promtool_check_metrics(VALID) else {
        return;
    };
    assert_eq!(result, Ok(()));
}

#[test]
fn counter_without_total_suffix_is_a_lint_failure() {
    let text = "# HELP http_requests Requests.\n# TYPE http_requests counter\nhttp_requests 1\n";
    let Some(result) = promtool_check_metrics(text) else {
        return;
    };
    let err = result.unwrap_err();
    assert!(err.contains("_total"), "{err}");
}

#[test]
fn unparsable_exposition_fails() {
    let Some(result) = promtool_check_metrics("not a metric line{{\n") else {
        return;
    };
    assert!(result.is_err());
}

#[test]
fn rule_files_check_and_unit_tests() {
    let dir = unitel_testkit::package_dir(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = dir.display();
    let Some(result) = promtool_check_rules(format!("{dir}/rules.yml")) else {
        return;
    };
    assert_eq!(result, Ok(()));
    let Some(result) = promtool_test_rules(format!("{dir}/rules_test.yml")) else {
        return;
    };
    assert_eq!(result, Ok(()));
    // A rules file that is not valid must fail.
    let Some(result) = promtool_check_rules(format!("{dir}/rules_test.yml")) else {
        return;
    };
    assert!(result.is_err());
}
