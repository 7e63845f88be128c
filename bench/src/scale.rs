//! The scale tables: per-record cost against series count and recording threads, render time
//! against series count, and how long a record can stall while a scrape renders.
//!
//! Every figure is the median of several repetitions of a timed loop (`std::time::Instant`
//! around the whole loop, not around each operation), except the stall table, which times each
//! record.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use unitel::catalog::{HTTP_REQUEST_DURATION_SECONDS, HTTP_REQUESTS_TOTAL};
use unitel::{Counter, Histogram, Registry};

use crate::peers;
use crate::report::{median, table};

/// How long the tables take: `Quick` for CI smoke runs, `Full` for BENCHMARKS.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Few iterations: the tables are produced, the figures are rough.
    Quick,
    /// Enough iterations for stable medians (about a minute in total).
    Full,
}

impl Effort {
    fn records(self) -> u64 {
        match self {
            Self::Quick => 200_000,
            Self::Full => 4_000_000,
        }
    }

    fn repetitions(self) -> usize {
        match self {
            Self::Quick => 3,
            Self::Full => 7,
        }
    }
}

/// Runs `f(iterations)` `repetitions` times; the median nanoseconds per iteration.
fn ns_per_op(iterations: u64, repetitions: usize, mut f: impl FnMut(u64)) -> f64 {
    f(iterations / 10 + 1); // warm caches and series
    let samples: Vec<f64> = (0..repetitions)
        .map(|_| {
            let start = Instant::now();
            f(iterations);
            #[allow(clippy::cast_precision_loss)]
            let per = start.elapsed().as_nanos() as f64 / iterations as f64;
            per
        })
        .collect();
    median(&samples)
}

fn route(i: usize) -> String {
    format!("/api/r{i}/{{id}}")
}

/// Cycles through `0..n` without a division per step.
struct Cycle {
    next: usize,
    n: usize,
}

impl Cycle {
    fn new(n: usize) -> Self {
        Self { next: 0, n }
    }

    #[inline]
    fn step(&mut self) -> usize {
        let i = self.next;
        self.next += 1;
        if self.next == self.n {
            self.next = 0;
        }
        i
    }
}

/// Per-record cost with 10, 100, 1,000 and 2,000 series in the family, each record going to
/// the next series in turn (so larger families also touch more memory).
#[must_use]
pub fn series_table(effort: Effort) -> String {
    let iterations = effort.records();
    let reps = effort.repetitions();
    let mut rows = Vec::new();
    for n in [10usize, 100, 1000, 2000] {
        let registry = Registry::new();
        let counters = registry.counter(&HTTP_REQUESTS_TOTAL);
        let histograms = registry.histogram(&HTTP_REQUEST_DURATION_SECONDS);
        let routes: Vec<String> = (0..n).map(route).collect();
        let labels: Vec<[&str; 3]> = routes.iter().map(|r| ["GET", r.as_str(), "200"]).collect();
        let pairs: Vec<[(&str, &str); 3]> = routes
            .iter()
            .map(|r| [("method", "GET"), ("route", r.as_str()), ("status", "200")])
            .collect();
        let counter_handles: Vec<Counter> =
            labels.iter().map(|l| counters.with_labels(l)).collect();
        let histogram_handles: Vec<Histogram> =
            labels.iter().map(|l| histograms.with_labels(l)).collect();
        assert_eq_series(counters.series_count(), n);

        let handle_counter = ns_per_op(iterations, reps, |iters| {
            let mut c = Cycle::new(n);
            for _ in 0..iters {
                counter_handles[c.step()].inc();
            }
        });
        let handle_histogram = ns_per_op(iterations, reps, |iters| {
            let mut c = Cycle::new(n);
            for _ in 0..iters {
                histogram_handles[c.step()].observe(black_box(0.042));
            }
        });
        let lookup_counter = ns_per_op(iterations, reps, |iters| {
            let mut c = Cycle::new(n);
            for _ in 0..iters {
                counters.with_labels(black_box(&labels[c.step()])).inc();
            }
        });
        let lookup_histogram = ns_per_op(iterations, reps, |iters| {
            let mut c = Cycle::new(n);
            for _ in 0..iters {
                histograms
                    .with_labels(black_box(&labels[c.step()]))
                    .observe(black_box(0.042));
            }
        });
        let lookup_pairs = ns_per_op(iterations, reps, |iters| {
            let mut c = Cycle::new(n);
            for _ in 0..iters {
                counters.with_label_pairs(black_box(&pairs[c.step()])).inc();
            }
        });
        rows.push(vec![
            n.to_string(),
            format!("{handle_counter:.1}"),
            format!("{handle_histogram:.1}"),
            format!("{lookup_counter:.1}"),
            format!("{lookup_histogram:.1}"),
            format!("{lookup_pairs:.1}"),
        ]);
    }
    table(
        &[
            "series in family",
            "handle counter ns",
            "handle histogram ns",
            "lookup counter ns",
            "lookup histogram ns",
            "lookup by pairs ns",
        ],
        1,
        &rows,
    )
}

