//! `unitel_sqlx::Error`: why an instrumented pool could not be set up.

/// Why an [`InstrumentedPool`](crate::InstrumentedPool) could not be built or connected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pool name is not a valid `pool` label value.
    #[error("invalid pool name `{name}`: {reason}")]
    InvalidPoolName {
        /// The name given.
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// Connecting the underlying sqlx pool failed.
    #[error("cannot connect the database pool: {0}")]
    Connect(#[source] sqlx::Error),
}

/// Longest accepted pool name, in bytes.
pub const MAX_POOL_NAME_LEN: usize = 64;

pub(crate) fn validate_pool_name(name: &str) -> Result<(), Error> {
    let invalid = |reason| {
        Err(Error::InvalidPoolName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name.len() > MAX_POOL_NAME_LEN {
        return invalid("it is longer than 64 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return invalid("use ASCII letters, digits, `_`, `-` and `.`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_names() {
        assert!(validate_pool_name("main").is_ok());
        assert!(validate_pool_name("replica-2.eu_west").is_ok());
        for bad in ["", "with space", "ünï", &"x".repeat(65)] {
            let err = validate_pool_name(bad).unwrap_err();
            assert!(err.to_string().contains("invalid pool name"), "{err}");
        }
    }
}
