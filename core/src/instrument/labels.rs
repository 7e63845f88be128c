//! [`LabelValue`]: what a macro attribute's `labels(key = value)` accepts as a value.

use std::borrow::Cow;

/// A value that can be a metric label: a short name from a bounded set.
///
/// Implemented for strings and booleans. Implement it for your own enums so that
/// `labels(tier = user.tier())` in a macro attribute records `tier="pro"`:
///
/// ```
/// use std::borrow::Cow;
/// use unitel::instrument::LabelValue;
///
/// enum Tier { Free, Pro }
/// impl LabelValue for Tier {
///     fn label_value(&self) -> Cow<'_, str> {
///         Cow::Borrowed(match self {
///             Tier::Free => "free",
///             Tier::Pro => "pro",
///         })
///     }
/// }
/// assert_eq!(Tier::Pro.label_value(), "pro");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a metric label value",
    label = "label values must come from a bounded set of names",
    note = "pass a `&str` (e.g. `.as_str()`), a `bool`, or implement `unitel::instrument::LabelValue` for `{Self}`"
)]
pub trait LabelValue {
    /// The label value.
    fn label_value(&self) -> Cow<'_, str>;
}

impl LabelValue for str {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl LabelValue for String {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl LabelValue for Cow<'_, str> {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl LabelValue for bool {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(if *self { "true" } else { "false" })
    }
}
impl<T: LabelValue + ?Sized> LabelValue for &T {
    fn label_value(&self) -> Cow<'_, str> {
        (**self).label_value()
    }
}
