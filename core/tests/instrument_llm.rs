//! LLM calls: exact request, token, cost and GenAI metrics; price tables from TOML and JSON
//! files; model bounding; `#[track_llm_usage]`; and property tests for the cost arithmetic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use proptest::prelude::*;
use unitel::genai::llm::{
    Cost, LlmCall, LlmErrorKind, LlmMetrics, LlmUsage, LlmUsageReport, ModelPrice, Price,
    PriceTable, PriceTableError,
};
use unitel::instrument::ErrorKind;
use unitel::{Registry, track_llm_usage};

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

fn gpt4o() -> ModelPrice {
    ModelPrice::new(
        Price::per_1m_dollars(2.5).unwrap(),
        Price::per_1m_dollars(10.0).unwrap(),
    )
    .cached_input(Price::per_1m_dollars(1.25).unwrap())
}

fn table() -> Arc<PriceTable> {
    Arc::new(
        PriceTable::new("test-1")
            .model("gpt-4o", gpt4o())
            .listed_model("in-house-llm"),
    )
}

fn local() -> (Registry, Arc<LlmMetrics>) {
    let registry = Registry::new();
    let metrics = LlmMetrics::new(&registry);
    (registry, metrics)
}

#[test]
fn a_finished_call_records_requests_tokens_cost_and_genai_histograms() {
    let (registry, metrics) = local();
    let mut call = LlmCall::builder("openai", "gpt-4o")
        .metrics(&metrics)
        .price_table(table())
        .start();
    call.chunk();
    call.chunk();
    let cost = call.finish(LlmUsage::new(1000, 200).cached_input_tokens(400));
    // (1000 - 400) x 2.5 + 400 x 1.25 + 200 x 10 micro-dollars per token-million
    assert_eq!(
        cost.pico_dollars(),
        600 * 2_500_000 + 400 * 1_250_000 + 200 * 10_000_000
    );
    assert_eq!(cost, Cost::from_pico_dollars(4_000_000_000));

    let text = unitel::prometheus::render_registry(&registry);
    let s = |series: &str| value(&text, series);
    assert_eq!(
        s("llm_requests_total{provider=\"openai\",model=\"gpt-4o\",status=\"success\"}"),
        1.0
    );
    assert_eq!(
        s("llm_tokens_used_total{provider=\"openai\",model=\"gpt-4o\",token_type=\"input\"}"),
        1000.0
    );
    assert_eq!(
        s("llm_tokens_used_total{provider=\"openai\",model=\"gpt-4o\",token_type=\"output\"}"),
        200.0
    );
    assert_eq!(
        s("llm_tokens_used_total{provider=\"openai\",model=\"gpt-4o\",token_type=\"cache_read\"}"),
        400.0
    );
    assert_eq!(
        s("llm_cost_dollars_total{provider=\"openai\",model=\"gpt-4o\"}"),
        0.004
    );
    assert_eq!(
        s("llm_request_duration_seconds_count{provider=\"openai\",model=\"gpt-4o\"}"),
        1.0
    );
    assert_eq!(
        s("llm_time_to_first_chunk_seconds_count{provider=\"openai\",model=\"gpt-4o\"}"),
        1.0
    );
    // GenAI token histogram: 1000 input tokens land in le=1024 and not in le=256.
    let usage = |token: &str, le: &str| {
        s(&format!(
            "gen_ai_client_token_usage_bucket{{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o\",gen_ai_token_type=\"{token}\",le=\"{le}\"}}"
        ))
    };
    assert_eq!(usage("input", "256"), 0.0);
    assert_eq!(usage("input", "1024"), 1.0);
    assert_eq!(usage("output", "64"), 0.0);
    assert_eq!(usage("output", "256"), 1.0);
    assert_eq!(
        s(
            "gen_ai_client_token_usage_sum{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o\",gen_ai_token_type=\"input\"}"
        ),
        1000.0
    );
    assert_eq!(
        s(
            "gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o\"}"
        ),
        1.0
    );
}

