//! The metric macros, observed through the rendered exposition: exact counts, sums and bucket
//! placement for sync and async functions, methods, `Result` and plain returns, panics,
//! cancellation and concurrency.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use unitel::genai::cache::Lookup;
use unitel::instrument::{ErrorKind, LabelValue};
use unitel::{cache_metrics, count_calls, measure_latency, monitor_resource, track_metrics};

/// The value of the sample `series` (name and labels exactly as rendered).
fn sample(series: &str) -> Option<f64> {
    let text = unitel::prometheus::render();
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

fn value(series: &str) -> f64 {
    sample(series)
        .unwrap_or_else(|| panic!("no sample `{series}` in:\n{}", unitel::prometheus::render()))
}

fn promtool_clean() {
    let text = unitel::prometheus::render();
    if let Some(result) = unitel_testkit::promtool_check_metrics(&text) {
        result.unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
    }
}

// --- sync, plain and Result -------------------------------------------------------------------

#[track_metrics(name = "m_sync_plain")]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[test]
fn sync_plain_returns_count_calls_and_durations_and_no_errors() {
    assert_eq!(add(1, 2), 3);
    assert_eq!(add(2, 2), 4);
    assert_eq!(add(3, 2), 5);
    assert_eq!(value("m_sync_plain_calls_total"), 3.0);
    assert_eq!(value("m_sync_plain_duration_seconds_count"), 3.0);
    assert_eq!(
        value("m_sync_plain_duration_seconds_bucket{le=\"+Inf\"}"),
        3.0
    );
    let text = unitel::prometheus::render();
    assert!(text.contains("# TYPE m_sync_plain_errors_total counter\n"));
    assert!(!text.contains("m_sync_plain_errors_total{"), "{text}");
}

#[derive(Debug)]
enum FetchError {
    Timeout,
    NotFound(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::NotFound(what) => write!(f, "{what} not found"),
        }
    }
}
impl std::error::Error for FetchError {}

impl ErrorKind for FetchError {
    fn error_kind(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::NotFound(_) => "not_found",
        }
    }
}

#[track_metrics(name = "m_sync_result", labels(component = "fetcher"))]
fn fetch(id: u32) -> Result<String, FetchError> {
    match id {
        0 => Err(FetchError::NotFound(format!("item {id} with user text"))),
        1 => Err(FetchError::Timeout),
        _ => Ok("found".to_owned()),
    }
}

#[track_metrics(name = "m_sync_io")]
fn read(fail: bool) -> std::io::Result<u8> {
    if fail {
        return Err(std::io::Error::other("disk full: /var/lib/secret"));
    }
    let parsed: u8 = "7".parse().map_err(std::io::Error::other)?;
    Ok(parsed)
}

#[test]
fn errors_are_labelled_by_kind_never_by_text() {
    let _ = fetch(0);
    let _ = fetch(0);
    let _ = fetch(1);
    let _ = fetch(2);
    assert_eq!(
        value("m_sync_result_calls_total{component=\"fetcher\"}"),
        4.0
    );
    assert_eq!(
        value("m_sync_result_errors_total{component=\"fetcher\",error_type=\"not_found\"}"),
        2.0
    );
    assert_eq!(
        value("m_sync_result_errors_total{component=\"fetcher\",error_type=\"timeout\"}"),
        1.0
    );
    // Errors without an ErrorKind are `error`; their text never becomes a label.
    read(true).unwrap_err();
    assert_eq!(read(false).unwrap(), 7);
    assert_eq!(value("m_sync_io_errors_total{error_type=\"error\"}"), 1.0);
    assert_eq!(value("m_sync_io_calls_total"), 2.0);
    let text = unitel::prometheus::render();
    assert!(
        !text.contains("user text") && !text.contains("secret"),
        "{text}"
    );
}

// --- panics -------------------------------------------------------------------------------------

#[track_metrics(name = "m_panics")]
fn explode(really: bool) -> u32 {
    assert!(!really, "boom");
    1
}

#[count_calls(metric = "m_panic_counted_total")]
fn explode_counted() {
    panic!("counted before the panic");
}

