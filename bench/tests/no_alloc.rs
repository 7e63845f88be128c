//! Recording to an existing series allocates nothing: a counting global allocator (counting
//! only on the thread under test, only inside the measured closure) shows zero allocations for
//! typed handles, label lookups of existing series and the convenience functions by name, and
//! no allocation added per request by the HTTP layers (requests served in process, no tracing
//! subscriber, so spans are off and only metrics are recorded).
//!
//! This is a behaviour, not a timing: the counts are exact.

// A global allocator is an `unsafe impl`; it only counts and forwards to the system allocator.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use unitel::Registry;
use unitel::catalog::{
    CIRCUIT_BREAKER_STATE, HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_IN_FLIGHT,
    HTTP_REQUESTS_TOTAL,
};

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: thread-local storage may be gone while a thread shuts down.
    let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
    if counting {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: every call forwards to `System` with the caller's arguments unchanged; the only
// extra work is a thread-local counter update, which does not allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Allocations made by this thread while `f` runs.
fn allocations_in(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

const RECORDS: usize = 10_000;
const LABELS: [&str; 3] = ["GET", "/api/items/{id}", "200"];
const PAIRS: [(&str, &str); 3] = [
    ("method", "GET"),
    ("route", "/api/items/{id}"),
    ("status", "200"),
];

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_in(|| {
        let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(16));
        drop(v);
        let s = std::hint::black_box(String::from("allocated"));
        drop(s);
    });
    assert_eq!(
        n, 2,
        "the counting allocator must see these two allocations"
    );
}

#[test]
fn typed_handles_record_without_allocating() {
    let registry = Registry::new();
    let counter = registry.counter(&HTTP_REQUESTS_TOTAL).with_labels(&LABELS);
    let histogram = registry
        .histogram(&HTTP_REQUEST_DURATION_SECONDS)
        .with_labels(&LABELS);
    let gauge = registry
        .gauge(&HTTP_REQUESTS_IN_FLIGHT)
        .with_labels(&["GET", "/api/items/{id}"]);
    let n = allocations_in(|| {
        for i in 0..RECORDS {
            counter.inc();
            counter.add(2);
            counter.add_f64(0.5);
            #[allow(clippy::cast_precision_loss)]
            histogram.observe(i as f64 / 1000.0);
            histogram.observe_duration(std::time::Duration::from_micros(250));
            gauge.inc();
            gauge.dec();
            gauge.set(3.0);
        }
    });
    assert_eq!(
        n, 0,
        "typed handles allocated {n} times in {RECORDS} rounds"
    );
    assert!((counter.value() - 3.5 * RECORDS as f64).abs() < 1e-6);
    assert_eq!(histogram.snapshot().count(), 2 * RECORDS as u64);
}

#[test]
fn label_lookups_of_existing_series_do_not_allocate() {
    let registry = Registry::new();
    let counters = registry.counter(&HTTP_REQUESTS_TOTAL);
    let histograms = registry.histogram(&HTTP_REQUEST_DURATION_SECONDS);
    let gauges = registry.gauge(&CIRCUIT_BREAKER_STATE);
    // Create the series first: creating one allocates (its labels are stored).
    counters.with_labels(&LABELS).inc();
    histograms.with_labels(&LABELS).observe(0.1);
    gauges.with_labels(&["llm"]).set(0.0);
    let n = allocations_in(|| {
        for _ in 0..RECORDS {
            counters.with_labels(&LABELS).inc();
            counters.with_label_pairs(&PAIRS).inc();
            histograms.with_labels(&LABELS).observe(0.1);
            histograms.with_label_pairs(&PAIRS).observe(0.2);
            gauges.with_labels(&["llm"]).set(1.0);
            counters.inc_with(&LABELS);
            histograms.observe_with(&LABELS, 0.3);
            gauges.set_with(&["llm"], 1.0);
        }
    });
    assert_eq!(
        n, 0,
        "label lookups allocated {n} times in {RECORDS} rounds"
    );
    assert_eq!(
        counters.with_labels(&LABELS).value(),
        1.0 + 3.0 * RECORDS as f64
    );
}

