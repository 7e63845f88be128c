//! Shared pieces of the fault and abuse tests: the real reference-server process with its
//! stderr captured, `reference-server loadgen` run in the background with its summary parsed,
//! resident-memory sampling from `/proc`, a Prometheus exposition parser, and a small
//! OpenAI-compatible HTTP server on 127.0.0.1 that the server's LLM client talks to.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    missing_debug_implementations
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};

#[path = "../shared/server_command.rs"]
mod server_command;
use server_command::{loadgen_command, server_command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// --- the server process ------------------------------------------------------------------------

/// A running reference server whose output (logs go to stdout, errors to stderr) goes to a
/// file; killed on drop (after printing the
/// end of its log if the test is failing).
pub struct Process {
    child: Child,
    pub base: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    stderr_path: PathBuf,
    exit: Option<ExitStatus>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.stderr();
            let lines: Vec<&str> = log.lines().collect();
            let start = lines.len().saturating_sub(40);
            eprintln!(
                "--- reference-server stderr (last {} lines) ---\n{}",
                lines.len() - start,
                lines[start..].join("\n")
            );
        }
    }
}

impl Process {
    /// Starts the binary on a free port with a fresh SQLite database and `env` on top, and
    /// waits until `/health` answers 200.
    pub async fn start(env: &[(&str, String)]) -> Process {
        Self::try_start(env)
            .await
            .unwrap_or_else(|e| panic!("reference-server did not start: {e}"))
    }

