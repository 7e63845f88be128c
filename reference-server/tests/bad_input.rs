//! Bad input gets a clear 4xx, stores nothing, and the server keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{Value, json};

async fn indexed(client: &reqwest::Client, base: &str) -> u64 {
    let h: Value = client
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    h["indexed_chunks"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_are_4xx_and_store_nothing() {
    let mut server = common::Server::start(&[("MAX_BODY_BYTES", "65536".to_owned())]).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let before = indexed(&client, &base).await;

    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "malformed JSON",
            client
                .post(format!("{base}/v1/rag/query"))
                .header("content-type", "application/json")
                .body("{\"query\": "),
            400,
            "body",
        ),
        (
            "wrong content type",
            client.post(format!("{base}/v1/rag/query")).body("query=x"),
            415,
            "body",
        ),
        (
            "empty query",
            client
                .post(format!("{base}/v1/rag/query"))
                .json(&json!({"query": "  "})),
            400,
            "query",
        ),
        (
            "top_k 0",
            client
                .post(format!("{base}/v1/rag/query"))
                .json(&json!({"query": "x", "top_k": 0})),
            400,
            "top_k",
        ),
        (
            "top_k 10000",
            client
                .post(format!("{base}/v1/rag/query"))
                .json(&json!({"query": "x", "top_k": 10000})),
            400,
            "top_k",
        ),
        (
            "empty document",
            client
                .post(format!("{base}/v1/documents"))
                .json(&json!({"text": ""})),
            400,
            "text",
        ),
        (
            "metadata not an object",
            client
                .post(format!("{base}/v1/documents"))
                .json(&json!({"text": "t", "metadata": [1]})),
            400,
            "metadata",
        ),
        // A fresh connection: the server answers 413 without reading the body and closes it.
        (
            "huge body",
            reqwest::Client::new()
                .post(format!("{base}/v1/documents"))
                .json(&json!({"text": "word ".repeat(100_000)})),
            413,
            "body",
        ),
        (
            "no user message",
            client
                .post(format!("{base}/v1/chat/completions"))
                .json(&json!({"messages": []})),
            400,
            "messages",
        ),
        (
            "empty embeddings input",
            client
                .post(format!("{base}/v1/embeddings"))
                .json(&json!({"input": []})),
            400,
            "input",
        ),
    ];
    for (name, request, status, field) in cases {
        let r = request.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{name}");
        let body: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{name}: error body is not JSON: {e}"));
        assert_eq!(body["error"]["field"], field, "{name}: {body}");
        assert!(
            !body["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{name}"
        );
    }
    assert_eq!(
        indexed(&client, &base).await,
        before,
        "a rejected request stored something"
    );

    // Deeply nested JSON and SQL-injection strings: a 4xx or stored verbatim, never a 500.
    let nested = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let r = client
        .post(format!("{base}/v1/documents"))
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let injection = "Robert'); DROP TABLE chunks;-- and \" OR 1=1 --";
    let r = client
        .post(format!("{base}/v1/documents"))
        .json(&json!({"text": injection, "metadata": {"note": "'; DELETE FROM documents; --"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{base}/v1/rag/query"))
        .json(&json!({"query": "Robert DROP TABLE", "top_k": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["sources"][0]["text"], injection);

    // Still serving.
    assert!(server.is_running());
    let r = client
        .post(format!("{base}/v1/rag/query"))
        .json(&json!({"query": "anything"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("errors_total{component=\"api\",error_type=\"validation\"}"));
    assert!(
        !metrics.contains("status=\"500\""),
        "a bad request produced a 500"
    );
}
