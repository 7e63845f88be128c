//! The peers' record paths, set up the way their documentation recommends, with the same three
//! labels and the same buckets as unitel's `http_requests_total` /
//! `http_request_duration_seconds`.

/// Label keys of every record benchmark.
pub const KEYS: [&str; 3] = ["method", "route", "status"];
/// Label values of the existing series every record benchmark writes to.
pub const VALUES: [&str; 3] = ["GET", "/api/items/{id}", "200"];
/// The same as `(key, value)` pairs.
pub const PAIRS: [(&str, &str); 3] = [
    ("method", "GET"),
    ("route", "/api/items/{id}"),
    ("status", "200"),
];
/// Histogram buckets (unitel's HTTP duration buckets).
pub const BUCKETS: &[f64] = unitel::catalog::HTTP_DURATION_BUCKETS;

/// `opentelemetry_sdk` 0.33 metrics used directly: a meter provider with a manual reader
/// (cumulative, like a Prometheus pull), a `u64_counter` and an `f64_histogram`.
pub mod otel {
    use opentelemetry::KeyValue;
    use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
    use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

    /// Instruments of one provider.
    #[derive(Debug)]
    pub struct Otel {
        /// Keeps the pipeline alive.
        pub provider: SdkMeterProvider,
        /// `http.server.requests` counter.
        pub counter: Counter<u64>,
        /// `http.server.request.duration` histogram with unitel's buckets.
        pub histogram: Histogram<f64>,
        /// The attributes of the benchmarked series.
        pub attributes: [KeyValue; 3],
    }

    impl Otel {
        /// A provider with a manual reader and both instruments.
        #[must_use]
        pub fn new() -> Self {
            let reader = ManualReader::builder().build();
            let provider = SdkMeterProvider::builder().with_reader(reader).build();
            let meter = provider.meter("unitel-bench");
            let counter = meter.u64_counter("http.server.requests").build();
            let histogram = meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_boundaries(super::BUCKETS.to_vec())
                .build();
            let attributes = [
                KeyValue::new("method", "GET"),
                KeyValue::new("route", "/api/items/{id}"),
                KeyValue::new("status", "200"),
            ];
            Self {
                provider,
                counter,
                histogram,
                attributes,
            }
        }
    }

    impl Default for Otel {
        fn default() -> Self {
            Self::new()
        }
    }
}

/// `prometheus-client` (the official Rust client of the Prometheus project): label-set families.
pub mod prom_client {
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Registry;

    /// The label set, typed as the crate recommends.
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct Labels {
        /// HTTP method.
        pub method: &'static str,
        /// Route template.
        pub route: &'static str,
        /// Status code.
        pub status: &'static str,
    }

    /// The benchmarked label set.
    pub const LABELS: Labels = Labels {
        method: "GET",
        route: "/api/items/{id}",
        status: "200",
    };

    /// Constructor of histogram series.
    pub type MakeHistogram = fn() -> Histogram;

    fn make_histogram() -> Histogram {
        Histogram::new(super::BUCKETS.iter().copied())
    }

    /// A registry with a counter family and a histogram family.
    #[derive(Debug)]
    pub struct PromClient {
        /// Where both families are registered.
        pub registry: Registry,
        /// Counter family.
        pub counter: Family<Labels, Counter>,
        /// Histogram family.
        pub histogram: Family<Labels, Histogram, MakeHistogram>,
    }

    impl PromClient {
        /// Both families, registered.
        #[must_use]
        pub fn new() -> Self {
            let mut registry = Registry::default();
            let counter = Family::<Labels, Counter>::default();
            let histogram =
                Family::<Labels, Histogram, MakeHistogram>::new_with_constructor(make_histogram);
            registry.register("http_requests", "Requests", counter.clone());
            registry.register(
                "http_request_duration_seconds",
                "Duration",
                histogram.clone(),
            );
            Self {
                registry,
                counter,
                histogram,
            }
        }

        /// The text exposition.
        #[must_use]
        pub fn render(&self) -> String {
            let mut out = String::new();
            let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
            out
        }
    }

    impl Default for PromClient {
        fn default() -> Self {
            Self::new()
        }
    }
}

/// `prometheus` (tikv): `IntCounterVec` and `HistogramVec`.
pub mod prometheus_rs {
    use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

    /// A registry with both vectors.
    #[derive(Debug)]
    pub struct PrometheusRs {
        /// Where both vectors are registered.
        pub registry: Registry,
        /// Counter vector.
        pub counter: IntCounterVec,
        /// Histogram vector.
        pub histogram: HistogramVec,
    }

    impl PrometheusRs {
        /// Both vectors, registered.
        ///
        /// # Errors
        /// The crate's error when the options are invalid.
        pub fn new() -> Result<Self, prometheus::Error> {
            let registry = Registry::new();
            let counter =
                IntCounterVec::new(Opts::new("http_requests_total", "Requests"), &super::KEYS)?;
            let histogram = HistogramVec::new(
                HistogramOpts::new("http_request_duration_seconds", "Duration")
                    .buckets(super::BUCKETS.to_vec()),
                &super::KEYS,
            )?;
            registry.register(Box::new(counter.clone()))?;
            registry.register(Box::new(histogram.clone()))?;
            Ok(Self {
                registry,
                counter,
                histogram,
            })
        }

        /// The text exposition.
        #[must_use]
        pub fn render(&self) -> String {
            use prometheus::Encoder as _;
            let mut out = Vec::new();
            let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
            String::from_utf8(out).unwrap_or_default()
        }
    }
}

/// `metrics` + `metrics-exporter-prometheus`: the global recorder with explicit buckets.
pub mod metrics_rs {
    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

    /// Installs the Prometheus recorder as the process's global `metrics` recorder (once; later
    /// calls return the first handle's clone).
    ///
    /// # Errors
    /// The exporter's error when the buckets are invalid or another recorder is installed.
    pub fn install() -> Result<PrometheusHandle, String> {
        static HANDLE: std::sync::OnceLock<Result<PrometheusHandle, String>> =
            std::sync::OnceLock::new();
        HANDLE
            .get_or_init(|| {
                PrometheusBuilder::new()
                    .set_buckets(super::BUCKETS)
                    .map_err(|e| e.to_string())?
                    .install_recorder()
                    .map_err(|e| e.to_string())
            })
            .clone()
    }
}
