//! The overhead driver: each mode in turn as a child process, load against it, CPU from
//! `/proc`, and the checks that the instrumentation really recorded.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::apps::{LOAD_PATH, LOAD_ROUTE};
use crate::load::{self, LoadResult, LoadSpec};
use crate::mode::{Framework, Mode};
use crate::report::Measurement;

/// Which load generator to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadTool {
    /// `wrk` when installed, else the built-in generator.
    Auto,
    /// `wrk` (an error when it is missing).
    Wrk,
    /// The built-in generator ([`load::run_builtin`]).
    Builtin,
}

/// Everything one driver invocation needs.
#[derive(Debug, Clone)]
pub struct DriverOptions {
    /// Measured load per mode and run.
    pub duration: Duration,
    /// Load before the measurement (not counted).
    pub warmup: Duration,
    /// Concurrent connections.
    pub connections: usize,
    /// Distinct item ids the load walks through (1: always [`LOAD_PATH`]).
    pub ids: u32,
    /// Passes over all modes; modes are interleaved within each pass.
    pub runs: usize,
    /// Frameworks to measure.
    pub frameworks: Vec<Framework>,
    /// Modes to measure (`None`: every mode available for the framework).
    pub modes: Option<Vec<Mode>>,
    /// Load generator.
    pub load: LoadTool,
    /// Worker threads of each server.
    pub workers: usize,
    /// Core of the server, when pinning.
    pub server_core: usize,
    /// Core of the load generator (and of the driver with its OTLP receiver), when pinning.
    pub load_core: usize,
    /// Pin with `taskset` when it exists and the machine has at least two cores.
    pub pin: bool,
    /// The program started as the server: it is run with `serve` and the server arguments.
    pub server_program: PathBuf,
    /// unitel's log filter in the unitel modes (`None`: unitel's default).
    pub log_filter: Option<String>,
    /// Scheduling priority (`nice -n`) for the servers, the load generator and the driver, so a
    /// busy machine's other work disturbs the measurement less (negative values need root).
    pub nice: Option<i32>,
}

/// `program args...`, prefixed with `nice -n N` and `taskset -c CORE` as asked.
fn command(program: &std::ffi::OsStr, nice: Option<i32>, core: Option<usize>) -> Command {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    if let Some(n) = nice {
        parts.extend(["nice".into(), "-n".into(), n.to_string().into()]);
    }
    if let Some(c) = core {
        parts.extend(["taskset".into(), "-c".into(), c.to_string().into()]);
    }
    parts.push(program.to_owned());
    let mut cmd = Command::new(&parts[0]);
    cmd.args(&parts[1..]);
    cmd
}

/// Whether `taskset` can be run.
#[must_use]
pub fn taskset_available() -> bool {
    Command::new("taskset")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Pins the calling process's current thread (threads it starts later inherit it) to `core`.
///
/// # Errors
/// A message when `taskset` fails.
pub fn pin_self(core: usize) -> Result<(), String> {
    let status = Command::new("taskset")
        .args([
            "-p",
            "-c",
            &core.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("taskset: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("taskset -p exited with {status}"))
    }
}

/// Cores this machine has.
#[must_use]
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// A running `bench-server`, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(
        options: &DriverOptions,
        framework: Framework,
        mode: Mode,
        otlp_endpoint: &str,
        pin: bool,
    ) -> Result<Self, String> {
        let mut cmd = command(
            options.server_program.as_os_str(),
            options.nice,
            pin.then_some(options.server_core),
        );
        cmd.arg("serve")
            .args(["--framework", framework.as_str()])
            .args(["--mode", mode.as_str()])
            .args(["--bind", "127.0.0.1:0"])
            .args(["--workers", &options.workers.to_string()])
            .args(["--otlp-endpoint", otlp_endpoint])
            .args(
                options
                    .log_filter
                    .as_deref()
                    .map(|f| ["--log-filter", f])
                    .into_iter()
                    .flatten(),
            )
            .arg("--exit-with-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", options.server_program.display()))?;
        // From here on, dropping `server` kills the child, whatever goes wrong.
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let stdout = server
            .child
            .stdout
            .take()
            .ok_or("no stdout from bench-server")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // The address line may come after log lines (unitel's fmt layer writes to stdout).
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("bench-server ")
                    && line.contains(" listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(line);
                }
                // Keep draining, so the server never blocks writing its log.
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).map_err(|_| {
            let status = server.child.try_wait().ok().flatten();
            format!(
                "{framework}/{mode}: bench-server did not report its address (exit: {status:?})"
            )
        })?;
        server.addr = line
            .rsplit(' ')
            .next()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("{framework}/{mode}: unexpected address line `{line}`"))?;
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn drive(
    addr: SocketAddr,
    spec: &LoadSpec,
    tool: LoadTool,
    core: Option<usize>,
    nice: Option<i32>,
) -> Result<LoadResult, String> {
    match tool {
        LoadTool::Wrk => crate::wrk::run(command("wrk".as_ref(), nice, core), addr, spec),
        LoadTool::Builtin | LoadTool::Auto => load::run_builtin(addr, spec),
    }
}

