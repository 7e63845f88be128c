//! Parsing of single variable values; every error names the variable.

use super::error::ConfigError;

pub(super) fn parse_bool(variable: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(
            variable,
            v,
            "true or false (also 1/0, yes/no, on/off)",
        )),
    }
}

pub(super) fn parse_ratio(variable: &'static str, v: &str) -> Result<f64, ConfigError> {
    match v.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(ConfigError::new(variable, v, "a number between 0 and 1")),
    }
}

pub(super) fn parse_positive(variable: &'static str, v: &str) -> Result<u64, ConfigError> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::new(
            variable,
            v,
            "a whole number of at least 1",
        )),
    }
}

pub(super) fn parse_endpoint(variable: &'static str, v: &str) -> Result<String, ConfigError> {
    let expected = "an http:// or https:// URL such as http://localhost:4317";
    let uri = v
        .parse::<http::Uri>()
        .map_err(|_| ConfigError::new(variable, v, expected))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(h)) if !h.is_empty() => {
            Ok(v.trim_end_matches('/').to_owned())
        }
        _ => Err(ConfigError::new(variable, v, expected)),
    }
}

pub(super) fn parse_list<T: PartialEq>(
    variable: &'static str,
    v: &str,
    item: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<Vec<T>, ConfigError> {
    let mut out = Vec::new();
    let items: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items == ["none"] {
        return Ok(out);
    }
    for raw in items {
        let parsed = item(&raw.to_ascii_lowercase())
            .ok_or_else(|| ConfigError::new(variable, raw, expected))?;
        if !out.contains(&parsed) {
            out.push(parsed);
        }
    }
    Ok(out)
}

pub(super) fn parse_resource_attributes(v: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for pair in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((k, val)) = pair.split_once('=') else {
            return Err(ConfigError::new(
                "OTEL_RESOURCE_ATTRIBUTES",
                pair,
                "comma-separated key=value pairs",
            ));
        };
        let (k, val) = (percent_decode(k.trim()), percent_decode(val.trim()));
        if k.is_empty() {
            return Err(ConfigError::new(
                "OTEL_RESOURCE_ATTRIBUTES",
                pair,
                "a non-empty key before `=`",
            ));
        }
        out.push((k, val));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let (b'%', Some(h), Some(l)) = (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
