//! A real OTLP receiver (gRPC + HTTP/protobuf) for tests.
//!
//! [`OtlpReceiver`] serves the OTLP `TraceService` and `MetricsService` over gRPC (tonic, the
//! generated servers of `opentelemetry-proto`) on one loopback port, and OTLP/HTTP with
//! protobuf bodies (`POST /v1/traces`, `POST /v1/metrics`) on a second loopback port. Both
//! share the same storage and the same [`ReceiverMode`].
//!
//! # Runtime
//!
//! The servers run on a **dedicated OS thread with its own current-thread tokio runtime**, not
//! on the caller's runtime. The receiver therefore works from `#[tokio::test]` (any flavour)
//! and from plain `#[test]` (via [`OtlpReceiver::start_blocking`]), and it is unaffected by the
//! test runtime blocking or shutting down. [`OtlpReceiver::stop`] shuts that runtime down,
//! which drops the listeners **and every open connection**.

mod http;
mod model;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::sync::oneshot;

pub use model::{
    AttrValue, Attributes, HistogramValue, MetricKind, PointValue, ReceivedDataPoint,
    ReceivedEvent, ReceivedLink, ReceivedMetric, ReceivedSpan, hex,
};
pub use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
pub use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode};

/// Largest request the receiver decodes (gRPC and HTTP).
const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;
/// How often the `wait_for_*` helpers re-check their predicate.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How the receiver answers export requests; change it at any time with
/// [`OtlpReceiver::set_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiverMode {
    /// Store the request and answer success (the default).
    #[default]
    Accept,
    /// Reject without storing: gRPC `UNAVAILABLE`, HTTP `503 Service Unavailable`.
    Unavailable,
    /// Sleep for the duration, then accept. If the client gives up first (timeout), the request
    /// is dropped and not stored.
    Delay(Duration),
}

/// Locks a mutex, ignoring poisoning (the data is plain storage).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the gRPC and HTTP servers and the [`OtlpReceiver`] handle.
#[derive(Debug, Default)]
struct Shared {
    traces: Mutex<Vec<ExportTraceServiceRequest>>,
    metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    mode: Mutex<ReceiverMode>,
    requests: AtomicUsize,
    /// Spans received (stored or not) since the last `clear`.
    span_count: AtomicUsize,
    /// Whether trace requests are stored (else only counted).
    discard_traces: std::sync::atomic::AtomicBool,
}

/// Outcome of [`Shared::admit`] when the request must be refused.
#[derive(Debug)]
struct Unavailable;

impl Shared {
    /// Counts the request and applies the current [`ReceiverMode`].
    async fn admit(&self) -> Result<(), Unavailable> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let mode = *lock(&self.mode);
        match mode {
            ReceiverMode::Accept => Ok(()),
            ReceiverMode::Unavailable => Err(Unavailable),
            ReceiverMode::Delay(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        }
    }

    fn store_traces(&self, request: ExportTraceServiceRequest) {
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.span_count.fetch_add(spans, Ordering::SeqCst);
        if !self.discard_traces.load(Ordering::Relaxed) {
            lock(&self.traces).push(request);
        }
    }

    fn store_metrics(&self, request: ExportMetricsServiceRequest) {
        lock(&self.metrics).push(request);
    }
}

/// The tonic service implementation (both signals).
#[derive(Debug, Clone)]
struct GrpcHandler {
    shared: Arc<Shared>,
}

const UNAVAILABLE_MESSAGE: &str = "unitel-testkit OtlpReceiver is in ReceiverMode::Unavailable";

