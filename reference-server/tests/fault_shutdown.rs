//! SIGTERM while the reference server is under load: requests in flight (three 4-second
//! streamed answers) finish completely, the process exits cleanly, and the telemetry guard
//! delivers everything recorded before the signal: the spans still queued (the batch delay is
//! a minute, so only the final flush can send them) and one final metrics push (the export
//! interval is ten minutes, so only the push on shutdown can arrive), checked at the receiver
//! against a scrape taken just before the signal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fault_support::{
    FakeLlm, Loadgen, Process, SLOW_STREAM, eventually, monotonic_families, parse_exposition,
    trace_id, traceparent,
};
use serde_json::json;
use unitel_testkit::otlp::{PointValue, SpanKind};
use unitel_testkit::{OtlpReceiver, ReceivedMetric};

/// The value of the pushed point of `metric` with exactly these attributes (histograms: the
/// count), if pushed.
fn pushed(metrics: &[ReceivedMetric], name: &str, labels: &[(String, String)]) -> Option<f64> {
    let metric = metrics.iter().rev().find(|m| m.name == name)?;
    let point = metric.data_points.iter().find(|p| {
        p.attributes.len() == labels.len()
            && labels
                .iter()
                .all(|(k, v)| p.attr(k).as_deref() == Some(v.as_str()))
    })?;
    match &point.value {
        PointValue::Histogram(h) => Some(h.count as f64),
        v => v.as_f64(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_and_flushes_everything() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let llm = FakeLlm::start().await;
    let mut server = Process::start(&[
        ("LLM_BASE_URL", llm.base_url.clone()),
        ("LLM_MODEL", "extractive-1".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_METRICS_EXPORTER", "prometheus,otlp".to_owned()),
        ("METRICS_EXPORT_INTERVAL_MS", "600000".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000".to_owned()),
    ])
    .await;
    let base = server.base.clone();
    let client = reqwest::Client::new();

    let load = Loadgen::start(&base, 6.0, 3);
    let (loaded, _) = server
        .metrics_until(Duration::from_secs(15), |text| {
            fault_support::sum(&parse_exposition(text), "http_requests_total", &[]) >= 200.0
        })
        .await;
    assert!(loaded, "loadgen did not get going");

    // Requests answered before the signal, each in a trace of its own.
    let mut answered = Vec::new();
    for _ in 0..5 {
        let id = trace_id();
        let r = client
            .post(format!("{base}/v1/rag/query"))
            .header("traceparent", traceparent(&id))
            .json(&json!({"query": "How does Prometheus collect metrics?"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        answered.push(id);
    }

    // Three 4-second streams in flight when the signal comes.
    let mut streams = Vec::new();
    let mut in_flight = Vec::new();
    for _ in 0..3 {
        let id = trace_id();
        in_flight.push(id.clone());
        let request = client
            .post(format!("{base}/v1/chat/completions"))
            .header("traceparent", traceparent(&id))
            .json(&json!({
                "model": "extractive-1",
                "stream": true,
                "messages": [{"role": "user", "content": format!("Where do spans go? {SLOW_STREAM}")}],
            }));
        streams.push(tokio::spawn(async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }));
    }
    assert!(
        eventually(Duration::from_secs(10), || llm.open() == 3
            && llm.state.chunks_sent.load(Ordering::SeqCst) >= 3)
        .await,
        "the streams did not start"
    );
    let before = server.metrics().await;

    server.signal("TERM");

    for stream in streams {
        let (status, body) = stream.await.unwrap();
        assert_eq!(status, 200);
        assert!(
            body.contains("[DONE]"),
            "a stream was cut by the shutdown: {body}"
        );
        assert_eq!(
            body.matches(" more").count(),
            39,
            "a stream lost chunks in the shutdown"
        );
    }
    let exit = server
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("the server did not exit within 30 s of SIGTERM");
    assert!(exit.success(), "exit status {exit}:\n{}", server.stderr());
    let summary = load.finish().await;
    assert_eq!(
        summary.server_errors(),
        0,
        "5xx during the shutdown\n{}",
        summary.output
    );

    // The final metrics push: the only one (the interval is ten minutes).
    let pushes = receiver.metrics_requests();
    assert_eq!(
        pushes.len(),
        1,
        "expected exactly the final push on shutdown"
    );
    let metrics = receiver.metrics();
    let monotonic = monotonic_families(&before);
    let mut checked = 0;
    let mut missing = BTreeMap::new();
    for sample in parse_exposition(&before) {
        // Counters and histogram counts: buckets and sums are the same points.
        let family = if sample.name.ends_with("_count") && monotonic.contains(&sample.name) {
            sample.name.trim_end_matches("_count").to_owned()
        } else if monotonic.contains(&sample.name)
            && !sample.name.ends_with("_bucket")
            && !sample.name.ends_with("_sum")
        {
            sample.name.clone()
        } else {
            continue;
        };
        let Some(descriptor) = unitel::catalog::find(&family) else {
            continue;
        };
        let name = descriptor.otlp_name.unwrap_or(descriptor.name);
        // Exposition keys replace dots with underscores; OTLP keeps the catalog's keys.
        let labels: Vec<(String, String)> = sample
            .labels
            .iter()
            .map(|(k, v)| {
                let key = descriptor
                    .labels
                    .iter()
                    .find(|d| d.replace('.', "_") == *k)
                    .map_or(k.clone(), |d| (*d).to_owned());
                (key, v.clone())
            })
            .collect();
        match pushed(&metrics, name, &labels) {
            Some(v) => {
                assert!(
                    v >= sample.value,
                    "{}: {} before SIGTERM, {v} in the final push",
                    sample.key(),
                    sample.value
                );
                checked += 1;
            }
            None => {
                missing.insert(sample.key(), sample.value);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "series scraped before SIGTERM are missing from the final push: {missing:#?}"
    );
    assert!(checked > 50, "only {checked} series compared");
    // The streams that finished after the signal are in it too.
    let chat_ok = |m: &[ReceivedMetric]| {
        pushed(
            m,
            "llm_requests_total",
            &[
                ("provider".into(), "openai".into()),
                ("model".into(), "extractive-1".into()),
                ("status".into(), "success".into()),
            ],
        )
        .unwrap_or(0.0)
    };
    let before_samples = parse_exposition(&before);
    let chat_ok_before = fault_support::sum(
        &before_samples,
        "llm_requests_total",
        &[("model", "extractive-1"), ("status", "success")],
    );
    assert!(
        chat_ok(&metrics) >= chat_ok_before + 3.0,
        "the streams answered after SIGTERM are not in the final push ({} before, {} pushed)",
        chat_ok_before,
        chat_ok(&metrics)
    );

    // Every span: of the requests answered before the signal and of the streams after it.
    let spans = receiver.spans();
    for id in answered.iter().chain(&in_flight) {
        assert!(
            spans
                .iter()
                .any(|s| &s.trace_id == id && s.kind == SpanKind::Server),
            "the server span of trace {id} was lost in the shutdown"
        );
    }
    for id in &in_flight {
        let chat = spans
            .iter()
            .find(|s| &s.trace_id == id && s.name.starts_with("chat "))
            .unwrap_or_else(|| panic!("the chat span of trace {id} was lost"));
        assert!(chat.attr("error.type").is_none(), "{chat:#?}");
    }
    // And not only those: every request counted before the signal has its server span.
    assert_eq!(
        fault_support::export_failures(&before, "traces"),
        0.0,
        "spans were dropped before the signal"
    );
    let requests_before = fault_support::sum(&before_samples, "http_requests_total", &[]);
    let server_spans = spans.iter().filter(|s| s.kind == SpanKind::Server).count();
    assert!(
        server_spans as f64 >= requests_before,
        "{requests_before} requests were counted before SIGTERM but only {server_spans} server \
         spans arrived"
    );
    println!(
        "shutdown: {requests_before} requests counted before the signal, {server_spans} server spans received; {} requests during the run, {checked} series checked in the final push, \
         {} spans received, exit {exit}",
        summary.total,
        spans.len()
    );
}
