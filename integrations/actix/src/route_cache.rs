//! [`RouteCache`]: the route template actix's resource map gives a request path, remembered per
//! worker so a path seen again skips the resource map.
//!
//! The middleware needs the route when the request arrives (the in-flight gauge and the span
//! are per route), before actix has routed it. Asking the resource map then
//! ([`HttpRequest::match_pattern`](actix_web::HttpRequest::match_pattern) before routing) runs
//! actix-router's regex captures over the registered resources and builds a `String`: about a
//! microsecond and two allocations per request. The answer depends on the path alone (the
//! resource map is fixed once the `App` is built; guards play no part in it), so it can be
//! remembered: a direct-mapped table of [`SLOTS`] entries, each holding one path (at most
//! [`MAX_CACHED_PATH`] bytes) and its template. Memory is bounded whatever the paths: a new path
//! replaces the entry in its slot, so random URLs cost a lookup in the resource map each, as
//! they would without the cache, and never grow the table.

use std::cell::RefCell;
use std::hash::BuildHasher;

/// Entries per worker.
pub(crate) const SLOTS: usize = 512;

/// Longer paths are resolved every time and never stored.
pub(crate) const MAX_CACHED_PATH: usize = 256;

/// One worker's table of path → route template (`None`: no resource matches the path).
pub(crate) struct RouteCache {
    hasher: foldhash::fast::RandomState,
    slots: RefCell<Box<[Option<CachedRoute>]>>,
}

struct CachedRoute {
    path: Box<str>,
    route: Option<String>,
}

impl std::fmt::Debug for RouteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteCache").finish_non_exhaustive()
    }
}

impl RouteCache {
    pub(crate) fn new() -> Self {
        Self {
            hasher: foldhash::fast::RandomState::default(),
            slots: RefCell::new((0..SLOTS).map(|_| None).collect()),
        }
    }

    /// Calls `with` with the route template of `path`: the remembered one, or what `resolve`
    /// answers (then remembered in place of the slot's previous path).
    pub(crate) fn with_route<R>(
        &self,
        path: &str,
        resolve: impl FnOnce() -> Option<String>,
        with: impl FnOnce(Option<&str>) -> R,
    ) -> R {
        if path.len() > MAX_CACHED_PATH {
            return with(resolve().as_deref());
        }
        // Never contended (one worker, one request at a time in `call`); a re-entrant call
        // resolves without the table rather than panic.
        let Ok(mut slots) = self.slots.try_borrow_mut() else {
            return with(resolve().as_deref());
        };
        #[allow(clippy::cast_possible_truncation)] // only the low bits pick the slot
        let index = self.hasher.hash_one(path) as usize % SLOTS;
        let slot = &mut slots[index];
        let cached = match slot {
            Some(cached) if *cached.path == *path => cached,
            _ => slot.insert(CachedRoute {
                path: path.into(),
                route: resolve(),
            }),
        };
        with(cached.route.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn template(path: &str) -> Option<String> {
        path.strip_prefix("/items/")
            .map(|_| "/items/{id}".to_owned())
    }

    #[test]
    fn a_path_is_resolved_once_and_then_remembered() {
        let cache = RouteCache::new();
        let calls = Cell::new(0);
        let resolve = |path: &str| {
            calls.set(calls.get() + 1);
            template(path)
        };
        for _ in 0..3 {
            let route =
                cache.with_route("/items/1", || resolve("/items/1"), |r| r.map(str::to_owned));
            assert_eq!(route.as_deref(), Some("/items/{id}"));
            let route = cache.with_route("/nope", || resolve("/nope"), |r| r.map(str::to_owned));
            assert_eq!(route, None);
        }
        assert_eq!(calls.get(), 2, "each path resolved once");
    }

    #[test]
    fn any_number_of_paths_gives_the_resolved_answer_in_bounded_slots() {
        let cache = RouteCache::new();
        for round in 0..2 {
            for i in 0..(SLOTS * 4) {
                let path = format!("/items/{i}");
                let route = cache.with_route(&path, || template(&path), |r| r.map(str::to_owned));
                assert_eq!(
                    route.as_deref(),
                    Some("/items/{id}"),
                    "round {round}, {path}"
                );
                let other = format!("/x/{i}");
                let route = cache.with_route(&other, || template(&other), |r| r.map(str::to_owned));
                assert_eq!(route, None);
            }
        }
        assert_eq!(cache.slots.borrow().len(), SLOTS);
        let stored = cache.slots.borrow().iter().flatten().count();
        assert!(stored <= SLOTS);
    }

    #[test]
    fn long_paths_are_resolved_every_time_and_never_stored() {
        let cache = RouteCache::new();
        let long = format!("/items/{}", "a".repeat(MAX_CACHED_PATH));
        let calls = Cell::new(0);
        for _ in 0..2 {
            cache.with_route(
                &long,
                || {
                    calls.set(calls.get() + 1);
                    template(&long)
                },
                |r| assert_eq!(r, Some("/items/{id}")),
            );
        }
        assert_eq!(calls.get(), 2);
        assert_eq!(cache.slots.borrow().iter().flatten().count(), 0);
    }

    #[test]
    fn a_reentrant_call_resolves_without_the_table() {
        let cache = RouteCache::new();
        let outer = cache.with_route(
            "/items/1",
            || template("/items/1"),
            |r| {
                let inner = cache.with_route(
                    "/items/2",
                    || template("/items/2"),
                    |r| r.map(str::to_owned),
                );
                (r.map(str::to_owned), inner)
            },
        );
        assert_eq!(outer.0.as_deref(), Some("/items/{id}"));
        assert_eq!(outer.1.as_deref(), Some("/items/{id}"));
    }
}