#[test]
fn a_panic_is_an_error_and_still_a_call() {
    assert!(std::panic::catch_unwind(|| explode(true)).is_err());
    assert_eq!(explode(false), 1);
    assert_eq!(value("m_panics_calls_total"), 2.0);
    assert_eq!(value("m_panics_errors_total{error_type=\"panic\"}"), 1.0);
    assert_eq!(value("m_panics_duration_seconds_count"), 2.0);
    assert!(std::panic::catch_unwind(explode_counted).is_err());
    assert_eq!(value("m_panic_counted_total"), 1.0);
}

// --- async -------------------------------------------------------------------------------------

#[track_metrics(name = "m_async", labels(service = "api"))]
async fn process_request(request_id: &str) -> Result<usize, FetchError> {
    tokio::task::yield_now().await;
    if request_id.is_empty() {
        return Err(FetchError::Timeout);
    }
    Ok(request_id.len())
}

#[track_metrics(name = "m_async_plain")]
async fn plain_async(n: u64) -> u64 {
    tokio::task::yield_now().await;
    n * 2
}

#[tokio::test]
async fn async_functions_record_like_sync_ones() {
    assert_eq!(process_request("abc").await.unwrap(), 3);
    process_request("").await.unwrap_err();
    assert_eq!(plain_async(21).await, 42);
    assert_eq!(value("m_async_calls_total{service=\"api\"}"), 2.0);
    assert_eq!(
        value("m_async_errors_total{service=\"api\",error_type=\"timeout\"}"),
        1.0
    );
    assert_eq!(value("m_async_plain_calls_total"), 1.0);
}

#[track_metrics(name = "m_async_panic")]
async fn async_explode() -> u8 {
    tokio::task::yield_now().await;
    panic!("async boom");
}

#[tokio::test]
async fn a_panic_in_an_async_function_is_an_error() {
    let joined = tokio::spawn(async_explode()).await;
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(value("m_async_panic_calls_total"), 1.0);
    assert_eq!(
        value("m_async_panic_errors_total{error_type=\"panic\"}"),
        1.0
    );
}

#[track_metrics(name = "m_cancelled")]
async fn never_finishes(gate: &tokio::sync::Notify) -> Result<(), FetchError> {
    gate.notified().await;
    Ok(())
}

#[test]
fn a_dropped_future_counts_as_a_call_not_an_error() {
    let gate = tokio::sync::Notify::new();
    {
        let mut future = pin!(never_finishes(&gate));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(value("m_cancelled_calls_total"), 1.0);
    assert_eq!(value("m_cancelled_duration_seconds_count"), 1.0);
    assert!(sample("m_cancelled_errors_total{error_type=\"error\"}").is_none());
    assert!(sample("m_cancelled_errors_total{error_type=\"panic\"}").is_none());
}

// --- labels from arguments, methods, generics ---------------------------------------------------

#[derive(Clone, Copy)]
enum Tier {
    Free,
    Pro,
}

impl LabelValue for Tier {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            Self::Free => "free",
            Self::Pro => "pro",
        })
    }
}

struct User {
    id: u64,
    tier: Tier,
}

impl User {
    fn tier(&self) -> Tier {
        self.tier
    }
}

#[count_calls(metric = "m_function_calls_total", labels(user_tier = user.tier(), vip = user.id < 10))]
fn process_user_request(user: User) -> u64 {
    user.id
}

#[test]
fn label_values_are_expressions_over_the_arguments() {
    process_user_request(User {
        id: 1,
        tier: Tier::Pro,
    });
    process_user_request(User {
        id: 100,
        tier: Tier::Free,
    });
    process_user_request(User {
        id: 101,
        tier: Tier::Free,
    });
    assert_eq!(
        value("m_function_calls_total{user_tier=\"pro\",vip=\"true\"}"),
        1.0
    );
    assert_eq!(
        value("m_function_calls_total{user_tier=\"free\",vip=\"false\"}"),
        2.0
    );
}

struct Store {
    items: Vec<u32>,
    name: String,
}

impl Store {
    #[track_metrics(name = "m_method_get", labels(store = self.name.as_str()))]
    fn get(&self, i: usize) -> Option<&u32> {
        self.items.get(i)
    }

    #[track_metrics(name = "m_method_mut")]
    fn first_mut(&mut self) -> Result<&mut u32, FetchError> {
        self.items.first_mut().ok_or(FetchError::Timeout)
    }

