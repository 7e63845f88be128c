//! `db.query.text`: [`sanitize_query`] replaces every literal with `?` and drops comments;
//! [`query_text`] applies a [`QueryTextMode`] and a length cap.

use super::lexer::{Lexer, TokenKind};

/// How much of a statement goes into `db.query.text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum QueryTextMode {
    /// No `db.query.text` attribute.
    Off,
    /// Literals replaced by `?` and comments removed (the default): safe to export.
    #[default]
    Sanitized,
    /// The statement as written. Literals may carry personal data or secrets: opt in only
    /// when every statement uses bind parameters.
    Full,
}

/// Default cap on the length of `db.query.text`, in bytes.
pub const DEFAULT_MAX_QUERY_TEXT_LEN: usize = 2048;

/// `sql` with every literal replaced by `?` and every comment removed; everything else
/// (keywords, identifiers, operators, `$1`/`?` parameters, whitespace) is kept as written,
/// except leading and trailing whitespace and the whitespace around a removed comment, which
/// collapse.
///
/// Literals are single-quoted strings (with `''` escapes; `E'…'` with backslash escapes too),
/// `B'…'`/`X'…'`/`N'…'`/`U&'…'` strings, dollar-quoted bodies (`$$…$$`, `$tag$…$tag$`) and
/// numbers. An unterminated literal or comment runs to the end of the input, so its content
/// never leaks. Linear in `sql.len()`; never panics.
///
/// ```
/// use unitel::db::sanitize_query;
///
/// assert_eq!(
///     sanitize_query("INSERT INTO t (a, b) VALUES ('it''s', $$body$$) -- secret"),
///     "INSERT INTO t (a, b) VALUES (?, ?)"
/// );
/// assert_eq!(sanitize_query("SELECT * FROM t WHERE id = $1"), "SELECT * FROM t WHERE id = $1");
/// ```
#[must_use]
pub fn sanitize_query(sql: &str) -> String {
    sanitize_query_bounded(sql, usize::MAX)
}

