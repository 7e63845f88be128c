//! The routes of the integration examples, served by axum or actix-web under each [`Mode`].
//!
//! Routes (identical for both frameworks):
//! * `GET /api/items/{id}` — a small JSON body;
//! * `POST /api/items` — echoes a JSON item with `201 Created`;
//! * `GET /api/fail` — `500 Internal Server Error`;
//! * `GET /metrics` — the exposition of the mode's metrics (modes that have metrics).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::mode::{Framework, Mode};
use crate::otel_contrib::OtelContrib;

/// The path the load generator requests.
pub const LOAD_PATH: &str = "/api/items/42";
/// The route template of [`LOAD_PATH`], as it must appear in every mode's metrics.
pub const LOAD_ROUTE: &str = "/api/items/{id}";

/// The JSON body of an item.
#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    /// Item id from the path.
    pub id: u64,
    /// Display name.
    pub name: &'static str,
    /// Price in cents.
    pub price_cents: u64,
    /// Whether it can be ordered.
    pub in_stock: bool,
}

/// The JSON body `POST /api/items` accepts.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NewItem {
    /// Display name.
    pub name: String,
    /// Price in cents.
    pub price_cents: u64,
}

fn item(id: u64) -> ItemView {
    ItemView {
        id,
        name: "widget",
        price_cents: 1299,
        in_stock: true,
    }
}

/// How to run a `bench-server`.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// axum or actix.
    pub framework: Framework,
    /// Instrumentation.
    pub mode: Mode,
    /// Address to listen on (port 0 picks a free port).
    pub bind: SocketAddr,
    /// Worker threads serving requests.
    pub workers: usize,
    /// OTLP/gRPC endpoint for span export; `None` starts an in-process receiver.
    pub otlp_endpoint: Option<String>,
    /// `log_filter` of unitel's configuration in the unitel modes (`None`: unitel's default).
    pub log_filter: Option<String>,
}

/// Whether `bench-server` can serve `mode` under `framework` in this build.
#[must_use]
pub fn built(framework: Framework, mode: Mode) -> bool {
    match mode {
        Mode::Bare | Mode::OtelContrib | Mode::Metrics | Mode::Traces | Mode::Full => true,
        Mode::AxumPrometheus => framework == Framework::Axum,
        Mode::ActixWebProm => framework == Framework::Actix,
    }
}

/// `unitel::init` for a unitel mode, as an application would call it:
/// * `metrics`: no tracing, no subscriber (the application's own logging is not part of the
///   measurement);
/// * `traces`: `enable_metrics(false)`, spans 100 % sampled (`ParentBasedRatio(1.0)`, no
///   incoming parents) exported over OTLP/gRPC with unitel's batch pipeline, unitel's subscriber
///   (fmt + OpenTelemetry layers);
/// * `full`: both.
///
/// # Errors
/// The configuration or init error, as text.
pub fn init_unitel(
    mode: Mode,
    otlp_endpoint: Option<&str>,
    log_filter: Option<&str>,
) -> Result<unitel::TelemetryGuard, String> {
    let mut builder = unitel::TelemetryConfig::builder().service_name("bench-server");
    builder = match mode {
        Mode::Metrics => builder.enable_tracing(false).install_subscriber(false),
        Mode::Traces | Mode::Full => {
            let endpoint = otlp_endpoint.ok_or("span export needs an OTLP endpoint")?;
            let b = builder
                .otlp_endpoint(endpoint)
                .traces_exporters([unitel::config::TracesExporter::Otlp])
                .sampler(unitel::config::SamplerConfig::ParentBasedRatio(1.0));
            if mode == Mode::Traces {
                b.enable_metrics(false)
            } else {
                b
            }
        }
        _ => return Err(format!("`{mode}` is not a unitel mode")),
    };
    if let Some(filter) = log_filter {
        builder = builder.log_filter(filter);
    }
    let config = builder.build().map_err(|e| e.to_string())?;
    unitel::init(config).map_err(|e| e.to_string())
}

/// Span export target for the modes that export spans: the given endpoint, or a receiver
/// started in this process (its stored requests are dropped every few seconds so memory stays
/// bounded).
struct SpanSink {
    endpoint: String,
    _receiver: Option<Arc<unitel_testkit::OtlpReceiver>>,
}

