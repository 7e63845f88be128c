//! The process-wide default [`Telemetry`]: the one state-holding `static` of the crate.

use std::sync::OnceLock;

use super::Telemetry;

static DEFAULT: OnceLock<Telemetry> = OnceLock::new();

pub(super) fn get() -> &'static Telemetry {
    DEFAULT.get_or_init(Telemetry::new)
}
