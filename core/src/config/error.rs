//! The error every invalid setting produces.

/// A configuration value that is not allowed. Names the variable, the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value `{value}` for {variable}: expected {expected}")]
pub struct ConfigError {
    variable: &'static str,
    value: String,
    expected: String,
}

impl ConfigError {
    pub(super) fn new(variable: &'static str, value: &str, expected: impl Into<String>) -> Self {
        Self {
            variable,
            value: value.to_owned(),
            expected: expected.into(),
        }
    }

    /// The environment variable (or builder setting, spelled as its variable).
    #[must_use]
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// The rejected value.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What would have been accepted.
    #[must_use]
    pub fn expected(&self) -> &str {
        &self.expected
    }
}
