//! A real Prometheus server scraping a tiny HTTP server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use unitel_testkit::{PrometheusBuilder, ScrapeTarget};

const METRICS: &str = "\
# HELP unitel_testkit_demo_requests_total Demo requests.
# TYPE unitel_testkit_demo_requests_total counter
unitel_testkit_demo_requests_total{code=\"200\"} 41
unitel_testkit_demo_requests_total{code=\"500\"} 1
";

/// Serves `METRICS` at `/custom/metrics`, only with `Authorization: Bearer s3cret`.
async fn serve_metrics() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request).to_ascii_lowercase();
                let (status, body) = if !request.starts_with("get /custom/metrics ") {
                    ("404 Not Found", "")
                } else if !request.contains("authorization: bearer s3cret") {
                    ("401 Unauthorized", "")
                } else {
                    ("200 OK", METRICS)
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn scrapes_a_target_and_evaluates_rules() {
    let addr = serve_metrics().await;
    let rules =
        unitel_testkit::package_dir(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules.yml");
    let Some(prom) = PrometheusBuilder::new()
        .scrape(
            ScrapeTarget::new(addr.to_string())
                .metrics_path("/custom/metrics")
                .bearer_token("s3cret")
                .scrape_interval(Duration::from_millis(500))
                .job_name("demo"),
        )
        .rule_file(rules)
        .evaluation_interval(Duration::from_millis(500))
        .start()
        .await
    else {
        return;
    };
    assert!(prom.url().starts_with("http://"));

    let series = prom
        .wait_for_series(
            "unitel_testkit_demo_requests_total{job=\"demo\"}",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(series.len(), 2, "{series:?}");
    assert_eq!(
        prom.query_value("sum(unitel_testkit_demo_requests_total)")
            .await
            .unwrap(),
        Some(42.0)
    );

    // The recording rule from the rule file is evaluated too.
    let recorded = prom
        .wait_for_series(
            "job:unitel_testkit_demo_requests:sum",
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(recorded[0]["value"][1], "42");

    // Invalid expressions are errors, not empty results.
    assert!(prom.query("sum(").await.is_err());
}

#[tokio::test]
async fn wait_for_series_times_out_with_diagnostics() {
    let Some(prom) = unitel_testkit::prometheus(&[ScrapeTarget::new("127.0.0.1:1")]).await else {
        return;
    };
    let err = prom
        .wait_for_series("unitel_testkit_never_exported", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no series"), "{err}");
}
