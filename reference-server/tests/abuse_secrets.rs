//! Secrets never reach telemetry: with a remote model (a real OpenAI-compatible HTTP server on
//! 127.0.0.1 that checks it receives `LLM_API_KEY`) and a metrics token, the reference server
//! serves a loadgen run plus requests carrying `Authorization: Bearer` keys, cookies,
//! query-string secrets and marked prompt text (in chat messages, RAG queries, documents,
//! metadata and embeddings input), with failing model calls among them. Everything the
//! collector received (every span with its attributes, events and resource, every metric
//! push), the `/metrics` exposition and the server's logs at trace level are then scanned:
//! none of the secrets, none of the prompt text and none of the model's completion is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::time::Duration;

use fault_support::{COMPLETION_TEXT, FAIL, FakeLlm, Loadgen, Process};
use serde_json::json;
use unitel_testkit::OtlpReceiver;

const CLIENT_KEY: &str = "sk-test-secret-1f0e9d8c7b6a";
const LLM_KEY: &str = "sk-llm-key-5a4b3c2d1e0f";
const METRICS_TOKEN: &str = "mt-secret-99aa88bb77cc";
const COOKIE: &str = "cookie-secret-c0ff33c0ff33";
const QUERY_SECRET: &str = "query-secret-0badc0de0bad";
const PROMPT: &str = "PROMPT-SECRET-7e57p40mp7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_prompt_reaches_spans_metrics_or_logs() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let llm = FakeLlm::start().await;
    let mut server = Process::start(&[
        ("LLM_BASE_URL", llm.base_url.clone()),
        ("LLM_API_KEY", LLM_KEY.to_owned()),
        ("LLM_MODEL", "extractive-1".to_owned()),
        ("EMBEDDINGS_BASE_URL", llm.base_url.clone()),
        ("EMBEDDINGS_MODEL", "text-embedding-3-small".to_owned()),
        ("UNITEL_METRICS_TOKEN", METRICS_TOKEN.to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_METRICS_EXPORTER", "prometheus,otlp".to_owned()),
        ("METRICS_EXPORT_INTERVAL_MS", "500".to_owned()),
        ("RUST_LOG", "trace".to_owned()),
    ])
    .await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let load = Loadgen::start(&base, 4.0, 2);

    let secret = |r: reqwest::RequestBuilder| {
        r.header("authorization", format!("Bearer {CLIENT_KEY}"))
            .header("cookie", format!("session={COOKIE}; theme=dark"))
            .header("x-api-key", CLIENT_KEY)
    };
    let q = format!("api_key={QUERY_SECRET}&token={QUERY_SECRET}&{QUERY_SECRET}");
    let mut statuses = Vec::new();
    for i in 0..6 {
        let prompt = format!("{PROMPT} number {i}: where do spans go?");
        let requests = vec![
            client
                .post(format!("{base}/v1/documents?{q}"))
                .json(&json!({"text": format!("{prompt} Spans go to the collector."), "metadata": {"note": PROMPT}})),
            client
                .post(format!("{base}/v1/rag/query?{q}"))
                .json(&json!({"query": prompt})),
            client.post(format!("{base}/v1/chat/completions?{q}")).json(&json!({
                "messages": [{"role": "system", "content": PROMPT}, {"role": "user", "content": prompt}],
            })),
            client.post(format!("{base}/v1/chat/completions?{q}")).json(&json!({
                "stream": true,
                "messages": [{"role": "user", "content": prompt}],
            })),
            client
                .post(format!("{base}/v1/embeddings?{q}"))
                .json(&json!({"input": [prompt, PROMPT]})),
            // A failing model call, and invalid bodies holding the secret.
            client.post(format!("{base}/v1/chat/completions?{q}")).json(&json!({
                "messages": [{"role": "user", "content": format!("{prompt} {FAIL}")}],
            })),
            client
                .post(format!("{base}/v1/rag/query?{q}"))
                .json(&json!({"query": PROMPT, "top_k": PROMPT})),
            client
                .post(format!("{base}/v1/rag/query?{q}"))
                .header("content-type", "application/json")
                .body(format!("{{\"query\": \"{PROMPT}")),
            client.get(format!("{base}/health?{q}")),
            client.get(format!("{base}/no/such/page?{q}")),
        ];
        for r in requests {
            let r = secret(r).send().await.unwrap();
            statuses.push(r.status().as_u16());
            let _ = r.bytes().await;
        }
    }
    let summary = load.finish().await;
    assert_eq!(summary.transport_errors, 0, "{}", summary.output);
    assert!(statuses.contains(&200) && statuses.contains(&201));
    assert!(
        statuses.contains(&502),
        "the failing model call: {statuses:?}"
    );
    // The key was used, so it really went through the instrumented client.
    let authorizations = llm.state.authorizations.lock().unwrap().clone();
    assert!(!authorizations.is_empty());
    assert!(
        authorizations
            .iter()
            .all(|a| a == &format!("Bearer {LLM_KEY}")),
        "{authorizations:?}"
    );
    assert!(
        llm.state
            .bodies
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains(PROMPT)),
        "the prompt did not reach the model"
    );

    let exposition = client
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    server.signal("TERM");
    let exit = server
        .wait_exit(Duration::from_secs(20))
        .await
        .expect("no exit after SIGTERM");
    assert!(exit.success());

    let spans = receiver.spans();
    let metrics = receiver.metrics();
    assert!(
        spans.iter().any(|s| s.name.starts_with("chat ")),
        "no LLM span to scan"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.name == "POST" && s.attr("url.full").is_some()),
        "no outgoing HTTP span to scan"
    );
    let places = [
        ("spans", format!("{spans:?}")),
        ("pushed metrics", format!("{metrics:?}")),
        ("exposition", exposition),
        ("logs", server.stderr()),
    ];
    let secrets = [
        ("the client's API key", CLIENT_KEY),
        ("LLM_API_KEY", LLM_KEY),
        ("the metrics token", METRICS_TOKEN),
        ("the cookie", COOKIE),
        ("a query-string value", QUERY_SECRET),
        ("prompt text", PROMPT),
        ("the model's completion", COMPLETION_TEXT),
    ];
    let mut leaks = Vec::new();
    for (place, text) in &places {
        for (what, value) in secrets {
            if let Some(at) = text.find(value) {
                let start = text.floor_char_boundary(at.saturating_sub(200));
                let end = text.ceil_char_boundary((at + 200).min(text.len()));
                leaks.push(format!("{what} in the {place}: …{}…", &text[start..end]));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n\n"));
    println!(
        "secrets scan: {} requests with secrets + {} loadgen requests; scanned {} spans, {} \
         metric points, {} KiB of trace-level logs and the exposition: nothing found",
        statuses.len(),
        summary.total,
        spans.len(),
        metrics.iter().map(|m| m.data_points.len()).sum::<usize>(),
        places[3].1.len() / 1024
    );
}
