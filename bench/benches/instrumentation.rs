//! The instrumentation layers' own costs, with no tracing subscriber installed (so spans are
//! disabled and only metrics are recorded; `spans` measures them with spans on):
//!
//! * `http_recorder`: one request through the core `HttpServerRecorder` both integrations use;
//! * `route_template`: how each integration finds the route template on a real routed request
//!   (axum: the `MatchedPath` extension; actix: `ServiceRequest::match_pattern()`);
//! * `http_in_process`: one `GET /api/items/42` through the real router, in process (no
//!   socket), bare and with each metrics layer (unitel, axum-prometheus, actix-web-prom); for
//!   actix also with a new id per request (`fresh ids`: unitel-actix predicts the route from the
//!   path shape and checks it after routing);
//! * `llm`: one `LlmCall` from start to `finish` with cost;
//! * `db`: operation/table extraction and sanitizing of a 1 KB SQL statement.
//!
//! `cargo bench -p unitel-bench --bench instrumentation`

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use unitel::Registry;
use unitel::http::server::{HttpServerConfig, HttpServerRecorder, RequestParts};

fn http_recorder(c: &mut Criterion) {
    let mut g = c.benchmark_group("http_recorder");
    let registry = Registry::new();
    let recorder = HttpServerRecorder::new(HttpServerConfig::new().registry(registry));
    let mut headers = http::HeaderMap::new();
    headers.insert("user-agent", http::HeaderValue::from_static("wrk/4.1.0"));
    headers.insert("host", http::HeaderValue::from_static("127.0.0.1:3000"));
    let parts = RequestParts {
        method: "GET",
        route: Some("/api/items/{id}"),
        path: "/api/items/42",
        scheme: None,
        version: http::Version::HTTP_11,
        headers: &headers,
    };
    g.bench_function("start + response_started + finish (metrics only)", |b| {
        b.iter(|| {
            let mut request = recorder.start(black_box(&parts));
            request.response_started(200);
            request.finish();
        });
    });
    g.finish();
}

/// Extractions to run on the next routed request, and the time they took.
static EXTRACTIONS: AtomicU64 = AtomicU64::new(0);
static EXTRACTION_NANOS: AtomicU64 = AtomicU64::new(0);

fn timed_extractions(mut extract: impl FnMut()) {
    let n = EXTRACTIONS.load(Ordering::Relaxed);
    let start = Instant::now();
    for _ in 0..n {
        extract();
    }
    let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    EXTRACTION_NANOS.store(nanos, Ordering::Relaxed);
}

fn axum_request() -> http::Request<axum::body::Body> {
    http::Request::get("/api/items/42")
        .header("user-agent", "wrk/4.1.0")
        .body(axum::body::Body::empty())
        .unwrap_or_default()
}

fn route_template(c: &mut Criterion) {
    let mut g = c.benchmark_group("route_template");
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };

    // axum: a layer on the router sees the request after routing, as HttpMetricsLayer does.
    let router = unitel_bench::apps::axum_app::routes().layer(axum::middleware::from_fn(
        |req: axum::extract::Request, next: axum::middleware::Next| async move {
            timed_extractions(|| {
                black_box(
                    req.extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map(axum::extract::MatchedPath::as_str),
                );
            });
            next.run(req).await
        },
    ));
    g.bench_function("axum MatchedPath extension", |b| {
        b.iter_custom(|iters| {
            use tower::ServiceExt as _;
            EXTRACTIONS.store(iters, Ordering::Relaxed);
            let _ = runtime.block_on(router.clone().oneshot(axum_request()));
            Duration::from_nanos(EXTRACTION_NANOS.load(Ordering::Relaxed))
        });
    });

    // actix: unitel-actix asks the resource map before routing (for a path its route cache
    // has not seen), as this wrap_fn does.
    let system = actix_web::rt::System::new();
    let app = system.block_on(actix_web::test::init_service(
        actix_web::App::new()
            .wrap_fn(|req, srv| {
                use actix_web::dev::Service as _;
                timed_extractions(|| {
                    black_box(req.match_pattern());
                });
                srv.call(req)
            })
            .configure(unitel_bench::apps::actix_app::routes),
    ));
    let routed = system.block_on(actix_web::test::init_service(
        actix_web::App::new()
            .wrap_fn(|req, srv| {
                use actix_web::dev::Service as _;
                let response = srv.call(req);
                async move {
                    let response = response.await?;
                    timed_extractions(|| {
                        black_box(response.request().match_pattern());
                    });
                    Ok(response)
                }
            })
            .configure(unitel_bench::apps::actix_app::routes),
    ));
    g.bench_function(
        "actix match_pattern() after routing (for comparison)",
        |b| {
            b.iter_custom(|iters| {
                EXTRACTIONS.store(iters, Ordering::Relaxed);
                let req = actix_web::test::TestRequest::get()
                    .uri("/api/items/42")
                    .to_request();
                let _ = system.block_on(actix_web::test::call_service(&routed, req));
                Duration::from_nanos(EXTRACTION_NANOS.load(Ordering::Relaxed))
            });
        },
    );
    g.bench_function(
        "actix match_pattern() before routing (unitel-actix on a route cache miss)",
        |b| {
            b.iter_custom(|iters| {
                EXTRACTIONS.store(iters, Ordering::Relaxed);
                let req = actix_web::test::TestRequest::get()
                    .uri("/api/items/42")
                    .to_request();
                let _ = system.block_on(actix_web::test::call_service(&app, req));
                Duration::from_nanos(EXTRACTION_NANOS.load(Ordering::Relaxed))
            });
        },
    );
    EXTRACTIONS.store(0, Ordering::Relaxed);
    g.finish();
}

