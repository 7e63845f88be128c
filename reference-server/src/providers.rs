//! Embedding and answer providers: the built-in local models, or any OpenAI-compatible endpoint
//! called through reqwest with unitel-reqwest, behind a circuit breaker, retried on 429 and 5xx.

use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tracing::Instrument as _;
use unitel::genai::embeddings::EmbeddingBatch;
use unitel::genai::llm::{LlmCall, LlmErrorKind, LlmUsage};
use unitel::resilience::CircuitBreaker;

use crate::config::RemoteEndpoint;
use crate::{embed, generate};

/// Provider name of the built-in models.
pub(crate) const LOCAL: &str = "local";
/// Provider name of OpenAI-compatible endpoints.
pub(crate) const OPENAI_COMPATIBLE: &str = "openai";

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProviderError {
    /// The circuit breaker is open.
    #[error("provider unavailable: circuit breaker open")]
    CircuitOpen,
    /// The provider answered with an error or could not be reached.
    #[error("provider error ({kind}): {message}")]
    Failed {
        /// Bounded kind.
        kind: &'static str,
        /// What happened (no secrets).
        message: String,
    },
}

impl ProviderError {
    fn kind(&self) -> LlmErrorKind {
        match self {
            Self::CircuitOpen => LlmErrorKind::from_label("server_error"),
            Self::Failed { kind, .. } => LlmErrorKind::from_label(kind),
        }
    }
}

/// A remote client with its breaker.
#[derive(Debug)]
pub(crate) struct Remote {
    endpoint: RemoteEndpoint,
    client: reqwest_middleware::ClientWithMiddleware,
    breaker: CircuitBreaker,
}

impl Remote {
    /// A client for `endpoint`, behind `breaker`.
    pub(crate) fn new(endpoint: RemoteEndpoint, breaker: CircuitBreaker) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let client = reqwest_middleware::ClientBuilder::new(client)
            .with(unitel_reqwest::ClientMetricsMiddleware::new())
            .build();
        Ok(Self {
            endpoint,
            client,
            breaker,
        })
    }

    /// Model name.
    pub(crate) fn model(&self) -> &str {
        &self.endpoint.model
    }

    /// POSTs `body` to `{base}/{path}` with retries on 429/5xx, through the breaker.
    async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response, ProviderError> {
        let url = format!("{}/{path}", self.endpoint.base_url);
        let permit = self
            .breaker
            .try_acquire()
            .map_err(|_| ProviderError::CircuitOpen)?;
        let mut delay = Duration::from_millis(100);
        let mut last = None;
        for attempt in 0..3 {
            let mut request = self.client.post(&url).json(body);
            if let Some(key) = &self.endpoint.api_key {
                request = request.bearer_auth(key);
            }
            match request.send().await {
                Ok(r) if r.status().is_success() => {
                    permit.success();
                    return Ok(r);
                }
                Ok(r) => {
                    let status = r.status();
                    let kind = match status.as_u16() {
                        429 => "rate_limited",
                        s if s >= 500 => "server_error",
                        _ => "bad_request",
                    };
                    last = Some(ProviderError::Failed {
                        kind,
                        message: format!("provider answered {status}"),
                    });
                    if !(status.as_u16() == 429 || status.is_server_error()) {
                        break;
                    }
                }
                Err(e) => {
                    let kind = if e.is_timeout() {
                        "timeout"
                    } else {
                        "server_error"
                    };
                    last = Some(ProviderError::Failed {
                        kind,
                        message: e.to_string(),
                    });
                }
            }
            if attempt < 2 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        permit.failure();
        Err(last.unwrap_or(ProviderError::CircuitOpen))
    }
}

/// Makes embeddings.
#[derive(Debug)]
pub(crate) enum Embedder {
    /// The built-in hashing model (behind a breaker too, so both modes look alike).
    Local(CircuitBreaker),
    /// An OpenAI-compatible `/embeddings` endpoint.
    Remote(Remote),
}

