//! HTTP semantics shared by the server integrations (`unitel-axum`, `unitel-actix`) and the
//! client integration (`unitel-reqwest`): bounded method labels and OpenTelemetry HTTP
//! semantic-convention attributes, written once.

pub mod client;
pub mod server;

/// The `method` label of a request: the standard methods as themselves, anything else `_OTHER`
/// (OpenTelemetry HTTP semantic conventions), so the label set stays bounded.
///
/// ```
/// assert_eq!(unitel::http::method_label(&http::Method::GET), "GET");
/// assert_eq!(unitel::http::method_label(&"BREW".parse().unwrap()), "_OTHER");
/// ```
#[must_use]
pub fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::CONNECT => "CONNECT",
        http::Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

/// [`method_label`] for a method given as text, as frameworks on another `http` crate version
/// hand it over: the standard methods as themselves, anything else `_OTHER`.
///
/// ```
/// assert_eq!(unitel::http::method_label_from_str("DELETE"), "DELETE");
/// assert_eq!(unitel::http::method_label_from_str("get"), "_OTHER"); // methods are case-sensitive
/// ```
#[must_use]
pub fn method_label_from_str(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "_OTHER",
    }
}
