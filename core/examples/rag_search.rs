//! The seed's `rag_search` in Rust: a RAG query with a cache, retrieval, an embedding batch and
//! an LLM call, then the exposition it produced.
//!
//! ```text
//! cargo run -p unitel --example rag_search
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use tracing::Instrument as _;
use unitel::genai::embeddings::EmbeddingBatch;
use unitel::genai::llm::{LlmUsage, LlmUsageReport};
use unitel::genai::rag::RagQuery;

#[derive(Clone, Debug)]
struct Document {
    title: &'static str,
}

const CORPUS: &[&str] = &[
    "unitel metrics",
    "unitel tracing",
    "prometheus exposition",
    "opentelemetry spans",
    "circuit breakers",
];

static CACHE: Mutex<Option<HashMap<String, Vec<Document>>>> = Mutex::new(None);

async fn check_cache(query: &str) -> Option<Vec<Document>> {
    let cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache.as_ref().and_then(|c| c.get(query).cloned())
}

async fn retrieve_documents(query: &str) -> Vec<Document> {
    let words: Vec<&str> = query.split_whitespace().collect();
    let batch = EmbeddingBatch::start("openai", "text-embedding-3-small", words.len());
    batch.finish_with_tokens(words.len() as u64 * 3);
    let documents: Vec<Document> = CORPUS
        .iter()
        .filter(|title| words.iter().any(|w| title.contains(w)))
        .map(|title| Document { title })
        .collect();
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache
        .get_or_insert_with(HashMap::new)
        .insert(query.to_owned(), documents.clone());
    documents
}

/// The seed's `rag_search`: count the query, check the cache, retrieve, record documents and
/// latency.
async fn rag_search(query: &str) -> Vec<Document> {
    let rag = RagQuery::builder("standard")
        .data_source("corpus")
        .top_k(5)
        .start();
    if let Some(cached) = rag.check_cache(check_cache(query).await) {
        return cached;
    }
    let documents = retrieve_documents(query)
        .instrument(rag.span().clone())
        .await;
    rag.retrieved(documents.len());
    documents
}

struct Answer {
    text: String,
    usage: LlmUsage,
}

impl LlmUsageReport for Answer {
    fn llm_usage(&self) -> Option<LlmUsage> {
        Some(self.usage)
    }
}

/// The generation step, priced per 1k tokens as the seed's decorator was.
#[unitel::track_llm_usage(
    provider = "openai",
    model = "gpt-4",
    cost_per_1k_prompt = 0.03,
    cost_per_1k_completion = 0.06
)]
async fn answer(query: &str, documents: &[Document]) -> Result<Answer, std::io::Error> {
    let context: Vec<&str> = documents.iter().map(|d| d.title).collect();
    let text = format!("{query}: see {}", context.join(", "));
    let usage = LlmUsage::new(400 + 50 * documents.len() as u64, text.len() as u64);
    Ok(Answer { text, usage })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = unitel::init(
        unitel::TelemetryConfig::builder()
            .service_name("rag-search-example")
            .log_filter("warn")
            .build()?,
    )?;
    for query in ["unitel metrics", "unitel metrics", "opentelemetry spans"] {
        let documents = rag_search(query).await;
        let reply = answer(query, &documents).await?;
        println!("{}", reply.text);
    }
    let text = unitel::prometheus::render();
    for line in text.lines().filter(|l| {
        !l.starts_with('#')
            && (l.starts_with("rag_") || l.starts_with("llm_") || l.starts_with("embeddings_"))
            && !l.contains("_bucket")
    }) {
        println!("{line}");
    }
    guard.shutdown().await?;
    Ok(())
}