fn assert_eq_series(actual: usize, expected: usize) {
    if actual != expected {
        eprintln!("scale: expected {expected} series, the family holds {actual}");
    }
}

/// Records `n` times.
type RecordLoop = Box<dyn FnMut(u64) + Send>;

/// One recording path measured under contention.
struct Contender {
    name: &'static str,
    /// Builds the per-thread record loop for thread `t`.
    make: Box<dyn Fn(usize) -> RecordLoop + Sync>,
}

/// Runs `threads` recorders at once (started together); the median over repetitions of the
/// slowest thread's nanoseconds per record.
fn contended_ns(contender: &Contender, threads: usize, iterations: u64, reps: usize) -> f64 {
    let samples: Vec<f64> = (0..reps)
        .map(|_| {
            let barrier = Arc::new(Barrier::new(threads));
            let elapsed: Vec<Duration> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let mut record = (contender.make)(t);
                        let barrier = Arc::clone(&barrier);
                        s.spawn(move || {
                            record(iterations / 10 + 1);
                            barrier.wait();
                            let start = Instant::now();
                            record(iterations);
                            start.elapsed()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or(Duration::ZERO))
                    .collect()
            });
            let slowest = elapsed.into_iter().max().unwrap_or(Duration::ZERO);
            #[allow(clippy::cast_precision_loss)]
            let per = slowest.as_nanos() as f64 / iterations as f64;
            per
        })
        .collect();
    median(&samples)
}

