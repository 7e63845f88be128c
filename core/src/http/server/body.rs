//! Request and response body facts the integrations need: whether the request body failed to
//! arrive during a poll, whether a response has a body, the protocol version label.

thread_local! {
    /// Set by [`request_body_failed`] while [`watch_request_body`] runs on this thread.
    static REQUEST_BODY_FAILED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `poll` (one poll of a handler's future) and says whether the request body failed to
/// arrive meanwhile: the integration's request-body wrapper calls [`request_body_failed`] when
/// the transport yields an error (the client disconnected or reset the stream mid-upload).
/// Extractors read the body from inside the handler's future, on the polling thread, so a
/// thread-local flag carries the news without an allocation per request. Nests: an outer
/// watch's state is restored afterwards.
///
/// A request whose body failed is recorded as cancelled (dropping its [`ServerRequest`]),
/// whatever the handler answers: nobody receives that answer.
///
/// [`ServerRequest`]: super::ServerRequest
///
/// ```
/// use unitel::http::server::{request_body_failed, watch_request_body};
///
/// let ((), failed) = watch_request_body(|| request_body_failed());
/// assert!(failed);
/// let (answer, failed) = watch_request_body(|| 42);
/// assert_eq!((answer, failed), (42, false));
/// ```
pub fn watch_request_body<T>(poll: impl FnOnce() -> T) -> (T, bool) {
    let outer = REQUEST_BODY_FAILED.with(|f| f.replace(false));
    let polled = poll();
    let failed = REQUEST_BODY_FAILED.with(|f| f.replace(outer));
    (polled, failed)
}

/// Notes, for the enclosing [`watch_request_body`], that the request body failed to arrive.
/// Outside a watch it has no effect.
pub fn request_body_failed() {
    REQUEST_BODY_FAILED.with(|f| f.set(true));
}

/// Whether a response to `method` with `status` carries a body on the wire. When it does not
/// (HEAD, 1xx, 204, 304) servers never poll the body, so the request is complete with the
/// headers.
///
/// ```
/// use unitel::http::server::response_has_body;
/// assert!(response_has_body("GET", 200));
/// assert!(!response_has_body("HEAD", 200));
/// assert!(!response_has_body("GET", 204));
/// ```
#[must_use]
pub fn response_has_body(method: &str, status: u16) -> bool {
    method != "HEAD" && !(100..200).contains(&status) && status != 204 && status != 304
}

/// `network.protocol.version` of an HTTP version (`"1.1"`, `"2"`).
///
/// ```
/// assert_eq!(unitel::http::server::protocol_version(http::Version::HTTP_11), "1.1");
/// ```
#[must_use]
pub fn protocol_version(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "_OTHER",
    }
}
