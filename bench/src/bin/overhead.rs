//! The overhead driver. See `overhead --help` and BENCHMARKS.md.

use std::process::ExitCode;
use std::time::Duration;

use unitel_bench::driver::{self, DriverOptions, LoadTool};
use unitel_bench::scale::{self, Effort};
use unitel_bench::{Framework, Mode, report};

const USAGE: &str = "\
usage: overhead [--duration SECS] [--connections N] [--runs N] [--warmup SECS] [--ids N]
                [--frameworks axum,actix] [--modes bare,metrics,...] [--load auto|wrk|builtin]
                [--workers N] [--server-core N] [--load-core N] [--no-pin] [--log-filter F]
                [--nice N]
       overhead --scale [--quick]
       overhead --smoke
       overhead serve ARGS...   (the server; same arguments as bench-server)

Starts each mode as a child process (pinned with taskset to --server-core, default 0), drives
load at GET /api/items/42 (wrk pinned to --load-core, default 1, or the built-in generator),
and prints a Markdown table: requests/s, server CPU µs per request (/proc utime+stime), p99
latency, and each as a ratio to bare from the same run (medians over runs).

--smoke   1 s per mode, one run, no warm-up, then the quick scale tables; exits non-zero
          unless every mode of every framework has a row (no timing assertions)
--scale   the scale tables only (per-record cost vs series, threads, render time, stalls)
--ids N   request /api/items/0 .. /api/items/N-1 in turn instead of /api/items/42 alone
          (N distinct paths of one route; wrk runs a request script)
--nice N  run the servers, wrk and the driver at `nice -n N` (e.g. -10 as root on a machine
          that is busy with other work)";

struct Args {
    driver: DriverOptions,
    smoke: bool,
    scale: bool,
    quick: bool,
}

fn parse_secs(flag: &str, v: &str) -> Result<Duration, String> {
    let secs: f64 = v.parse().map_err(|e| format!("{flag} {v}: {e}"))?;
    if secs.is_finite() && secs >= 0.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!("{flag} {v}: not a duration in seconds"))
    }
}

fn parse_args(raw: Vec<String>) -> Result<Option<Args>, String> {
    let program = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
    let mut a = Args {
        driver: DriverOptions {
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            connections: 32,
            ids: 1,
            runs: 3,
            frameworks: Framework::ALL.to_vec(),
            modes: None,
            load: LoadTool::Auto,
            workers: 1,
            server_core: 0,
            load_core: 1,
            pin: true,
            server_program: program,
            log_filter: None,
            nice: None,
        },
        smoke: false,
        scale: false,
        quick: false,
    };
    let mut warmup_set = false;
    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        let d = &mut a.driver;
        match arg.as_str() {
            "--duration" => d.duration = parse_secs("--duration", &value("--duration")?)?,
            "--warmup" => {
                d.warmup = parse_secs("--warmup", &value("--warmup")?)?;
                warmup_set = true;
            }
            "--connections" => {
                let v = value("--connections")?;
                d.connections = v.parse().map_err(|e| format!("--connections {v}: {e}"))?;
            }
            "--ids" => {
                let v = value("--ids")?;
                d.ids = v.parse().map_err(|e| format!("--ids {v}: {e}"))?;
            }
            "--runs" => {
                let v = value("--runs")?;
                d.runs = v.parse().map_err(|e| format!("--runs {v}: {e}"))?;
            }
            "--workers" => {
                let v = value("--workers")?;
                d.workers = v.parse().map_err(|e| format!("--workers {v}: {e}"))?;
            }
            "--server-core" => {
                let v = value("--server-core")?;
                d.server_core = v.parse().map_err(|e| format!("--server-core {v}: {e}"))?;
            }
            "--load-core" => {
                let v = value("--load-core")?;
                d.load_core = v.parse().map_err(|e| format!("--load-core {v}: {e}"))?;
            }
            "--frameworks" => {
                d.frameworks = value("--frameworks")?
                    .split(',')
                    .map(Framework::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--modes" => {
                d.modes = Some(
                    value("--modes")?
                        .split(',')
                        .map(Mode::parse)
                        .collect::<Result<_, _>>()?,
                );
            }
            "--load" => {
                d.load = match value("--load")?.as_str() {
                    "auto" => LoadTool::Auto,
                    "wrk" => LoadTool::Wrk,
                    "builtin" => LoadTool::Builtin,
                    other => return Err(format!("--load {other}: use auto, wrk or builtin")),
                };
            }
            "--no-pin" => d.pin = false,
            "--nice" => {
                let v = value("--nice")?;
                d.nice = Some(v.parse().map_err(|e| format!("--nice {v}: {e}"))?);
            }
            "--log-filter" => d.log_filter = Some(value("--log-filter")?),
            "--smoke" => a.smoke = true,
            "--scale" => a.scale = true,
            "--quick" => a.quick = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if a.smoke {
        a.driver.duration = Duration::from_secs(1);
        a.driver.runs = 1;
        a.quick = true;
        if !warmup_set {
            a.driver.warmup = Duration::ZERO;
        }
    }
    if a.driver.runs == 0 {
        return Err("--runs must be at least 1".to_owned());
    }
    Ok(Some(a))
}

/// Cores and CPU model, read before the driver pins itself to one core.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::fs::read_to_string("/proc/cpuinfo")
        .map(|t| t.lines().filter(|l| l.starts_with("processor")).count())
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or_else(driver::cores);
    format!("{cores} cores, {cpu}")
}

fn overhead(args: &Args) -> Result<(), String> {
    let runs = driver::run(&args.driver)?;
    let rows = report::rows(&runs);
    println!(
        "### Overhead per request ({}; {} s per mode, {} connections, {}, medians of {} interleaved run(s))\n",
        machine(),
        args.driver.duration.as_secs_f64(),
        args.driver.connections,
        if args.driver.ids > 1 {
            format!("{} distinct ids", args.driver.ids)
        } else {
            "one path".to_owned()
        },
        args.driver.runs
    );
    println!("{}", report::overhead_table(&rows));
    let missing = driver::missing_rows(&args.driver, &rows);
    if !missing.is_empty() {
        return Err(format!("no row for: {}", missing.join(", ")));
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().map(String::as_str) == Some("serve") {
        raw.remove(0);
        return match unitel_bench::apps::server_main(raw) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let args = match parse_args(raw) {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("overhead: {e}");
            return ExitCode::from(2);
        }
    };
    let effort = if args.quick {
        Effort::Quick
    } else {
        Effort::Full
    };
    if (!args.scale || args.smoke)
        && let Err(e) = overhead(&args)
    {
        eprintln!("overhead: {e}");
        return ExitCode::FAILURE;
    }
    if args.scale || args.smoke {
        println!("{}", scale::all_tables(effort));
    }
    if args.smoke {
        println!("overhead smoke: every mode produced a row");
    }
    ExitCode::SUCCESS
}