fn contenders() -> Vec<Contender> {
    let registry = Registry::new();
    let counters = registry.counter(&HTTP_REQUESTS_TOTAL);
    let histograms = registry.histogram(&HTTP_REQUEST_DURATION_SECONDS);
    let counter = counters.with_labels(&peers::VALUES);
    let histogram = histograms.with_labels(&peers::VALUES);
    let thread_routes: Vec<String> = (0..8).map(route).collect();
    for r in &thread_routes {
        let _ = counters.with_labels(&["GET", r, "200"]);
    }
    let prom_client = Arc::new(peers::prom_client::PromClient::new());
    let otel = Arc::new(peers::otel::Otel::new());
    let metrics_handle = peers::metrics_rs::install().ok();
    let prometheus_rs = peers::prometheus_rs::PrometheusRs::new().ok().map(Arc::new);

    let mut list = vec![
        Contender {
            name: "unitel typed counter",
            make: Box::new(move |_| {
                let c = counter.clone();
                Box::new(move |n| {
                    for _ in 0..n {
                        c.inc();
                    }
                })
            }),
        },
        Contender {
            name: "unitel typed histogram",
            make: Box::new(move |_| {
                let h = histogram.clone();
                Box::new(move |n| {
                    for _ in 0..n {
                        h.observe(black_box(0.042));
                    }
                })
            }),
        },
        {
            let counters = counters.clone();
            Contender {
                name: "unitel lookup counter (same series)",
                make: Box::new(move |_| {
                    let f = counters.clone();
                    Box::new(move |n| {
                        for _ in 0..n {
                            f.with_labels(black_box(&peers::VALUES)).inc();
                        }
                    })
                }),
            }
        },
        Contender {
            name: "unitel lookup counter (a series per thread)",
            make: Box::new(move |t| {
                let f = counters.clone();
                let r = thread_routes[t % thread_routes.len()].clone();
                Box::new(move |n| {
                    let labels = ["GET", r.as_str(), "200"];
                    for _ in 0..n {
                        f.with_labels(black_box(&labels)).inc();
                    }
                })
            }),
        },
        {
            let pc = Arc::clone(&prom_client);
            Contender {
                name: "prometheus-client cached counter",
                make: Box::new(move |_| {
                    let c = pc.counter.get_or_create_owned(&peers::prom_client::LABELS);
                    Box::new(move |n| {
                        for _ in 0..n {
                            c.inc();
                        }
                    })
                }),
            }
        },
        Contender {
            name: "prometheus-client lookup counter",
            make: Box::new(move |_| {
                let pc = Arc::clone(&prom_client);
                Box::new(move |n| {
                    for _ in 0..n {
                        pc.counter
                            .get_or_create(black_box(&peers::prom_client::LABELS))
                            .inc();
                    }
                })
            }),
        },
        {
            let otel = Arc::clone(&otel);
            Contender {
                name: "opentelemetry_sdk bound counter",
                make: Box::new(move |_| {
                    let bound = otel.counter.bind(&otel.attributes);
                    Box::new(move |n| {
                        for _ in 0..n {
                            bound.add(1);
                        }
                    })
                }),
            }
        },
        Contender {
            name: "opentelemetry_sdk counter, attributes per call",
            make: Box::new(move |_| {
                let otel = Arc::clone(&otel);
                Box::new(move |n| {
                    for _ in 0..n {
                        otel.counter.add(1, black_box(&otel.attributes));
                    }
                })
            }),
        },
    ];
    if metrics_handle.is_some() {
        list.push(Contender {
            name: "metrics cached counter",
            make: Box::new(|_| {
                let c = metrics::counter!("http_requests_total", "method" => "GET",
                    "route" => "/api/items/{id}", "status" => "200");
                Box::new(move |n| {
                    for _ in 0..n {
                        c.increment(1);
                    }
                })
            }),
        });
    }
    if let Some(p) = prometheus_rs {
        list.push(Contender {
            name: "prometheus cached counter",
            make: Box::new(move |_| {
                let c = p.counter.with_label_values(&peers::VALUES);
                Box::new(move |n| {
                    for _ in 0..n {
                        c.inc();
                    }
                })
            }),
        });
    }
    list
}

/// Nanoseconds per record per thread with 1, 2 and 4 threads recording at once (the slowest
/// thread's time divided by its records). On a 2-core machine 4 threads share the cores, so
/// that column also shows time-slicing, not only contention.
#[must_use]
pub fn threads_table(effort: Effort) -> String {
    let iterations = effort.records() / 2;
    let reps = effort.repetitions();
    let rows: Vec<Vec<String>> = contenders()
        .iter()
        .map(|c| {
            let mut row = vec![c.name.to_owned()];
            for threads in [1, 2, 4] {
                row.push(format!("{:.1}", contended_ns(c, threads, iterations, reps)));
            }
            row
        })
        .collect();
    table(
        &["record path", "1 thread ns", "2 threads ns", "4 threads ns"],
        1,
        &rows,
    )
}

/// A registry whose `http_requests_total` (counters) or `http_request_duration_seconds`
/// (histograms) family holds `n` series.
fn registry_with(n: usize, histograms: bool) -> Registry {
    let registry = Registry::new();
    registry.set_max_series_per_family(n + 1);
    let counters = registry.counter(&HTTP_REQUESTS_TOTAL);
    let hists = registry.histogram(&HTTP_REQUEST_DURATION_SECONDS);
    for i in 0..n {
        let r = route(i);
        let labels = ["GET", r.as_str(), "200"];
        if histograms {
            hists.with_labels(&labels).observe(0.042);
        } else {
            counters.with_labels(&labels).inc();
        }
    }
    registry
}

