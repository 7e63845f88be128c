//! Prometheus for tests.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testcontainers::core::WaitFor;
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, GenericImage, ImageExt as _};

use super::{
    Backend, ChildGuard, docker_available, env_nonempty, find_binary, flag, free_port, http_client,
    log_tail, temp_dir,
};
use crate::Error;
use crate::skip::skipped;

/// Docker image used when a Docker engine is available.
const IMAGE: (&str, &str) = ("prom/prometheus", "v2.53.0");

/// One scrape job of the generated `prometheus.yml`.
///
/// ```
/// use std::time::Duration;
/// use unitel_testkit::ScrapeTarget;
/// let target = ScrapeTarget::new("127.0.0.1:9100")
///     .metrics_path("/internal/metrics")
///     .bearer_token("secret")
///     .scrape_interval(Duration::from_millis(500));
/// # let _ = target;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeTarget {
    address: String,
    metrics_path: String,
    bearer_token: Option<String>,
    scrape_interval: Duration,
    job_name: Option<String>,
    labels: Vec<(String, String)>,
}

impl ScrapeTarget {
    /// A target at `address` (`host:port`, e.g. `127.0.0.1:9100`), scraped over plain HTTP at
    /// `/metrics` every second.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            metrics_path: "/metrics".to_owned(),
            bearer_token: None,
            scrape_interval: Duration::from_secs(1),
            job_name: None,
            labels: Vec::new(),
        }
    }

    /// Sets the HTTP path scraped (default `/metrics`).
    pub fn metrics_path(mut self, path: impl Into<String>) -> Self {
        self.metrics_path = path.into();
        self
    }

    /// Sends `Authorization: Bearer <token>` with every scrape.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// Sets the scrape interval (default 1 s; also used as the scrape timeout). Millisecond
    /// precision.
    pub fn scrape_interval(mut self, interval: Duration) -> Self {
        self.scrape_interval = interval;
        self
    }

    /// Sets the `job` label (default `target<N>`, N = position in the builder).
    pub fn job_name(mut self, job: impl Into<String>) -> Self {
        self.job_name = Some(job.into());
        self
    }

    /// Adds a static target label.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.push((name.into(), value.into()));
        self
    }

    /// The `host:port` scraped.
    pub fn address(&self) -> &str {
        &self.address
    }
}

/// Prometheus duration string with millisecond precision (`1s`, `250ms`).
fn prom_duration(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Builds and starts a Prometheus server scraping the given targets.
///
/// ```no_run
/// # async fn demo() {
/// use unitel_testkit::{PrometheusBuilder, ScrapeTarget};
/// let Some(prom) = PrometheusBuilder::new()
///     .scrape(ScrapeTarget::new("127.0.0.1:9100"))
///     .rule_file("tests/rules.yml")
///     .start()
///     .await
/// else {
///     return;
/// };
/// # let _ = prom;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusBuilder {
    targets: Vec<ScrapeTarget>,
    rule_files: Vec<PathBuf>,
    evaluation_interval: Duration,
}

impl Default for PrometheusBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusBuilder {
    /// No targets, no rules, 1 s rule evaluation interval.
    pub fn new() -> Self {
        Self {
            targets: Vec::new(),
            rule_files: Vec::new(),
            evaluation_interval: Duration::from_secs(1),
        }
    }

    /// Adds a scrape job.
    pub fn scrape(mut self, target: ScrapeTarget) -> Self {
        self.targets.push(target);
        self
    }

