//! One RAG query gives one trace: the server span, then retrieval, embeddings, database and LLM
//! spans under it, exported over OTLP to the testkit receiver; with SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use serde_json::json;
use unitel_testkit::{OtlpReceiver, ReceivedSpan};

async fn one_rag_query_is_one_connected_trace(extra_env: &[(&str, String)]) {
    let receiver = OtlpReceiver::start().await.unwrap();
    let mut env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_SERVICE_NAME", "reference-server-test".to_owned()),
    ];
    env.extend(extra_env.iter().cloned());
    let server = common::Server::start(&env).await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/v1/documents", server.base))
        .json(&json!({"text": "Jaeger stores traces. Prometheus stores metrics.", "metadata": {"source": "test"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{}/v1/rag/query", server.base))
        .json(&json!({"query": "Where are traces stored?", "top_k": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["answer"].as_str().unwrap().contains("Jaeger"),
        "{body}"
    );

    let is_server = |s: &ReceivedSpan| s.name == "POST /v1/rag/query";
    let spans = receiver
        .wait_for_spans(
            |spans| {
                spans.iter().find(|s| is_server(s)).is_some_and(|root| {
                    spans.iter().filter(|s| s.trace_id == root.trace_id).count() >= 5
                })
            },
            Duration::from_secs(20),
        )
        .await;
    let root = spans
        .iter()
        .find(|s| is_server(s))
        .unwrap_or_else(|| panic!("no server span: {spans:#?}"));
    assert!(root.is_root());
    let trace: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.trace_id == root.trace_id)
        .collect();
    let names: Vec<&str> = trace.iter().map(|s| s.name.as_str()).collect();
    let find = |prefix: &str| {
        *trace
            .iter()
            .find(|s| s.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` span in {names:?}"))
    };
    let retrieval = find("retrieval chunks");
    let embeddings = find("embeddings ");
    let db = find("SELECT chunks");
    let chat = find("chat ");
    assert_eq!(retrieval.parent_span_id, root.span_id, "{names:?}");
    assert_eq!(embeddings.parent_span_id, retrieval.span_id, "{names:?}");
    assert_eq!(db.parent_span_id, retrieval.span_id, "{names:?}");
    assert_eq!(chat.parent_span_id, root.span_id, "{names:?}");
    assert_eq!(chat.attr("gen_ai.provider.name").as_deref(), Some("local"));
    assert!(chat.attr("gen_ai.usage.input_tokens").is_some());
    assert_eq!(
        root.resource_attr("service.name").as_deref(),
        Some("reference-server-test")
    );
    // Every span of the trace hangs off another span of the trace.
    for s in &trace {
        assert!(
            s.is_root() || trace.iter().any(|p| p.span_id == s.parent_span_id),
            "{} is orphaned",
            s.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rag_query_trace_with_sqlite() {
    one_rag_query_is_one_connected_trace(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rag_query_trace_with_postgres() {
    let Some(pg) = unitel_testkit::postgres().await else {
        return;
    };
    one_rag_query_is_one_connected_trace(&[("DATABASE_URL", pg.url().to_owned())]).await;
}