    /// Like [`start`](Self::start), returning the reason instead of panicking.
    pub async fn try_start(env: &[(&str, String)]) -> Result<Process, String> {
        let dir = tempfile::tempdir().unwrap();
        let port = unitel_testkit::free_port();
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let stdout = stderr.try_clone().unwrap();
        let mut cmd = server_command(dir.path(), port);
        cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
        let mut process = Process {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            stderr_path,
            exit: None,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/health", process.base)).send().await
                && r.status().is_success()
            {
                return Ok(process);
            }
            if !process.is_running() {
                return Err(format!("it exited: {}", process.stderr()));
            }
            if Instant::now() >= deadline {
                return Err("it did not become healthy within 30 s".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote on stdout and stderr so far (its logs).
    pub fn stderr(&self) -> String {
        std::fs::read(&self.stderr_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Resident set size from `/proc/PID/status`.
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_bytes(self.pid())
    }

    pub fn is_running(&mut self) -> bool {
        if self.exit.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                self.exit = Some(status);
                false
            }
            Err(_) => false,
        }
    }

    /// Sends a signal by name (`TERM`, `INT`) with `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Waits (polling, bounded) for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                return self.exit;
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `GET /metrics` on the application router.
    pub async fn metrics(&self) -> String {
        let r = reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("GET /metrics");
        assert!(r.status().is_success(), "/metrics answered {}", r.status());
        r.text().await.unwrap()
    }
}

/// Resident set size of `pid` in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Samples a process' resident memory every 100 ms on a thread until stopped.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(rss_bytes(pid).unwrap_or(0)));
        let thread = {
            let (stop, max) = (Arc::clone(&stop), Arc::clone(&max));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_bytes(pid) {
                        max.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Self {
            stop,
            max,
            thread: Some(thread),
        }
    }

    /// Largest RSS seen so far.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Stops sampling; returns the largest RSS seen.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.max()
    }
}

pub const MIB: u64 = 1024 * 1024;

// --- loadgen -------------------------------------------------------------------------------------

/// `reference-server loadgen` running in the background.
pub struct Loadgen {
    child: Child,
}

/// What loadgen printed at the end.
#[derive(Debug, Clone, Default)]
pub struct LoadSummary {
    pub total: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub transport_errors: u64,
    pub output: String,
}

impl LoadSummary {
    /// Responses with a 5xx status.
    pub fn server_errors(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(s, _)| **s >= 500)
            .map(|(_, n)| n)
            .sum()
    }

    /// Responses with a 2xx status.
    pub fn successes(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    /// Asserts every request got an answer that is not a server error.
    pub fn assert_no_failures(&self, phase: &str) {
        assert!(
            self.total > 0,
            "{phase}: loadgen sent nothing\n{}",
            self.output
        );
        assert_eq!(
            self.server_errors(),
            0,
            "{phase}: 5xx answers\n{}",
            self.output
        );
        assert_eq!(
            self.transport_errors, 0,
            "{phase}: requests without an answer\n{}",
            self.output
        );
    }
}

impl Loadgen {
    /// Starts `loadgen --target base --duration secs --concurrency n`.
    pub fn start(base: &str, secs: f64, concurrency: u32) -> Self {
        let child = loadgen_command(base, secs, concurrency)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start loadgen");
        Self { child }
    }

    /// Waits for the end and parses the summary.
    pub async fn finish(self) -> LoadSummary {
        let mut child = self.child;
        tokio::task::spawn_blocking(move || {
            let mut out = String::new();
            let mut err = String::new();
            if let Some(mut s) = child.stdout.take() {
                let _ = s.read_to_string(&mut out);
            }
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            let status = child.wait().expect("wait for loadgen");
            assert!(status.success(), "loadgen failed ({status}): {out}{err}");
            parse_summary(&out)
        })
        .await
        .unwrap()
    }

    /// Runs loadgen to completion.
    pub async fn run(base: &str, secs: f64, concurrency: u32) -> LoadSummary {
        Self::start(base, secs, concurrency).finish().await
    }
}

fn number_after(text: &str, marker: &str) -> Option<u64> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Parses loadgen's summary lines.
pub fn parse_summary(out: &str) -> LoadSummary {
    let mut s = LoadSummary {
        total: number_after(out, "loadgen:").unwrap_or(0),
        p50_us: number_after(out, "p50").unwrap_or(0),
        p99_us: number_after(out, "p99").unwrap_or(0),
        transport_errors: number_after(out, "transport errors:").unwrap_or(0),
        output: out.to_owned(),
        ..LoadSummary::default()
    };
    if let Some(line) = out.lines().find(|l| l.contains("by status:")) {
        let map = line
            .split_once('{')
            .and_then(|(_, r)| r.split_once('}'))
            .map_or("", |(m, _)| m);
        for entry in map.split(',').filter(|e| !e.trim().is_empty()) {
            if let Some((k, v)) = entry.split_once(':') {
                let k = k.trim().trim_matches('"');
                if let (Ok(k), Ok(v)) = (k.parse(), v.trim().parse()) {
                    s.by_status.insert(k, v);
                }
            }
        }
    }
    s
}

// --- Prometheus exposition -------------------------------------------------------------------

/// One sample line of the exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `name{k="v",...}` with the labels in their order: identity of the series.
    pub fn key(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// Parses the sample lines of a text exposition (comments skipped, label values unescaped).
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => (&line[..i], &line[i..]),
            None => continue,
        };
        let mut labels = Vec::new();
        let mut rest = rest;
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices();
            let mut key = String::new();
            let mut end = body.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '}' => {
                        end = i + 1;
                        break;
                    }
                    ',' => {}
                    '=' => {
                        // value in quotes
                        let _ = chars.next(); // opening quote
                        let mut value = String::new();
                        while let Some((_, c)) = chars.next() {
                            match c {
                                '\\' => match chars.next().map(|(_, c)| c) {
                                    Some('n') => value.push('\n'),
                                    Some(other) => value.push(other),
                                    None => {}
                                },
                                '"' => break,
                                c => value.push(c),
                            }
                        }
                        labels.push((std::mem::take(&mut key), value));
                    }
                    c => key.push(c),
                }
            }
            rest = &body[end..];
        }
        let value = rest.split_whitespace().next().unwrap_or("");
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        };
        out.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    out
}

/// Sum of the samples called `name` whose labels include every pair of `filter`.
pub fn sum(samples: &[Sample], name: &str, filter: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && filter.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
        .sum()
}

/// Names of the counter families (`# TYPE x counter`) and histogram families of a text.
pub fn monotonic_families(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                match kind {
                    "counter" => names.push(name.to_owned()),
                    "histogram" => {
                        names.push(format!("{name}_bucket"));
                        names.push(format!("{name}_count"));
                        names.push(format!("{name}_sum"));
                    }
                    _ => {}
                }
            }
        }
    }
    names
}

/// Number of sample lines (series, histogram buckets included).
pub fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

// --- an OpenAI-compatible server ------------------------------------------------------------------

/// Marker in a prompt: the fake answers after 30 s (or never, if the caller goes away first).
pub const SLOW: &str = "[fake:slow]";
/// Marker in a prompt: a streamed answer of 40 chunks 100 ms apart.
pub const SLOW_STREAM: &str = "[fake:slow-stream]";
/// Marker in a prompt: the fake answers 500.
pub const FAIL: &str = "[fake:fail]";