#[test]
fn failures_are_counted_by_bounded_kind() {
    let (registry, metrics) = local();
    let start = || {
        LlmCall::builder("anthropic", "in-house-llm")
            .metrics(&metrics)
            .price_table(table())
            .start()
    };
    for kind in [
        LlmErrorKind::RateLimited,
        LlmErrorKind::RateLimited,
        LlmErrorKind::Timeout,
        LlmErrorKind::ServerError,
        LlmErrorKind::BadRequest,
        LlmErrorKind::Other,
    ] {
        start().fail(kind);
    }
    drop(start()); // dropped unfinished: cancelled
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _call = start();
        panic!("provider client bug");
    }));
    assert!(panicked.is_err());

    let text = unitel::prometheus::render_registry(&registry);
    let status = |st: &str| {
        value(
            &text,
            &format!(
                "llm_requests_total{{provider=\"anthropic\",model=\"in-house-llm\",status=\"{st}\"}}"
            ),
        )
    };
    assert_eq!(status("rate_limited"), 2.0);
    assert_eq!(status("timeout"), 1.0);
    assert_eq!(status("server_error"), 1.0);
    assert_eq!(status("bad_request"), 1.0);
    assert_eq!(status("cancelled"), 1.0);
    assert_eq!(status("error"), 2.0); // Other and the panic
    assert_eq!(
        value(
            &text,
            "gen_ai_client_operation_duration_seconds_count{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"anthropic\",gen_ai_request_model=\"in-house-llm\",error_type=\"rate_limited\"}"
        ),
        2.0
    );
    // A listed model without a price: its name is kept, no cost is recorded, no tokens either.
    assert!(!text.contains("llm_cost_dollars_total{"));
}

#[test]
fn unlisted_models_are_other_and_a_per_call_price_lists_them() {
    let (registry, metrics) = local();
    for model in ["gpt-9-preview", "gpt-9-preview-0613", "user-typed-model"] {
        LlmCall::builder("openai", model)
            .metrics(&metrics)
            .price_table(table())
            .start()
            .finish(LlmUsage::new(10, 10));
    }
    let cost = LlmCall::builder("openai", "my-finetune")
        .metrics(&metrics)
        .price_table(table())
        .price(ModelPrice::new(
            Price::per_1k_dollars(0.03).unwrap(),
            Price::per_1k_dollars(0.06).unwrap(),
        ))
        .start()
        .finish(LlmUsage::new(1000, 500));
    assert_eq!(cost.as_dollars(), 0.06);
    let text = unitel::prometheus::render_registry(&registry);
    assert_eq!(
        value(
            &text,
            "llm_requests_total{provider=\"openai\",model=\"other\",status=\"success\"}"
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "llm_cost_dollars_total{provider=\"openai\",model=\"my-finetune\"}"
        ),
        0.06
    );
    assert!(!text.contains("gpt-9"), "{text}");
}

// --- price table files ---------------------------------------------------------------------------

struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("unitel-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn price_tables_load_from_toml_and_json_files() {
    let toml = TempFile::new(
        "prices.toml",
        r#"
version = "2025-06-01"
per = "1m"
listed_models = ["in-house-llm"]

[models."gpt-4o"]
input = 2.50
output = 10.00
cached_input = 1.25

[models."gpt-4"]
input = 30
output = 60
"#,
    );
    let json = TempFile::new(
        "prices.json",
        r#"{"version": "2025-06-01", "per": "1k", "listed_models": ["in-house-llm"],
            "models": {"gpt-4o": {"input": 0.0025, "output": 0.01, "cached_input": 0.00125},
                       "gpt-4": {"input": 0.03, "output": 0.06}}}"#,
    );
    let from_toml = PriceTable::load(&toml.0).unwrap();
    let from_json = PriceTable::load(&json.0).unwrap();
    assert_eq!(from_toml, from_json);
    assert_eq!(from_toml.version(), "2025-06-01");
    assert_eq!(from_toml.price("gpt-4o"), Some(&gpt4o()));
    let gpt4 = from_toml.price("gpt-4").unwrap();
    assert_eq!(gpt4.input_price(), Price::per_1k_dollars(0.03).unwrap());
    // Without a cached price, cached tokens cost the input price.
    assert_eq!(gpt4.cached_input_price(), gpt4.input_price());
    assert_eq!(from_toml.model_label("in-house-llm"), "in-house-llm");
    assert_eq!(from_toml.model_label("gpt-5"), "other");

    let config = unitel::TelemetryConfig::from_lookup(|k| {
        (k == "UNITEL_LLM_PRICES").then(|| toml.0.display().to_string())
    })
    .unwrap();
    assert_eq!(config.llm_price_file(), Some(toml.0.as_path()));
}