#[tonic::async_trait]
impl TraceService for GrpcHandler {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.shared
            .admit()
            .await
            .map_err(|Unavailable| tonic::Status::unavailable(UNAVAILABLE_MESSAGE))?;
        self.shared.store_traces(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcHandler {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.shared
            .admit()
            .await
            .map_err(|Unavailable| tonic::Status::unavailable(UNAVAILABLE_MESSAGE))?;
        self.shared.store_metrics(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// One serving period between a start/restart and a stop: a thread running its own runtime.
#[derive(Debug)]
struct Generation {
    shutdown: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Generation {
    fn spawn(
        grpc: StdTcpListener,
        http: StdTcpListener,
        shared: Arc<Shared>,
    ) -> io::Result<Generation> {
        grpc.set_nonblocking(true)?;
        http.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (grpc, http) = {
            let _guard = runtime.enter();
            (
                tokio::net::TcpListener::from_std(grpc)?,
                tokio::net::TcpListener::from_std(http)?,
            )
        };
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("unitel-otlp-receiver".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let http_task = tokio::spawn(http::serve(http, Arc::clone(&shared)));
                    let handler = GrpcHandler { shared };
                    let grpc_server = tonic::transport::Server::builder()
                        .add_service(
                            TraceServiceServer::new(handler.clone())
                                .max_decoding_message_size(MAX_MESSAGE_SIZE),
                        )
                        .add_service(
                            MetricsServiceServer::new(handler)
                                .max_decoding_message_size(MAX_MESSAGE_SIZE),
                        )
                        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(grpc));
                    tokio::select! {
                        _ = shutdown_rx => {}
                        result = grpc_server => {
                            if let Err(e) = result {
                                eprintln!("unitel-testkit: OTLP gRPC receiver failed: {e}");
                            }
                        }
                    }
                    http_task.abort();
                });
                // Dropping the runtime drops every task, including the per-connection tasks,
                // so all accepted sockets are closed when the thread ends.
                drop(runtime);
            })?;
        Ok(Generation { shutdown, thread })
    }

    fn stop(self) {
        let _ = self.shutdown.send(());
        if self.thread.join().is_err() {
            eprintln!("unitel-testkit: the OTLP receiver thread panicked");
        }
    }
}

/// A real OTLP/gRPC + OTLP/HTTP receiver on `127.0.0.1` that stores everything it receives.
///
/// See the [module docs](self) for the threading model. Dropping the receiver stops it.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// let receiver = unitel_testkit::OtlpReceiver::start().await?;
/// // point the exporter under test at receiver.endpoint() ...
/// let spans = receiver
///     .wait_for_spans(|s| s.iter().any(|s| s.name == "GET /"), Duration::from_secs(5))
///     .await;
/// assert!(spans.iter().any(|s| s.name == "GET /"));
/// # Ok(()) }
/// ```
pub struct OtlpReceiver {
    shared: Arc<Shared>,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    generation: Mutex<Option<Generation>>,
}

impl fmt::Debug for OtlpReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpReceiver")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .field("running", &self.is_running())
            .field("mode", &self.mode())
            .field("request_count", &self.request_count())
            .finish()
    }
}

impl OtlpReceiver {
    /// Binds `127.0.0.1:0` (gRPC) and another `127.0.0.1:0` (HTTP) and starts serving on a
    /// dedicated thread. The `async` signature is for symmetry with the other services; the
    /// call does not depend on the caller's runtime.
    pub async fn start() -> io::Result<OtlpReceiver> {
        Self::start_blocking()
    }

    /// Same as [`OtlpReceiver::start`], for plain `#[test]` functions.
    pub fn start_blocking() -> io::Result<OtlpReceiver> {
        let grpc = StdTcpListener::bind(("127.0.0.1", 0))?;
        let http = StdTcpListener::bind(("127.0.0.1", 0))?;
        let grpc_addr = grpc.local_addr()?;
        let http_addr = http.local_addr()?;
        let shared = Arc::new(Shared::default());
        let generation = Generation::spawn(grpc, http, Arc::clone(&shared))?;
        Ok(OtlpReceiver {
            shared,
            grpc_addr,
            http_addr,
            generation: Mutex::new(Some(generation)),
        })
    }

    /// The gRPC endpoint, `http://127.0.0.1:PORT` (what OTLP/gRPC exporters expect).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// The gRPC socket address.
    pub fn addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The OTLP/HTTP base endpoint, `http://127.0.0.1:PORT` (another port than
    /// [`endpoint`](Self::endpoint)). Requests go to `{base}/v1/traces` and `{base}/v1/metrics`
    /// with `Content-Type: application/x-protobuf` (uncompressed); JSON bodies and
    /// `Content-Encoding` are answered with `415 Unsupported Media Type`.
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// The OTLP/HTTP socket address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Every stored trace export request, in arrival order (gRPC and HTTP).
    pub fn trace_requests(&self) -> Vec<ExportTraceServiceRequest> {
        lock(&self.shared.traces).clone()
    }

    /// Every stored metrics export request, in arrival order (gRPC and HTTP).
    pub fn metrics_requests(&self) -> Vec<ExportMetricsServiceRequest> {
        lock(&self.shared.metrics).clone()
    }

    /// Every stored span, flattened, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        model::flatten_spans(&lock(&self.shared.traces))
    }