fn http_in_process(c: &mut Criterion) {
    use tower::ServiceExt as _;
    let mut g = c.benchmark_group("http_in_process");
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let drain = |router: &axum::Router| {
        let router = router.clone();
        runtime.block_on(async move {
            use http_body_util::BodyExt as _;
            let Ok(response) = router.oneshot(axum_request()).await;
            let _ = black_box(response.into_body().collect().await);
        });
    };
    let bare = unitel_bench::apps::axum_app::routes();
    g.bench_function("axum bare", |b| b.iter(|| drain(&bare)));
    let registry = Registry::new();
    let unitel_router =
        unitel_bench::apps::axum_app::routes().layer(unitel_axum::HttpMetricsLayer::with_config(
            HttpServerConfig::new().registry(registry.clone()),
        ));
    g.bench_function("axum + unitel HttpMetricsLayer", |b| {
        b.iter(|| drain(&unitel_router));
    });
    // The floor of any layer through `Router::layer`: a no-op `tower` layer (axum boxes the
    // layered route and its future once more).
    let noop_router = unitel_bench::apps::axum_app::routes().layer(
        tower::util::MapRequestLayer::new(|r: http::Request<axum::body::Body>| r),
    );
    g.bench_function("axum + no-op layer (reference)", |b| {
        b.iter(|| drain(&noop_router));
    });
    // axum-prometheus spawns its upkeep task on the current runtime.
    let (layer, _handle) = {
        let _entered = runtime.enter();
        axum_prometheus::PrometheusMetricLayer::pair()
    };
    let prom_router = unitel_bench::apps::axum_app::routes().layer(layer);
    g.bench_function("axum + axum-prometheus", |b| b.iter(|| drain(&prom_router)));

    let system = actix_web::rt::System::new();
    // `/api/items/42` every time, or (`fresh ids`) a new id per request: a path unitel-actix
    // has not seen, whose route it predicts from the path's shape and checks after routing.
    let mut next_id = 0_u64;
    let mut fresh_uri = move || {
        next_id += 1;
        format!("/api/items/{next_id}")
    };
    let same_uri = || "/api/items/42".to_owned();
    macro_rules! actix_case {
        ($name:expr, $app:expr) => {
            actix_case!($name, $app, same_uri)
        };
        ($name:expr, $app:expr, $uri:expr) => {{
            let app = system.block_on(actix_web::test::init_service($app));
            g.bench_function($name, |b| {
                b.iter(|| {
                    let req = actix_web::test::TestRequest::get()
                        .uri(&$uri())
                        .insert_header(("user-agent", "wrk/4.1.0"))
                        .to_request();
                    let body = system.block_on(async {
                        let response = actix_web::test::call_service(&app, req).await;
                        actix_web::test::read_body(response).await
                    });
                    black_box(body);
                });
            });
        }};
    }
    actix_case!(
        "actix bare",
        actix_web::App::new().configure(unitel_bench::apps::actix_app::routes)
    );
    let metrics =
        unitel_actix::HttpMetrics::with_config(HttpServerConfig::new().registry(registry.clone()));
    actix_case!(
        "actix + unitel HttpMetrics",
        actix_web::App::new()
            .wrap(metrics.clone())
            .configure(unitel_bench::apps::actix_app::routes)
    );
    actix_case!(
        "actix bare, fresh ids",
        actix_web::App::new().configure(unitel_bench::apps::actix_app::routes),
        fresh_uri
    );
    actix_case!(
        "actix + unitel HttpMetrics, fresh ids (route predicted from the path shape)",
        actix_web::App::new()
            .wrap(metrics.clone())
            .configure(unitel_bench::apps::actix_app::routes),
        fresh_uri
    );
    if let Ok(prom) = actix_web_prom::PrometheusMetricsBuilder::new("api").build() {
        actix_case!(
            "actix + actix-web-prom",
            actix_web::App::new()
                .wrap(prom)
                .configure(unitel_bench::apps::actix_app::routes)
        );
    }
    g.finish();
}