    /// Adds a rule file (recording/alerting rules), referenced from the generated config
    /// (copied into the container with Docker). Relative paths are resolved against the
    /// current directory — for `cargo test` that is the crate's directory.
    pub fn rule_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.rule_files.push(path.into());
        self
    }

    /// Sets the rule evaluation interval (default 1 s).
    pub fn evaluation_interval(mut self, interval: Duration) -> Self {
        self.evaluation_interval = interval;
        self
    }

    /// The generated `prometheus.yml` (JSON, which is valid YAML), with rule files at
    /// `rule_paths`.
    fn config(&self, rule_paths: &[String]) -> String {
        let jobs: Vec<Value> = self
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let interval = prom_duration(t.scrape_interval);
                let labels: serde_json::Map<String, Value> = t
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                let mut job = json!({
                    "job_name": t.job_name.clone().unwrap_or_else(|| format!("target{i}")),
                    "scheme": "http",
                    "metrics_path": t.metrics_path,
                    "scrape_interval": interval,
                    "scrape_timeout": interval,
                    "static_configs": [{ "targets": [t.address], "labels": labels }],
                });
                if let (Some(token), Some(obj)) = (&t.bearer_token, job.as_object_mut()) {
                    obj.insert(
                        "authorization".to_owned(),
                        json!({ "type": "Bearer", "credentials": token }),
                    );
                }
                job
            })
            .collect();
        let config = json!({
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": prom_duration(self.evaluation_interval),
            },
            "rule_files": rule_paths,
            "scrape_configs": jobs,
        });
        serde_json::to_string_pretty(&config).unwrap_or_default()
    }

    /// Starts (or finds) the server; `None` means skip the test.
    ///
    /// Lookup order:
    ///
    /// 1. `UNITEL_TEST_PROMETHEUS_URL`: that server is used as is, **only if this builder has
    ///    no scrape targets and no rule files** (an external server cannot be given them;
    ///    otherwise a note is printed and the next steps are tried).
    /// 2. Docker: `prom/prometheus` with **host networking** (so it can scrape targets on the
    ///    host's `127.0.0.1`; Linux engines only) listening on a free `127.0.0.1` port, with the
    ///    generated config and rule files copied in. Falls back to 3 if it fails.
    /// 3. The local `prometheus` binary (`UNITEL_TEST_PROMETHEUS_BIN` or `PATH`) with the
    ///    generated config and TSDB in a temp dir, `--web.listen-address=127.0.0.1:<free port>`;
    ///    killed and deleted on drop.
    /// 4. Otherwise skip ([`crate::skip_test`]), or panic under `UNITEL_REQUIRE_SERVICES=1`.
    ///
    /// Returns once `/-/ready` answers 200.
    pub async fn start(self) -> Option<PrometheusService> {
        let external = env_nonempty("UNITEL_TEST_PROMETHEUS_URL");
        if let Some(url) = &external {
            if self.targets.is_empty() && self.rule_files.is_empty() {
                return Some(PrometheusService {
                    url: url.trim_end_matches('/').to_owned(),
                    backend: Backend::External,
                    config: None,
                    _handle: Handle::None,
                });
            }
            eprintln!(
                "unitel-testkit: not using UNITEL_TEST_PROMETHEUS_URL={url}: this test needs its \
                 own scrape targets and rule files, which cannot be applied to it"
            );
        }
        let rule_files = match self
            .rule_files
            .iter()
            .map(|p| {
                fs::canonicalize(p)
                    .map_err(|e| Error::new(format!("rule file {}: {e}", p.display())))
            })
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(files) => files,
            Err(e) => return skipped("Prometheus", &e.to_string()),
        };
        if docker_available().await {
            match self.start_container(&rule_files).await {
                Ok(service) => return Some(service),
                Err(e) => eprintln!(
                    "unitel-testkit: Prometheus container failed ({e}); trying the local binary"
                ),
            }
        }
        let Some(binary) = find_binary("prometheus", Some("UNITEL_TEST_PROMETHEUS_BIN")) else {
            let url = if external.is_some() {
                "UNITEL_TEST_PROMETHEUS_URL cannot take this test's scrape targets"
            } else {
                "UNITEL_TEST_PROMETHEUS_URL is not set"
            };
            return skipped(
                "Prometheus",
                &format!(
                    "{url}, no Docker engine answered, and no `prometheus` binary was found \
                     (set UNITEL_TEST_PROMETHEUS_BIN)"
                ),
            );
        };
        match self.start_local(&binary, &rule_files).await {
            Ok(service) => Some(service),
            Err(e) => skipped("Prometheus", &format!("the local server failed: {e}")),
        }
    }

    async fn start_container(&self, rule_files: &[PathBuf]) -> Result<PrometheusService, Error> {
        let container_rules: Vec<String> = (0..rule_files.len())
            .map(|i| format!("/etc/prometheus/unitel-rules-{i}.yml"))
            .collect();
        let config = self.config(&container_rules);
        let port = free_port();
        let mut request = GenericImage::new(IMAGE.0, IMAGE.1)
            .with_wait_for(WaitFor::message_on_stderr(
                "Server is ready to receive web requests.",
            ))
            .with_network("host")
            .with_copy_to(
                "/etc/prometheus/prometheus.yml",
                config.clone().into_bytes(),
            )
            .with_cmd([
                "--config.file=/etc/prometheus/prometheus.yml".to_owned(),
                "--storage.tsdb.path=/prometheus".to_owned(),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ])
            .with_startup_timeout(Duration::from_secs(120));
        for (source, target) in rule_files.iter().zip(&container_rules) {
            request = request.with_copy_to(target.as_str(), source.as_path());
        }
        let container = request
            .start()
            .await
            .map_err(|e| Error::new(format!("starting {}:{}: {e}", IMAGE.0, IMAGE.1)))?;
        let url = format!("http://127.0.0.1:{port}");
        wait_ready(&url, None, Duration::from_secs(30)).await?;
        Ok(PrometheusService {
            url,
            backend: Backend::Docker,
            config: Some(config),
            _handle: Handle::Container {
                container: Box::new(container),
            },
        })
    }

    async fn start_local(
        &self,
        binary: &Path,
        rule_files: &[PathBuf],
    ) -> Result<PrometheusService, Error> {
        let dir =
            temp_dir("unitel-prometheus-").map_err(|e| Error::new(format!("temp dir: {e}")))?;
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let config = self.config(&rules);
        let config_path = dir.path().join("prometheus.yml");
        fs::write(&config_path, &config).map_err(|e| Error::new(format!("writing config: {e}")))?;
        let mut last_error = Error::new("not started");
        for _attempt in 0..3 {
            let port = free_port();
            match spawn_local(binary, dir.path(), port).await {
                Ok(child) => {
                    return Ok(PrometheusService {
                        url: format!("http://127.0.0.1:{port}"),
                        backend: Backend::Local,
                        config: Some(config),
                        _handle: Handle::Local {
                            child: Some(child),
                            binary: binary.to_path_buf(),
                            port,
                            dir,
                        },
                    });
                }
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }
}

/// Starts `binary` with `dir/prometheus.yml` and the TSDB in `dir/data` on `port`, and waits
/// until it is ready.
async fn spawn_local(binary: &Path, dir: &Path, port: u16) -> Result<ChildGuard, Error> {
    let log_path = dir.join(format!("prometheus-{port}.log"));
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::new(format!("log file: {e}")))?;
    let log_err = log
        .try_clone()
        .map_err(|e| Error::new(format!("log file: {e}")))?;
    let child = Command::new(binary)
        .arg(flag("--config.file=", dir.join("prometheus.yml")))
        .arg(flag("--storage.tsdb.path=", dir.join("data")))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| Error::new(format!("spawning {}: {e}", binary.display())))?;
    let mut child = ChildGuard::new(child, Some("TERM"));
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url, Some((&mut child, &log_path)), Duration::from_secs(30)).await?;
    Ok(child)
}

