//! Recording a request on an existing series allocates nothing: neither the core recorder nor
//! the axum layer (with no tracing subscriber, as in a metrics-only service). Counted with a
//! counting global allocator on the test thread.
#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use http_body::Body as _;
use tower_layer::Layer as _;
use tower_service::Service;
use unitel::Registry;
use unitel::http::server::{HttpServerConfig, HttpServerRecorder, RequestParts};
use unitel_axum::HttpMetricsLayer;

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations made by `f` on this thread (tests run on several threads at once).
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_core_recorder_allocates_nothing_for_a_known_route() {
    let registry = Registry::new();
    let recorder = HttpServerRecorder::new(HttpServerConfig::new().registry(registry.clone()));
    let headers = http::HeaderMap::new();
    let parts = RequestParts {
        method: "GET",
        route: Some("/api/items/{id}"),
        path: "/api/items/1",
        scheme: None,
        version: http::Version::HTTP_11,
        headers: &headers,
    };
    let serve = || {
        let mut request = recorder.start(&parts);
        request.response_started(200);
        request.finish();
        drop(recorder.start(&parts)); // cancelled
    };
    serve(); // first request creates the series and caches the handles
    let probe = allocations(|| drop(std::hint::black_box(Vec::<u8>::with_capacity(16))));
    assert_eq!(probe, 1, "the counting allocator counts");
    assert_eq!(allocations(|| (0..1000).for_each(|_| serve())), 0);
    assert!(unitel::prometheus::render_registry(&registry).contains(
        r#"http_requests_total{method="GET",route="/api/items/{id}",status="200"} 1001"#
    ));
}

/// An inner service answering `200` with an empty `axum::body::Body` without allocating (as
/// an axum `Route` answers: its bodies are `axum::body::Body` already).
#[derive(Clone)]
struct Ok200;

impl<B> Service<Request<B>> for Ok200 {
    type Response = Response<axum::body::Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        ready(Ok(Response::new(axum::body::Body::empty())))
    }
}

#[test]
fn the_axum_layer_allocates_nothing_per_request() {
    let registry = Registry::new();
    let layer = HttpMetricsLayer::with_config(HttpServerConfig::new().registry(registry.clone()));
    let mut service = layer.layer(Ok200);
    let mut cx = Context::from_waker(Waker::noop());
    let mut serve = |request: Request<axum::body::Body>| {
        let future = pin!(service.call(request));
        let Poll::Ready(Ok(response)) = future.poll(&mut cx) else {
            panic!("the inner service is ready at once")
        };
        let mut body = pin!(response.into_body());
        while let Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
            frame.unwrap();
        }
    };
    let requests: Vec<Request<axum::body::Body>> = (0..1001)
        .map(|i| {
            Request::get(format!("/nowhere/{i}"))
                .body(axum::body::Body::empty())
                .unwrap()
        })
        .collect();
    let mut requests = requests.into_iter();
    serve(requests.next().unwrap());
    let counted = allocations(|| requests.by_ref().for_each(&mut serve));
    assert_eq!(counted, 0);
    assert!(
        unitel::prometheus::render_registry(&registry)
            .contains(r#"http_requests_total{method="GET",route="unmatched",status="200"} 1001"#)
    );
}