impl Embedder {
    /// Provider label.
    pub(crate) fn provider(&self) -> &'static str {
        match self {
            Self::Local(_) => LOCAL,
            Self::Remote(_) => OPENAI_COMPATIBLE,
        }
    }

    /// Model name.
    pub(crate) fn model(&self) -> &str {
        match self {
            Self::Local(_) => embed::MODEL,
            Self::Remote(r) => r.model(),
        }
    }

    /// Embeds `texts`, recording an `embeddings {model}` span and the embedding metrics.
    pub(crate) async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let batch = EmbeddingBatch::builder(self.provider(), self.model(), texts.len())
            .dimensions(embed::DIMENSIONS as u64)
            .start();
        match self {
            Self::Local(breaker) => {
                let Ok(permit) = breaker.try_acquire() else {
                    batch.fail(ProviderError::CircuitOpen.kind());
                    return Err(ProviderError::CircuitOpen);
                };
                let tokens: u64 = texts.iter().map(|t| generate::count_tokens(t)).sum();
                let vectors = batch
                    .span()
                    .in_scope(|| texts.iter().map(|t| embed::embed(t)).collect());
                permit.success();
                batch.finish_with_tokens(tokens);
                Ok(vectors)
            }
            Self::Remote(remote) => {
                let body = json!({"model": remote.model(), "input": texts});
                let span = batch.span().clone();
                let result = async {
                    let response = remote.post("embeddings", &body).await?;
                    let value: Value =
                        response.json().await.map_err(|e| ProviderError::Failed {
                            kind: "server_error",
                            message: format!("invalid embeddings response: {e}"),
                        })?;
                    let tokens = value["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
                    let vectors: Option<Vec<Vec<f32>>> = value["data"].as_array().map(|items| {
                        items
                            .iter()
                            .map(|item| {
                                item["embedding"]
                                    .as_array()
                                    .map(|xs| {
                                        xs.iter()
                                            .filter_map(Value::as_f64)
                                            .map(|x| x as f32)
                                            .collect()
                                    })
                                    .unwrap_or_default()
                            })
                            .collect()
                    });
                    match vectors {
                        Some(v) if v.len() == texts.len() => Ok((v, tokens)),
                        _ => Err(ProviderError::Failed {
                            kind: "server_error",
                            message: "embeddings response has the wrong number of vectors".into(),
                        }),
                    }
                }
                .instrument(span)
                .await;
                match result {
                    Ok((vectors, tokens)) => {
                        batch.finish_with_tokens(tokens);
                        Ok(vectors)
                    }
                    Err(e) => {
                        batch.fail(e.kind());
                        Err(e)
                    }
                }
            }
        }
    }
}

/// Generates answers.
#[derive(Debug)]
pub(crate) enum Generator {
    /// The built-in extractive model (behind a breaker too, so both modes look alike).
    Local(CircuitBreaker),
    /// An OpenAI-compatible `/chat/completions` endpoint.
    Remote(Remote),
}

/// One piece of a streamed answer.
pub(crate) type Piece = Result<String, ProviderError>;

fn prompt(question: &str, passages: &[String]) -> String {
    let mut p = String::from("Answer the question from these passages only.\n\n");
    for (i, passage) in passages.iter().enumerate() {
        p.push_str(&format!("[{}] {passage}\n", i + 1));
    }
    p.push_str("\nQuestion: ");
    p.push_str(question);
    p
}

