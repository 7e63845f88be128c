//! RAG queries, embedding batches, cache counters, timers, resource guards and error counts,
//! observed through the rendered exposition.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use unitel::Registry;
use unitel::genai::cache::{CacheMetrics, Lookup};
use unitel::genai::embeddings::EmbeddingBatch;
use unitel::genai::llm::{LlmErrorKind, LlmMetrics, ModelPrice, Price, PriceTable};
use unitel::genai::rag::{RagMetrics, RagQuery};
use unitel::instrument::{OperationTimer, ResourceGuard};
use unitel::registry::InstrumentationErrorKind;

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no sample `{series}` in:\n{text}"))
}

fn instrumentation_errors(registry: &Registry, kind: InstrumentationErrorKind) -> f64 {
    registry
        .counter(&unitel::catalog::INSTRUMENTATION_ERRORS_TOTAL)
        .with_labels(&[kind.as_str()])
        .value()
}

#[derive(Clone, Debug, PartialEq)]
struct Document(u32);

/// The seed's `rag_search`, recording into `metrics`.
async fn rag_search(
    metrics: &Arc<RagMetrics>,
    cache: &tokio::sync::Mutex<Option<Vec<Document>>>,
    found: u32,
) -> Vec<Document> {
    let rag = RagQuery::builder("standard")
        .data_source("docs_index")
        .top_k(5)
        .metrics(metrics)
        .start();
    if let Some(cached) = rag.check_cache(cache.lock().await.clone()) {
        return cached;
    }
    let documents: Vec<Document> = (0..found).map(Document).collect();
    *cache.lock().await = Some(documents.clone());
    rag.retrieved(documents.len());
    documents
}

#[tokio::test]
async fn rag_search_counts_queries_cache_outcomes_documents_and_latency() {
    let registry = Registry::new();
    let metrics = RagMetrics::new(&registry);
    let cache = tokio::sync::Mutex::new(None);
    assert_eq!(rag_search(&metrics, &cache, 3).await.len(), 3); // miss, retrieves 3
    assert_eq!(rag_search(&metrics, &cache, 3).await.len(), 3); // hit
    *cache.lock().await = None;
    assert_eq!(rag_search(&metrics, &cache, 12).await.len(), 12); // miss, retrieves 12

    let text = unitel::prometheus::render_registry(&registry);
    let s = |series: &str| value(&text, series);
    assert_eq!(s("rag_queries_total{pipeline=\"standard\"}"), 3.0);
    assert_eq!(s("rag_cache_hits_total{cache=\"standard\"}"), 1.0);
    assert_eq!(s("rag_cache_misses_total{cache=\"standard\"}"), 2.0);
    let docs = |le: &str| {
        s(&format!(
            "rag_documents_retrieved_bucket{{pipeline=\"standard\",le=\"{le}\"}}"
        ))
    };
    assert_eq!(docs("2"), 0.0);
    assert_eq!(docs("3"), 1.0);
    assert_eq!(docs("10"), 1.0);
    assert_eq!(docs("20"), 2.0);
    assert_eq!(
        s("rag_documents_retrieved_sum{pipeline=\"standard\"}"),
        15.0
    );
    assert_eq!(
        s("rag_documents_retrieved_count{pipeline=\"standard\"}"),
        2.0
    );
    // Latency only for retrievals, not for cache hits.
    assert_eq!(
        s("rag_retrieval_latency_seconds_count{pipeline=\"standard\"}"),
        2.0
    );
}