#[test]
fn price_table_errors_name_the_culprit() {
    let bad_price = TempFile::new(
        "bad.toml",
        "version = \"v\"\n[models.\"gpt-4o\"]\ninput = 2.5\noutput = -10\n",
    );
    let err = PriceTable::load(&bad_price.0).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            PriceTableError::Price {
                field: "output",
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("gpt-4o") && text.contains("bad.toml"),
        "{text}"
    );

    let typo = TempFile::new("typo.json", r#"{"version": "v", "modles": {}}"#);
    let err = PriceTable::load(&typo.0).unwrap_err();
    assert!(err.to_string().contains("modles"), "{err}");

    let yaml = TempFile::new("prices.yaml", "version: v\n");
    let err = PriceTable::load(&yaml.0).unwrap_err();
    assert!(err.to_string().contains(".toml or *.json"), "{err}");

    let missing = std::env::temp_dir().join("unitel-no-such-prices.toml");
    let err = PriceTable::load(&missing).unwrap_err();
    assert!(err.to_string().contains("UNITEL_LLM_PRICES"), "{err}");
}

#[test]
fn the_installed_table_version_is_a_gauge() {
    unitel::genai::llm::set_price_table(PriceTable::new("gauge-v1"));
    unitel::genai::llm::set_price_table(PriceTable::new("gauge-v2"));
    let text = unitel::prometheus::render();
    assert_eq!(
        value(&text, "unitel_price_table_info{version=\"gauge-v1\"}"),
        0.0
    );
    assert_eq!(
        value(&text, "unitel_price_table_info{version=\"gauge-v2\"}"),
        1.0
    );
    assert_eq!(unitel::genai::llm::price_table().version(), "gauge-v2");
}

// --- #[track_llm_usage] --------------------------------------------------------------------------

#[derive(Debug)]
struct Completion {
    text: String,
    model: &'static str,
    usage: LlmUsage,
}

impl LlmUsageReport for Completion {
    fn llm_usage(&self) -> Option<LlmUsage> {
        Some(self.usage)
    }
    fn response_model(&self) -> Option<&str> {
        Some(self.model)
    }
}

#[derive(Debug)]
struct ProviderError(u16);

impl ErrorKind for ProviderError {
    fn error_kind(&self) -> &'static str {
        LlmErrorKind::from_http_status(self.0).as_str()
    }
}

#[track_llm_usage(
    provider = "openai",
    model = "gpt-4",
    cost_per_1k_prompt = 0.03,
    cost_per_1k_completion = 0.06
)]
async fn call_llm(prompt: &str) -> Result<Completion, ProviderError> {
    tokio::task::yield_now().await;
    match prompt {
        "slow down" => Err(ProviderError(429)),
        "crash" => Err(ProviderError(503)),
        _ => Ok(Completion {
            text: prompt.to_uppercase(),
            model: "gpt-4-0613",
            usage: LlmUsage::new(2000, 1000),
        }),
    }
}

#[track_llm_usage(provider = "openai", model = model, cost_per_1m_prompt = 0.15, cost_per_1m_completion = 0.6, cost_per_1m_cached = 0.075)]
fn call_sync(model: &str, tokens: u64) -> LlmUsage {
    LlmUsage::new(tokens, tokens).cached_input_tokens(tokens / 2)
}

#[track_llm_usage(provider = "mistral_ai", model = model)]
fn call_unpriced(model: &str) -> LlmUsage {
    LlmUsage::new(5, 5)
}

#[tokio::test]
async fn the_macro_records_usage_cost_and_errors() {
    assert_eq!(call_llm("hi").await.unwrap().text, "HI");
    call_llm("hello").await.unwrap();
    call_llm("slow down").await.unwrap_err();
    call_llm("crash").await.unwrap_err();
    let text = unitel::prometheus::render();
    let s = |series: &str| value(&text, series);
    assert_eq!(
        s("llm_requests_total{provider=\"openai\",model=\"gpt-4\",status=\"success\"}"),
        2.0
    );
    assert_eq!(
        s("llm_requests_total{provider=\"openai\",model=\"gpt-4\",status=\"rate_limited\"}"),
        1.0
    );
    assert_eq!(
        s("llm_requests_total{provider=\"openai\",model=\"gpt-4\",status=\"server_error\"}"),
        1.0
    );
    // 2 x (2000 x $0.03/1k + 1000 x $0.06/1k)
    assert_eq!(
        s("llm_cost_dollars_total{provider=\"openai\",model=\"gpt-4\"}"),
        0.24
    );
    assert_eq!(
        s("llm_tokens_used_total{provider=\"openai\",model=\"gpt-4\",token_type=\"output\"}"),
        2000.0
    );
}