impl SpanSink {
    fn new(options: &ServerOptions) -> Result<Option<Self>, String> {
        if !options.mode.exports_spans() {
            return Ok(None);
        }
        if let Some(endpoint) = &options.otlp_endpoint {
            return Ok(Some(Self {
                endpoint: endpoint.clone(),
                _receiver: None,
            }));
        }
        let receiver = Arc::new(
            unitel_testkit::OtlpReceiver::start_blocking()
                .map_err(|e| format!("in-process OTLP receiver: {e}"))?,
        );
        receiver.discard_traces(true);
        let weak = Arc::downgrade(&receiver);
        std::thread::Builder::new()
            .name("receiver-janitor".into())
            .spawn(move || {
                while let Some(r) = weak.upgrade() {
                    r.clear();
                    drop(r);
                    std::thread::sleep(Duration::from_secs(5));
                }
            })
            .map_err(|e| format!("receiver janitor thread: {e}"))?;
        Ok(Some(Self {
            endpoint: receiver.endpoint(),
            _receiver: Some(receiver),
        }))
    }
}

/// Serves until the process is killed. `on_ready` gets the bound address once the server
/// accepts connections.
///
/// # Errors
/// A message when the mode is not built for the framework, or the server cannot start.
pub fn run(options: &ServerOptions, on_ready: impl FnOnce(SocketAddr)) -> Result<(), String> {
    if !options.mode.applies_to(options.framework) {
        return Err(format!(
            "mode `{}` is not available for {} in this build (available: {})",
            options.mode,
            options.framework,
            Mode::available(options.framework)
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let sink = SpanSink::new(options)?;
    let endpoint = sink.as_ref().map(|s| s.endpoint.clone());
    let _telemetry = if options.mode.is_unitel() {
        Some(init_unitel(
            options.mode,
            endpoint.as_deref(),
            options.log_filter.as_deref(),
        )?)
    } else {
        None
    };
    match options.framework {
        Framework::Axum => axum_app::run(options, endpoint.as_deref(), on_ready),
        Framework::Actix => actix_app::run(options, endpoint.as_deref(), on_ready),
    }
}

/// The axum server.
pub mod axum_app {
    use super::{ItemView, LOAD_ROUTE, NewItem, OtelContrib, ServerOptions, item};
    use crate::mode::Mode;
    use axum::Json;
    use axum::Router;
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use std::net::SocketAddr;
    use std::sync::Arc;

    async fn get_item(Path(id): Path<u64>) -> Json<ItemView> {
        Json(item(id))
    }

    async fn create_item(Json(new): Json<NewItem>) -> (StatusCode, Json<ItemView>) {
        let mut view = item(7);
        view.price_cents = new.price_cents;
        (StatusCode::CREATED, Json(view))
    }

    async fn fail() -> (StatusCode, &'static str) {
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// The example routes with no instrumentation.
    pub fn routes() -> Router {
        debug_assert_eq!(LOAD_ROUTE, "/api/items/{id}");
        Router::new()
            .route("/api/items/{id}", get(get_item))
            .route("/api/items", post(create_item))
            .route("/api/fail", get(fail))
    }

    /// The app of `mode`, and whatever must stay alive while it serves.
    ///
    /// # Errors
    /// A message when the mode's instrumentation cannot be set up.
    pub fn app(
        mode: Mode,
        otlp_endpoint: Option<&str>,
    ) -> Result<(Router, Option<Box<dyn std::any::Any + Send>>), String> {
        match mode {
            Mode::Bare => Ok((routes(), None)),
            Mode::AxumPrometheus => {
                let (layer, handle) = axum_prometheus::PrometheusMetricLayer::pair();
                let router = routes()
                    .route("/metrics", get(move || async move { handle.render() }))
                    .layer(layer);
                Ok((router, None))
            }
            Mode::OtelContrib => {
                let endpoint = otlp_endpoint.ok_or("otel-contrib needs an OTLP endpoint")?;
                let otel = Arc::new(OtelContrib::install(endpoint)?);
                let render = Arc::clone(&otel);
                let layer = opentelemetry_instrumentation_tower::http::server::Layer::new();
                let router = routes()
                    .route(
                        "/metrics",
                        get(move || {
                            let otel = Arc::clone(&render);
                            async move { otel.render() }
                        }),
                    )
                    .layer(layer);
                Ok((router, Some(Box::new(otel))))
            }
            Mode::Metrics | Mode::Full => {
                let router = routes()
                    .merge(unitel_axum::metrics_route())
                    .layer(unitel_axum::HttpMetricsLayer::new());
                Ok((router, None))
            }
            Mode::Traces => Ok((routes().layer(unitel_axum::HttpMetricsLayer::new()), None)),
            Mode::ActixWebProm => Err(format!("mode `{mode}` is not built for axum")),
        }
    }

    pub(super) fn run(
        options: &ServerOptions,
        otlp_endpoint: Option<&str>,
        on_ready: impl FnOnce(SocketAddr),
    ) -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.workers.max(1))
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let (router, keep) = {
            let _entered = runtime.enter();
            app(options.mode, otlp_endpoint)?
        };
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(options.bind)
                .await
                .map_err(|e| format!("bind {}: {e}", options.bind))?;
            let addr = listener
                .local_addr()
                .map_err(|e| format!("local address: {e}"))?;
            on_ready(addr);
            let served = axum::serve(listener, router).await;
            drop(keep);
            served.map_err(|e| format!("serve: {e}"))
        })
    }
}