#[test]
fn convenience_functions_on_existing_series_do_not_allocate() {
    unitel::record::increment_counter("http_requests_total", &PAIRS);
    unitel::record::observe_histogram("http_request_duration_seconds", 0.1, &PAIRS);
    unitel::record::set_gauge("circuit_breaker_state", 0.0, &[("circuit", "llm")]);
    let n = allocations_in(|| {
        for _ in 0..RECORDS {
            unitel::record::increment_counter("http_requests_total", &PAIRS);
            unitel::record::add_to_counter("http_requests_total", 2.0, &PAIRS);
            unitel::record::observe_histogram("http_request_duration_seconds", 0.1, &PAIRS);
            unitel::record::set_gauge("circuit_breaker_state", 1.0, &[("circuit", "llm")]);
        }
    });
    assert_eq!(
        n, 0,
        "the convenience functions allocated {n} times in {RECORDS} rounds"
    );
}

const REQUESTS: u64 = 1_000;

fn axum_request() -> http::Request<axum::body::Body> {
    http::Request::get("/api/items/42")
        .header("user-agent", "no-alloc-test")
        .body(axum::body::Body::empty())
        .unwrap()
}

/// Allocations per request through `router` (finalized with `with_state`, as `axum::serve`
/// does), in process (no socket), after a warm-up request.
fn axum_allocations_per_request(router: axum::Router) -> f64 {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let router = router.with_state(());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let serve = |req: http::Request<axum::body::Body>| {
        let router = router.clone();
        runtime.block_on(async move {
            let response = router.oneshot(req).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap()
        })
    };
    drop(serve(axum_request()));
    let requests: Vec<_> = (0..REQUESTS).map(|_| axum_request()).collect();
    let mut bodies = Vec::with_capacity(requests.len());
    let n = allocations_in(|| {
        for req in requests {
            bodies.push(serve(req));
        }
    });
    #[allow(clippy::cast_precision_loss)]
    let per_request = n as f64 / REQUESTS as f64;
    per_request
}

/// A response body that only forwards: the shape of any body-wrapping layer.
struct PassThroughBody(axum::body::Body);

impl http_body::Body for PassThroughBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.size_hint()
    }
}

#[test]
fn the_axum_layer_adds_no_allocation_per_request() {
    let registry = Registry::new();
    // axum's `Router::layer` costs allocations per request for any layer that wraps the
    // response body (route futures boxed once more, the new body type boxed into
    // `axum::body::Body`), so the reference is a layer of the same shape that records nothing.
    let pass_through =
        unitel_bench::apps::axum_app::routes().layer(tower::util::MapResponseLayer::new(
            |r: http::Response<axum::body::Body>| r.map(PassThroughBody),
        ));
    let layered =
        unitel_bench::apps::axum_app::routes().layer(unitel_axum::HttpMetricsLayer::with_config(
            unitel::http::server::HttpServerConfig::new().registry(registry.clone()),
        ));
    let bare_allocations = axum_allocations_per_request(unitel_bench::apps::axum_app::routes());
    let reference_allocations = axum_allocations_per_request(pass_through);
    let layered_allocations = axum_allocations_per_request(layered);
    assert!(
        bare_allocations > 0.0,
        "the bare route allocates (body, JSON)"
    );
    eprintln!(
        "axum allocations per request: bare {bare_allocations}, pass-through layer \
         {reference_allocations}, HttpMetricsLayer {layered_allocations}"
    );
    assert!(
        layered_allocations <= reference_allocations,
        "HttpMetricsLayer allocates: {layered_allocations} allocations per request where a \
         pass-through layer of the same shape makes {reference_allocations}"
    );
    let text = unitel::prometheus::render_registry(&registry);
    assert!(
        text.contains(&format!(
            "http_requests_total{{method=\"GET\",route=\"/api/items/{{id}}\",status=\"200\"}} {}",
            REQUESTS + 1
        )),
        "{text}"
    );
}