/// `unitel::prometheus::render_registry` time against the number of series (counter series and histogram series
/// with 14 buckets measured separately; the catalog's other families are rendered too, empty).
#[must_use]
pub fn render_table(effort: Effort) -> String {
    let reps = effort.repetitions();
    let mut rows = Vec::new();
    for n in [100usize, 1000, 2000, 10_000] {
        let mut row = vec![n.to_string()];
        for histograms in [false, true] {
            let registry = registry_with(n, histograms);
            let bytes = unitel::prometheus::render_registry(&registry).len();
            let samples: Vec<f64> = (0..reps)
                .map(|_| {
                    let start = Instant::now();
                    black_box(unitel::prometheus::render_registry(&registry));
                    start.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            let ms = median(&samples);
            #[allow(clippy::cast_precision_loss)]
            let ns_per_series = ms * 1e6 / n as f64;
            row.push(format!("{ms:.3}"));
            row.push(format!("{ns_per_series:.0}"));
            row.push(format!("{:.0}", bytes as f64 / 1024.0));
        }
        rows.push(row);
    }
    table(
        &[
            "series",
            "counters: render ms",
            "ns/series",
            "KiB",
            "histograms: render ms",
            "ns/series",
            "KiB",
        ],
        1,
        &rows,
    )
}

/// Record latency percentiles, timing each record, while nothing else runs and while another
/// thread renders the same registry in a loop (10,000 counter series).
#[must_use]
pub fn stall_table(effort: Effort) -> String {
    let n = 10_000;
    let run_for = match effort {
        Effort::Quick => Duration::from_millis(300),
        Effort::Full => Duration::from_secs(2),
    };
    let registry = registry_with(n, false);
    let routes: Vec<String> = (0..n).map(route).collect();
    let mut rows = Vec::new();
    for rendering in [false, true] {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (latencies, renders) = std::thread::scope(|s| {
            let renderer = rendering.then(|| {
                let registry = registry.clone();
                let stop = Arc::clone(&stop);
                s.spawn(move || {
                    let mut count = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        black_box(unitel::prometheus::render_registry(&registry));
                        count += 1;
                    }
                    count
                })
            });
            let counters = registry.counter(&HTTP_REQUESTS_TOTAL);
            let mut latencies: Vec<u32> = Vec::with_capacity(4_000_000);
            let deadline = Instant::now() + run_for;
            let mut c = Cycle::new(n);
            while Instant::now() < deadline && latencies.len() < latencies.capacity() {
                let r = &routes[c.step()];
                let start = Instant::now();
                counters.with_labels(&["GET", r.as_str(), "200"]).inc();
                latencies.push(u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX));
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let renders = renderer.map_or(0, |h| h.join().unwrap_or(0));
            (latencies, renders)
        });
        let mut sorted = latencies;
        sorted.sort_unstable();
        let pick = |q: f64| {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
            sorted.get(i).copied().unwrap_or(0)
        };
        rows.push(vec![
            if rendering {
                format!("render() looping on another thread ({renders} renders)")
            } else {
                "no render".to_owned()
            },
            sorted.len().to_string(),
            pick(0.5).to_string(),
            pick(0.99).to_string(),
            pick(0.999).to_string(),
            pick(0.9999).to_string(),
            sorted.last().copied().unwrap_or(0).to_string(),
        ]);
    }
    table(
        &[
            "while",
            "records",
            "p50 ns",
            "p99 ns",
            "p99.9 ns",
            "p99.99 ns",
            "max ns",
        ],
        1,
        &rows,
    )
}

/// All scale tables, with headings, in Markdown.
#[must_use]
pub fn all_tables(effort: Effort) -> String {
    format!(
        "### Per-record cost against series in the family\n\n{}\n\
         ### Recording threads (same series unless said otherwise)\n\n{}\n\
         ### render() against series count\n\n{}\n\
         ### Record latency while a scrape renders (10,000 series)\n\n{}",
        series_table(effort),
        threads_table(effort),
        render_table(effort),
        stall_table(effort)
    )
}
