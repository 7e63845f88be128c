//! Two `Telemetry` instances in one process: each records and renders only its own series, and
//! neither touches the process-wide default.

use unitel::genai::cache::CacheMetrics;
use unitel::genai::embeddings::EmbeddingBatch;
use unitel::genai::llm::{LlmCall, LlmMetrics, LlmUsage, ModelPrice, Price, PriceTable};
use unitel::http::server::{HttpServerConfig, HttpServerRecorder, RequestParts};
use unitel::prometheus::render_registry;
use unitel::{Telemetry, catalog};

fn parts<'a>(path: &'a str, route: &'a str, headers: &'a http::HeaderMap) -> RequestParts<'a> {
    RequestParts {
        method: "GET",
        route: Some(route),
        path,
        scheme: None,
        version: http::Version::HTTP_11,
        headers,
    }
}

#[test]
fn two_instances_record_and_render_apart() {
    let a = Telemetry::new();
    let b = Telemetry::new();
    assert!(!a.ptr_eq(&b));

    // Typed handles and by-name recording.
    a.registry()
        .counter(&catalog::RAG_CACHE_HITS_TOTAL)
        .with_labels(&["only_in_a"])
        .inc();
    b.registry()
        .increment("rag_queries_total", 1.0, &[("pipeline", "only_in_b")]);

    // An HTTP server recorder bound to `a`.
    let recorder = HttpServerRecorder::new(HttpServerConfig::for_telemetry(&a));
    let headers = http::HeaderMap::new();
    let mut request = recorder.start(&parts("/items/7", "/items/{id}", &headers));
    request.response_started(200);
    request.finish();

    // An LLM call bound to `b`, priced by `b`'s own table.
    let price = |d| Price::per_1m_dollars(d).expect("a valid price");
    let table = PriceTable::new("b-prices")
        .model("model-b", ModelPrice::new(price(1.0), price(2.0)))
        .model("emb-b", ModelPrice::new(price(0.5), price(0.0)));
    unitel::genai::llm::set_price_table_of(&b, table);
    LlmCall::builder("openai", "model-b")
        .metrics(&LlmMetrics::of(&b))
        .start()
        .finish(LlmUsage::new(10, 5));
    // An embedding batch bound to `b` is priced and labelled by `b`'s table too.
    let cost = EmbeddingBatch::builder("openai", "emb-b", 4)
        .metrics(&LlmMetrics::of(&b))
        .start()
        .finish_with_tokens(2_000_000);
    assert_eq!(cost.as_dollars(), 1.0);

    // Cache counters bound to `a`.
    CacheMetrics::for_telemetry(&a, "cache_of_a").miss();

    let text_a = render_registry(a.registry());
    let text_b = render_registry(b.registry());
    let global = unitel::prometheus::render();

    assert!(text_a.contains("cache=\"only_in_a\""), "{text_a}");
    assert!(text_a.contains("route=\"/items/{id}\""), "{text_a}");
    assert!(
        text_a.contains("rag_cache_misses_total{cache=\"cache_of_a\"} 1"),
        "{text_a}"
    );
    assert!(!text_a.contains("only_in_b"));
    assert!(!text_a.contains("model-b"));
    assert!(!text_a.contains("b-prices"));

    assert!(text_b.contains("pipeline=\"only_in_b\""), "{text_b}");
    assert!(
        text_b.contains(
            "llm_requests_total{provider=\"openai\",model=\"model-b\",status=\"success\"} 1"
        ),
        "{text_b}"
    );
    assert!(
        text_b.contains("unitel_price_table_info{version=\"b-prices\"} 1"),
        "{text_b}"
    );
    assert!(
        text_b.contains("embeddings_generated_total{provider=\"openai\",model=\"emb-b\"} 4"),
        "{text_b}"
    );
    assert!(
        text_b.contains("llm_cost_dollars_total{provider=\"openai\",model=\"emb-b\"} 1"),
        "{text_b}"
    );
    assert!(!text_b.contains("only_in_a"));
    assert!(!text_b.contains("/items/{id}"));

    for own in [
        "only_in_a",
        "only_in_b",
        "model-b",
        "emb-b",
        "b-prices",
        "cache_of_a",
        "/items/{id}",
    ] {
        assert!(!global.contains(own), "the process-wide registry got {own}");
    }
    assert_eq!(unitel::genai::llm::price_table().version(), "none");
}

#[test]
fn switches_are_per_instance() {
    let off = Telemetry::new();
    off.set_metrics_enabled(false);
    let on = Telemetry::new();
    for telemetry in [&off, &on] {
        let recorder = HttpServerRecorder::new(HttpServerConfig::for_telemetry(telemetry));
        let headers = http::HeaderMap::new();
        let mut request = recorder.start(&parts("/", "/", &headers));
        request.response_started(204);
        request.finish();
    }
    assert!(!render_registry(off.registry()).contains("http_requests_total{"));
    assert!(render_registry(on.registry()).contains("http_requests_total{"));
    assert!(Telemetry::global().metrics_enabled());
}
