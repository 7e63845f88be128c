//! The HTTP API: documents, embeddings, RAG queries and chat completions (OpenAI-compatible
//! shapes where they exist), with validation errors that name the field.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument as _;
use unitel::genai::rag::RagQuery;

use crate::providers::{Embedder, Generator};
use crate::store::{Source, Store};
use crate::{chunk, generate};

/// Largest document, in characters.
pub(crate) const MAX_DOCUMENT_CHARS: usize = 200_000;
/// Largest query or message, in characters.
pub(crate) const MAX_QUERY_CHARS: usize = 4_000;
/// Largest `top_k`.
pub(crate) const MAX_TOP_K: usize = 50;
/// Largest number of inputs in one embeddings request.
pub(crate) const MAX_EMBEDDING_INPUTS: usize = 256;

/// Shared state of the handlers.
#[derive(Debug)]
pub(crate) struct AppState {
    /// Storage and index.
    pub(crate) store: Store,
    /// Embedding provider.
    pub(crate) embedder: Embedder,
    /// Answer provider.
    pub(crate) generator: &'static Generator,
    /// Answers by (query, top_k).
    pub(crate) cache: moka::future::Cache<(String, usize), Arc<RagAnswer>>,
}

/// A RAG answer.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct RagAnswer {
    /// The answer.
    pub(crate) answer: String,
    /// The passages it was drawn from.
    pub(crate) sources: Vec<Source>,
}

/// An API error: status and a message naming the culprit.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<&'static str>,
}

/// Seconds a client is asked to wait (`Retry-After`) before retrying a 503.
const RETRY_AFTER_SECS: &str = "1";

impl ApiError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        unitel::instrument::record_error("api", "validation");
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field),
        }
    }

    fn internal(
        component: &'static str,
        error_type: &'static str,
        message: impl Into<String>,
    ) -> Self {
        unitel::instrument::record_error(component, error_type);
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            field: None,
        }
    }

    fn unavailable(component: &'static str, message: impl Into<String>) -> Self {
        unitel::instrument::record_error(component, "unavailable");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
            field: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"message": self.message, "field": self.field}});
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            let retry = [(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECS)];
            return (self.status, retry, axum::Json(body)).into_response();
        }
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<crate::providers::ProviderError> for ApiError {
    fn from(e: crate::providers::ProviderError) -> Self {
        match e {
            crate::providers::ProviderError::CircuitOpen => {
                Self::unavailable("provider", e.to_string())
            }
            crate::providers::ProviderError::Failed { .. } => Self {
                status: StatusCode::BAD_GATEWAY,
                message: e.to_string(),
                field: None,
            },
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        tracing::warn!(error = %e, "database error");
        if database_unreachable(&e) {
            Self::unavailable("database", "database unavailable, retry later")
        } else {
            Self::internal("database", "query_failed", "database error")
        }
    }
}

/// Whether `e` says the database cannot be reached right now (a 503 the client may retry),
/// rather than that this request's query failed (a 500).
fn database_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Class 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot
            // connect now; 53300: too many connections.
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// `axum::Json` whose rejections are JSON errors naming the problem (400, 413 or 415).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => {
                let status = rejection.status();
                let message = match &rejection {
                    JsonRejection::JsonDataError(e) => e.body_text(),
                    JsonRejection::JsonSyntaxError(_) => {
                        "request body is not valid JSON".to_owned()
                    }
                    JsonRejection::MissingJsonContentType(_) => {
                        "expected `Content-Type: application/json`".to_owned()
                    }
                    other => other.body_text(),
                };
                if !body_cut_short(&rejection) {
                    unitel::instrument::record_error("api", "invalid_body");
                }
                Err(ApiError {
                    status,
                    message,
                    field: Some("body"),
                })
            }
        }
    }
}

/// Whether the body failed to arrive (the client went away mid-upload): not an invalid body,
/// and already recorded by the HTTP layer as a cancelled request.
fn body_cut_short(rejection: &JsonRejection) -> bool {
    use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
    matches!(
        rejection,
        JsonRejection::BytesRejection(BytesRejection::FailedToBufferBody(
            FailedToBufferBody::UnknownBodyError(_)
        ))
    )
}

