//! `reference-server loadgen`: seeds documents and drives a realistic mix of traffic against a
//! running reference server, then prints a summary. Every loop is bounded by `--duration`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

/// Options of the load generator.
#[derive(Debug, Clone)]
pub(crate) struct LoadgenOptions {
    /// Base URL of the server, e.g. `http://127.0.0.1:8080`.
    pub(crate) target: String,
    /// How long to drive load.
    pub(crate) duration: Duration,
    /// Concurrent workers.
    pub(crate) concurrency: usize,
    /// `--read-only`: after seeding, store no more documents (their share of the mix becomes
    /// repeated queries), so the server's data stops growing: the steady state of a soak run.
    pub(crate) read_only: bool,
}

impl LoadgenOptions {
    /// Parses `--target URL --duration SECS --concurrency N [--read-only]`.
    pub(crate) fn parse(args: &[String]) -> Result<Self, String> {
        let mut opts = Self {
            target: "http://127.0.0.1:8080".to_owned(),
            duration: Duration::from_secs(20),
            concurrency: 4,
            read_only: false,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--read-only" {
                opts.read_only = true;
                continue;
            }
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--target" => opts.target = value.trim_end_matches('/').to_owned(),
                "--duration" => {
                    let secs: f64 = value
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
                        .ok_or_else(|| {
                            format!("--duration: expected seconds (0 < s <= 86400), got `{value}`")
                        })?;
                    opts.duration = Duration::from_secs_f64(secs);
                }
                "--concurrency" => {
                    opts.concurrency = value
                        .parse()
                        .ok()
                        .filter(|n: &usize| (1..=256).contains(n))
                        .ok_or_else(|| {
                            format!("--concurrency: expected 1 to 256, got `{value}`")
                        })?;
                }
                other => {
                    return Err(format!(
                        "unknown option `{other}` (expected --target, --duration, --concurrency, \
                         --read-only)"
                    ));
                }
            }
        }
        Ok(opts)
    }
}

const CORPUS: &[&str] = &[
    "Prometheus scrapes metrics endpoints over HTTP and stores time series. Alert rules evaluate PromQL expressions and fire when thresholds are crossed.",
    "OpenTelemetry defines traces, metrics and logs. A trace is a tree of spans, and context propagation carries the trace id across services in the traceparent header.",
    "Jaeger stores and visualises distributed traces. It accepts spans over OTLP on port 4317 for gRPC and 4318 for HTTP.",
    "Grafana draws dashboards from Prometheus queries. Panels show request rates, error ratios and latency percentiles computed with histogram_quantile.",
    "Retrieval augmented generation embeds the question, retrieves the most similar passages by cosine similarity, and asks a language model to answer from them.",
    "Embeddings map text to vectors. Similar texts have vectors with a high cosine similarity, which makes nearest-neighbour search useful for retrieval.",
    "A circuit breaker stops calling a failing dependency after repeated errors, waits, then lets a few trial calls through before closing again.",
    "Connection pools keep database connections open for reuse. When every connection is in use, new queries wait to acquire one until a timeout.",
    "Cardinality is the number of distinct label combinations of a metric. Unbounded labels such as user ids or raw URLs make memory grow without limit.",
    "Token usage drives the cost of language model calls. Providers bill input tokens, output tokens and cached input tokens at different prices.",
    "Latency service level objectives are measured with histograms. A burn rate alert fires when the error budget is consumed faster than planned.",
    "Time to first token measures how quickly a streaming model starts answering, which matters more to users than the total generation time.",
];

