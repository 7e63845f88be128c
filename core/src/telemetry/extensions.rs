//! Per-domain state kept in a [`Telemetry`](super::Telemetry), keyed by type.
//!
//! The `Telemetry` sits below the domains (HTTP, DB, GenAI, system) and knows none of their
//! types: each domain keeps its state (a price table, cached handles) here under a type of its
//! own, created on first use.

use std::any::{Any, TypeId};
use std::sync::{Arc, PoisonError, RwLock};

type Slot = (TypeId, Arc<dyn Any + Send + Sync>);

/// A small type map: a handful of entries, looked up by a linear scan under a read lock.
#[derive(Default)]
pub(crate) struct Extensions {
    slots: RwLock<Vec<Slot>>,
}

impl Extensions {
    /// The `T` of this instance, created with `T::default()` on first use.
    pub(crate) fn get_or_default<T>(&self) -> Arc<T>
    where
        T: Default + Send + Sync + 'static,
    {
        self.get_or_insert_with(T::default)
    }

    /// The `T` of this instance, created with `make` on first use.
    pub(crate) fn get_or_insert_with<T>(&self, make: impl FnOnce() -> T) -> Arc<T>
    where
        T: Send + Sync + 'static,
    {
        let id = TypeId::of::<T>();
        let find = |slots: &[Slot]| {
            slots
                .iter()
                .find(|(k, _)| *k == id)
                .and_then(|(_, v)| Arc::clone(v).downcast::<T>().ok())
        };
        if let Some(found) = find(&self.slots.read().unwrap_or_else(PoisonError::into_inner)) {
            return found;
        }
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = find(&slots) {
            return found;
        }
        let value = Arc::new(make());
        slots.push((id, Arc::clone(&value) as Arc<dyn Any + Send + Sync>));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Counter(std::sync::atomic::AtomicU32);

    #[test]
    fn one_value_per_type() {
        let ext = Extensions::default();
        ext.get_or_default::<Counter>()
            .0
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            ext.get_or_default::<Counter>()
                .0
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(*ext.get_or_insert_with(|| 7_u8), 7);
        assert_eq!(*ext.get_or_insert_with(|| 9_u8), 7);
    }
}