    #[track_metrics(name = "m_method_iter")]
    fn evens(&self) -> impl Iterator<Item = &u32> + '_ {
        self.items.iter().filter(|v| *v % 2 == 0)
    }

    #[track_metrics(name = "m_method_async")]
    async fn push(&mut self, v: u32) -> &mut Vec<u32> {
        tokio::task::yield_now().await;
        self.items.push(v);
        &mut self.items
    }

    #[track_metrics(name = "m_method_owned")]
    fn into_name(self) -> String {
        self.name
    }
}

#[track_metrics(name = "m_generic")]
fn describe<T: std::fmt::Display>(value: T) -> String {
    format!("<{value}>")
}

#[tokio::test]
async fn methods_generics_borrows_and_impl_trait_returns_work() {
    let mut store = Store {
        items: vec![2, 3, 4],
        name: "main".into(),
    };
    assert_eq!(store.get(0), Some(&2));
    *store.first_mut().unwrap() += 10;
    assert_eq!(store.evens().count(), 2);
    store.push(6).await.push(8);
    assert_eq!(store.items, vec![12, 3, 4, 6, 8]);
    assert_eq!(store.into_name(), "main");
    assert_eq!(describe(5), "<5>");
    assert_eq!(describe("x"), "<x>");
    assert_eq!(value("m_method_get_calls_total{store=\"main\"}"), 1.0);
    assert_eq!(value("m_method_mut_calls_total"), 1.0);
    assert_eq!(value("m_method_iter_calls_total"), 1.0);
    assert_eq!(value("m_method_async_calls_total"), 1.0);
    assert_eq!(value("m_method_owned_calls_total"), 1.0);
    assert_eq!(value("m_generic_calls_total"), 2.0);
}

// --- switches, buckets, latency ------------------------------------------------------------------

#[track_metrics(name = "m_only_errors", track_duration = false, track_calls = false)]
fn only_errors(fail: bool) -> Result<(), FetchError> {
    if fail {
        Err(FetchError::Timeout)
    } else {
        Ok(())
    }
}

#[test]
fn disabled_parts_are_not_registered() {
    only_errors(true).unwrap_err();
    only_errors(false).unwrap();
    assert_eq!(
        value("m_only_errors_errors_total{error_type=\"timeout\"}"),
        1.0
    );
    let text = unitel::prometheus::render();
    assert!(!text.contains("m_only_errors_calls_total"));
    assert!(!text.contains("m_only_errors_duration_seconds"));
}

#[measure_latency(metric = "m_api_latency_seconds", labels(endpoint = "search"), buckets = [0.001, 1000.0])]
fn slow_call(sleep: Duration) {
    std::thread::sleep(sleep);
}

#[measure_latency(buckets = [0.001, 1000.0])]
async fn m_default_latency() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

#[tokio::test]
async fn latency_lands_in_the_right_bucket_with_the_right_sum() {
    slow_call(Duration::from_millis(5));
    slow_call(Duration::from_millis(5));
    let le = |b: &str| {
        value(&format!(
            "m_api_latency_seconds_bucket{{endpoint=\"search\",le=\"{b}\"}}"
        ))
    };
    assert_eq!(le("0.001"), 0.0);
    assert_eq!(le("1000"), 2.0);
    assert_eq!(le("+Inf"), 2.0);
    let sum = value("m_api_latency_seconds_sum{endpoint=\"search\"}");
    assert!(sum >= 0.010, "sum {sum}");
    m_default_latency().await;
    assert_eq!(
        value("m_default_latency_duration_seconds_bucket{le=\"1000\"}"),
        1.0
    );
    assert_eq!(
        value("m_default_latency_duration_seconds_bucket{le=\"0.001\"}"),
        0.0
    );
}

// --- concurrency ---------------------------------------------------------------------------------

#[track_metrics(name = "m_concurrent")]
async fn concurrent_work(i: u64) -> Result<u64, FetchError> {
    tokio::task::yield_now().await;
    if i.is_multiple_of(10) {
        Err(FetchError::Timeout)
    } else {
        Ok(i)
    }
}