fn llm(c: &mut Criterion) {
    use unitel::genai::llm::{LlmCall, LlmMetrics, LlmUsage, ModelPrice, Price, PriceTable};
    let mut g = c.benchmark_group("llm");
    let registry = Registry::new();
    let metrics = LlmMetrics::new(&registry);
    let (Ok(input), Ok(output), Ok(cached)) = (
        Price::per_1m_dollars(2.5),
        Price::per_1m_dollars(10.0),
        Price::per_1m_dollars(1.25),
    ) else {
        return;
    };
    let table = Arc::new(PriceTable::new("bench").model(
        "gpt-4o",
        ModelPrice::new(input, output).cached_input(cached),
    ));
    g.bench_function("LlmCall start + finish with cost", |b| {
        b.iter(|| {
            let call = LlmCall::builder("openai", black_box("gpt-4o"))
                .metrics(&metrics)
                .price_table(Arc::clone(&table))
                .start();
            black_box(call.finish(LlmUsage::new(1_000, 200).cached_input_tokens(400)));
        });
    });
    g.finish();
}

/// A 1 KB statement: a join with string, number and list literals, a comment and a quoted
/// identifier.
fn statement_1k() -> String {
    let mut sql = String::from(
        "/* orders report */ SELECT o.id, o.created_at, o.total_cents, c.email, c.name, \
         a.street, a.city, a.postal_code, p.sku, p.title, li.quantity, li.unit_price_cents \
         FROM public.orders AS o \
         JOIN public.customers c ON c.id = o.customer_id \
         LEFT JOIN public.addresses a ON a.id = o.shipping_address_id \
         JOIN public.line_items li ON li.order_id = o.id \
         JOIN public.products p ON p.id = li.product_id \
         WHERE o.status = 'shipped' AND c.email LIKE '%@example.com' \
         AND o.created_at >= '2025-01-01 00:00:00' AND o.total_cents > 1999 \
         AND \"p\".\"category\" = 'kitchen & dining' AND o.id IN (",
    );
    let mut id = 1_000_000u64;
    while sql.len() < 950 {
        sql.push_str(&id.to_string());
        sql.push_str(", ");
        id += 7919;
    }
    sql.push_str("42) ORDER BY o.created_at DESC LIMIT 100 OFFSET 200");
    sql
}

fn db(c: &mut Criterion) {
    let mut g = c.benchmark_group("db");
    let sql = statement_1k();
    let info = unitel::db::StatementInfo::parse(&sql);
    eprintln!(
        "db: {} bytes, operation {:?}, table {:?}",
        sql.len(),
        info.operation,
        info.collection
    );
    g.bench_function("StatementInfo::parse (operation + table), 1 KB", |b| {
        b.iter(|| black_box(unitel::db::StatementInfo::parse(black_box(&sql))));
    });
    g.bench_function("sanitize_query, 1 KB", |b| {
        b.iter(|| black_box(unitel::db::sanitize_query(black_box(&sql))));
    });
    g.finish();
}

criterion_group!(
    benches,
    http_recorder,
    route_template,
    http_in_process,
    llm,
    db
);
criterion_main!(benches);
