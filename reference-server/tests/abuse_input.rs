//! Hostile request bodies against every endpoint of the reference server, on SQLite and on
//! PostgreSQL (complementing `bad_input.rs`): invalid UTF-8, lone surrogates, NUL characters,
//! bodies over the limit (declared or streamed), deeply nested JSON anywhere in a body, numbers
//! of the wrong kind, oversized headers, and SQL-injection strings in text, metadata keys and
//! values, queries, chat messages and embeddings input. Every answer is a 2xx or a 4xx, never a
//! 5xx; what is accepted is stored verbatim (read back from the database itself), the schema is
//! untouched, and the server keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::collections::BTreeMap;

use fault_support::{Process, parse_exposition};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ENDPOINTS: [&str; 4] = [
    "/v1/documents",
    "/v1/rag/query",
    "/v1/chat/completions",
    "/v1/embeddings",
];

/// Strings that break naive SQL building, in every dialect the server speaks.
const INJECTIONS: &[&str] = &[
    "Robert'); DROP TABLE documents;--",
    "' OR '1'='1",
    "\" OR \"\"=\"",
    "1; DELETE FROM chunks WHERE 1=1; --",
    "$$; DROP TABLE chunks; $$",
    "$1 $2 ? ?1 :name @p",
    "E'\\x27; TRUNCATE documents; --",
    "'; COPY documents TO PROGRAM 'id'; --",
    "/* */ UNION SELECT password FROM pg_shadow --",
    "\\'; ATTACH DATABASE '/tmp/x.db' AS x; --",
];

/// A body holding `value` in the field that endpoint stores or reads.
fn body_with(endpoint: &str, value: &Value) -> Value {
    match endpoint {
        "/v1/documents" => json!({"text": "nested", "metadata": {"deep": value}}),
        "/v1/rag/query" => json!({"query": value}),
        "/v1/chat/completions" => json!({"messages": [{"role": "user", "content": value}]}),
        _ => json!({"input": value}),
    }
}

