//! [`RouteCache`]: the route template actix's resource map gives a request path, remembered per
//! worker so that most requests skip the resource map before routing.
//!
//! The middleware needs the route when the request arrives (the in-flight gauge is per route),
//! before actix has routed it. Asking the resource map then
//! ([`HttpRequest::match_pattern`](actix_web::HttpRequest::match_pattern) before routing) runs
//! actix-router's regex captures over the registered resources and builds a `String`: about a
//! microsecond and two allocations per request. Two fixed tables avoid most of it:
//!
//! * **paths**: the answer depends on the path alone (the resource map is fixed once the `App`
//!   is built), so a path seen before is answered from a direct-mapped table of [`SLOTS`]
//!   entries (paths of at most [`MAX_CACHED_PATH`] bytes). Exact: no check needed.
//! * **shapes**: a path with id-like segments (any segment with a digit: `/items/42`,
//!   `/users/7f3c…`) has the shape of those segments blanked out (`/items/#`). A path not
//!   seen before but of a known shape is *predicted* to have that shape's route; the
//!   middleware checks the prediction against the route actix matched (cheap after routing)
//!   and corrects the request if it was wrong ([`unitel::http::server::ServerRequest::set_route`]);
//!   a shape predicted wrong once is never predicted again.
//!
//! Memory is bounded whatever the paths: a new entry replaces the one in its slot, so random
//! URLs cost a lookup in the resource map each, as they would without the tables, and never
//! grow them.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};

/// Entries per table and worker.
pub(crate) const SLOTS: usize = 512;

/// Longer paths are resolved every time and never stored.
pub(crate) const MAX_CACHED_PATH: usize = 256;

/// One worker's tables: path → route template (`None`: no resource matches the path), and
/// path shape → predicted route template.
pub(crate) struct RouteCache {
    hasher: foldhash::fast::RandomState,
    paths: RefCell<Box<[Option<CachedRoute>]>>,
    shapes: RefCell<Box<[Option<ShapeEntry>]>>,
}

struct CachedRoute {
    path: Box<str>,
    route: Option<String>,
}

enum ShapeEntry {
    /// Paths of this shape are predicted to have this route.
    Predict { shape: u64, route: String },
    /// A path of this shape was predicted wrong: resolve them all.
    Unreliable { shape: u64 },
}

/// What [`RouteCache::with_route`] knows of a path's route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteAnswer<'a> {
    /// The resource map's answer (`None`: no resource matches).
    Known(Option<&'a str>),
    /// Predicted from the path's shape; check it after routing, and on a mismatch call
    /// [`RouteCache::mispredicted`] with `shape`.
    Predicted { route: &'a str, shape: u64 },
}

impl std::fmt::Debug for RouteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteCache").finish_non_exhaustive()
    }
}

#[allow(clippy::cast_possible_truncation)] // only the low bits pick the slot
fn slot_of(hash: u64) -> usize {
    hash as usize % SLOTS
}

impl RouteCache {
    pub(crate) fn new() -> Self {
        Self {
            hasher: foldhash::fast::RandomState::default(),
            paths: RefCell::new((0..SLOTS).map(|_| None).collect()),
            shapes: RefCell::new((0..SLOTS).map(|_| None).collect()),
        }
    }

