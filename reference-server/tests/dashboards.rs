//! End to end: the reference server under loadgen, scraped every second by a real Prometheus;
//! every dashboard panel query and every rule expression is run through Prometheus' API. Each
//! must parse, each panel must return data, and each metric it names must be a catalog family.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use unitel_testkit::{PrometheusBuilder, ScrapeTarget};

fn repo_file(path: &str) -> PathBuf {
    unitel_testkit::package_dir(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn panel_queries() -> Vec<(String, String)> {
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("dashboards/unitel-overview.json")).unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for panel in json["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push((
                panel["title"].as_str().unwrap().to_owned(),
                target["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

/// `expr:` values of a rules file (single-line or `|` blocks).
fn rule_expressions() -> Vec<String> {
    let text = std::fs::read_to_string(repo_file("dashboards/alerts.yml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(rest) = line.trim_start().strip_prefix("expr:") {
            let indent = line.len() - line.trim_start().len();
            if rest.trim() == "|" {
                let mut block = Vec::new();
                i += 1;
                while i < lines.len()
                    && (lines[i].trim().is_empty()
                        || lines[i].len() - lines[i].trim_start().len() > indent)
                {
                    block.push(lines[i].trim());
                    i += 1;
                }
                out.push(block.join(" "));
                continue;
            }
            out.push(rest.trim().to_owned());
        }
        i += 1;
    }
    out
}

/// Metric names an expression reads: identifiers followed by `[`, `{` or `)`, once label lists
/// of `by (...)`/`without (...)` are removed.
fn metric_names(expr: &str) -> Vec<String> {
    let mut cleaned = String::new();
    let mut rest = expr;
    while let Some(pos) = rest.find(" by (").or_else(|| rest.find(" without (")) {
        cleaned.push_str(&rest[..pos]);
        let after = &rest[pos..];
        let close = after.find(')').map_or(after.len(), |c| c + 1);
        rest = &after[close..];
    }
    cleaned.push_str(rest);
    let bytes = cleaned.as_bytes();
    let mut names = Vec::new();
    let mut start = None;
    for (i, &b) in bytes
        .iter()
        .enumerate()
        .chain(std::iter::once((bytes.len(), &b' ')))
    {
        let ident = b.is_ascii_alphanumeric() || b == b'_' || b == b':';
        match (ident, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let word = &cleaned[s..i];
                if matches!(b, b'[' | b'{' | b')')
                    && word.contains('_')
                    && !word.starts_with(|c: char| c.is_ascii_digit())
                {
                    names.push(word.to_owned());
                }
                start = None;
            }
            _ => {}
        }
    }
    names
}

fn is_catalog_family(name: &str) -> bool {
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name);
    unitel::catalog::find(name).is_some()
        || unitel::catalog::find(base).is_some()
        || name.starts_with("unitel:")
}

#[test]
fn every_dashboard_query_names_catalog_families() {
    for (title, expr) in panel_queries() {
        let names = metric_names(&expr);
        assert!(!names.is_empty(), "{title}: no metric found in {expr}");
        for n in names {
            assert!(
                is_catalog_family(&n),
                "{title}: `{n}` is not a catalog family ({expr})"
            );
        }
    }
    for expr in rule_expressions() {
        for n in metric_names(&expr) {
            assert!(
                is_catalog_family(&n) || n == "up",
                "rule names `{n}`, not a catalog family ({expr})"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_returns_data_under_loadgen() {
    let Some(rules_ok) = unitel_testkit::promtool_check_rules(repo_file("dashboards/alerts.yml"))
    else {
        return;
    };
    rules_ok.unwrap();
    let mut server = common::Server::start(&[]).await;
    let Some(prom) = PrometheusBuilder::new()
        .scrape(
            ScrapeTarget::new(format!("127.0.0.1:{}", server.port))
                .scrape_interval(Duration::from_secs(1))
                .job_name("reference-server"),
        )
        .rule_file(repo_file("dashboards/alerts.yml"))
        .evaluation_interval(Duration::from_secs(1))
        .start()
        .await
    else {
        return;
    };
    prom.wait_for_series("up{job=\"reference-server\"} == 1", Duration::from_secs(30))
        .await
        .unwrap();
    let base = server.base.clone();
    tokio::task::spawn_blocking(move || common::loadgen(&base, 20, 4))
        .await
        .unwrap();
    assert!(server.is_running(), "the server died under load");
    // Two more scrapes after the load, so every rate has its samples.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut empty = Vec::new();
    for (title, expr) in panel_queries() {
        let result = prom
            .query(&expr)
            .await
            .unwrap_or_else(|e| panic!("{title}: `{expr}` does not parse: {e}"));
        let series = result["data"]["result"].as_array().map_or(0, Vec::len);
        if series == 0 {
            empty.push(format!("{title}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "panels without data under loadgen:\n{}",
        empty.join("\n")
    );
    for expr in rule_expressions() {
        prom.query(&expr)
            .await
            .unwrap_or_else(|e| panic!("rule `{expr}` does not parse: {e}"));
    }
}