/// Allocations per request through an actix app, in process, after a warm-up request, to
/// `/api/items/42` each time or (`fresh_ids`) to a new id each time.
fn actix_allocations_per_request(
    metrics: Option<unitel_actix::HttpMetrics>,
    fresh_ids: bool,
) -> f64 {
    use actix_web::{App, test};
    let system = actix_web::rt::System::new();
    let app = system.block_on(test::init_service(
        App::new()
            .wrap(actix_web::middleware::Condition::new(
                metrics.is_some(),
                metrics.unwrap_or_default(),
            ))
            .configure(unitel_bench::apps::actix_app::routes),
    ));
    let mut id = 1000_u32;
    let mut request = || {
        let uri = if fresh_ids {
            id += 1;
            format!("/api/items/{id}")
        } else {
            "/api/items/42".to_owned()
        };
        test::TestRequest::get()
            .uri(&uri)
            .insert_header(("user-agent", "no-alloc-test"))
            .to_request()
    };
    let serve = |req| {
        system.block_on(async {
            let response = test::call_service(&app, req).await;
            assert_eq!(response.status(), 200);
            test::read_body(response).await
        })
    };
    drop(serve(request()));
    let requests: Vec<_> = (0..REQUESTS).map(|_| request()).collect();
    let mut bodies = Vec::with_capacity(requests.len());
    let n = allocations_in(|| {
        for req in requests {
            bodies.push(serve(req));
        }
    });
    #[allow(clippy::cast_precision_loss)]
    let per_request = n as f64 / REQUESTS as f64;
    per_request
}

#[test]
fn the_actix_middleware_adds_no_allocation_per_request() {
    let registry = Registry::new();
    let metrics = unitel_actix::HttpMetrics::with_config(
        unitel::http::server::HttpServerConfig::new().registry(registry.clone()),
    );
    let bare_allocations = actix_allocations_per_request(None, false);
    let layered_allocations = actix_allocations_per_request(Some(metrics), false);
    assert!(
        bare_allocations > 0.0,
        "the bare route allocates (body, JSON)"
    );
    eprintln!(
        "actix allocations per request: bare {bare_allocations}, HttpMetrics {layered_allocations}"
    );
    assert_eq!(
        layered_allocations, bare_allocations,
        "HttpMetrics changed allocations per request from {bare_allocations} to \
         {layered_allocations}"
    );
    assert!(
        unitel::prometheus::render_registry(&registry).contains(&format!(
            "http_requests_total{{method=\"GET\",route=\"/api/items/{{id}}\",status=\"200\"}} {}",
            REQUESTS + 1
        ))
    );
}

#[test]
fn the_actix_middleware_predicts_the_route_of_a_new_id() {
    // A path not seen before, of a known shape: its route is predicted and checked after
    // routing (one `String`, actix's `match_pattern()`), instead of being resolved through
    // the resource map before routing (regex captures, two allocations and a stored path).
    let registry = Registry::new();
    let metrics = unitel_actix::HttpMetrics::with_config(
        unitel::http::server::HttpServerConfig::new().registry(registry.clone()),
    );
    let bare_allocations = actix_allocations_per_request(None, true);
    let layered_allocations = actix_allocations_per_request(Some(metrics), true);
    eprintln!(
        "actix allocations per request, new id each time: bare {bare_allocations}, \
         HttpMetrics {layered_allocations}"
    );
    assert!(
        layered_allocations <= bare_allocations + 1.0,
        "HttpMetrics changed allocations per request from {bare_allocations} to \
         {layered_allocations} on new ids"
    );
    assert!(
        unitel::prometheus::render_registry(&registry).contains(&format!(
            "http_requests_total{{method=\"GET\",route=\"/api/items/{{id}}\",status=\"200\"}} {}",
            REQUESTS + 1
        ))
    );
}