/// Total spans received (the driver's receiver counts and drops them).
fn spans_received(receiver: &unitel_testkit::OtlpReceiver) -> usize {
    receiver.span_count()
}

/// Waits until the receiver's span count stops growing (at most `limit`).
fn settled_span_count(receiver: &unitel_testkit::OtlpReceiver, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    let mut last = spans_received(receiver);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        let now = spans_received(receiver);
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// Measures one mode once.
fn measure(
    options: &DriverOptions,
    framework: Framework,
    mode: Mode,
    tool: LoadTool,
    pin: bool,
    receiver: &unitel_testkit::OtlpReceiver,
    ticks: u64,
) -> Result<Measurement, String> {
    let server = Server::start(options, framework, mode, &receiver.endpoint(), pin)?;
    let (status, body) = load::fetch(server.addr, LOAD_PATH)?;
    if status != 200 || !body.contains("widget") {
        return Err(format!(
            "{framework}/{mode}: GET {LOAD_PATH} answered {status} `{body}`"
        ));
    }
    let load_core = pin.then_some(options.load_core);
    if !options.warmup.is_zero() {
        let warm = LoadSpec {
            path: LOAD_PATH.to_owned(),
            ids: options.ids,
            connections: options.connections,
            duration: options.warmup,
        };
        drive(server.addr, &warm, tool, load_core, options.nice)?;
    }
    receiver.clear();
    let spec = LoadSpec {
        path: LOAD_PATH.to_owned(),
        ids: options.ids,
        connections: options.connections,
        duration: options.duration,
    };
    let cpu_before = crate::cpu::process_cpu(server.pid(), ticks).ok_or_else(|| {
        format!(
            "{framework}/{mode}: cannot read /proc/{}/stat",
            server.pid()
        )
    })?;
    let result = drive(server.addr, &spec, tool, load_core, options.nice)?;
    let cpu_after = crate::cpu::process_cpu(server.pid(), ticks).ok_or_else(|| {
        format!(
            "{framework}/{mode}: cannot read /proc/{}/stat",
            server.pid()
        )
    })?;
    if result.requests == 0 {
        return Err(format!("{framework}/{mode}: no request completed"));
    }
    let mut checks = Vec::new();
    let mut failed = false;
    if mode.serves_metrics() {
        let (status, text) = load::fetch(server.addr, "/metrics")?;
        if status == 200 && text.contains(LOAD_ROUTE) {
            checks.push("route in /metrics".to_owned());
        } else {
            failed = true;
            checks.push(format!("NO route in /metrics (status {status})"));
        }
    }
    if mode.exports_spans() {
        let spans = settled_span_count(receiver, Duration::from_secs(2));
        #[allow(clippy::cast_precision_loss)]
        let per_request = spans as f64 / result.requests as f64;
        if spans == 0 {
            failed = true;
        }
        checks.push(format!("{per_request:.2} spans/req"));
    }
    receiver.clear();
    drop(server);
    #[allow(clippy::cast_precision_loss)]
    let cpu_us_per_request =
        cpu_after.saturating_sub(cpu_before).as_secs_f64() * 1e6 / result.requests as f64;
    let measurement = Measurement {
        framework,
        mode,
        requests_per_second: result.requests_per_second(),
        cpu_us_per_request,
        p99_us: result.p99.as_secs_f64() * 1e6,
        errors: result.errors,
        check: checks.join(", "),
    };
    if failed {
        return Err(format!(
            "{framework}/{mode}: instrumentation check failed: {}",
            measurement.check
        ));
    }
    Ok(measurement)
}

/// The modes measured for `framework`.
#[must_use]
pub fn modes_for(options: &DriverOptions, framework: Framework) -> Vec<Mode> {
    let available = Mode::available(framework);
    match &options.modes {
        None => available,
        Some(wanted) => {
            let mut modes: Vec<Mode> = available
                .into_iter()
                .filter(|m| wanted.contains(m))
                .collect();
            // Ratios need bare.
            if !modes.contains(&Mode::Bare) {
                modes.insert(0, Mode::Bare);
            }
            modes
        }
    }
}

/// Runs every (framework, mode) `options.runs` times, interleaved: each run is one pass over
/// all modes, starting one mode later than the previous pass. Progress goes to stderr.
///
/// # Errors
/// A message when the OTLP receiver cannot start, `wrk` is demanded but missing, or a mode
/// fails (a server that does not start, answers wrongly, or did not record).
pub fn run(options: &DriverOptions) -> Result<Vec<Vec<Measurement>>, String> {
    let tool = match options.load {
        LoadTool::Auto if crate::wrk::available() => LoadTool::Wrk,
        LoadTool::Auto => LoadTool::Builtin,
        LoadTool::Wrk if !crate::wrk::available() => {
            return Err("--load wrk: wrk is not installed".to_owned());
        }
        other => other,
    };
    let pin = options.pin && cores() >= 2 && taskset_available();
    if pin {
        // The driver (its OTLP receiver and, with the built-in generator, the load) shares the
        // load generator's core, away from the server.
        pin_self(options.load_core)?;
    }
    if let Some(n) = options.nice {
        let status = Command::new("renice")
            .args(["-n", &n.to_string(), "-p", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("renice: {e}"))?;
        if !status.success() {
            return Err(format!(
                "renice -n {n} failed ({status}); drop --nice or run as root"
            ));
        }
    }
    let receiver = unitel_testkit::OtlpReceiver::start_blocking()
        .map_err(|e| format!("OTLP receiver: {e}"))?;
    // Counted, not kept: tens of thousands of spans per second would otherwise pile up in
    // the driver, which shares the load generator's core.
    receiver.discard_traces(true);
    let ticks = crate::cpu::clock_ticks_per_second();
    eprintln!(
        "overhead: load={} pinning={} (server core {}, load core {}) nice={:?} duration={:?} \
         warmup={:?} connections={} ids={} runs={}",
        match tool {
            LoadTool::Wrk => "wrk",
            _ => "built-in",
        },
        pin,
        options.server_core,
        options.load_core,
        options.nice,
        options.duration,
        options.warmup,
        options.connections,
        options.ids,
        options.runs
    );
    let plan: Vec<(Framework, Mode)> = options
        .frameworks
        .iter()
        .flat_map(|&f| modes_for(options, f).into_iter().map(move |m| (f, m)))
        .collect();
    let mut runs = Vec::with_capacity(options.runs);
    for run in 0..options.runs.max(1) {
        let mut measurements = Vec::with_capacity(plan.len());
        for i in 0..plan.len() {
            let (framework, mode) = plan[(i + run) % plan.len()];
            let m = measure(options, framework, mode, tool, pin, &receiver, ticks)?;
            eprintln!(
                "  run {}/{} {framework:>5} {mode:<16} {:>9.0} req/s {:>7.2} µs CPU/req p99 {:>8.0} µs  {}",
                run + 1,
                options.runs,
                m.requests_per_second,
                m.cpu_us_per_request,
                m.p99_us,
                m.check
            );
            measurements.push(m);
        }
        runs.push(measurements);
    }
    Ok(runs)
}

/// The smoke assertion: every (framework, mode) planned has a row that ran at least once and
/// completed requests. Returns the missing or empty ones.
#[must_use]
pub fn missing_rows(options: &DriverOptions, rows: &[crate::report::Row]) -> Vec<String> {
    let mut missing = Vec::new();
    for &framework in &options.frameworks {
        for mode in modes_for(options, framework) {
            let ok = rows.iter().any(|r| {
                r.framework == framework
                    && r.mode == mode
                    && r.runs > 0
                    && r.requests_per_second > 0.0
            });
            if !ok {
                missing.push(format!("{framework}/{mode}"));
            }
        }
    }
    missing
}