/// The actix-web server.
pub mod actix_app {
    use super::{NewItem, OtelContrib, ServerOptions, item};
    use crate::mode::Mode;
    use actix_web::{App, HttpResponse, HttpServer, web};
    use std::net::SocketAddr;
    use std::sync::Arc;

    async fn get_item(id: web::Path<u64>) -> HttpResponse {
        HttpResponse::Ok().json(item(id.into_inner()))
    }

    async fn create_item(new: web::Json<NewItem>) -> HttpResponse {
        let mut view = item(7);
        view.price_cents = new.price_cents;
        HttpResponse::Created().json(view)
    }

    async fn fail() -> HttpResponse {
        HttpResponse::InternalServerError().body("internal error")
    }

    /// Adds the example routes to an app.
    pub fn routes(config: &mut web::ServiceConfig) {
        config
            .service(web::resource("/api/items/{id}").route(web::get().to(get_item)))
            .service(web::resource("/api/items").route(web::post().to(create_item)))
            .service(web::resource("/api/fail").route(web::get().to(fail)));
    }

    pub(super) fn run(
        options: &ServerOptions,
        otlp_endpoint: Option<&str>,
        on_ready: impl FnOnce(SocketAddr),
    ) -> Result<(), String> {
        let mode = options.mode;
        let workers = options.workers.max(1);
        let bind = options.bind;
        let otel = match mode {
            Mode::OtelContrib => Some(Arc::new(OtelContrib::install(
                otlp_endpoint.ok_or("otel-contrib needs an OTLP endpoint")?,
            )?)),
            _ => None,
        };
        let prom = match mode {
            Mode::ActixWebProm => Some(
                actix_web_prom::PrometheusMetricsBuilder::new("api")
                    .endpoint("/metrics")
                    .build()
                    .map_err(|e| format!("actix-web-prom: {e}"))?,
            ),
            _ => None,
        };
        // Each arm has its own `HttpServer` type, so binding and serving is spelled once here.
        macro_rules! serve {
            ($server:expr) => {{
                let server = $server
                    .workers(workers)
                    .bind(bind)
                    .map_err(|e| format!("bind {bind}: {e}"))?;
                let addr = server
                    .addrs()
                    .first()
                    .copied()
                    .ok_or("actix bound no address")?;
                let running = server.run();
                on_ready(addr);
                running.await.map_err(|e| format!("serve: {e}"))
            }};
        }
        actix_web::rt::System::new().block_on(async move {
            match mode {
                Mode::Bare => serve!(HttpServer::new(|| App::new().configure(routes))),
                Mode::ActixWebProm => {
                    let prom = prom.ok_or("actix-web-prom was not built")?;
                    serve!(HttpServer::new(move || App::new()
                        .wrap(prom.clone())
                        .configure(routes)))
                }
                Mode::OtelContrib => {
                    let otel = otel.ok_or("otel-contrib was not installed")?;
                    serve!(HttpServer::new(move || {
                        let otel = Arc::clone(&otel);
                        App::new()
                            .wrap(opentelemetry_instrumentation_actix_web::RequestTracing::new())
                            .wrap(
                                opentelemetry_instrumentation_actix_web::RequestMetrics::default(),
                            )
                            .configure(routes)
                            .route(
                                "/metrics",
                                web::get().to(move || {
                                    let otel = Arc::clone(&otel);
                                    async move { HttpResponse::Ok().body(otel.render()) }
                                }),
                            )
                    }))
                }
                Mode::Metrics | Mode::Full => {
                    // One middleware for all workers, so they share one handle cache.
                    let layer = unitel_actix::HttpMetrics::new();
                    serve!(HttpServer::new(move || App::new()
                        .wrap(layer.clone())
                        .configure(routes)
                        .service(unitel_actix::metrics_scope())))
                }
                Mode::Traces => {
                    let layer = unitel_actix::HttpMetrics::new();
                    serve!(HttpServer::new(move || App::new()
                        .wrap(layer.clone())
                        .configure(routes)))
                }
                Mode::AxumPrometheus => Err(format!("mode `{mode}` is not built for actix")),
            }
        })
    }
}

