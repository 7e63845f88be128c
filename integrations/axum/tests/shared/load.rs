//! Load, bad input and configuration scenarios, run against axum and actix (each test binary
//! includes this file). Local registries only: these binaries never call `unitel::init`.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use unitel::http::server::HttpServerConfig;
use unitel::prometheus::MetricsAuth;
use unitel::{MetricDefinition, MetricKind, Registry};

use crate::support::{
    ServerOptions, client, in_flight_total, labels, raw_request, raw_status, route_labels, series,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_are_counted_exactly() {
    let registry = Registry::new();
    let server = crate::start_server(ServerOptions::local(&registry)).await;
    let client = client();
    let requests = (0..1000).map(|i| {
        let client = client.clone();
        let url = match i % 4 {
            0 => server.url(&format!("/api/items/{i}")),
            1 => server.url("/api/fail"),
            2 => server.url(&format!("/nowhere/{i}")),
            _ => server.url(&format!("/v1/nested/{i}")),
        };
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            response.bytes().await.unwrap();
            status
        }
    });
    let statuses = join_all(requests).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 500);

    let text = unitel::prometheus::render_registry(&registry);
    let expected = BTreeMap::from([
        (labels("GET", "/api/items/{id}", "200"), 250.0),
        (labels("GET", "/api/fail", "500"), 250.0),
        (labels("GET", "unmatched", "404"), 250.0),
        (labels("GET", "/v1/nested/{x}", "200"), 250.0),
    ]);
    assert_eq!(series(&text, "http_requests_total"), expected);
    assert_eq!(
        series(&text, "http_request_duration_seconds_count"),
        expected
    );
    assert_eq!(in_flight_total(&registry), 0.0);
    assert_eq!(series(&text, "http_requests_in_flight").len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_never_panics_and_is_counted_correctly() {
    let registry = Registry::new();
    let server = crate::start_server(ServerOptions::local(&registry)).await;
    let client = client();
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();

    // A malformed traceparent is ignored: the request is served and counted.
    for bad in [
        "garbage",
        "00-zzzz-nope-01",
        "",
        "00-00000000000000000000000000000000-0000000000000000-01",
    ] {
        let response = client
            .get(server.url("/api/items/1"))
            .header("traceparent", bad)
            .header("baggage", "%%%;;;=")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{bad:?}");
    }
    *expected
        .entry(labels("GET", "/api/items/{id}", "200"))
        .or_default() += 4.0;

    // A large header the servers accept: served and counted once.
    let big = "x".repeat(6 * 1024);
    let response = client
        .get(server.url("/api/items/2"))
        .header("user-agent", &big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    *expected
        .entry(labels("GET", "/api/items/{id}", "200"))
        .or_default() += 1.0;

    // An oversized header is refused by the HTTP parser before any handler: nothing counted.
    let huge = "y".repeat(1024 * 1024);
    let answer = raw_request(
        server.addr,
        format!("GET /api/items/3 HTTP/1.1\r\nhost: x\r\nx-huge: {huge}\r\n\r\n").as_bytes(),
    )
    .await;
    let status = raw_status(&answer);
    eprintln!("oversized header answered with {status:?}");
    assert!(
        status.is_none_or(|s| s == 431 || s == 400),
        "oversized header: {:?}",
        String::from_utf8_lossy(&answer[..answer.len().min(200)])
    );

    // Non-UTF-8 bytes in the request target: refused by the parser (400), nothing counted.
    let answer = raw_request(
        server.addr,
        b"GET /api/items/\xff\xfe HTTP/1.1\r\nhost: x\r\n\r\n",
    )
    .await;
    assert_eq!(
        raw_status(&answer),
        Some(400),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let answer = raw_request(server.addr, b"GET /\xc3\x28/x HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(
        raw_status(&answer),
        Some(400),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Percent-encoded invalid UTF-8 reaches the route: counted once under its template, with
    // the status the application answered.
    let answer = raw_request(
        server.addr,
        b"GET /api/items/%FF%FE HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    let status = raw_status(&answer).unwrap();
    eprintln!("percent-encoded invalid UTF-8 answered with {status}");
    *expected
        .entry(labels("GET", "/api/items/{id}", &status.to_string()))
        .or_default() += 1.0;
    let answer = raw_request(
        server.addr,
        b"GET /%FF%FE/nowhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&answer), Some(404));
    *expected
        .entry(labels("GET", "unmatched", "404"))
        .or_default() += 1.0;

    // Unknown methods, short and long, become `_OTHER`.
    let long_method = "X".repeat(200);
    for method in ["BREW", "PROPFIND", long_method.as_str()] {
        let answer = raw_request(
            server.addr,
            format!("{method} /api/items/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert_eq!(raw_status(&answer), Some(405), "{method}");
        *expected
            .entry(labels("_OTHER", "/api/items/{id}", "405"))
            .or_default() += 1.0;
    }
    let answer = raw_request(
        server.addr,
        b"BREW /coffee/pot HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(raw_status(&answer), Some(404));
    *expected
        .entry(labels("_OTHER", "unmatched", "404"))
        .or_default() += 1.0;

    // A long unmatched path is still one `unmatched` series.
    let long_path = format!("/{}", "a/".repeat(2000));
    let response = client.get(server.url(&long_path)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    *expected
        .entry(labels("GET", "unmatched", "404"))
        .or_default() += 1.0;

    // The server still serves, and the counts are exactly what was answered.
    let response = client.get(server.url("/api/items/4")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    *expected
        .entry(labels("GET", "/api/items/{id}", "200"))
        .or_default() += 1.0;

    let text = unitel::prometheus::render_registry(&registry);
    assert_eq!(series(&text, "http_requests_total"), expected, "{text}");
    assert_eq!(in_flight_total(&registry), 0.0);
    assert!(
        !text.contains('\u{fffd}') && !text.contains("%FF"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposition_passes_promtool_and_requires_the_token() {
    let registry = Registry::new();
    let options = ServerOptions {
        config: HttpServerConfig::new().registry(registry.clone()),
        metrics: Some((
            registry.clone(),
            MetricsAuth::new(Some("s3cret".to_owned())),
        )),
    };
    let server = crate::start_server(options).await;
    let client = client();
    for (method, path) in [
        ("GET", "/api/items/1"),
        ("POST", "/api/items"),
        ("GET", "/api/fail"),
        ("GET", "/api/panic"),
        ("GET", "/nowhere"),
        ("BREW", "/api/items/1"),
        ("DELETE", "/api/items/1"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        client
            .request(method, server.url(path))
            .send()
            .await
            .unwrap();
    }
    let denied = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(denied.status().as_u16(), 401);
    let scraped = client
        .get(server.url("/metrics"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status().as_u16(), 200);
    let text = scraped.text().await.unwrap();
    assert!(text.contains(&format!(
        "http_requests_total{}",
        labels("_OTHER", "/api/items/{id}", "405")
    )));
    // `None`: promtool is missing, and the testkit has recorded the skip.
    if let Some(result) = unitel_testkit::promtool_check_metrics(&text) {
        assert_eq!(result, Ok(()), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_buckets_fallback_routes_and_exclusions() {
    let registry = Registry::new();
    registry
        .register(MetricDefinition {
            name: "api_request_duration_seconds".into(),
            kind: MetricKind::Histogram,
            description: "API request duration with fine buckets.".into(),
            unit: "s".into(),
            labels: vec!["method".into(), "route".into(), "status".into()],
            buckets: vec![0.0005, 0.001, 0.002, 30.0],
        })
        .unwrap();
    let family = registry
        .histogram_family("api_request_duration_seconds")
        .unwrap();
    let config = HttpServerConfig::new()
        .registry(registry.clone())
        .excluded_paths(["/health"])
        .route_fallback(|_, path| path.starts_with("/static/").then_some("/static/*"))
        .duration_histogram(family)
        .unwrap();
    let server = crate::start_server(ServerOptions::local(&registry).with_config(config)).await;
    let client = client();
    for path in [
        "/api/items/1",
        "/static/app.css",
        "/static/img/logo.png",
        "/nowhere",
        "/health",
        "/metrics",
    ] {
        client.get(server.url(path)).send().await.unwrap();
    }
    let text = unitel::prometheus::render_registry(&registry);
    let expected = BTreeMap::from([
        (labels("GET", "/api/items/{id}", "200"), 1.0),
        (labels("GET", "/static/*", "404"), 2.0),
        (labels("GET", "unmatched", "404"), 1.0),
        // `excluded_paths` replaced the default: the metrics path is recorded now.
        (labels("GET", "/metrics", "200"), 1.0),
    ]);
    assert_eq!(series(&text, "http_requests_total"), expected, "{text}");
    assert_eq!(
        series(&text, "api_request_duration_seconds_count"),
        expected
    );
    assert!(series(&text, "http_request_duration_seconds_count").is_empty());
    assert!(
        text.contains(
            r#"api_request_duration_seconds_bucket{method="GET",route="/api/items/{id}",status="200",le="30"} 1"#
        ),
        "{text}"
    );
    assert_eq!(
        series(&text, "http_requests_in_flight").get(&route_labels("GET", "/static/*")),
        Some(&0.0)
    );
}