#[test]
fn failed_queries_count_an_error_and_cache_names_are_configurable() {
    let registry = Registry::new();
    let metrics = RagMetrics::new(&registry);
    let query = RagQuery::builder("hybrid")
        .cache_name("query_cache")
        .metrics(&metrics)
        .start();
    query.cache_miss();
    query.fail("vector_store_unavailable");
    let text = unitel::prometheus::render_registry(&registry);
    assert_eq!(value(&text, "rag_queries_total{pipeline=\"hybrid\"}"), 1.0);
    assert_eq!(
        value(&text, "rag_cache_misses_total{cache=\"query_cache\"}"),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "errors_total{component=\"rag\",error_type=\"vector_store_unavailable\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "rag_retrieval_latency_seconds_count{pipeline=\"hybrid\"}"
        ),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_queries_are_all_counted() {
    const N: usize = 8;
    const M: usize = 200;
    let registry = Registry::new();
    let metrics = RagMetrics::new(&registry);
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let metrics = Arc::clone(&metrics);
            tokio::spawn(async move {
                for i in 0..M {
                    let q = RagQuery::builder("concurrent").metrics(&metrics).start();
                    tokio::task::yield_now().await;
                    if q.check_cache(i.is_multiple_of(4).then_some(())).is_none() {
                        q.retrieved(i % 7);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let text = unitel::prometheus::render_registry(&registry);
    assert_eq!(
        value(&text, "rag_queries_total{pipeline=\"concurrent\"}"),
        (N * M) as f64
    );
    assert_eq!(
        value(&text, "rag_cache_hits_total{cache=\"concurrent\"}"),
        (N * M / 4) as f64
    );
    assert_eq!(
        value(
            &text,
            "rag_documents_retrieved_count{pipeline=\"concurrent\"}"
        ),
        (N * M * 3 / 4) as f64
    );
}

// --- embeddings ----------------------------------------------------------------------------------

#[test]
fn embedding_batches_count_embeddings_duration_tokens_and_cost() {
    let registry = Registry::new();
    let metrics = LlmMetrics::new(&registry);
    let table = Arc::new(PriceTable::new("emb").model(
        "text-embedding-3-small",
        ModelPrice::new(Price::per_1m_dollars(0.02).unwrap(), Price::ZERO),
    ));
    let start = |model: &str, n: usize| {
        EmbeddingBatch::builder("openai", model, n)
            .metrics(&metrics)
            .price_table(Arc::clone(&table))
            .start()
    };
    start("text-embedding-3-small", 32).finish();
    let cost = start("text-embedding-3-small", 8).finish_with_tokens(1_000_000);
    assert_eq!(cost.as_dollars(), 0.02);
    start("custom-embedder", 4).finish();
    start("text-embedding-3-small", 16).fail(LlmErrorKind::RateLimited);
    drop(start("text-embedding-3-small", 2));

    let text = unitel::prometheus::render_registry(&registry);
    let s = |series: &str| value(&text, series);
    assert_eq!(
        s("embeddings_generated_total{provider=\"openai\",model=\"text-embedding-3-small\"}"),
        40.0
    );
    assert_eq!(
        s("embeddings_generated_total{provider=\"openai\",model=\"other\"}"),
        4.0
    );
    assert_eq!(
        s(
            "embedding_generation_duration_seconds_count{provider=\"openai\",model=\"text-embedding-3-small\"}"
        ),
        2.0
    );
    assert_eq!(
        s("llm_cost_dollars_total{provider=\"openai\",model=\"text-embedding-3-small\"}"),
        0.02
    );
    let op = |error: &str| {
        s(&format!(
            "gen_ai_client_operation_duration_seconds_count{{gen_ai_operation_name=\"embeddings\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"text-embedding-3-small\"{error}}}"
        ))
    };
    assert_eq!(op(""), 2.0);
    assert_eq!(op(",error_type=\"rate_limited\""), 1.0);
    assert_eq!(op(",error_type=\"cancelled\""), 1.0);
    assert_eq!(
        s(
            "gen_ai_client_token_usage_sum{gen_ai_operation_name=\"embeddings\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"text-embedding-3-small\",gen_ai_token_type=\"input\"}"
        ),
        1_000_000.0
    );
}

// --- cache ---------------------------------------------------------------------------------------

#[test]
fn cache_metrics_count_hits_and_misses_from_any_outcome() {
    let registry = Registry::new();
    let cache = CacheMetrics::with_registry(&registry, "embedding_cache");
    cache.hit();
    cache.miss();
    cache.record(true);
    cache.record_outcome(&Lookup::Miss(1));
    cache.record_outcome(&(0u8, true));
    cache.record_outcome(&Ok::<_, ()>(Lookup::Hit(())));
    cache.record_outcome(&Err::<Lookup<()>, _>("no lookup happened"));
    cache.record_outcome(&None::<Lookup<()>>);
    let text = unitel::prometheus::render_registry(&registry);
    assert_eq!(
        value(&text, "rag_cache_hits_total{cache=\"embedding_cache\"}"),
        4.0
    );
    assert_eq!(
        value(&text, "rag_cache_misses_total{cache=\"embedding_cache\"}"),
        2.0
    );

    let l = Lookup::new(5, true);
    assert!(l.is_hit());
    assert_eq!(*l.value(), 5);
    assert_eq!(l.map(|v| v * 2).into_inner(), 10);
}

// --- timers, resources, errors --------------------------------------------------------------------

#[tokio::test]
async fn time_operation_observes_on_drop_stop_and_future_completion() {
    {
        let _timer = unitel::instrument::time_operation("r_import_seconds", &[("source", "s3")]);
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed =
        unitel::instrument::time_operation("r_import_seconds", &[("source", "s3")]).stop();
    assert!(elapsed < Duration::from_secs(3600));
    let rows = unitel::instrument::time_operation("r_import_seconds", &[("source", "gcs")])
        .time(async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            7
        })
        .await;
    assert_eq!(rows, 7);
    unitel::instrument::time_operation("r_import_seconds", &[("source", "gcs")]).discard();

    let text = unitel::prometheus::render();
    assert_eq!(value(&text, "r_import_seconds_count{source=\"s3\"}"), 2.0);
    assert_eq!(value(&text, "r_import_seconds_count{source=\"gcs\"}"), 1.0);
    assert!(value(&text, "r_import_seconds_sum{source=\"s3\"}") >= 0.002);
    assert!(text.contains("# TYPE r_import_seconds histogram"));
}

#[test]
fn time_operation_on_a_catalog_family_uses_its_labels_and_misuse_is_counted() {
    let registry = unitel::registry();
    let timer = unitel::instrument::time_operation(
        "db_query_duration_seconds",
        &[("db_system", "r_sqlite"), ("operation", "select")],
    );
    drop(timer);
    let text = unitel::prometheus::render();
    assert_eq!(
        value(
            &text,
            "db_query_duration_seconds_count{db_system=\"r_sqlite\",operation=\"select\"}"
        ),
        1.0
    );

    let before = instrumentation_errors(registry, InstrumentationErrorKind::KindMismatch);
    // `errors_total` is a counter: a timer on it records nothing and is counted as misuse.
    drop(unitel::instrument::time_operation("errors_total", &[]));
    assert_eq!(
        instrumentation_errors(registry, InstrumentationErrorKind::KindMismatch),
        before + 1.0
    );

    let invalid = instrumentation_errors(registry, InstrumentationErrorKind::UnknownMetric);
    drop(unitel::instrument::time_operation("not a metric name", &[]));
    assert_eq!(
        instrumentation_errors(registry, InstrumentationErrorKind::UnknownMetric),
        invalid + 1.0
    );

    let local = Registry::new();
    let latency = local
        .histogram(&unitel::catalog::RAG_RETRIEVAL_LATENCY_SECONDS)
        .with_labels(&["timed"]);
    OperationTimer::new(latency.clone()).stop();
    assert_eq!(latency.snapshot().count(), 1);
}

#[test]
fn resource_guards_count_holders_and_hold_time() {
    let registry = Registry::new();
    let gauge = || {
        registry
            .gauge(&unitel::catalog::RESOURCE_IN_USE)
            .with_labels(&["gpu_slot"])
            .value()
    };
    let a = ResourceGuard::with_registry(&registry, "gpu_slot");
    let b = ResourceGuard::with_registry(&registry, "gpu_slot");
    assert_eq!(gauge(), 2.0);
    drop(a);
    assert_eq!(gauge(), 1.0);
    drop(b);
    assert_eq!(gauge(), 0.0);
    assert_eq!(
        value(
            &unitel::prometheus::render_registry(&registry),
            "resource_hold_duration_seconds_count{resource=\"gpu_slot\"}"
        ),
        2.0
    );

    let global = unitel::instrument::monitor_resource("r_worker");
    assert_eq!(
        value(
            &unitel::prometheus::render(),
            "resource_in_use{resource=\"r_worker\"}"
        ),
        1.0
    );
    drop(global);
}

#[test]
fn record_error_counts_by_component_and_type() {
    unitel::instrument::record_error("r_payment", "card_declined");
    unitel::instrument::record_error("r_payment", "card_declined");
    unitel::instrument::record_error("r_payment", "timeout");
    let text = unitel::prometheus::render();
    assert_eq!(
        value(
            &text,
            "errors_total{component=\"r_payment\",error_type=\"card_declined\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "errors_total{component=\"r_payment\",error_type=\"timeout\"}"
        ),
        1.0
    );
}
