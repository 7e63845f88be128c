//! How a call ended, read from its return value by autoref-based dispatch: [`Probe`] and the
//! `Outcome*` / `Message*` traits pick the most specific impl for the value's type.

use std::fmt::Display;

use crate::instrument::{DEFAULT_ERROR_KIND, ErrorKind};

/// How an instrumented call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A value that is not an `Err`.
    Success,
    /// An `Err`.
    Error {
        /// The error's [`ErrorKind`], if it has one.
        kind: Option<&'static str>,
        /// `std::any::type_name` of the error.
        type_name: &'static str,
    },
}

impl Outcome {
    /// `error_type` label for metrics.
    #[must_use]
    pub fn metric_error_type(self) -> Option<&'static str> {
        match self {
            Self::Success => None,
            Self::Error { kind, .. } => Some(kind.unwrap_or(DEFAULT_ERROR_KIND)),
        }
    }

    /// `error.type` attribute for spans: the kind, else the error's type name.
    #[must_use]
    pub fn span_error_type(self) -> Option<&'static str> {
        match self {
            Self::Success => None,
            Self::Error { kind, type_name } => Some(kind.unwrap_or(type_name)),
        }
    }
}

/// Wraps a return value for autoref-based dispatch on its type (see the `Outcome*` traits).
#[derive(Debug)]
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// `Err` of an error with an [`ErrorKind`] (most specific: `&&Probe`).
pub trait OutcomeOfKindedError {
    /// The outcome.
    fn __unitel_outcome(&self) -> Outcome;
}
impl<T, E: ErrorKind> OutcomeOfKindedError for &&Probe<'_, Result<T, E>> {
    fn __unitel_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Error {
                kind: Some(e.error_kind()),
                type_name: std::any::type_name::<E>(),
            },
        }
    }
}

/// `Err` of any error (`&Probe`).
pub trait OutcomeOfError {
    /// The outcome.
    fn __unitel_outcome(&self) -> Outcome;
}
impl<T, E> OutcomeOfError for &Probe<'_, Result<T, E>> {
    fn __unitel_outcome(&self) -> Outcome {
        match self.0 {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Error {
                kind: None,
                type_name: std::any::type_name::<E>(),
            },
        }
    }
}

/// Any other value: success (`Probe`).
pub trait OutcomeOfValue {
    /// The outcome.
    fn __unitel_outcome(&self) -> Outcome;
}
impl<T: ?Sized> OutcomeOfValue for Probe<'_, T> {
    fn __unitel_outcome(&self) -> Outcome {
        Outcome::Success
    }
}

/// The message of an `Err` whose error is `Display` (`&Probe`).
pub trait MessageOfDisplayError {
    /// The message.
    fn __unitel_error_message(&self) -> Option<String>;
}
impl<T, E: Display> MessageOfDisplayError for &Probe<'_, Result<T, E>> {
    fn __unitel_error_message(&self) -> Option<String> {
        self.0.as_ref().err().map(ToString::to_string)
    }
}

/// No message (`Probe`).
pub trait MessageOfValue {
    /// The message.
    fn __unitel_error_message(&self) -> Option<String>;
}
impl<T: ?Sized> MessageOfValue for Probe<'_, T> {
    fn __unitel_error_message(&self) -> Option<String> {
        None
    }
}
