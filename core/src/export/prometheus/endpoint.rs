//! The metrics endpoint: the bearer-token check, the response to `GET {path}` (shared with
//! the framework integrations) and the standalone listener.

use std::sync::Arc;

use super::format::{CONTENT_TYPE, render_registry};
use crate::registry::Registry;

/// Bearer-token check for a metrics endpoint, in time that does not depend on where the
/// presented token first differs.
///
/// ```
/// use unitel::prometheus::MetricsAuth;
///
/// let auth = MetricsAuth::new(Some("s3cret".to_owned()));
/// assert!(auth.allows(Some("Bearer s3cret")));
/// assert!(!auth.allows(Some("Bearer s3cre")));
/// assert!(!auth.allows(None));
/// assert!(MetricsAuth::new(None).allows(None));
/// ```
#[derive(Clone, Default)]
pub struct MetricsAuth {
    token: Option<Arc<[u8]>>,
}

impl std::fmt::Debug for MetricsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("MetricsAuth")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl MetricsAuth {
    /// No token means every request is allowed.
    #[must_use]
    pub fn new(token: Option<String>) -> Self {
        Self {
            token: token
                .filter(|t| !t.is_empty())
                .map(|t| Arc::from(t.into_bytes())),
        }
    }

    /// Whether a token is required.
    #[must_use]
    pub fn is_required(&self) -> bool {
        self.token.is_some()
    }

    /// Whether a request with this `Authorization` header value may read the metrics.
    #[must_use]
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let presented = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("")
            .as_bytes();
        constant_time_eq(presented, expected)
    }
}

fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    // Walk the whole presented value whatever its length, so the time reveals nothing about the
    // token; the length difference is folded into the result.
    let mut diff = u8::from(presented.len() != expected.len());
    for (i, p) in presented.iter().enumerate() {
        let e = expected
            .get(i % expected.len().max(1))
            .copied()
            .unwrap_or(0);
        diff |= p ^ e;
    }
    std::hint::black_box(diff) == 0
}

/// Serves `GET {path}` with the exposition until the task is dropped.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    path: String,
    auth: MetricsAuth,
    registry: Registry,
) {
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    let path: Arc<str> = path.into();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let path = Arc::clone(&path);
        let auth = auth.clone();
        let registry = registry.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let response = respond(&req, &path, &auth, &registry);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Builds the response of a metrics endpoint (shared with the framework integrations).
#[must_use]
pub fn respond<B>(
    req: &http::Request<B>,
    path: &str,
    auth: &MetricsAuth,
    registry: &Registry,
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    use http::{StatusCode, header};
    let status = |code: StatusCode, body: &'static str| {
        let mut r = http::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(
            body.as_bytes(),
        )));
        *r.status_mut() = code;
        r
    };
    if req.uri().path() != path {
        return status(StatusCode::NOT_FOUND, "not found\n");
    }
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !auth.allows(authorization) {
        let mut r = status(StatusCode::UNAUTHORIZED, "unauthorized\n");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    let mut r = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(
        render_registry(registry),
    )));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static(CONTENT_TYPE),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
    }
}
