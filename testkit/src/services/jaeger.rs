//! Jaeger (all-in-one) for end-to-end trace tests.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;
use testcontainers::core::{IntoContainerPort as _, WaitFor};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, GenericImage, ImageExt as _};

use super::{Backend, docker_available, env_nonempty, http_client};
use crate::Error;
use crate::skip::skipped;

/// Docker image used.
const IMAGE: (&str, &str) = ("jaegertracing/all-in-one", "1.62.0");
const OTLP_GRPC: u16 = 4317;
const OTLP_HTTP: u16 = 4318;
const QUERY: u16 = 16686;
const ADMIN: u16 = 14269;

/// A Jaeger all-in-one instance (OTLP in, query API out).
pub struct JaegerService {
    otlp_endpoint: String,
    otlp_http_endpoint: Option<String>,
    query_url: String,
    backend: Backend,
    _container: Option<Box<ContainerAsync<GenericImage>>>,
}

impl fmt::Debug for JaegerService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JaegerService")
            .field("otlp_endpoint", &self.otlp_endpoint)
            .field("otlp_http_endpoint", &self.otlp_http_endpoint)
            .field("query_url", &self.query_url)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Starts Jaeger, or returns `None` (skip).
///
/// 1. `UNITEL_TEST_JAEGER_OTLP_ENDPOINT` **and** `UNITEL_TEST_JAEGER_QUERY_URL` (optionally
///    `UNITEL_TEST_JAEGER_OTLP_HTTP_ENDPOINT`): an external instance.
/// 2. Docker: `jaegertracing/all-in-one` with `COLLECTOR_OTLP_ENABLED=true`, ports 4317
///    (OTLP/gRPC), 4318 (OTLP/HTTP), 16686 (query) and 14269 (admin, used to wait for
///    readiness) mapped to random host ports; removed on drop.
/// 3. There is no local fallback: without Docker the test is skipped ([`crate::skip_test`]),
///    which fails it under `UNITEL_REQUIRE_SERVICES=1` like any other missing service.
pub async fn jaeger() -> Option<JaegerService> {
    if let (Some(otlp), Some(query)) = (
        env_nonempty("UNITEL_TEST_JAEGER_OTLP_ENDPOINT"),
        env_nonempty("UNITEL_TEST_JAEGER_QUERY_URL"),
    ) {
        return Some(JaegerService {
            otlp_endpoint: otlp,
            otlp_http_endpoint: env_nonempty("UNITEL_TEST_JAEGER_OTLP_HTTP_ENDPOINT"),
            query_url: query.trim_end_matches('/').to_owned(),
            backend: Backend::External,
            _container: None,
        });
    }
    if !docker_available().await {
        return skipped(
            "Jaeger",
            "it needs a Docker engine (or UNITEL_TEST_JAEGER_OTLP_ENDPOINT + \
             UNITEL_TEST_JAEGER_QUERY_URL) and none answered",
        );
    }
    match start_container().await {
        Ok(service) => Some(service),
        Err(e) => skipped("Jaeger", &e.to_string()),
    }
}

async fn start_container() -> Result<JaegerService, Error> {
    let container = GenericImage::new(IMAGE.0, IMAGE.1)
        .with_exposed_port(OTLP_GRPC.tcp())
        .with_exposed_port(OTLP_HTTP.tcp())
        .with_exposed_port(QUERY.tcp())
        .with_exposed_port(ADMIN.tcp())
        .with_wait_for(WaitFor::Nothing)
        .with_env_var("COLLECTOR_OTLP_ENABLED", "true")
        .with_startup_timeout(Duration::from_secs(120))
        .start()
        .await
        .map_err(|e| Error::new(format!("starting {}:{}: {e}", IMAGE.0, IMAGE.1)))?;
    let host = container
        .get_host()
        .await
        .map_err(|e| Error::new(format!("container host: {e}")))?;
    let port = |p: u16| {
        let container = &container;
        async move {
            container
                .get_host_port_ipv4(p.tcp())
                .await
                .map_err(|e| Error::new(format!("container port {p}: {e}")))
        }
    };
    let (grpc, http, query, admin) = (
        port(OTLP_GRPC).await?,
        port(OTLP_HTTP).await?,
        port(QUERY).await?,
        port(ADMIN).await?,
    );
    // The admin port answers 200 on `/` once every component is up.
    let client = http_client()?;
    let health = format!("http://{host}:{admin}/");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(&health).send().await
            && response.status().is_success()
        {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Error::new(format!("{health} not healthy within 60 s")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(JaegerService {
        otlp_endpoint: format!("http://{host}:{grpc}"),
        otlp_http_endpoint: Some(format!("http://{host}:{http}")),
        query_url: format!("http://{host}:{query}"),
        backend: Backend::Docker,
        _container: Some(Box::new(container)),
    })
}

impl JaegerService {
    /// OTLP/gRPC endpoint, `http://HOST:PORT`.
    pub fn otlp_endpoint(&self) -> &str {
        &self.otlp_endpoint
    }

    /// OTLP/HTTP base endpoint, `http://HOST:PORT` (None for an external instance without
    /// `UNITEL_TEST_JAEGER_OTLP_HTTP_ENDPOINT`).
    pub fn otlp_http_endpoint(&self) -> Option<&str> {
        self.otlp_http_endpoint.as_deref()
    }

    /// Query API / UI base URL, `http://HOST:PORT`.
    pub fn query_url(&self) -> &str {
        &self.query_url
    }

    /// Where this instance comes from.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `GET /api/traces?service=SERVICE` — the `data` array of traces (each with `spans`).
    pub async fn traces(&self, service: &str) -> Result<Vec<Value>, Error> {
        let url = format!("{}/api/traces", self.query_url);
        let response = http_client()?
            .get(&url)
            .query(&[("service", service), ("limit", "100")])
            .send()
            .await
            .map_err(|e| Error::new(format!("GET {url}: {e}")))?;
        let body: Value = response
            .json()
            .await
            .map_err(|e| Error::new(format!("GET {url}: invalid JSON: {e}")))?;
        Ok(body["data"].as_array().cloned().unwrap_or_default())
    }

    /// Polls [`traces`](Self::traces) until at least one trace for `service` exists or
    /// `timeout` elapses (then errors).
    pub async fn wait_for_traces(
        &self,
        service: &str,
        timeout: Duration,
    ) -> Result<Vec<Value>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.traces(service).await {
                Ok(traces) if !traces.is_empty() => return Ok(traces),
                Ok(_) => "no traces yet".to_owned(),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(Error::new(format!(
                    "no Jaeger traces for service `{service}` within {timeout:?} ({last})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
