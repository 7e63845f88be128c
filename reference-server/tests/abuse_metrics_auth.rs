//! `/metrics` behind `UNITEL_METRICS_TOKEN`, on both endpoints (the application's route and
//! the standalone listener): a missing, wrong, shorter, longer or differently-shaped token gets
//! 401 and no exposition; the right one gets the exposition. The token never shows up in the
//! server's logs (at the most verbose level), in any span or metric the collector receives, or
//! in the exposition. The standalone listener binds 127.0.0.1 unless `PROMETHEUS_HOST` says
//! otherwise (read from the kernel's socket table), and the README says so.
//!
//! The comparison is constant-time by construction (`MetricsAuth` walks the whole presented
//! value); response times per kind of wrong token are printed here, not asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::time::{Duration, Instant};

use fault_support::Process;
use unitel_testkit::OtlpReceiver;

const TOKEN: &str = "mt-6f1d0c2a9b8e7d6c5b4a3f2e1d0c9b8a";

/// Local addresses of the LISTEN sockets of `pid` on `port`, from `/proc/PID/net/tcp{,6}`, as
/// the kernel writes them (hex, e.g. `0100007F` for 127.0.0.1).
fn listen_addresses(pid: u32, port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let Some((addr, p)) = local.split_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(p, 16) == Ok(port) {
                out.push(addr.to_owned());
            }
        }
    }
    out
}

/// Median response time of `n` requests with this `Authorization` (or none).
async fn median_latency(client: &reqwest::Client, url: &str, auth: Option<&str>) -> Duration {
    let mut times = Vec::new();
    for _ in 0..60 {
        let mut request = client.get(url);
        if let Some(a) = auth {
            request = request.header("authorization", a);
        }
        let started = Instant::now();
        let r = request.send().await.unwrap();
        let _ = r.bytes().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_token_guards_both_endpoints_and_never_leaks() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let listener_port = unitel_testkit::free_port();
    let mut server = Process::start(&[
        ("UNITEL_METRICS_TOKEN", TOKEN.to_owned()),
        ("PROMETHEUS_PORT", listener_port.to_string()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_METRICS_EXPORTER", "prometheus,otlp".to_owned()),
        ("METRICS_EXPORT_INTERVAL_MS", "300".to_owned()),
        ("RUST_LOG", "trace".to_owned()),
    ])
    .await;
    let client = reqwest::Client::new();
    let endpoints = [
        format!("{}/metrics", server.base),
        format!("http://127.0.0.1:{listener_port}/metrics"),
    ];
    let same_length_wrong: String = TOKEN.chars().rev().collect::<String>().replace('m', "x");
    assert_eq!(same_length_wrong.len(), TOKEN.len());
    let refused: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        ("bare bearer", Some("Bearer".to_owned())),
        ("bearer and nothing", Some("Bearer ".to_owned())),
        (
            "same length, wrong",
            Some(format!("Bearer {same_length_wrong}")),
        ),
        (
            "one character off",
            Some(format!("Bearer {}X", &TOKEN[..TOKEN.len() - 1])),
        ),
        ("prefix", Some(format!("Bearer {}", &TOKEN[..10]))),
        ("longer", Some(format!("Bearer {TOKEN}{TOKEN}"))),
        ("token plus one", Some(format!("Bearer {TOKEN}0"))),
        (
            "upper case",
            Some(format!("Bearer {}", TOKEN.to_uppercase())),
        ),
        ("no scheme", Some(TOKEN.to_owned())),
        ("basic", Some(format!("Basic {TOKEN}"))),
        ("two spaces", Some(format!("Bearer  {TOKEN}"))),
        ("huge", Some(format!("Bearer {}", "a".repeat(16 * 1024)))),
    ];
    for url in &endpoints {
        for (case, auth) in &refused {
            let mut request = client.get(url);
            if let Some(a) = auth {
                request = request.header("authorization", a);
            }
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 401, "{url}: {case}");
            let body = r.text().await.unwrap();
            assert!(!body.contains("# TYPE"), "{url}: {case} got the exposition");
        }
        let r = client.get(url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}: the right token");
        let text = r.text().await.unwrap();
        assert!(text.contains("# TYPE http_requests_total counter"));
        assert!(
            !text.contains(TOKEN),
            "{url}: the exposition holds the token"
        );
    }

    // Response times per kind of refusal: printed (speed is for benchmarks).
    let url = &endpoints[1];
    let right = median_latency(&client, url, Some(&format!("Bearer {TOKEN}"))).await;
    let mut line = format!("metrics auth medians (listener): right {right:?}");
    for (case, auth) in [
        ("missing", None),
        ("short", Some("Bearer x".to_owned())),
        ("same length", Some(format!("Bearer {same_length_wrong}"))),
        (
            "one off at the end",
            Some(format!("Bearer {}X", &TOKEN[..TOKEN.len() - 1])),
        ),
        ("long", Some(format!("Bearer {}", "a".repeat(4096)))),
    ] {
        let t = median_latency(&client, url, auth.as_deref()).await;
        line.push_str(&format!("; {case} {t:?}"));
    }
    println!("{line}");

    // Some traffic so that spans and metric pushes flow, then everything is flushed on exit.
    for _ in 0..5 {
        let r = client
            .post(format!("{}/v1/rag/query", server.base))
            .header("authorization", format!("Bearer {TOKEN}"))
            .json(&serde_json::json!({"query": "Where do spans go?"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(
        fault_support::eventually(Duration::from_secs(10), || receiver
            .metrics_requests()
            .len()
            >= 2)
        .await
    );

    // The listener binds 127.0.0.1 only.
    let addresses = listen_addresses(server.pid(), listener_port);
    assert!(
        !addresses.is_empty(),
        "no listening socket on {listener_port}"
    );
    assert!(
        addresses.iter().all(|a| a == "0100007F"),
        "the metrics listener binds {addresses:?}, not only 127.0.0.1"
    );
    assert!(
        include_str!("../../README.md")
            .contains("The standalone listener binds to 127.0.0.1 unless `PROMETHEUS_HOST`"),
        "the README does not say where the listener binds"
    );

    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(20)).await.is_some());
    let logs = server.stderr();
    assert!(
        logs.len() > 1000,
        "expected verbose logs, got {} bytes",
        logs.len()
    );
    assert!(!logs.contains(TOKEN), "the token is in the logs");
    assert!(
        !logs.contains(&TOKEN[3..]),
        "part of the token is in the logs"
    );
    let spans = format!("{:?}", receiver.spans());
    let metrics = format!("{:?}", receiver.metrics());
    assert!(!spans.contains(&TOKEN[3..]), "the token is in a span");
    assert!(
        !metrics.contains(&TOKEN[3..]),
        "the token is in a pushed metric"
    );
    println!(
        "metrics auth: {} refusals x 2 endpoints; token absent from {} KiB of trace logs, {} spans, {} metric pushes",
        refused.len(),
        logs.len() / 1024,
        receiver.spans().len(),
        receiver.metrics_requests().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_host_opens_the_listener_wider_only_when_asked() {
    let listener_port = unitel_testkit::free_port();
    let server = Process::start(&[
        ("PROMETHEUS_PORT", listener_port.to_string()),
        ("PROMETHEUS_HOST", "0.0.0.0".to_owned()),
    ])
    .await;
    let addresses = listen_addresses(server.pid(), listener_port);
    assert_eq!(
        addresses,
        ["00000000"],
        "PROMETHEUS_HOST=0.0.0.0 was not honoured"
    );
    let r = reqwest::get(format!("http://127.0.0.1:{listener_port}/metrics"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
