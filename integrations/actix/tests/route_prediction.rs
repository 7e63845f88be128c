//! Routes predicted from a path's shape (a new id on a known route) are checked against what
//! actix routed: a wrong prediction (a static resource registered before the dynamic one)
//! moves the request to the right route, in the metrics and on the span, and the shape is not
//! predicted again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use unitel::config::TracesExporter;
use unitel::http::server::HttpServerConfig;
use unitel::{Registry, TelemetryConfig};
use unitel_actix::HttpMetrics;
use unitel_testkit::{OtlpReceiver, ReceivedSpan};

/// Serves, on one worker (the route tables are per worker): `/api/items/2024` (static,
/// registered first), `/api/items/{id}`, and nothing else.
fn start_server(registry: &Registry) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let registry = registry.clone();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let middleware = HttpMetrics::with_config(HttpServerConfig::new().registry(registry));
            let server = HttpServer::new(move || {
                App::new()
                    .route(
                        "/api/items/2024",
                        web::get().to(|| async { HttpResponse::Ok().body("the 2024 item") }),
                    )
                    .route(
                        "/api/items/{id}",
                        web::get().to(|id: web::Path<String>| async move {
                            HttpResponse::Ok().body(format!("item {id}"))
                        }),
                    )
                    .wrap(middleware.clone())
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(("127.0.0.1", 0))
            .unwrap();
            let addr = server.addrs()[0];
            let server = server.run();
            ready_tx.send((addr, server.handle())).unwrap();
            let _ = server.await;
        });
    });
    ready_rx.recv().unwrap()
}

fn count(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_prediction_is_corrected_in_metrics_and_span_and_not_repeated() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let guard = unitel::init(
        TelemetryConfig::builder()
            .service_name("unitel-route-prediction")
            .otlp_endpoint(receiver.endpoint())
            .traces_exporters([TracesExporter::Otlp])
            .traces_schedule_delay(Duration::from_millis(100))
            .log_filter("warn")
            .build()
            .unwrap(),
    )
    .unwrap();
    let registry = Registry::new();
    let (addr, handle) = start_server(&registry);
    let client = reqwest::Client::new();
    // (path, route actix matches): in order, on one connection at a time.
    let script = [
        ("/api/items/1", "/api/items/{id}"),    // resolved, shape learned
        ("/api/items/2", "/api/items/{id}"),    // predicted, right
        ("/api/items/2024", "/api/items/2024"), // predicted, wrong: corrected
        ("/api/items/3", "/api/items/{id}"),    // shape retired: resolved
        ("/api/items/2024", "/api/items/2024"), // resolved
        ("/api/items/4", "/api/items/{id}"),    // resolved
    ];
    for (i, (path, _)) in script.iter().enumerate() {
        let response = client
            .get(format!("http://{addr}{path}"))
            .header("user-agent", format!("prediction-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.bytes().await.unwrap();
    }

    let text = unitel::prometheus::render_registry(&registry);
    let requests = |route: &str| {
        count(
            &text,
            &format!("http_requests_total{{method=\"GET\",route=\"{route}\",status=\"200\"}}"),
        )
    };
    assert_eq!(requests("/api/items/{id}"), Some(4.0), "{text}");
    assert_eq!(requests("/api/items/2024"), Some(2.0), "{text}");
    for route in ["/api/items/{id}", "/api/items/2024"] {
        assert_eq!(
            count(
                &text,
                &format!("http_requests_in_flight{{method=\"GET\",route=\"{route}\"}}")
            ),
            Some(0.0),
            "{text}"
        );
    }

    guard.force_flush();
    let agents: Vec<String> = (0..script.len())
        .map(|i| format!("prediction-{i}"))
        .collect();
    let find = |spans: &[ReceivedSpan]| -> BTreeMap<String, ReceivedSpan> {
        spans
            .iter()
            .filter_map(|s| {
                let agent = s.attr("user_agent.original")?;
                agents.contains(&agent).then(|| (agent, s.clone()))
            })
            .collect()
    };
    let spans = receiver
        .wait_for_spans(|s| find(s).len() == agents.len(), Duration::from_secs(10))
        .await;
    let spans = find(&spans);
    assert_eq!(spans.len(), agents.len(), "{:#?}", spans.keys());
    for (i, (path, route)) in script.iter().enumerate() {
        let span = &spans[&format!("prediction-{i}")];
        assert_eq!(span.name, format!("GET {route}"), "{path}: {span:#?}");
        let routes: Vec<_> = span
            .attributes
            .iter()
            .filter(|(k, _)| k == "http.route")
            .collect();
        assert_eq!(routes.len(), 1, "{path}: one http.route: {span:#?}");
        assert_eq!(span.attr("http.route").as_deref(), Some(*route), "{path}");
    }
    handle.stop(false).await;
}