/// Starts a Prometheus server scraping `scrape_targets`; shorthand for
/// [`PrometheusBuilder`] (see [`PrometheusBuilder::start`] for the lookup order).
pub async fn prometheus(scrape_targets: &[ScrapeTarget]) -> Option<PrometheusService> {
    scrape_targets
        .iter()
        .cloned()
        .fold(PrometheusBuilder::new(), PrometheusBuilder::scrape)
        .start()
        .await
}

enum Handle {
    None,
    /// Removes the container on `Drop`; stopped and started by [`PrometheusService::restart`].
    Container {
        container: Box<ContainerAsync<GenericImage>>,
    },
    Local {
        // Field order matters: the process is killed before the directory is removed.
        child: Option<ChildGuard>,
        binary: PathBuf,
        port: u16,
        dir: tempfile::TempDir,
    },
}

/// Polls `{url}/-/ready` until it answers 2xx, failing early if `child` exits.
async fn wait_ready(
    url: &str,
    mut child: Option<(&mut ChildGuard, &Path)>,
    timeout: Duration,
) -> Result<(), Error> {
    let client = http_client()?;
    let deadline = Instant::now() + timeout;
    let ready_url = format!("{url}/-/ready");
    loop {
        if let Some((child, log)) = &mut child
            && let Some(status) = child.exited()
        {
            return Err(Error::new(format!(
                "prometheus exited ({status}):\n{}",
                log_tail(log)
            )));
        }
        if let Ok(response) = client.get(&ready_url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::new(format!(
                "{ready_url} not ready within {timeout:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running (or external) Prometheus server. Dropping it stops the server it started.
pub struct PrometheusService {
    url: String,
    backend: Backend,
    config: Option<String>,
    _handle: Handle,
}

impl fmt::Debug for PrometheusService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusService")
            .field("url", &self.url)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl PrometheusService {
    /// Base URL, e.g. `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where this server comes from.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Restarts the server the way an operator does: stops it with SIGTERM (a clean shutdown
    /// that keeps the TSDB), then starts it again on the same port with the same configuration
    /// and data, and waits until it is ready. Scraping resumes after its target discovery
    /// (about 5 s), so the series get a gap but keep their history. For fault-injection tests.
    ///
    /// A container ([`Backend::Docker`]) is stopped and started the same way (`docker stop`,
    /// `docker start`: same container, so the same TSDB, and with host networking the same
    /// port). Errors for an external server, which the testkit does not control (and which
    /// [`PrometheusBuilder::start`] never returns for a builder with scrape targets).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), unitel_testkit::Error> {
    /// use unitel_testkit::{PrometheusBuilder, ScrapeTarget};
    /// let Some(mut prom) = PrometheusBuilder::new()
    ///     .scrape(ScrapeTarget::new("127.0.0.1:9100"))
    ///     .start()
    ///     .await
    /// else {
    ///     return Ok(());
    /// };
    /// prom.restart().await?;
    /// let resets = prom.query_value("max(resets(http_requests_total[5m]))").await?;
    /// # let _ = resets;
    /// # Ok(()) }
    /// ```
    pub async fn restart(&mut self) -> Result<(), Error> {
        let (child, binary, port, dir) = match &mut self._handle {
            Handle::Local {
                child,
                binary,
                port,
                dir,
            } => (child, binary, port, dir),
            Handle::Container { container } => {
                container
                    .stop_with_timeout(Some(20))
                    .await
                    .map_err(|e| Error::new(format!("stopping the container: {e}")))?;
                container
                    .start()
                    .await
                    .map_err(|e| Error::new(format!("starting the container again: {e}")))?;
                return wait_ready(&self.url, None, Duration::from_secs(60)).await;
            }
            Handle::None => {
                return Err(Error::new(
                    "restart needs a Prometheus started by the testkit (locally or in Docker); \
                     this one is managed elsewhere",
                ));
            }
        };
        if let Some(mut running) = child.take() {
            let stopped = tokio::task::spawn_blocking(move || {
                running.stop_with("TERM", Duration::from_secs(20))
            })
            .await
            .unwrap_or(false);
            if !stopped {
                return Err(Error::new(
                    "prometheus did not stop within 20 s; it was killed",
                ));
            }
        }
        *child = Some(spawn_local(binary, dir.path(), *port).await?);
        Ok(())
    }

    /// The generated `prometheus.yml` (None for an external server).
    pub fn config(&self) -> Option<&str> {
        self.config.as_deref()
    }

    async fn get_json(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, Error> {
        let url = format!("{}{path}", self.url);
        let response = http_client()?
            .get(&url)
            .query(query)
            .send()
            .await
            .map_err(|e| Error::new(format!("GET {url}: {e}")))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| Error::new(format!("GET {url}: invalid JSON ({status}): {e}")))?;
        if body.get("status").and_then(Value::as_str) != Some("success") {
            return Err(Error::new(format!(
                "GET {url} {query:?} failed ({status}): {body}"
            )));
        }
        Ok(body)
    }

    /// Runs an instant query (`GET /api/v1/query?query=expr`) and returns the whole JSON
    /// response (`{"status":"success","data":{"resultType":..,"result":[..]}}`). Errors on
    /// transport failures and on a non-`success` status (e.g. a bad expression).
    pub async fn query(&self, expr: &str) -> Result<Value, Error> {
        self.get_json("/api/v1/query", &[("query", expr)]).await
    }

    /// The value of the first sample of an instant query, if any.
    pub async fn query_value(&self, expr: &str) -> Result<Option<f64>, Error> {
        let body = self.query(expr).await?;
        let data = &body["data"];
        let value = match data["resultType"].as_str() {
            Some("scalar") => &data["result"][1],
            _ => &data["result"][0]["value"][1],
        };
        Ok(value.as_str().and_then(|v| v.parse().ok()))
    }

    /// `GET /api/v1/targets` (scrape health, last errors), for diagnostics.
    pub async fn targets(&self) -> Result<Value, Error> {
        self.get_json("/api/v1/targets", &[]).await
    }

    /// Polls the instant query `expr` every 100 ms until its result is non-empty and returns
    /// the result array (vector/matrix elements). After `timeout` it errors with the last
    /// response and the scrape targets' health.
    ///
    /// Allow for Prometheus' start-up latency: its target discovery applies new targets at most
    /// every 5 s, so the first scrape happens roughly 5 s after start; a `timeout` of 15–20 s is
    /// a good default.
    pub async fn wait_for_series(
        &self,
        expr: &str,
        timeout: Duration,
    ) -> Result<Vec<Value>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.query(expr).await {
                Ok(body) => match &body["data"]["result"] {
                    Value::Array(result) if !result.is_empty() => return Ok(result.clone()),
                    _ => body.to_string(),
                },
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                let targets = self.targets().await.map_or_else(
                    |e| e.to_string(),
                    |t| {
                        t["data"]["activeTargets"]
                            .as_array()
                            .map(|targets| {
                                targets
                                    .iter()
                                    .map(|t| {
                                        format!(
                                            "{} health={} lastError={}",
                                            t["scrapeUrl"], t["health"], t["lastError"]
                                        )
                                    })
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            })
                            .unwrap_or_default()
                    },
                );
                return Err(Error::new(format!(
                    "no series for `{expr}` within {timeout:?}; last response: {last}; targets: {targets}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
