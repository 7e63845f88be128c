//! The shape of an instrumented body: the closure or async block around it keeps the
//! function's return type, and label values go through [`LabelValue`].

use std::borrow::Cow;
use std::future::Future;

use crate::instrument::LabelValue;

/// Calls `f`: gives the closure around a function body its return type.
#[inline(always)]
pub fn call<R, F: FnOnce() -> R>(f: F) -> R {
    f()
}

/// Gives the async block around a function body its output type.
#[inline(always)]
pub fn typed_future<R, F: Future<Output = R>>(f: F) -> F {
    f
}

/// The label value of `v`.
#[inline]
pub fn label_value<V: LabelValue + ?Sized>(v: &V) -> Cow<'_, str> {
    v.label_value()
}
