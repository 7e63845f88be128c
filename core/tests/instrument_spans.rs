//! Spans of the instrumentation API exported to the testkit's OTLP receiver: `#[trace_operation]`,
//! `#[track_llm_usage]` (`chat {model}`), `LlmCall` with opt-in content capture, `RagQuery`
//! (`retrieval {data_source}`) and `EmbeddingBatch` (`embeddings {model}`). One `init` per
//! process: this binary has one test.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use tracing::Instrument as _;
use unitel::config::TracesExporter;
use unitel::genai::embeddings::EmbeddingBatch;
use unitel::genai::llm::{ContentKind, LlmCall, LlmErrorKind, LlmUsage, LlmUsageReport};
use unitel::genai::rag::RagQuery;
use unitel::instrument::ErrorKind;
use unitel::{TelemetryConfig, trace_operation, track_llm_usage};
use unitel_testkit::OtlpReceiver;
use unitel_testkit::otlp::{SpanKind, StatusCode};

#[derive(Debug)]
struct ConfigError(String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid config: {}", self.0)
    }
}
impl std::error::Error for ConfigError {}
impl ErrorKind for ConfigError {
    fn error_kind(&self) -> &'static str {
        "invalid_config"
    }
}

#[trace_operation(name = "database_query", kind = "client", fields(db.rows = limit, %query_kind))]
async fn query_database(query: &str, query_kind: &str, limit: u32) -> Result<usize, ConfigError> {
    let _child = unitel::trace::start_span("decode_rows").entered();
    Ok(query.len() + limit as usize)
}

#[trace_operation(name = "parse_config")]
fn parse_config(text: &str) -> Result<u32, ConfigError> {
    text.parse()
        .map_err(|_| ConfigError(format!("`{text}` is not a number")))
}

#[trace_operation]
fn read_settings() -> std::io::Result<()> {
    Err(std::io::Error::other("settings file missing"))
}

#[trace_operation(name = "explode")]
fn explode() {
    panic!("boom");
}

struct Completion {
    usage: LlmUsage,
}

impl LlmUsageReport for Completion {
    fn llm_usage(&self) -> Option<LlmUsage> {
        Some(self.usage)
    }
    fn response_model(&self) -> Option<&str> {
        Some("gpt-4-0613")
    }
}

#[track_llm_usage(
    provider = "openai",
    model = "gpt-4",
    cost_per_1k_prompt = 0.03,
    cost_per_1k_completion = 0.06
)]
async fn call_llm(prompt: &str) -> Result<Completion, ConfigError> {
    // The provider request runs inside the `chat gpt-4` span.
    async { tokio::task::yield_now().await }
        .instrument(unitel::trace::start_span("POST /v1/chat/completions"))
        .await;
    Ok(Completion {
        usage: LlmUsage::new(2000, prompt.len() as u64),
    })
}

struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrumentation_spans_reach_the_receiver() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let prices =
        TempFile(std::env::temp_dir().join(format!("unitel-spans-{}.toml", std::process::id())));
    std::fs::write(
        &prices.0,
        "version = \"spans-test\"\n[models.\"gpt-4o\"]\ninput = 2.5\noutput = 10\n",
    )
    .unwrap();
    // A broken price table is a typed error at start-up naming the file and the model; init
    // can then be called again.
    let broken = TempFile(
        std::env::temp_dir().join(format!("unitel-spans-broken-{}.toml", std::process::id())),
    );
    std::fs::write(
        &broken.0,
        "version = \"x\"\n[models.\"gpt-4o\"]\ninput = \"cheap\"\n",
    )
    .unwrap();
    let err = unitel::init(
        TelemetryConfig::builder()
            .llm_price_file(&broken.0)
            .install_subscriber(false)
            .build()
            .unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, unitel::InitError::PriceTable(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("unitel-spans-broken") && text.contains("input"),
        "{text}"
    );

    let config = TelemetryConfig::builder()
        .service_name("instrument-spans")
        .otlp_endpoint(receiver.endpoint())
        .traces_exporters([TracesExporter::Otlp])
        .traces_schedule_delay(Duration::from_millis(100))
        .llm_price_file(&prices.0)
        .log_filter("warn")
        .build()
        .unwrap();
    let guard = unitel::init(config).unwrap();

    // #[trace_operation]
    assert_eq!(query_database("select 1", "select", 5).await.unwrap(), 13);
    parse_config("not a number").unwrap_err();
    assert_eq!(parse_config("42").unwrap(), 42);
    read_settings().unwrap_err();
    assert!(std::panic::catch_unwind(explode).is_err());

    // #[track_llm_usage]
    call_llm("four").await.unwrap();

    // LlmCall: prompts are not captured by default, then only through the redaction hook.
    let call = LlmCall::start("openai", "gpt-4o");
    call.record_prompt("my card is 4242");
    let cost = call.finish(LlmUsage::new(1_000_000, 100_000));
    assert_eq!(cost.as_dollars(), 3.5); // priced by the table init loaded
    unitel::genai::llm::set_content_capture(|kind, text| match kind {
        ContentKind::Prompt => Some(text.replace(|c: char| c.is_ascii_digit(), "#")),
        ContentKind::Completion => None,
    });
    let captured = LlmCall::builder("openai", "gpt-4o-captured").start();
    captured.record_prompt("my card is 4242");
    captured.record_completion("the secret answer");
    captured.fail(LlmErrorKind::RateLimited);
    unitel::genai::llm::disable_content_capture();

    // RagQuery and EmbeddingBatch
    let rag = RagQuery::builder("standard")
        .data_source("docs_index")
        .top_k(5)
        .start();
    rag.cache_miss();
    async { tokio::task::yield_now().await }
        .instrument(rag.span().clone())
        .await;
    rag.retrieved(3);
    EmbeddingBatch::builder("openai", "text-embedding-3-small", 3)
        .dimensions(1536)
        .start()
        .finish_with_tokens(12);

    guard.force_flush();
    let expected = [
        "database_query",
        "decode_rows",
        "parse_config",
        "read_settings",
        "explode",
        "chat gpt-4",
        "POST /v1/chat/completions",
        "chat gpt-4o",
        "chat gpt-4o-captured",
        "retrieval docs_index",
        "embeddings text-embedding-3-small",
    ];
    let spans = receiver
        .wait_for_spans(
            |s| expected.iter().all(|n| s.iter().any(|x| x.name == *n)),
            Duration::from_secs(20),
        )
        .await;
    let by_name = |n: &str| {
        spans.iter().find(|s| s.name == n).unwrap_or_else(|| {
            panic!(
                "no span {n}: {:#?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
    };

    let query = by_name("database_query");
    assert_eq!(query.kind, SpanKind::Client);
    assert_eq!(query.status_code, StatusCode::Unset);
    assert_eq!(query.attr("db.rows").as_deref(), Some("5"));
    assert_eq!(query.attr("query_kind").as_deref(), Some("select"));
    assert_eq!(
        query.attr("code.function.name").as_deref(),
        Some("query_database")
    );
    assert!(
        query.attr("query").is_none(),
        "arguments are recorded only when listed"
    );
    assert_eq!(by_name("decode_rows").parent_span_id, query.span_id);

    let failed: Vec<_> = spans.iter().filter(|s| s.name == "parse_config").collect();
    assert_eq!(failed.len(), 2);
    let err = failed
        .iter()
        .find(|s| s.status_code == StatusCode::Error)
        .unwrap();
    assert_eq!(err.attr("error.type").as_deref(), Some("invalid_config"));
    assert_eq!(
        err.event("exception")
            .unwrap()
            .attr("exception.message")
            .as_deref(),
        Some("invalid config: `not a number` is not a number")
    );
    assert!(failed.iter().any(|s| s.status_code == StatusCode::Unset));
    let io = by_name("read_settings");
    assert_eq!(io.status_code, StatusCode::Error);
    assert!(io.attr("error.type").unwrap().contains("io"), "{io:?}");
    let panicked = by_name("explode");
    assert_eq!(panicked.status_code, StatusCode::Error);
    assert_eq!(panicked.attr("error.type").as_deref(), Some("panic"));

    let chat = by_name("chat gpt-4");
    assert_eq!(chat.kind, SpanKind::Client);
    assert_eq!(chat.attr("gen_ai.operation.name").as_deref(), Some("chat"));
    assert_eq!(chat.attr("gen_ai.provider.name").as_deref(), Some("openai"));
    assert_eq!(chat.attr("gen_ai.request.model").as_deref(), Some("gpt-4"));
    assert_eq!(
        chat.attr("gen_ai.response.model").as_deref(),
        Some("gpt-4-0613")
    );
    assert_eq!(
        chat.attr("gen_ai.usage.input_tokens").as_deref(),
        Some("2000")
    );
    assert_eq!(
        chat.attr("gen_ai.usage.output_tokens").as_deref(),
        Some("4")
    );
    assert_eq!(
        by_name("POST /v1/chat/completions").parent_span_id,
        chat.span_id
    );
    assert!(chat.attr("gen_ai.input.messages").is_none());

    let plain = by_name("chat gpt-4o");
    assert!(plain.attr("gen_ai.input.messages").is_none(), "{plain:?}");
    assert_eq!(plain.attr("unitel.llm.cost_usd").as_deref(), Some("3.5"));
    let captured = by_name("chat gpt-4o-captured");
    assert_eq!(
        captured.attr("gen_ai.input.messages").as_deref(),
        Some("my card is ####")
    );
    assert!(captured.attr("gen_ai.output.messages").is_none());
    assert_eq!(captured.status_code, StatusCode::Error);
    assert_eq!(captured.attr("error.type").as_deref(), Some("rate_limited"));

    let retrieval = by_name("retrieval docs_index");
    assert_eq!(
        retrieval.attr("gen_ai.operation.name").as_deref(),
        Some("retrieval")
    );
    assert_eq!(
        retrieval.attr("gen_ai.data_source.id").as_deref(),
        Some("docs_index")
    );
    assert_eq!(retrieval.attr("gen_ai.request.top_k").as_deref(), Some("5"));
    assert_eq!(
        retrieval.attr("unitel.rag.documents_retrieved").as_deref(),
        Some("3")
    );
    assert_eq!(
        retrieval.attr("unitel.rag.cache_hit").as_deref(),
        Some("false")
    );

    let embeddings = by_name("embeddings text-embedding-3-small");
    assert_eq!(embeddings.kind, SpanKind::Client);
    assert_eq!(
        embeddings.attr("gen_ai.operation.name").as_deref(),
        Some("embeddings")
    );
    assert_eq!(
        embeddings.attr("gen_ai.usage.input_tokens").as_deref(),
        Some("12")
    );
    assert_eq!(
        embeddings
            .attr("gen_ai.embeddings.dimension.count")
            .as_deref(),
        Some("1536")
    );

    // No span anywhere carries a prompt unless the hook allowed it.
    for s in &spans {
        for (key, value) in &s.attributes {
            assert!(
                !value.to_string().contains("4242") && !value.to_string().contains("secret"),
                "{} has {key}={value}",
                s.name
            );
        }
    }

    let text = unitel::prometheus::render();
    assert!(
        text.contains("unitel_price_table_info{version=\"spans-test\"} 1"),
        "{text}"
    );
    assert!(text.contains("llm_cost_dollars_total{provider=\"openai\",model=\"gpt-4o\"} 3.5"));
    guard.shutdown().await.unwrap();
}
