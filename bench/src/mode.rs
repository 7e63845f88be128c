//! Which framework and which instrumentation a `bench-server` runs.

use std::fmt;

/// The web framework a `bench-server` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framework {
    /// axum 0.8 on a multi-thread tokio runtime.
    Axum,
    /// actix-web 4.
    Actix,
}

impl Framework {
    /// Both frameworks, in table order.
    pub const ALL: [Framework; 2] = [Framework::Axum, Framework::Actix];

    /// The name used on the command line and in tables.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Axum => "axum",
            Self::Actix => "actix",
        }
    }

    /// Parses a command-line name.
    ///
    /// # Errors
    /// A message naming the accepted values.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "axum" => Ok(Self::Axum),
            "actix" => Ok(Self::Actix),
            other => Err(format!("unknown framework `{other}`: use axum or actix")),
        }
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What instruments the routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// No instrumentation at all: the reference every ratio is taken against.
    Bare,
    /// unitel metrics only (the framework's unitel layer, no span export).
    Metrics,
    /// unitel server spans, 100 % sampled, batch-exported over OTLP, with
    /// `enable_metrics(false)` (the HTTP layers then record no metrics) and no `/metrics` route.
    Traces,
    /// unitel metrics and spans.
    Full,
    /// `axum-prometheus` (axum only).
    AxumPrometheus,
    /// `actix-web-prom` (actix only).
    ActixWebProm,
    /// The OpenTelemetry contrib instrumentation for the framework (spans, 100 % sampled and
    /// exported over OTLP, plus its metrics served from `/metrics`):
    /// `opentelemetry-instrumentation-tower` for axum,
    /// `opentelemetry-instrumentation-actix-web` for actix.
    OtelContrib,
}

impl Mode {
    /// Every mode, in table order.
    pub const ALL: [Mode; 7] = [
        Mode::Bare,
        Mode::Metrics,
        Mode::Traces,
        Mode::Full,
        Mode::AxumPrometheus,
        Mode::ActixWebProm,
        Mode::OtelContrib,
    ];

    /// The name used on the command line and in tables.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::Metrics => "metrics",
            Self::Traces => "traces",
            Self::Full => "full",
            Self::AxumPrometheus => "axum-prometheus",
            Self::ActixWebProm => "actix-web-prom",
            Self::OtelContrib => "otel-contrib",
        }
    }

    /// Parses a command-line name.
    ///
    /// # Errors
    /// A message naming the accepted values.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|m| m.as_str()).collect();
                format!("unknown mode `{s}`: use one of {}", names.join(", "))
            })
    }

    /// Whether this mode is built for `framework` (peers exist for one framework each).
    #[must_use]
    pub fn applies_to(self, framework: Framework) -> bool {
        match self {
            Self::AxumPrometheus => framework == Framework::Axum,
            Self::ActixWebProm => framework == Framework::Actix,
            _ => crate::apps::built(framework, self),
        }
    }

    /// The modes `bench-server` serves for `framework`, in table order.
    #[must_use]
    pub fn available(framework: Framework) -> Vec<Mode> {
        Self::ALL
            .into_iter()
            .filter(|m| m.applies_to(framework))
            .collect()
    }

    /// Whether this mode is unitel's own.
    #[must_use]
    pub const fn is_unitel(self) -> bool {
        matches!(self, Self::Metrics | Self::Traces | Self::Full)
    }

    /// Whether this mode exports spans over OTLP.
    #[must_use]
    pub const fn exports_spans(self) -> bool {
        matches!(self, Self::Traces | Self::Full | Self::OtelContrib)
    }

    /// Whether this mode serves request metrics on `/metrics`.
    #[must_use]
    pub const fn serves_metrics(self) -> bool {
        !matches!(self, Self::Bare | Self::Traces)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
