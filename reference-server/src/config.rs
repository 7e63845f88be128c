//! Settings of the reference server, from the environment, with embedded defaults so it runs on
//! a fresh machine with no other service.

use std::net::SocketAddr;

/// A setting that is not valid: names the variable, the value and what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("invalid value `{value}` for {variable}: expected {expected}")]
pub(crate) struct SettingError {
    variable: &'static str,
    value: String,
    expected: &'static str,
}

/// A remote OpenAI-compatible endpoint.
#[derive(Clone)]
pub(crate) struct RemoteEndpoint {
    /// Base URL, e.g. `https://api.openai.com/v1`.
    pub(crate) base_url: String,
    /// Bearer key, if any (never logged).
    pub(crate) api_key: Option<String>,
    /// Model name sent to the provider.
    pub(crate) model: String,
}

impl std::fmt::Debug for RemoteEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEndpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .finish()
    }
}

/// Everything the server reads at start-up.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    /// `BIND_ADDR` (default 127.0.0.1:8080).
    pub(crate) bind: SocketAddr,
    /// `DATABASE_URL` (default a local SQLite file created on first run).
    pub(crate) database_url: String,
    /// `LLM_BASE_URL`, `LLM_API_KEY`, `LLM_MODEL`: a remote chat model; unset = built-in.
    pub(crate) llm: Option<RemoteEndpoint>,
    /// `EMBEDDINGS_BASE_URL`, `EMBEDDINGS_MODEL` (key: `EMBEDDINGS_API_KEY` or `LLM_API_KEY`).
    pub(crate) embeddings: Option<RemoteEndpoint>,
    /// `MAX_BODY_BYTES` (default 1 MiB).
    pub(crate) max_body_bytes: usize,
    /// `DATABASE_ACQUIRE_TIMEOUT_MS` (default 30 s, sqlx's): how long a query waits for a
    /// pooled connection (while the database is unreachable, for a new one) before it fails.
    pub(crate) database_acquire_timeout: std::time::Duration,
}

impl ServerSettings {
    /// Reads the settings through `get` (the process environment in production).
    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bind = match get("BIND_ADDR") {
            Some(v) => v.parse().map_err(|_| SettingError {
                variable: "BIND_ADDR",
                value: v,
                expected: "an address such as 127.0.0.1:8080",
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let database_url =
            get("DATABASE_URL").unwrap_or_else(|| "sqlite://reference-server.db".to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(SettingError {
                variable: "DATABASE_URL",
                value: database_url,
                expected: "a sqlite:… or postgres://… URL",
            });
        }
        let remote = |base: &'static str,
                      key: Option<String>,
                      model: &'static str,
                      default_model: &str|
         -> Result<Option<RemoteEndpoint>, SettingError> {
            let Some(url) = get(base) else {
                return Ok(None);
            };
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(SettingError {
                    variable: base,
                    value: url,
                    expected: "an http:// or https:// URL",
                });
            }
            Ok(Some(RemoteEndpoint {
                base_url: url.trim_end_matches('/').to_owned(),
                api_key: key,
                model: get(model).unwrap_or_else(|| default_model.to_owned()),
            }))
        };
        let llm = remote(
            "LLM_BASE_URL",
            get("LLM_API_KEY"),
            "LLM_MODEL",
            "gpt-4o-mini",
        )?;
        let embeddings = remote(
            "EMBEDDINGS_BASE_URL",
            get("EMBEDDINGS_API_KEY").or_else(|| get("LLM_API_KEY")),
            "EMBEDDINGS_MODEL",
            "text-embedding-3-small",
        )?;
        let max_body_bytes = match get("MAX_BODY_BYTES") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1024..=64 * 1024 * 1024).contains(n))
                .ok_or(SettingError {
                    variable: "MAX_BODY_BYTES",
                    value: v,
                    expected: "a size in bytes from 1024 to 67108864",
                })?,
            None => 1024 * 1024,
        };
        let database_acquire_timeout = match get("DATABASE_ACQUIRE_TIMEOUT_MS") {
            Some(v) => v
                .parse()
                .ok()
                .filter(|ms| (1..=600_000).contains(ms))
                .map(std::time::Duration::from_millis)
                .ok_or(SettingError {
                    variable: "DATABASE_ACQUIRE_TIMEOUT_MS",
                    value: v,
                    expected: "milliseconds from 1 to 600000",
                })?,
            None => std::time::Duration::from_secs(30),
        };
        Ok(Self {
            bind,
            database_url,
            llm,
            embeddings,
            max_body_bytes,
            database_acquire_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_service() {
        let s = ServerSettings::from_lookup(|_| None).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert!(s.database_url.starts_with("sqlite:"));
        assert!(s.llm.is_none() && s.embeddings.is_none());
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (k, v) in [
            ("BIND_ADDR", "nope"),
            ("DATABASE_URL", "mysql://x"),
            ("LLM_BASE_URL", "ftp://x"),
            ("MAX_BODY_BYTES", "12"),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "0"),
        ] {
            let err = ServerSettings::from_lookup(|q| (q == k).then(|| v.to_owned())).unwrap_err();
            assert!(err.to_string().contains(k), "{err}");
        }
    }

    #[test]
    fn the_api_key_is_never_printed() {
        let s = ServerSettings::from_lookup(|k| match k {
            "LLM_BASE_URL" => Some("http://127.0.0.1:1/v1".into()),
            "LLM_API_KEY" => Some("sk-secret".into()),
            _ => None,
        })
        .unwrap();
        assert!(!format!("{s:?}").contains("sk-secret"));
    }
}