/// `{"a":{"a":…"bottom"…}}`, `depth` objects deep, as text (a `Value` that deep would
/// overflow the test's own stack when built or dropped).
fn nested(depth: usize) -> String {
    format!("{}\"bottom\"{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

/// `body_with(endpoint, value)` with `value` given as JSON text.
fn body_with_text(endpoint: &str, value: &str) -> Vec<u8> {
    body_with(endpoint, &json!("PLACEHOLDER"))
        .to_string()
        .replace("\"PLACEHOLDER\"", value)
        .into_bytes()
}

/// Sends raw bytes on a fresh connection and returns the status code of the answer.
async fn raw_status(port: u16, request: &[u8]) -> u16 {
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    socket.write_all(request).await.unwrap();
    let mut answer = vec![0u8; 64];
    let n = socket.read(&mut answer).await.unwrap();
    let head = String::from_utf8_lossy(&answer[..n]).into_owned();
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"))
}

/// Every stored document: (text, metadata JSON).
async fn stored_documents(database_url: &str) -> Vec<(String, String)> {
    let sql = "SELECT text, metadata FROM documents ORDER BY id";
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}

async fn hostile_input_is_refused_or_stored_verbatim(server: &Process, database_url: &str) {
    let base = &server.base;
    let client = reqwest::Client::new();
    let mut outcomes: BTreeMap<String, u16> = BTreeMap::new();
    let mut record = |case: String, status: u16| {
        assert!(status < 500, "{case}: {status}");
        assert!(status != 0, "{case}: no answer");
        outcomes.insert(case, status);
    };
    let send = |endpoint: &str, body: Vec<u8>| {
        client
            .post(format!("{base}{endpoint}"))
            .header("content-type", "application/json")
            .body(body)
    };

    for endpoint in ENDPOINTS {
        // Invalid UTF-8 inside a JSON string, and as the whole body.
        let mut invalid = serde_json::to_vec(&body_with(endpoint, &json!("ok"))).unwrap();
        let at = invalid.windows(2).position(|w| w == b"ok").unwrap();
        invalid.splice(at..at + 2, [0xff, 0xfe, 0xc3]);
        let r = send(endpoint, invalid).send().await.unwrap();
        assert_eq!(r.status(), 400, "{endpoint}: invalid UTF-8");
        record(format!("{endpoint} invalid UTF-8"), 400);
        let r = send(endpoint, vec![0xff; 100]).send().await.unwrap();
        record(format!("{endpoint} binary body"), r.status().as_u16());
        // A lone surrogate escape.
        let body = serde_json::to_string(&body_with(endpoint, &json!("SURR")))
            .unwrap()
            .replace("SURR", "\\ud800");
        let r = send(endpoint, body.into_bytes()).send().await.unwrap();
        assert_eq!(r.status(), 400, "{endpoint}: lone surrogate");
        // Deeply nested JSON where a value is expected: within serde's limit (stored or
        // refused as the wrong type) and far beyond it.
        for depth in [100, 5_000] {
            let r = send(endpoint, body_with_text(endpoint, &nested(depth)))
                .send()
                .await
                .unwrap();
            record(format!("{endpoint} nested {depth}"), r.status().as_u16());
        }
        let deep_array = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let r = send(endpoint, deep_array.into_bytes())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{endpoint}: deep array");
        // Over the body limit: declared, and streamed without a length.
        let big = serde_json::to_vec(&body_with(endpoint, &json!("w ".repeat(40_000)))).unwrap();
        let r = reqwest::Client::new()
            .post(format!("{base}{endpoint}"))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{endpoint}: declared over the limit");
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            big.chunks(4096).map(|c| Ok(c.to_vec())).collect();
        let r = reqwest::Client::new()
            .post(format!("{base}{endpoint}"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await;
        // The server may answer 413 and close before the client finished sending.
        if let Ok(r) = r {
            assert_eq!(r.status(), 413, "{endpoint}: streamed over the limit");
        }
        // Wrong shapes and numbers.
        for (case, body) in [
            ("empty", String::new()),
            ("null", "null".to_owned()),
            ("array", "[]".to_owned()),
            (
                "trailing garbage",
                format!("{} x", body_with(endpoint, &json!("ok"))),
            ),
            (
                "BOM",
                format!("\u{feff}{}", body_with(endpoint, &json!("ok"))),
            ),
            (
                "number for text",
                body_with(endpoint, &json!(1e308)).to_string(),
            ),
            (
                "NUL character",
                body_with(endpoint, &json!("before\u{0}after")).to_string(),
            ),
        ] {
            let r = send(endpoint, case_body(body)).send().await.unwrap();
            record(format!("{endpoint} {case}"), r.status().as_u16());
        }
    }
    // NUL characters in stored text (PostgreSQL's TEXT cannot hold them).
    for (case, body) in [
        (
            "NUL in a document",
            json!({"text": "before\u{0}after. More text."}),
        ),
        (
            "NUL in metadata",
            json!({"text": "fine", "metadata": {"k\u{0}": "v\u{0}"}}),
        ),
    ] {
        let r = client
            .post(format!("{base}/v1/documents"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        record(case.to_owned(), status);
        if case == "NUL in a document" {
            assert_eq!(status, 400, "{case}");
            let error: Value = r.json().await.unwrap();
            assert_eq!(error["error"]["field"], "text", "{error}");
        }
    }
    for top_k in [
        json!(1e300),
        json!(-1),
        json!("3"),
        json!(3.5),
        json!(null),
        json!(i64::MAX),
    ] {
        let r = client
            .post(format!("{base}/v1/rag/query"))
            .json(&json!({"query": "x", "top_k": top_k}))
            .send()
            .await
            .unwrap();
        record(format!("top_k {top_k}"), r.status().as_u16());
    }
    let r = client
        .post(format!("{base}/v1/embeddings"))
        .json(&json!({"input": vec!["x"; 1000]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "1000 embedding inputs");
    let r = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({"messages": vec![json!({"role": "user", "content": "x"}); 65]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "65 messages");
    // Methods, headers and request lines.
    for (case, request) in [
        (
            "GET on a POST route",
            "GET /v1/documents HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes().to_vec(),
        ),
        (
            "invalid UTF-8 in the path",
            b"GET /v1/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "invalid UTF-8 in headers",
            b"POST /v1/rag/query HTTP/1.1\r\nHost: x\r\nUser-Agent: \xff\xfe\r\ntraceparent: \xff\r\nbaggage: k=\xff\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"query\":\"x\"}".to_vec(),
        ),
        (
            "a 200 KiB header",
            format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(200 * 1024)).into_bytes(),
        ),
        (
            "garbage request line",
            b"\x00\x01\x02 / HTTP/1.1\r\n\r\n".to_vec(),
        ),
        (
            "content-length lies",
            b"POST /v1/rag/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{\"query\":\"x\"}".to_vec(),
        ),
    ] {
        record(case.to_owned(), raw_status(server.port, &request).await);
    }

    // SQL-injection strings everywhere: stored and read back verbatim.
    let before = stored_documents(database_url).await.len();
    for (i, injection) in INJECTIONS.iter().enumerate() {
        let text = format!("Injection number {i}: {injection}");
        let metadata = json!({ *injection: injection, "nested": {"k": [injection, i]} });
        let r = client
            .post(format!("{base}/v1/documents"))
            .json(&json!({"text": text, "metadata": metadata}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{injection}");
        for (endpoint, body) in [
            ("/v1/rag/query", json!({"query": injection})),
            (
                "/v1/chat/completions",
                json!({"messages": [{"role": "user", "content": injection}]}),
            ),
            ("/v1/embeddings", json!({"input": [injection, text]})),
        ] {
            let r = client
                .post(format!("{base}{endpoint}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{endpoint}: {injection}");
        }
    }
    let documents = stored_documents(database_url).await;
    assert_eq!(
        documents.len(),
        before + INJECTIONS.len(),
        "rows went missing"
    );
    for (i, injection) in INJECTIONS.iter().enumerate() {
        let text = format!("Injection number {i}: {injection}");
        let (_, metadata) = documents
            .iter()
            .find(|(t, _)| *t == text)
            .unwrap_or_else(|| panic!("not stored verbatim: {text}"));
        let metadata: Value = serde_json::from_str(metadata).unwrap();
        assert_eq!(
            metadata,
            json!({ *injection: injection, "nested": {"k": [injection, i]} })
        );
    }
    // The nested metadata within serde's limit was stored whole.
    assert!(
        documents
            .iter()
            .any(|(_, m)| m.matches("{\"a\":").count() >= 100),
        "the 100-deep metadata object was not stored"
    );

    // Still serving, nothing recorded as a server error, the rejections counted.
    let r = client
        .post(format!("{base}/v1/rag/query"))
        .json(&json!({"query": "Injection number 3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert!(
        answer["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["text"].as_str().unwrap().contains("DELETE FROM chunks")),
        "{answer}"
    );
    let samples = parse_exposition(&server.metrics().await);
    for s in &samples {
        if let Some(status) = s.label("status") {
            assert!(!status.starts_with('5'), "a 5xx was recorded: {}", s.key());
        }
    }
    assert_eq!(
        fault_support::sum(&samples, "db_queries_total", &[("status", "error")]),
        0.0,
        "hostile input made a query fail"
    );
    println!(
        "hostile input ({}): {} cases, statuses {:?}",
        database_url.split(':').next().unwrap(),
        outcomes.len(),
        outcomes.values().collect::<std::collections::BTreeSet<_>>()
    );
}

fn case_body(body: String) -> Vec<u8> {
    body.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_on_sqlite() {
    let server = Process::start(&[("MAX_BODY_BYTES", "65536".to_owned())]).await;
    let url = format!("sqlite://{}/rag.db", server.dir.path().display());
    hostile_input_is_refused_or_stored_verbatim(&server, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_on_postgres() {
    let Some(pg) = unitel_testkit::postgres().await else {
        return;
    };
    let server = Process::start(&[
        ("MAX_BODY_BYTES", "65536".to_owned()),
        ("DATABASE_URL", pg.url().to_owned()),
    ])
    .await;
    hostile_input_is_refused_or_stored_verbatim(&server, pg.url()).await;
}