const QUESTIONS: &[&str] = &[
    "How does Prometheus collect metrics?",
    "What is a trace made of?",
    "Where does Jaeger accept spans?",
    "Why is cardinality dangerous?",
    "How are language model calls billed?",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

#[derive(Default)]
struct Summary {
    by_action: BTreeMap<&'static str, u64>,
    by_status: BTreeMap<String, u64>,
    latencies_us: Vec<u64>,
    transport_errors: u64,
}

/// Runs the load and prints a summary.
pub(crate) async fn run(opts: LoadgenOptions) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    // Seed the corpus.
    for (i, text) in CORPUS.iter().enumerate() {
        let r = client
            .post(format!("{}/v1/documents", opts.target))
            .json(&json!({"text": text, "metadata": {"source": "loadgen-seed", "n": i}}))
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", opts.target))?;
        if !r.status().is_success() {
            return Err(format!("seeding failed with {}", r.status()));
        }
    }
    let summary = Arc::new(Mutex::new(Summary::default()));
    let deadline = Instant::now() + opts.duration;
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..opts.concurrency {
        let client = client.clone();
        let target = opts.target.clone();
        let summary = Arc::clone(&summary);
        let read_only = opts.read_only;
        workers.push(tokio::spawn(async move {
            let mut rng =
                Rng(0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            while Instant::now() < deadline {
                let (action, status, elapsed) =
                    one_request(&client, &target, &mut rng, read_only).await;
                let mut s = summary
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *s.by_action.entry(action).or_default() += 1;
                match status {
                    Some(code) => *s.by_status.entry(code.to_string()).or_default() += 1,
                    None => s.transport_errors += 1,
                }
                s.latencies_us
                    .push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed();
    let mut s = summary
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    s.latencies_us.sort_unstable();
    let total = s.latencies_us.len();
    let pct = |p: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((total as f64 - 1.0) * p).round() as usize;
        s.latencies_us.get(i).copied().unwrap_or(0)
    };
    println!(
        "loadgen: {total} requests in {elapsed:.1?} ({:.1} req/s)",
        total as f64 / elapsed.as_secs_f64()
    );
    println!("  latency p50 {} µs, p99 {} µs", pct(0.5), pct(0.99));
    println!("  by action: {:?}", s.by_action);
    println!(
        "  by status: {:?}, transport errors: {}",
        s.by_status, s.transport_errors
    );
    Ok(())
}

async fn one_request(
    client: &reqwest::Client,
    target: &str,
    rng: &mut Rng,
    read_only: bool,
) -> (&'static str, Option<u16>, Duration) {
    let started = Instant::now();
    let roll = match rng.below(100) {
        0..=9 if read_only => 10,
        roll => roll,
    };
    let (action, request) = match roll {
        0..=9 => {
            let text = format!(
                "{} Note {}: {}",
                CORPUS[rng.below(CORPUS.len())],
                rng.next() % 1000,
                CORPUS[rng.below(CORPUS.len())]
            );
            (
                "ingest",
                client
                    .post(format!("{target}/v1/documents"))
                    .json(&json!({"text": text})),
            )
        }
        10..=39 => (
            "query_repeated",
            client
                .post(format!("{target}/v1/rag/query"))
                .json(&json!({"query": QUESTIONS[rng.below(QUESTIONS.len())], "top_k": 3})),
        ),
        40..=59 => {
            let words: Vec<&str> = (0..4)
                .map(|_| {
                    let doc = CORPUS[rng.below(CORPUS.len())];
                    let ws: Vec<&str> = doc.split_whitespace().collect();
                    ws[rng.below(ws.len())]
                })
                .collect();
            let query = format!("{} {}", words.join(" "), rng.next() % 100_000);
            (
                "query_fresh",
                client
                    .post(format!("{target}/v1/rag/query"))
                    .json(&json!({"query": query})),
            )
        }
        60..=74 => (
            "chat",
            client
                .post(format!("{target}/v1/chat/completions"))
                .json(&json!({
                    "model": "extractive-1",
                    "messages": [{"role": "user", "content": QUESTIONS[rng.below(QUESTIONS.len())]}]
                })),
        ),
        75..=84 => (
            "chat_stream",
            client
                .post(format!("{target}/v1/chat/completions"))
                .json(&json!({
                    "model": "extractive-1",
                    "stream": true,
                    "messages": [{"role": "user", "content": QUESTIONS[rng.below(QUESTIONS.len())]}]
                })),
        ),
        85..=89 => (
            "embeddings",
            client
                .post(format!("{target}/v1/embeddings"))
                .json(&json!({"input": [QUESTIONS[rng.below(QUESTIONS.len())], "another text"]})),
        ),
        90..=94 => {
            let bad = match rng.below(3) {
                0 => client
                    .post(format!("{target}/v1/rag/query"))
                    .header("content-type", "application/json")
                    .body("{not json"),
                1 => client
                    .post(format!("{target}/v1/rag/query"))
                    .json(&json!({"query": ""})),
                _ => client
                    .post(format!("{target}/v1/rag/query"))
                    .json(&json!({"query": "x", "top_k": 0})),
            };
            ("invalid", bad)
        }
        _ => (
            "not_found",
            client.get(format!("{target}/no/such/page/{}", rng.next() % 1_000_000)),
        ),
    };
    let status = match request.send().await {
        Ok(r) => {
            let code = r.status().as_u16();
            // Read the whole body (for streams: until the last event).
            let _ = r.bytes().await;
            Some(code)
        }
        Err(_) => None,
    };
    (action, status, started.elapsed())
}