/// Text the fake puts in every completion.
pub const COMPLETION_TEXT: &str = "FAKE-COMPLETION-TEXT from the fake model";

/// What the fake saw.
#[derive(Debug, Default)]
pub struct FakeLlmState {
    /// `Authorization` header values received.
    pub authorizations: Mutex<Vec<String>>,
    /// Raw request bodies received.
    pub bodies: Mutex<Vec<String>>,
    /// Requests whose handler or stream was dropped before the answer was complete: the
    /// caller went away.
    pub abandoned: AtomicU64,
    /// Slow requests or streams currently being answered.
    pub open: AtomicU64,
    /// Streams answered to the end.
    pub streams_completed: AtomicU64,
    /// Chunks sent.
    pub chunks_sent: AtomicU64,
}

/// Counts the request as abandoned unless [`done`](Self::done) was called first.
struct Watch {
    state: Arc<FakeLlmState>,
    done: bool,
}

impl Watch {
    fn new(state: &Arc<FakeLlmState>) -> Self {
        state.open.fetch_add(1, Ordering::SeqCst);
        Self {
            state: Arc::clone(state),
            done: false,
        }
    }
    fn done(mut self) {
        self.done = true;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.state.open.fetch_sub(1, Ordering::SeqCst);
        if !self.done {
            self.state.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// An OpenAI-compatible server on 127.0.0.1 (chat completions, streamed or not, and
/// embeddings), served on the test's runtime.
pub struct FakeLlm {
    pub base_url: String,
    pub state: Arc<FakeLlmState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    pub async fn start() -> FakeLlm {
        use axum::routing::post;
        let state = Arc::new(FakeLlmState::default());
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeLlm {
            base_url: format!("http://{addr}/v1"),
            state,
            task,
        }
    }

    pub fn abandoned(&self) -> u64 {
        self.state.abandoned.load(Ordering::SeqCst)
    }

    pub fn open(&self) -> u64 {
        self.state.open.load(Ordering::SeqCst)
    }
}

fn remember(state: &FakeLlmState, headers: &axum::http::HeaderMap, body: &str) {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        state.authorizations.lock().unwrap().push(v.to_owned());
    }
    state.bodies.lock().unwrap().push(body.to_owned());
}

async fn chat(
    axum::extract::State(state): axum::extract::State<Arc<FakeLlmState>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    remember(&state, &headers, &body);
    let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let prompt = request["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let model = request["model"].as_str().unwrap_or("fake").to_owned();
    if prompt.contains(FAIL) {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
    }
    if request["stream"].as_bool() == Some(true) {
        let (chunks, delay) = if prompt.contains(SLOW_STREAM) {
            (40u32, Duration::from_millis(100))
        } else {
            (5, Duration::from_millis(1))
        };
        let watch = Watch::new(&state);
        let stream_state = Arc::clone(&state);
        let stream = futures_util::stream::unfold((0u32, Some(watch)), move |(i, mut watch)| {
            let state = Arc::clone(&stream_state);
            let model = model.clone();
            async move {
                if i > chunks {
                    return None;
                }
                tokio::time::sleep(delay).await;
                let line = if i < chunks {
                    state.chunks_sent.fetch_add(1, Ordering::SeqCst);
                    let text = if i == 0 { COMPLETION_TEXT } else { " more" };
                    serde_json::json!({
                            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}],
                        })
                        .to_string()
                } else {
                    state.streams_completed.fetch_add(1, Ordering::SeqCst);
                    if let Some(w) = watch.take() {
                        w.done();
                    }
                    format!(
                        "{}\n\ndata: [DONE]",
                        serde_json::json!({
                            "id": "chatcmpl-fake", "object": "chat.completion.chunk",
                            "model": model, "choices": [],
                            "usage": {"prompt_tokens": 11, "completion_tokens": chunks},
                        })
                    )
                };
                Some((
                    Ok::<_, std::convert::Infallible>(format!("data: {line}\n\n")),
                    (i + 1, watch),
                ))
            }
        });
        return (
            [("content-type", "text/event-stream")],
            axum::body::Body::from_stream(stream),
        )
            .into_response();
    }
    if prompt.contains(SLOW) {
        let watch = Watch::new(&state);
        tokio::time::sleep(Duration::from_secs(30)).await;
        watch.done();
    }
    axum::Json(serde_json::json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": COMPLETION_TEXT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7},
    }))
    .into_response()
}