    /// Calls `with` with what is known of the route of `path`: the remembered answer, a
    /// prediction from its shape, or what `resolve` (the resource map) answers, remembered.
    pub(crate) fn with_route<R>(
        &self,
        path: &str,
        resolve: impl FnOnce() -> Option<String>,
        with: impl FnOnce(RouteAnswer<'_>) -> R,
    ) -> R {
        if path.len() > MAX_CACHED_PATH {
            return with(RouteAnswer::Known(resolve().as_deref()));
        }
        // Never contended (one worker, one request at a time in `call`); a re-entrant call
        // resolves without the tables rather than panic.
        let (Ok(mut paths), Ok(mut shapes)) =
            (self.paths.try_borrow_mut(), self.shapes.try_borrow_mut())
        else {
            return with(RouteAnswer::Known(resolve().as_deref()));
        };
        let slot = &mut paths[slot_of(self.hasher.hash_one(path))];
        if let Some(cached) = slot.as_ref().filter(|c| *c.path == *path) {
            return with(RouteAnswer::Known(cached.route.as_deref()));
        }
        let shape = self.shape_of(path);
        if let Some(shape) = shape
            && let Some(ShapeEntry::Predict { shape: s, route }) = &shapes[slot_of(shape)]
            && *s == shape
        {
            return with(RouteAnswer::Predicted { route, shape });
        }
        let cached = slot.insert(CachedRoute {
            path: path.into(),
            route: resolve(),
        });
        if let (Some(shape), Some(route)) = (shape, &cached.route) {
            let entry = &mut shapes[slot_of(shape)];
            let unreliable =
                matches!(entry, Some(ShapeEntry::Unreliable { shape: s }) if *s == shape);
            if !unreliable {
                *entry = Some(ShapeEntry::Predict {
                    shape,
                    route: route.clone(),
                });
            }
        }
        with(RouteAnswer::Known(cached.route.as_deref()))
    }

    /// A prediction for `shape` was wrong: paths of that shape are resolved from now on.
    pub(crate) fn mispredicted(&self, shape: u64) {
        if let Ok(mut shapes) = self.shapes.try_borrow_mut() {
            shapes[slot_of(shape)] = Some(ShapeEntry::Unreliable { shape });
        }
    }

    /// The hash of `path` with its id-like segments (those with an ASCII digit) blanked out,
    /// `None` when it has none (nothing to predict from).
    fn shape_of(&self, path: &str) -> Option<u64> {
        let mut hasher = self.hasher.build_hasher();
        let mut variable = false;
        for segment in path.split('/') {
            if segment.bytes().any(|b| b.is_ascii_digit()) {
                variable = true;
                hasher.write_u8(0);
            } else {
                hasher.write(segment.as_bytes());
                hasher.write_u8(b'/');
            }
        }
        variable.then(|| hasher.finish())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// A resource map with `/items/2024` (static, first) and `/items/{id}`.
    fn template(path: &str) -> Option<String> {
        match path {
            "/items/2024" => Some(path.to_owned()),
            p if p.starts_with("/items/") => Some("/items/{id}".to_owned()),
            _ => None,
        }
    }

    #[derive(Debug, PartialEq)]
    enum Owned {
        Known(Option<String>),
        Predicted(String),
    }

    fn answer(cache: &RouteCache, path: &str, calls: &Cell<u32>) -> (Owned, Option<u64>) {
        cache.with_route(
            path,
            || {
                calls.set(calls.get() + 1);
                template(path)
            },
            |a| match a {
                RouteAnswer::Known(r) => (Owned::Known(r.map(str::to_owned)), None),
                RouteAnswer::Predicted { route, shape } => {
                    (Owned::Predicted(route.to_owned()), Some(shape))
                }
            },
        )
    }

    #[test]
    fn a_path_is_resolved_once_and_then_remembered() {
        let cache = RouteCache::new();
        let calls = Cell::new(0);
        for _ in 0..3 {
            let (a, _) = answer(&cache, "/items/1", &calls);
            assert_eq!(a, Owned::Known(Some("/items/{id}".into())));
            let (a, _) = answer(&cache, "/nope", &calls);
            assert_eq!(a, Owned::Known(None));
        }
        assert_eq!(calls.get(), 2, "each path resolved once");
    }

    #[test]
    fn new_ids_are_predicted_from_the_shape_until_a_prediction_fails() {
        let cache = RouteCache::new();
        let calls = Cell::new(0);
        assert_eq!(
            answer(&cache, "/items/1", &calls).0,
            Owned::Known(Some("/items/{id}".into()))
        );
        for id in 2..100 {
            let (a, _) = answer(&cache, &format!("/items/{id}"), &calls);
            assert_eq!(a, Owned::Predicted("/items/{id}".into()));
        }
        assert_eq!(calls.get(), 1, "predicted paths are not resolved");
        // The static resource is predicted wrong; the middleware reports it.
        let (a, shape) = answer(&cache, "/items/2024", &calls);
        assert_eq!(a, Owned::Predicted("/items/{id}".into()));
        cache.mispredicted(shape.unwrap());
        // From then on the shape is resolved (and each path remembered).
        assert_eq!(
            answer(&cache, "/items/2024", &calls).0,
            Owned::Known(Some("/items/2024".into()))
        );
        assert_eq!(
            answer(&cache, "/items/500", &calls).0,
            Owned::Known(Some("/items/{id}".into()))
        );
        assert_eq!(calls.get(), 3);
        assert_eq!(
            answer(&cache, "/items/2024", &calls).0,
            Owned::Known(Some("/items/2024".into()))
        );
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn paths_without_an_id_or_without_a_route_predict_nothing() {
        let cache = RouteCache::new();
        let calls = Cell::new(0);
        answer(&cache, "/other/1", &calls);
        assert_eq!(answer(&cache, "/other/2", &calls).0, Owned::Known(None));
        answer(&cache, "/items/abc", &calls);
        assert_eq!(
            answer(&cache, "/items/def", &calls).0,
            Owned::Known(Some("/items/{id}".into()))
        );
        assert_eq!(calls.get(), 4);
    }

    #[test]
    fn any_number_of_paths_gives_the_resolved_answer_in_bounded_slots() {
        let cache = RouteCache::new();
        let calls = Cell::new(0);
        for round in 0..2 {
            for i in 0..(SLOTS * 4) {
                let path = format!("/x{i}/items/{i}");
                let (a, shape) = answer(&cache, &path, &calls);
                // One shape, but no route: nothing to predict, each path resolved.
                assert_eq!(a, Owned::Known(None), "round {round}, {path}");
                assert_eq!(shape, None);
                let path = format!("/items/abc{i}x");
                assert!(matches!(
                    answer(&cache, &path, &calls).0,
                    Owned::Known(Some(_)) | Owned::Predicted(_)
                ));
            }
        }
        assert_eq!(cache.paths.borrow().len(), SLOTS);
        assert_eq!(cache.shapes.borrow().len(), SLOTS);
    }

    #[test]
    fn long_paths_are_resolved_every_time_and_never_stored() {
        let cache = RouteCache::new();
        let long = format!("/items/{}", "a".repeat(MAX_CACHED_PATH));
        let calls = Cell::new(0);
        for _ in 0..2 {
            assert_eq!(
                answer(&cache, &long, &calls).0,
                Owned::Known(Some("/items/{id}".into()))
            );
        }
        assert_eq!(calls.get(), 2);
        assert_eq!(cache.paths.borrow().iter().flatten().count(), 0);
    }

    #[test]
    fn a_reentrant_call_resolves_without_the_tables() {
        let cache = RouteCache::new();
        let calls = Cell::new(0);
        let (outer, inner) = cache.with_route(
            "/items/1",
            || template("/items/1"),
            |a| (format!("{a:?}"), answer(&cache, "/items/1", &calls).0),
        );
        assert!(outer.contains("/items/{id}"), "{outer}");
        assert_eq!(inner, Owned::Known(Some("/items/{id}".into())));
        assert_eq!(calls.get(), 1);
    }
}