/// [`sanitize_query`] that stops once the output reaches `max_len` bytes (cut on a `char`
/// boundary). The work done is proportional to the input consumed, so a cap also bounds the
/// cost of huge statements.
///
/// ```
/// let long = format!("SELECT {} FROM t", "a, ".repeat(1000));
/// assert!(unitel::db::sanitize_query_bounded(&long, 64).len() <= 64);
/// ```
#[must_use]
pub fn sanitize_query_bounded(sql: &str, max_len: usize) -> String {
    let mut out = String::with_capacity(sql.len().min(max_len).min(64 * 1024));
    for t in Lexer::new(sql) {
        if out.len() >= max_len {
            break;
        }
        match t.kind {
            TokenKind::Literal => out.push('?'),
            TokenKind::Comment => {
                if !out.is_empty() && !out.ends_with(|c: char| c.is_ascii_whitespace()) {
                    out.push(' ');
                }
            }
            // Leading whitespace, and whitespace next to a removed comment, collapse.
            TokenKind::Space
                if out.is_empty() || out.ends_with(|c: char| c.is_ascii_whitespace()) => {}
            _ => out.push_str(&sql[t.start..t.end]),
        }
    }
    truncate_on_char_boundary(&mut out, max_len);
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

/// Truncates `text` to at most `max_len` bytes, on a `char` boundary.
fn truncate_on_char_boundary(text: &mut String, max_len: usize) {
    if text.len() > max_len {
        let cut = text.floor_char_boundary(max_len);
        text.truncate(cut);
    }
}

/// The text for `db.query.text` under `mode`, at most `max_len` bytes; `None` for
/// [`QueryTextMode::Off`].
#[must_use]
pub fn query_text(sql: &str, mode: QueryTextMode, max_len: usize) -> Option<String> {
    match mode {
        QueryTextMode::Off => None,
        QueryTextMode::Sanitized => Some(sanitize_query_bounded(sql, max_len)),
        QueryTextMode::Full => {
            let mut text = sql
                .get(..sql.floor_char_boundary(max_len))
                .unwrap_or(sql)
                .to_owned();
            truncate_on_char_boundary(&mut text, max_len);
            Some(text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizer_replaces_every_literal() {
        let cases: &[(&str, &str)] = &[
            (
                "SELECT 'a' , 1, 2.5, .5, 1e-3, 0x1F",
                "SELECT ? , ?, ?, ?, ?, ?",
            ),
            ("SELECT 'it''s'", "SELECT ?"),
            (r"SELECT E'it\'s \\ x'", "SELECT ?"),
            ("SELECT $$ a 'b' $$, $tag$ x $$ y $tag$", "SELECT ?, ?"),
            (
                "SELECT B'0101', X'ff', N'nat', U&'d\\0061t'",
                "SELECT ?, ?, ?, ?",
            ),
            (
                "SELECT \"col'x\" FROM t1 WHERE c2 = $1 AND c3 = ?",
                "SELECT \"col'x\" FROM t1 WHERE c2 = $1 AND c3 = ?",
            ),
            ("SELECT 1 -- trailing 'secret'\n FROM t", "SELECT ? FROM t"),
            ("SELECT /* a /* nested */ 'x' */ 2", "SELECT ?"),
            ("SELECT 'unterminated", "SELECT ?"),
            ("SELECT $$unterminated", "SELECT ?"),
            ("SELECT /* unterminated", "SELECT"),
            (
                "SELECT 'ünïcødé ✓', name FROM café",
                "SELECT ?, name FROM café",
            ),
            ("SELECT '2024-01-01'::date", "SELECT ?::date"),
            ("SELECT a$1 FROM t", "SELECT a$1 FROM t"),
            ("SELECT $", "SELECT $"),
        ];
        for (sql, want) in cases {
            assert_eq!(sanitize_query(sql), *want, "{sql}");
        }
    }

    #[test]
    fn bounded_sanitizer_cuts_on_char_boundaries() {
        let sql = format!("SELECT {} FROM t", "é".repeat(100));
        for max in 0..60 {
            let s = sanitize_query_bounded(&sql, max);
            assert!(s.len() <= max, "{max}: {s}");
        }
        assert_eq!(query_text("SELECT 'x'", QueryTextMode::Off, 100), None);
        assert_eq!(
            query_text("SELECT 'x'", QueryTextMode::Full, 100).as_deref(),
            Some("SELECT 'x'")
        );
        assert_eq!(
            query_text("SELECT 'é'", QueryTextMode::Full, 9).as_deref(),
            Some("SELECT '")
        );
    }

    #[test]
    fn huge_statements() {
        let big_literal = format!("INSERT INTO blobs VALUES ('{}')", "x".repeat(100 * 1024));
        assert_eq!(sanitize_query(&big_literal), "INSERT INTO blobs VALUES (?)");
        let many = format!("SELECT {} 1", "1, ".repeat(40 * 1024));
        assert_eq!(sanitize_query(&many).len(), many.len());
        assert!(!sanitize_query(&many).contains('1'));
        let dollars = "$a$".repeat(40 * 1024);
        let _ = sanitize_query(&dollars);
        let comments = "/*".repeat(50 * 1024);
        assert_eq!(sanitize_query(&comments), "");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;
        use crate::db::StatementInfo;

        /// SQL-ish text: keywords, quotes, comment openers, dollars, unicode, anything.
        fn sqlish() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("SELECT ".to_owned()),
                Just("FROM ".to_owned()),
                Just("INSERT INTO ".to_owned()),
                Just("'".to_owned()),
                Just("''".to_owned()),
                Just("\"".to_owned()),
                Just("E'".to_owned()),
                Just("\\".to_owned()),
                Just("$$".to_owned()),
                Just("$a$".to_owned()),
                Just("$1".to_owned()),
                Just("--".to_owned()),
                Just("/*".to_owned()),
                Just("*/".to_owned()),
                Just("(".to_owned()),
                Just(")".to_owned()),
                Just("\n".to_owned()),
                Just("1.5e-3".to_owned()),
                Just("é✓".to_owned()),
                any::<String>(),
            ];
            proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn arbitrary_text_never_panics_and_never_grows(sql in any::<String>()) {
                let clean = sanitize_query(&sql);
                prop_assert!(clean.len() <= sql.len());
                let info = StatementInfo::parse(&sql);
                if let Some(table) = info.collection {
                    prop_assert!(sql.contains(table));
                }
            }

            #[test]
            fn sqlish_text_never_panics(sql in sqlish(), max in 0usize..64) {
                let clean = sanitize_query(&sql);
                prop_assert!(clean.len() <= sql.len());
                prop_assert!(sanitize_query_bounded(&sql, max).len() <= max);
                let _ = StatementInfo::parse(&sql).span_name();
                let _ = query_text(&sql, QueryTextMode::Full, max);
            }

            #[test]
            fn string_literals_never_leak(
                prefix in "(SELECT|UPDATE|DELETE|INSERT)[ a-z_=(,]{0,20}",
                secret in "[A-Za-z0-9]{12,24}",
                noise in "[ a-z'\\\\$-]{0,10}",
                quoting in 0usize..4,
            ) {
                let literal = match quoting {
                    0 => format!("'{secret}{}'", noise.replace('\'', "''")),
                    1 => format!("E'{secret}{}'", noise.replace('\\', "\\\\").replace('\'', "\\'")),
                    2 => format!("$q${secret}{noise}$q$"),
                    _ => format!("'{secret}"),
                };
                let sql = format!("{prefix} {literal} AND x = 1");
                let clean = sanitize_query(&sql);
                prop_assert!(!clean.contains(&secret), "{sql:?} -> {clean:?}");
            }
        }
    }
}