impl Generator {
    /// Provider label.
    pub(crate) fn provider(&self) -> &'static str {
        match self {
            Self::Local(_) => LOCAL,
            Self::Remote(_) => OPENAI_COMPATIBLE,
        }
    }

    /// Model name.
    pub(crate) fn model(&self) -> &str {
        match self {
            Self::Local(_) => generate::MODEL,
            Self::Remote(r) => r.model(),
        }
    }

    /// Answers `question` from `passages`, recording a `chat {model}` span and the LLM metrics.
    pub(crate) async fn answer(
        &self,
        question: &str,
        passages: &[String],
    ) -> Result<generate::Generation, ProviderError> {
        let call = LlmCall::start(self.provider(), self.model());
        match self {
            Self::Local(breaker) => {
                let Ok(permit) = breaker.try_acquire() else {
                    call.fail(ProviderError::CircuitOpen.kind());
                    return Err(ProviderError::CircuitOpen);
                };
                let g = call
                    .span()
                    .in_scope(|| generate::answer(question, passages));
                permit.success();
                call.finish(LlmUsage::new(g.prompt_tokens, g.completion_tokens));
                Ok(g)
            }
            Self::Remote(remote) => {
                let body = json!({
                    "model": remote.model(),
                    "messages": [{"role": "user", "content": prompt(question, passages)}],
                });
                let span = call.span().clone();
                let result = async {
                    let value: Value = remote
                        .post("chat/completions", &body)
                        .await?
                        .json()
                        .await
                        .map_err(|e| ProviderError::Failed {
                        kind: "server_error",
                        message: format!("invalid chat response: {e}"),
                    })?;
                    let text = value["choices"][0]["message"]["content"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    let usage = LlmUsage {
                        input_tokens: value["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
                        output_tokens: value["usage"]["completion_tokens"].as_u64().unwrap_or(0),
                        cached_input_tokens:
                            value["usage"]["prompt_tokens_details"]["cached_tokens"]
                                .as_u64()
                                .unwrap_or(0),
                    };
                    Ok::<_, ProviderError>((text, usage))
                }
                .instrument(span)
                .await;
                match result {
                    Ok((text, usage)) => {
                        call.finish(usage);
                        Ok(generate::Generation {
                            text,
                            prompt_tokens: usage.input_tokens,
                            completion_tokens: usage.output_tokens,
                        })
                    }
                    Err(e) => {
                        call.fail(e.kind());
                        Err(e)
                    }
                }
            }
        }
    }

    /// Streams an answer piece by piece. The `LlmCall` lives inside the stream: dropping the
    /// stream (a client that goes away) stops generation and records the call as cancelled.
    pub(crate) fn answer_stream(
        &'static self,
        question: String,
        passages: Vec<String>,
    ) -> impl futures_util::Stream<Item = Piece> + Send + 'static {
        let mut call = LlmCall::start(self.provider(), self.model());
        let span = call.span().clone();
        async_stream_local(move |tx| {
            async move {
                match self {
                    Self::Local(breaker) => {
                        let Ok(permit) = breaker.try_acquire() else {
                            call.fail(ProviderError::CircuitOpen.kind());
                            let _ = tx.send(Err(ProviderError::CircuitOpen)).await;
                            return;
                        };
                        let g = generate::answer(&question, &passages);
                        permit.success();
                        for piece in generate::stream_pieces(&g.text) {
                            // Pace the stream like a model emitting tokens.
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            call.chunk();
                            if tx.send(Ok(piece)).await.is_err() {
                                return; // client gone: `call` drops and is recorded as cancelled
                            }
                        }
                        call.finish(LlmUsage::new(g.prompt_tokens, g.completion_tokens));
                    }
                    Self::Remote(remote) => {
                        let body = json!({
                            "model": remote.model(),
                            "stream": true,
                            "stream_options": {"include_usage": true},
                            "messages": [{"role": "user", "content": prompt(&question, &passages)}],
                        });
                        let response = match remote.post("chat/completions", &body).await {
                            Ok(r) => r,
                            Err(e) => {
                                call.fail(e.kind());
                                let _ = tx.send(Err(e)).await;
                                return;
                            }
                        };
                        let mut usage = LlmUsage::default();
                        let mut buffer = String::new();
                        let mut bytes = response.bytes_stream();
                        while let Some(chunk) = bytes.next().await {
                            let Ok(chunk) = chunk else {
                                call.fail(LlmErrorKind::from_label("server_error"));
                                return;
                            };
                            buffer.push_str(&String::from_utf8_lossy(&chunk));
                            while let Some(end) = buffer.find('\n') {
                                let line: String = buffer.drain(..=end).collect();
                                let Some(data) = line.trim().strip_prefix("data:") else {
                                    continue;
                                };
                                let data = data.trim();
                                if data == "[DONE]" {
                                    continue;
                                }
                                let Ok(v) = serde_json::from_str::<Value>(data) else {
                                    continue;
                                };
                                if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                                    usage.input_tokens = u["prompt_tokens"].as_u64().unwrap_or(0);
                                    usage.output_tokens =
                                        u["completion_tokens"].as_u64().unwrap_or(0);
                                }
                                if let Some(text) = v["choices"][0]["delta"]["content"].as_str() {
                                    call.chunk();
                                    if tx.send(Ok(text.to_owned())).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                        call.finish(usage);
                    }
                }
            }
            .instrument(span)
        })
    }
}

/// A stream fed by a task through a small bounded channel; the task stops when the receiver is
/// dropped (its next send fails).
fn async_stream_local<F, Fut>(f: F) -> impl futures_util::Stream<Item = Piece> + Send + 'static
where
    F: FnOnce(tokio::sync::mpsc::Sender<Piece>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let task = tokio::spawn(f(tx));
    let guard = AbortOnDrop(task);
    futures_util::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        rx.recv().await.map(|item| (item, (rx, guard)))
    })
}

/// Aborts the generation task when the response stream is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