#[test]
fn a_model_expression_is_bounded_unless_priced_in_the_attribute() {
    // A price in the attribute keeps the model's name: it comes from code, not from a request.
    call_sync("gpt-4o-mini", 1_000_000);
    call_unpriced("some-request-model");
    call_unpriced("another-request-model");
    let text = unitel::prometheus::render();
    // 500k x $0.15/M + 500k x $0.075/M + 1M x $0.6/M = 0.075 + 0.0375 + 0.6
    assert_eq!(
        value(
            &text,
            "llm_cost_dollars_total{provider=\"openai\",model=\"gpt-4o-mini\"}"
        ),
        0.7125
    );
    assert_eq!(
        value(
            &text,
            "llm_requests_total{provider=\"mistral_ai\",model=\"other\",status=\"success\"}"
        ),
        2.0
    );
    assert!(!text.contains("request-model"));
}

// --- cost arithmetic -----------------------------------------------------------------------------

fn openai_formula(u: &LlmUsage, p: &ModelPrice) -> u128 {
    let cached = u.cached_input_tokens.min(u.input_tokens);
    u128::from(u.input_tokens - cached) * u128::from(p.input_price().micro_dollars_per_million())
        + u128::from(cached) * u128::from(p.cached_input_price().micro_dollars_per_million())
        + u128::from(u.output_tokens) * u128::from(p.output_price().micro_dollars_per_million())
}

fn price_strategy() -> impl Strategy<Value = ModelPrice> {
    (0u64..100_000_000, 0u64..400_000_000, 0u64..100_000_000).prop_map(|(i, o, c)| {
        ModelPrice::new(
            Price::from_micro_dollars_per_million(i),
            Price::from_micro_dollars_per_million(o),
        )
        .cached_input(Price::from_micro_dollars_per_million(c))
    })
}

fn usage_strategy() -> impl Strategy<Value = LlmUsage> {
    (0u64..2_000_000, 0u64..200_000, 0u64..2_500_000)
        .prop_map(|(i, o, c)| LlmUsage::new(i, o).cached_input_tokens(c))
}

proptest! {
    #[test]
    fn cost_is_the_openai_formula_exactly(usage in usage_strategy(), price in price_strategy()) {
        let cost = price.cost(&usage);
        prop_assert_eq!(cost.pico_dollars(), openai_formula(&usage, &price));
        // Cached tokens are never billed twice: they cost at most what uncached ones would.
        let all_uncached = price.input_price().cost_of(usage.input_tokens) + price.output_price().cost_of(usage.output_tokens);
        if price.cached_input_price() <= price.input_price() {
            prop_assert!(cost <= all_uncached);
        }
    }

    #[test]
    fn dollar_prices_per_1k_and_per_1m_agree(cents in 0u32..100_000) {
        // A price with up to 5 decimals per 1k is the same as 1000x that per 1M.
        let per_1k = f64::from(cents) / 100_000.0;
        prop_assert_eq!(Price::per_1k_dollars(per_1k).unwrap(), Price::per_1m_dollars(per_1k * 1000.0).unwrap());
        prop_assert_eq!(
            Price::per_1k_dollars(per_1k).unwrap().micro_dollars_per_million(),
            u64::from(cents) * 10_000
        );
    }

    #[test]
    fn the_cost_counter_is_the_exact_sum_with_no_drift(
        calls in prop::collection::vec((usage_strategy(), price_strategy()), 1..60)
    ) {
        let (registry, metrics) = local();
        let mut exact: u128 = 0;
        for (usage, price) in &calls {
            exact += LlmCall::builder("openai", "m")
                .metrics(&metrics)
                .price(*price)
                .start()
                .finish(*usage)
                .pico_dollars();
        }
        let counter = registry
            .counter(&unitel::catalog::LLM_COST_DOLLARS_TOTAL)
            .with_labels(&["openai", "m"])
            .value();
        let expected = Cost::from_pico_dollars(exact).as_dollars();
        // Within a few units in the last place, however many calls were added.
        let tolerance = expected.abs() * 4.0 * f64::EPSILON;
        prop_assert!((counter - expected).abs() <= tolerance, "{} vs {}", counter, expected);
    }
}

#[test]
fn a_million_tiny_costs_sum_exactly() {
    let (registry, metrics) = local();
    // $0.15 per 1M tokens x 10 tokens = 1.5 micro-dollars per call: 1e5 calls are $0.15.
    let price = ModelPrice::new(
        Price::per_1m_dollars(0.15).unwrap(),
        Price::per_1m_dollars(0.6).unwrap(),
    );
    for _ in 0..100_000 {
        LlmCall::builder("openai", "gpt-4o-mini")
            .metrics(&metrics)
            .price(price)
            .start()
            .finish(LlmUsage::new(10, 0));
    }
    assert_eq!(
        value(
            &unitel::prometheus::render_registry(&registry),
            "llm_cost_dollars_total{provider=\"openai\",model=\"gpt-4o-mini\"}"
        ),
        0.15
    );
}