fn require_text(field: &'static str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` is longer than {max} characters"),
        ));
    }
    // PostgreSQL's TEXT cannot hold NUL; refuse it on every database alike.
    if value.contains('\0') {
        return Err(ApiError::invalid(
            field,
            format!("`{field}` must not contain NUL characters"),
        ));
    }
    Ok(())
}

/// `POST /v1/documents` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DocumentRequest {
    text: String,
    #[serde(default)]
    metadata: Option<Value>,
}

/// `POST /v1/documents`: chunk, embed, store.
pub(crate) async fn create_document(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<DocumentRequest>,
) -> Result<impl IntoResponse, ApiError> {
    require_text("text", &req.text, MAX_DOCUMENT_CHARS)?;
    let metadata = match req.metadata {
        None => "{}".to_owned(),
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(_) => {
            return Err(ApiError::invalid(
                "metadata",
                "`metadata` must be a JSON object",
            ));
        }
    };
    let chunks = chunk::chunk(&req.text);
    let vectors = state.embedder.embed(&chunks).await?;
    let rows: Vec<(String, Vec<f32>)> = chunks.into_iter().zip(vectors).collect();
    let (id, chunk_ids) = state
        .store
        .insert_document(&req.text, &metadata, &rows)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"id": id, "chunk_ids": chunk_ids, "chunks": chunk_ids.len()})),
    ))
}

/// `POST /v1/embeddings` body (OpenAI-compatible).
#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingsRequest {
    input: EmbeddingInput,
    #[serde(default)]
    model: Option<String>,
}