    /// Every stored metric, flattened, in arrival order (one entry per `Metric` message, so a
    /// periodically exported metric appears once per export).
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        model::flatten_metrics(&lock(&self.shared.metrics))
    }

    /// The most recently received metric called `name`.
    pub fn metric(&self, name: &str) -> Option<ReceivedMetric> {
        self.metrics().into_iter().rev().find(|m| m.name == name)
    }

    /// Number of export requests that reached the receiver (both signals, both protocols),
    /// **including** those refused or delayed by the current [`ReceiverMode`]. Requests that
    /// could not be decoded are not counted.
    pub fn request_count(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Forgets every stored request and resets [`request_count`](Self::request_count) and
    /// [`span_count`](Self::span_count).
    pub fn clear(&self) {
        lock(&self.shared.traces).clear();
        lock(&self.shared.metrics).clear();
        self.shared.requests.store(0, Ordering::SeqCst);
        self.shared.span_count.store(0, Ordering::SeqCst);
    }

    /// Spans received since the last [`clear`](Self::clear), stored or not.
    pub fn span_count(&self) -> usize {
        self.shared.span_count.load(Ordering::SeqCst)
    }

    /// With `true`, trace requests are counted ([`span_count`](Self::span_count)) and
    /// dropped instead of stored: a load benchmark receiving tens of thousands of spans per
    /// second keeps its memory flat.
    pub fn discard_traces(&self, discard: bool) {
        self.shared.discard_traces.store(discard, Ordering::SeqCst);
    }

    /// Changes how subsequent requests are answered (takes effect immediately, also for
    /// requests already connected).
    pub fn set_mode(&self, mode: ReceiverMode) {
        *lock(&self.shared.mode) = mode;
    }

    /// The current [`ReceiverMode`].
    pub fn mode(&self) -> ReceiverMode {
        *lock(&self.shared.mode)
    }

    /// True between a start/[`restart`](Self::restart) and a [`stop`](Self::stop).
    pub fn is_running(&self) -> bool {
        lock(&self.generation).is_some()
    }

    /// Stops serving: closes both listeners and every open connection, so the ports refuse
    /// connections once this returns. Stored data is kept. No-op when already stopped.
    ///
    /// Synchronous: it signals the receiver thread and joins it (a few milliseconds), so it can
    /// be called from async and plain tests alike.
    pub fn stop(&self) {
        let generation = lock(&self.generation).take();
        if let Some(generation) = generation {
            generation.stop();
        }
    }

    /// Starts serving again on the **same** two ports (stopping first if still running).
    /// Stored data and the mode are kept. Retries binding for up to 2 s in case the ports are
    /// momentarily busy; fails if another process took them.
    pub fn restart(&self) -> io::Result<()> {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(2);
        let (grpc, http) = loop {
            let attempt = StdTcpListener::bind(self.grpc_addr)
                .and_then(|g| StdTcpListener::bind(self.http_addr).map(|h| (g, h)));
            match attempt {
                Ok(listeners) => break listeners,
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let generation = Generation::spawn(grpc, http, Arc::clone(&self.shared))?;
        *lock(&self.generation) = Some(generation);
        Ok(())
    }

    /// Polls [`spans`](Self::spans) until `pred` holds or `timeout` elapses, and returns the
    /// spans seen last (check them: a timeout is not an error here).
    pub async fn wait_for_spans(
        &self,
        pred: impl Fn(&[ReceivedSpan]) -> bool,
        timeout: Duration,
    ) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if pred(&spans) || Instant::now() >= deadline {
                return spans;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Polls [`metrics`](Self::metrics) until `pred` holds or `timeout` elapses, and returns
    /// the metrics seen last.
    pub async fn wait_for_metrics(
        &self,
        pred: impl Fn(&[ReceivedMetric]) -> bool,
        timeout: Duration,
    ) -> Vec<ReceivedMetric> {
        let deadline = Instant::now() + timeout;
        loop {
            let metrics = self.metrics();
            if pred(&metrics) || Instant::now() >= deadline {
                return metrics;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Blocking variant of [`wait_for_spans`](Self::wait_for_spans) for plain `#[test]`s
    /// (do not call it on an async runtime thread).
    pub fn wait_for_spans_blocking(
        &self,
        pred: impl Fn(&[ReceivedSpan]) -> bool,
        timeout: Duration,
    ) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if pred(&spans) || Instant::now() >= deadline {
                return spans;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Blocking variant of [`wait_for_metrics`](Self::wait_for_metrics).
    pub fn wait_for_metrics_blocking(
        &self,
        pred: impl Fn(&[ReceivedMetric]) -> bool,
        timeout: Duration,
    ) -> Vec<ReceivedMetric> {
        let deadline = Instant::now() + timeout;
        loop {
            let metrics = self.metrics();
            if pred(&metrics) || Instant::now() >= deadline {
                return metrics;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}