#[count_calls(metric = "m_threads_total")]
fn thread_work() {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_tasks_times_m_calls_is_exactly_n_times_m() {
    const N: u64 = 8;
    const M: u64 = 250;
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            tokio::spawn(async {
                for i in 0..M {
                    let _ = concurrent_work(i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(value("m_concurrent_calls_total"), (N * M) as f64);
    assert_eq!(value("m_concurrent_duration_seconds_count"), (N * M) as f64);
    assert_eq!(
        value("m_concurrent_errors_total{error_type=\"timeout\"}"),
        (N * M / 10) as f64
    );

    let threads: Vec<_> = (0..N)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..M {
                    thread_work();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(value("m_threads_total"), (N * M) as f64);
}

// --- cache and resources -------------------------------------------------------------------------

#[cache_metrics(cache_name = "m_embedding_cache")]
async fn get_cached_embedding(text: &str) -> (Vec<f32>, bool) {
    (vec![text.len() as f32], text.starts_with("cached"))
}

#[cache_metrics(cache_name = "m_lookup_cache")]
fn lookup(key: u32) -> Result<Lookup<u32>, FetchError> {
    match key {
        0 => Err(FetchError::Timeout),
        1 => Ok(Lookup::Hit(1)),
        _ => Ok(Lookup::Miss(key)),
    }
}

#[tokio::test]
async fn cache_outcomes_are_counted_from_the_return_value() {
    get_cached_embedding("cached text").await;
    get_cached_embedding("new text").await;
    get_cached_embedding("other").await;
    assert_eq!(
        value("rag_cache_hits_total{cache=\"m_embedding_cache\"}"),
        1.0
    );
    assert_eq!(
        value("rag_cache_misses_total{cache=\"m_embedding_cache\"}"),
        2.0
    );
    lookup(0).unwrap_err();
    lookup(1).unwrap();
    lookup(2).unwrap();
    lookup(3).unwrap();
    assert_eq!(value("rag_cache_hits_total{cache=\"m_lookup_cache\"}"), 1.0);
    assert_eq!(
        value("rag_cache_misses_total{cache=\"m_lookup_cache\"}"),
        2.0
    );
}

#[monitor_resource("m_database_connection")]
fn hold_connection() -> f64 {
    value("resource_in_use{resource=\"m_database_connection\"}")
}

#[monitor_resource(name = "m_async_resource")]
async fn hold_async(gate: &tokio::sync::Notify) {
    gate.notified().await;
}

#[tokio::test]
async fn monitored_resources_are_in_use_while_held() {
    assert_eq!(hold_connection(), 1.0);
    assert_eq!(
        value("resource_in_use{resource=\"m_database_connection\"}"),
        0.0
    );
    assert_eq!(
        value("resource_hold_duration_seconds_count{resource=\"m_database_connection\"}"),
        1.0
    );
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let held = tokio::spawn({
        let gate = gate.clone();
        async move { hold_async(&gate).await }
    });
    let mut in_use = 0.0;
    for _ in 0..1000 {
        in_use = sample("resource_in_use{resource=\"m_async_resource\"}").unwrap_or(0.0);
        if in_use == 1.0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(in_use, 1.0);
    gate.notify_one();
    held.await.unwrap();
    assert_eq!(value("resource_in_use{resource=\"m_async_resource\"}"), 0.0);
}

// --- registration --------------------------------------------------------------------------------

#[count_calls(metric = "m_shared_total", labels(site = "a"))]
fn shared_a() {}

#[count_calls(metric = "m_shared_total", labels(site = "b"))]
fn shared_b() {}

#[count_calls(metric = "m_shared_total", labels(other_key = "c"))]
fn conflicting() {}

#[test]
fn sites_sharing_a_name_share_a_family_and_conflicts_are_counted() {
    shared_a();
    shared_b();
    shared_b();
    assert_eq!(value("m_shared_total{site=\"a\"}"), 1.0);
    assert_eq!(value("m_shared_total{site=\"b\"}"), 2.0);
    let mismatches =
        || sample("unitel_instrumentation_errors_total{kind=\"kind_mismatch\"}").unwrap_or(0.0);
    let before = mismatches();
    conflicting();
    conflicting();
    // Registered once per site: one error, and the calls go nowhere rather than corrupt the
    // family.
    assert_eq!(mismatches(), before + 1.0);
    assert!(!unitel::prometheus::render().contains("other_key"));
}

// Its own function: `add`'s counts are asserted exactly by a test that may run concurrently.
#[track_metrics(name = "m_promtool")]
fn touch_for_promtool(a: u32) -> u32 {
    a
}

#[test]
fn the_exposition_passes_promtool() {
    touch_for_promtool(1);
    promtool_clean();
}