/// One string or many.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum EmbeddingInput {
    /// One input.
    One(String),
    /// Several inputs.
    Many(Vec<String>),
}

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<EmbeddingsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let inputs = match req.input {
        EmbeddingInput::One(s) => vec![s],
        EmbeddingInput::Many(v) => v,
    };
    if inputs.is_empty() || inputs.len() > MAX_EMBEDDING_INPUTS {
        return Err(ApiError::invalid(
            "input",
            format!("`input` must hold 1 to {MAX_EMBEDDING_INPUTS} strings"),
        ));
    }
    for s in &inputs {
        require_text("input", s, MAX_QUERY_CHARS)?;
    }
    if req
        .model
        .as_ref()
        .is_some_and(|m| m != state.embedder.model())
    {
        return Err(ApiError::invalid(
            "model",
            format!("this server serves the model `{}`", state.embedder.model()),
        ));
    }
    let vectors = state.embedder.embed(&inputs).await?;
    let tokens: u64 = inputs.iter().map(|s| generate::count_tokens(s)).sum();
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v}))
        .collect();
    Ok(axum::Json(json!({
        "object": "list",
        "data": data,
        "model": state.embedder.model(),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// `POST /v1/rag/query` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RagRequest {
    query: String,
    #[serde(default)]
    top_k: Option<i64>,
}

fn check_top_k(top_k: Option<i64>) -> Result<usize, ApiError> {
    match top_k {
        None => Ok(3),
        Some(k) if (1..=MAX_TOP_K as i64).contains(&k) => Ok(usize::try_from(k).unwrap_or(3)),
        Some(k) => Err(ApiError::invalid(
            "top_k",
            format!("`top_k` must be between 1 and {MAX_TOP_K}, got {k}"),
        )),
    }
}

async fn retrieve(state: &AppState, query: &str, top_k: usize) -> Result<Vec<Source>, ApiError> {
    let vectors = state.embedder.embed(&[query.to_owned()]).await?;
    let vector = vectors.into_iter().next().unwrap_or_default();
    Ok(state.store.search(&vector, top_k).await?)
}

/// `POST /v1/rag/query`: embed, look in the cache, retrieve, generate.
pub(crate) async fn rag_query(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<RagRequest>,
) -> Result<impl IntoResponse, ApiError> {
    require_text("query", &req.query, MAX_QUERY_CHARS)?;
    let top_k = check_top_k(req.top_k)?;
    let rag = RagQuery::builder("standard")
        .data_source("chunks")
        .top_k(top_k as u64)
        .cache_name("rag_answers")
        .start();
    let key = (req.query.clone(), top_k);
    if let Some(hit) = rag.check_cache(state.cache.get(&key).await) {
        rag.retrieved(hit.sources.len());
        return Ok(axum::Json((*hit).clone()));
    }
    let sources = match retrieve(&state, &req.query, top_k)
        .instrument(rag.span().clone())
        .await
    {
        Ok(s) => s,
        Err(e) => {
            rag.fail("retrieval_failed");
            return Err(e);
        }
    };
    rag.retrieved(sources.len());
    let passages: Vec<String> = sources.iter().map(|s| s.text.clone()).collect();
    let generation = state.generator.answer(&req.query, &passages).await?;
    let answer = Arc::new(RagAnswer {
        answer: generation.text,
        sources,
    });
    state.cache.insert(key, Arc::clone(&answer)).await;
    Ok(axum::Json((*answer).clone()))
}

/// `POST /v1/chat/completions` body (OpenAI-compatible subset).
#[derive(Debug, Deserialize)]
pub(crate) struct ChatRequest {
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    model: Option<String>,
}

/// One chat message.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatMessage {
    role: String,
    content: String,
}

/// `POST /v1/chat/completions`: answers the last user message from retrieved passages; with
/// `stream: true` as server-sent events.
pub(crate) async fn chat_completions(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    if req.messages.is_empty() || req.messages.len() > 64 {
        return Err(ApiError::invalid(
            "messages",
            "`messages` must hold 1 to 64 messages",
        ));
    }
    for m in &req.messages {
        if !matches!(m.role.as_str(), "system" | "user" | "assistant") {
            return Err(ApiError::invalid(
                "messages",
                "`role` must be system, user or assistant",
            ));
        }
    }
    let Some(question) = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| m.content.clone())
    else {
        return Err(ApiError::invalid(
            "messages",
            "`messages` needs a user message",
        ));
    };
    require_text("messages", &question, MAX_QUERY_CHARS)?;
    let model = state.generator.model().to_owned();
    if req.model.as_ref().is_some_and(|m| *m != model) {
        return Err(ApiError::invalid(
            "model",
            format!("this server serves the model `{model}`"),
        ));
    }
    let sources = retrieve(&state, &question, 3).await?;
    let passages: Vec<String> = sources.into_iter().map(|s| s.text).collect();
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if req.stream {
        let id = format!("chatcmpl-{created}");
        let model_for_events = model.clone();
        let pieces = state.generator.answer_stream(question, passages);
        let events = pieces
            .map(move |piece| {
                let data = match piece {
                    Ok(text) => json!({
                        "id": id, "object": "chat.completion.chunk", "created": created,
                        "model": model_for_events,
                        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
                    }),
                    Err(e) => json!({"error": {"message": e.to_string()}}),
                };
                Ok::<_, Infallible>(Event::default().data(data.to_string()))
            })
            .chain(futures_util::stream::once(async { Ok(Event::default().data("[DONE]")) }));
        return Ok(Sse::new(events).into_response());
    }
    let g = state.generator.answer(&question, &passages).await?;
    Ok(axum::Json(json!({
        "id": format!("chatcmpl-{created}"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": g.text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": g.prompt_tokens,
            "completion_tokens": g.completion_tokens,
            "total_tokens": g.prompt_tokens + g.completion_tokens,
        },
    }))
    .into_response())
}

/// `GET /health`.
pub(crate) async fn health(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let db = state.store.ping().await;
    let status = if db {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({
            "status": if db { "ok" } else { "degraded" },
            "database": state.store.system(),
            "indexed_chunks": state.store.indexed(),
            "embeddings": {"provider": state.embedder.provider(), "model": state.embedder.model()},
            "llm": {"provider": state.generator.provider(), "model": state.generator.model()},
        })),
    )
}
