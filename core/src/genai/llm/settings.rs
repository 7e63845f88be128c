//! The LLM settings of one [`Telemetry`]: its price table (installed, looked up, its version
//! published as `unitel_price_table_info`) and its content-capture hook.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use super::capture::ContentHook;
use super::{PriceTable, PriceTableError};
use crate::catalog;
use crate::registry::Registry;
use crate::telemetry::Telemetry;

/// The price table and content-capture hook of one [`Telemetry`], kept in its extensions.
#[derive(Default)]
pub(super) struct LlmSettings {
    table: RwLock<Option<Arc<PriceTable>>>,
    pub(super) capture: RwLock<Option<Arc<ContentHook>>>,
}

pub(super) fn settings(telemetry: &Telemetry) -> Arc<LlmSettings> {
    telemetry.extensions().get_or_default::<LlmSettings>()
}

/// The process-wide price table: the one [`set_price_table`] (or `init`, from
/// `UNITEL_LLM_PRICES`) installed, else an empty table with version `none`.
#[must_use]
pub fn price_table() -> Arc<PriceTable> {
    price_table_of(Telemetry::global())
}

/// The price table of `telemetry` ([`price_table`] for the process-wide one).
#[must_use]
pub fn price_table_of(telemetry: &Telemetry) -> Arc<PriceTable> {
    let settings = settings(telemetry);
    if let Some(t) = settings
        .table
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        return Arc::clone(t);
    }
    let mut slot = settings
        .table
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(t) = slot.as_ref() {
        return Arc::clone(t);
    }
    let table = Arc::new(PriceTable::default());
    publish_version(telemetry.registry(), None, table.version());
    *slot = Some(Arc::clone(&table));
    table
}

/// Installs the process-wide price table; `unitel_price_table_info{version}` is 1 for it (and 0
/// for the table it replaces).
pub fn set_price_table(table: PriceTable) {
    set_price_table_of(Telemetry::global(), table);
}

/// Installs `telemetry`'s price table ([`set_price_table`] for the process-wide one).
pub fn set_price_table_of(telemetry: &Telemetry, table: PriceTable) {
    let table = Arc::new(table);
    let settings = settings(telemetry);
    let mut slot = settings
        .table
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let old = slot.as_ref().map(|t| t.version().to_owned());
    publish_version(telemetry.registry(), old.as_deref(), table.version());
    *slot = Some(table);
}

fn publish_version(registry: &Registry, old: Option<&str>, new: &str) {
    let info = registry.gauge(&catalog::PRICE_TABLE_INFO);
    if let Some(old) = old.filter(|o| *o != new) {
        info.with_labels(&[old]).set(0.0);
    }
    info.with_labels(&[new]).set(1.0);
}

/// Installs the table of the file `path` (`None`: the built-in empty table) in `telemetry` and
/// publishes its version. Called by [`init`](crate::init()).
pub(crate) fn install_price_table(
    telemetry: &Telemetry,
    path: Option<&Path>,
) -> Result<(), PriceTableError> {
    match path {
        Some(p) => set_price_table_of(telemetry, PriceTable::load(p)?),
        None => {
            let _ = price_table_of(telemetry);
        }
    }
    Ok(())
}
