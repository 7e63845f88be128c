//! The standalone `/metrics` listener, scraped by a real `prometheus` binary, behind a token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use unitel::TelemetryConfig;
use unitel_testkit::{PrometheusBuilder, ScrapeTarget};

const TOKEN: &str = "s3cret-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_standalone_listener_with_a_bearer_token() {
    let config = TelemetryConfig::builder()
        .service_name("listener-test")
        .prometheus_listener("127.0.0.1:0".parse().unwrap())
        .metrics_token(TOKEN)
        .install_subscriber(false)
        .build()
        .unwrap();
    let guard = unitel::init(config.clone()).unwrap();
    // A second init is an error, not a panic.
    assert!(matches!(
        unitel::init(config),
        Err(unitel::InitError::AlreadyInitialized)
    ));

    let addr = guard.prometheus_addr().expect("listener address");
    assert!(addr.ip().is_loopback());
    unitel::registry()
        .counter(&unitel::catalog::HTTP_REQUESTS_TOTAL)
        .with_labels(&["GET", "/api/items/{id}", "200"])
        .add(7);

    let client = reqwest::Client::new();
    let url = format!("http://{addr}/metrics");
    let anonymous = client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let wrong = client
        .get(&url)
        .bearer_auth("s3cret-tokem")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let longer = client
        .get(&url)
        .bearer_auth(format!("{TOKEN}{TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(longer.status(), 401);
    let ok = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = ok.text().await.unwrap();
    assert!(body.contains(
        "http_requests_total{method=\"GET\",route=\"/api/items/{id}\",status=\"200\"} 7"
    ));
    assert!(!body.contains(TOKEN));
    let other = client
        .get(format!("http://{addr}/other"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    let Some(prom) = PrometheusBuilder::new()
        .scrape(
            ScrapeTarget::new(addr.to_string())
                .bearer_token(TOKEN)
                .scrape_interval(Duration::from_secs(1)),
        )
        .start()
        .await
    else {
        return;
    };
    let series = prom
        .wait_for_series(
            "http_requests_total{route=\"/api/items/{id}\"}",
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(series[0]["value"][1], "7");
    let up = prom.query_value("up").await.unwrap();
    assert_eq!(up, Some(1.0));
    guard.shutdown().await.unwrap();
}
