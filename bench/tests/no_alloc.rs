//! Recording to an existing series allocates nothing: a counting global allocator (counting
//! only on the thread under test, only inside the measured closure) shows zero allocations for
//! typed handles, label lookups of existing series and the convenience functions by name.
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
        }
    });
    assert_eq!(
        n, 0,
        "label lookups allocated {n} times in {RECORDS} rounds"
    );
    assert_eq!(
        counters.with_labels(&LABELS).value(),
        1.0 + 2.0 * RECORDS as f64
    );
}

#[test]
fn convenience_functions_on_existing_series_do_not_allocate() {
    unitel::increment_counter("http_requests_total", &PAIRS);
    unitel::observe_histogram("http_request_duration_seconds", 0.1, &PAIRS);
    unitel::set_gauge("circuit_breaker_state", 0.0, &[("circuit", "llm")]);
    let n = allocations_in(|| {
        for _ in 0..RECORDS {
            unitel::increment_counter("http_requests_total", &PAIRS);
            unitel::add_to_counter("http_requests_total", 2.0, &PAIRS);
            unitel::observe_histogram("http_request_duration_seconds", 0.1, &PAIRS);
            unitel::set_gauge("circuit_breaker_state", 1.0, &[("circuit", "llm")]);
        }
    });
    assert_eq!(
        n, 0,
        "the convenience functions allocated {n} times in {RECORDS} rounds"
    );
}
