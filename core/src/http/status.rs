//! Bounded label values of HTTP requests: methods (the standard set, else `_OTHER`) and
//! status codes (a static table, no allocation).

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

/// Label value for anything outside a bounded set (methods, status codes).
const OTHER: &str = "_OTHER";

const fn status_digits() -> [u8; 3000] {
    let mut table = [0u8; 3000];
    let mut code = 0;
    while code < 1000 {
        // Each value is below 10 after the division/modulo, so the casts cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        {
            table[3 * code] = b'0' + (code / 100) as u8;
            table[3 * code + 1] = b'0' + (code / 10 % 10) as u8;
            table[3 * code + 2] = b'0' + (code % 10) as u8;
        }
        code += 1;
    }
    table
}

const STATUS_DIGITS: [u8; 3000] = status_digits();
/// "000001002…999": the status label of code `c` is `STATUS_TEXT[3c..3c + 3]`.
static STATUS_TEXT: &str = match std::str::from_utf8(&STATUS_DIGITS) {
    Ok(s) => s,
    Err(_) => "",
};

/// The `status` label of a status code, from a static table (no allocation); `"_OTHER"` for
/// values outside 100–999.
///
/// ```
/// assert_eq!(unitel::http::status_label(404), "404");
/// assert_eq!(unitel::http::status_label(42), "_OTHER");
/// ```
#[must_use]
pub fn status_label(code: u16) -> &'static str {
    let i = usize::from(code);
    if (100..1000).contains(&i) {
        STATUS_TEXT.get(3 * i..3 * i + 3).unwrap_or(OTHER)
    } else {
        OTHER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_cover_every_code() {
        for code in 100..1000u16 {
            assert_eq!(status_label(code), code.to_string());
        }
        assert_eq!(status_label(0), "_OTHER");
        assert_eq!(status_label(1000), "_OTHER");
    }
}