async fn embeddings(
    axum::extract::State(state): axum::extract::State<Arc<FakeLlmState>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    remember(&state, &headers, &body);
    let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let inputs: Vec<String> = match &request["input"] {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    let data: Vec<serde_json::Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut v = vec![0.0f32; 384];
            v[text.len() % 384] = 1.0;
            serde_json::json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    axum::Json(serde_json::json!({
        "object": "list",
        "data": data,
        "model": request["model"],
        "usage": {"prompt_tokens": inputs.len() * 3, "total_tokens": inputs.len() * 3},
    }))
    .into_response()
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fresh random-looking 32-hex-digit trace id (time and a counter; unique per process).
pub fn trace_id() -> String {
    static N: AtomicU64 = AtomicU64::new(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!(
        "{nanos:016x}{:016x}",
        n ^ 0x5EED_0000_0000_0000 ^ u64::from(std::process::id())
    )
}

/// A `traceparent` header value with `trace_id` as its trace and a sampled flag.
pub fn traceparent(trace_id: &str) -> String {
    format!("00-{trace_id}-00f067aa0ba902b7-01")
}

/// Sends one RAG query as the child of a fresh remote trace and returns that trace's id, so
/// the test can wait for the server span of exactly this request at the receiver.
pub async fn traced_query(client: &reqwest::Client, base: &str) -> String {
    let id = trace_id();
    let r = client
        .post(format!("{base}/v1/rag/query"))
        .header("traceparent", traceparent(&id))
        .json(&serde_json::json!({"query": "Where does Jaeger accept spans?"}))
        .send()
        .await
        .expect("traced query");
    assert!(r.status().is_success(), "traced query: {}", r.status());
    id
}

/// `unitel_export_failures_total{signal}` from an exposition text.
pub fn export_failures(text: &str, signal: &str) -> f64 {
    sum(
        &parse_exposition(text),
        "unitel_export_failures_total",
        &[("signal", signal)],
    )
}

/// `a / b` as a printable ratio (0 when `b` is 0).
pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Process {
    /// Scrapes `/metrics` every 100 ms until `pred` holds on the text or `timeout` passes;
    /// returns the last text and whether `pred` held.
    pub async fn metrics_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> (bool, String) {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.metrics().await;
            if pred(&text) {
                return (true, text);
            }
            if Instant::now() >= deadline {
                return (false, text);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Sends a traced request every 250 ms until the spans of one of them reach the receiver.
/// Right after a recovery the span queue may still be full of older spans, so the first
/// requests' spans can be dropped (and counted); a later one must get through.
pub async fn traces_arrive_again(
    receiver: &unitel_testkit::OtlpReceiver,
    client: &reqwest::Client,
    base: &str,
    phase: &str,
) -> Duration {
    let started = Instant::now();
    let mut sent = Vec::new();
    while started.elapsed() < Duration::from_secs(40) {
        sent.push(traced_query(client, base).await);
        let spans = receiver
            .wait_for_spans(
                |spans| spans.iter().any(|s| sent.contains(&s.trace_id)),
                Duration::from_millis(250),
            )
            .await;
        if spans.iter().any(|s| sent.contains(&s.trace_id)) {
            return started.elapsed();
        }
    }
    panic!(
        "{phase}: none of {} traced requests reached the receiver within 40 s",
        sent.len()
    );
}

/// How far above the healthy run's resident memory a collector-fault phase may go: the span
/// queue (2048 spans) and one batch in flight are a few MiB; an unbounded buffer is far more.
pub const RSS_HEADROOM: u64 = 64 * MIB;

/// After a collector fault: metric pushes reach `receiver` again, the server still runs, and
/// its resident memory never went above `baseline + RSS_HEADROOM` while `rss` sampled it.
/// Returns the highest resident memory seen and the exposition afterwards.
pub async fn assert_recovered(
    receiver: &unitel_testkit::OtlpReceiver,
    server: &mut Process,
    rss: RssSampler,
    baseline: u64,
) -> (u64, String) {
    let pushes = receiver.metrics_requests().len();
    assert!(
        eventually(Duration::from_secs(10), || receiver
            .metrics_requests()
            .len()
            > pushes)
        .await,
        "metric pushes did not resume"
    );
    let max_rss = rss.stop();
    let after = server.metrics().await;
    assert!(server.is_running(), "the server died");
    let bound = baseline + RSS_HEADROOM;
    assert!(
        max_rss <= bound,
        "resident memory grew to {} MiB under collector faults (healthy {} MiB, bound {} MiB)",
        max_rss / MIB,
        baseline / MIB,
        bound / MIB
    );
    (max_rss, after)
}