/// Usage of `bench-server` (and of `overhead serve`).
pub const SERVER_USAGE: &str = "\
usage: bench-server --framework axum|actix --mode MODE [--bind ADDR] [--workers N]
                    [--otlp-endpoint URL] [--log-filter FILTER] [--exit-with-stdin]
       bench-server --list-modes [--framework axum|actix]

MODE: bare | metrics | traces | full | axum-prometheus (axum) | actix-web-prom (actix) | otel-contrib
--bind            default 127.0.0.1:3000 (port 0 picks a free port); the first line printed ends
                  with the bound address
--workers         threads serving requests (default 1: the driver pins the server to one core)
--otlp-endpoint   OTLP/gRPC endpoint for span export; without it an in-process receiver is used
--log-filter      unitel's log filter in the unitel modes (default: unitel's default, `info`)
--exit-with-stdin exit when standard input closes (the overhead driver's children)";

/// The `bench-server` command line: parses `args` (without the program name) and serves, or
/// lists the modes.
///
/// # Errors
/// A message for bad arguments or a server that cannot start.
pub fn server_main(args: impl IntoIterator<Item = String>) -> Result<(), String> {
    let mut framework = None;
    let mut mode = None;
    let mut bind: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 3000));
    let mut workers = 1usize;
    let mut otlp_endpoint = None;
    let mut log_filter = None;
    let mut exit_with_stdin = false;
    let mut list = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{SERVER_USAGE}"))
        };
        match arg.as_str() {
            "--framework" => framework = Some(Framework::parse(&value("--framework")?)?),
            "--mode" => mode = Some(Mode::parse(&value("--mode")?)?),
            "--bind" => {
                let v = value("--bind")?;
                bind = v.parse().map_err(|e| format!("--bind {v}: {e}"))?;
            }
            "--workers" => {
                let v = value("--workers")?;
                workers = v.parse().map_err(|e| format!("--workers {v}: {e}"))?;
            }
            "--otlp-endpoint" => otlp_endpoint = Some(value("--otlp-endpoint")?),
            "--log-filter" => log_filter = Some(value("--log-filter")?),
            "--exit-with-stdin" => exit_with_stdin = true,
            "--list-modes" => list = true,
            "-h" | "--help" => {
                println!("{SERVER_USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n{SERVER_USAGE}")),
        }
    }
    if list {
        let frameworks: Vec<Framework> = framework.map_or(Framework::ALL.to_vec(), |f| vec![f]);
        for f in frameworks {
            let modes: Vec<&str> = Mode::available(f).iter().map(|m| m.as_str()).collect();
            println!("{f}: {}", modes.join(" "));
        }
        return Ok(());
    }
    if exit_with_stdin {
        // The driver holds our stdin: when it goes away (even killed), so do we.
        std::thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(|| {
                use std::io::Read as _;
                let mut sink = Vec::new();
                let _ = std::io::stdin().read_to_end(&mut sink);
                std::process::exit(0);
            })
            .map_err(|e| format!("stdin watcher: {e}"))?;
    }
    let options = ServerOptions {
        framework: framework.ok_or_else(|| format!("--framework is required\n{SERVER_USAGE}"))?,
        mode: mode.ok_or_else(|| format!("--mode is required\n{SERVER_USAGE}"))?,
        bind,
        workers,
        otlp_endpoint,
        log_filter,
    };
    run(&options, |addr| {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "bench-server {} {} listening on {addr}",
            options.framework, options.mode
        );
        let _ = out.flush();
    })
}
