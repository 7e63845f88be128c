//! Database client semantics shared by every database integration (`unitel-sqlx` today).
//!
//! * [`StatementInfo::parse`]: a statement's operation (its leading keyword, a bounded
//!   [`DbOperation`]) and the table it works on, found by a small lexer without a full SQL
//!   parser. The operation is a metric label; the table only names spans.
//! * [`sanitize_query`]: the statement with every literal (strings, numbers, dollar-quoted
//!   bodies) replaced by `?` and comments removed, for `db.query.text`.
//! * [`DbClientMetrics`] and [`DbPoolMetrics`]: typed handles on the catalog's `db_*` families.
//! * [`query_span`] and friends: the OpenTelemetry database client span.
//!
//! Every function here runs in time linear in the statement's length, allocates at most the
//! output, and never panics, whatever the input (unterminated quotes or comments, unicode,
//! statements of megabytes).
//!
//! ```
//! use unitel::db::{DbOperation, StatementInfo, sanitize_query};
//!
//! let sql = "/* app */ SELECT id FROM public.users WHERE email = 'a@b.c' AND age > 42";
//! let info = StatementInfo::parse(sql);
//! assert_eq!(info.operation, DbOperation::Select);
//! assert_eq!(info.collection, Some("public.users"));
//! assert_eq!(info.span_name(), "SELECT public.users");
//! assert_eq!(
//!     sanitize_query(sql),
//!     "SELECT id FROM public.users WHERE email = ? AND age > ?"
//! );
//! ```

use std::sync::OnceLock;
use std::time::Duration;

use crate::catalog;
use crate::registry::{Counter, CounterFamily, Gauge, Histogram, HistogramFamily, Registry};
use crate::telemetry::Telemetry;

// --- operations ---------------------------------------------------------------------------------

/// The operation of a SQL statement: its leading keyword, from a fixed set, so it can be a
/// metric label. Synonyms map to one value (`START TRANSACTION` is [`Begin`](Self::Begin),
/// `END` is [`Commit`](Self::Commit), `ABORT` is [`Rollback`](Self::Rollback)); anything else
/// is [`Other`](Self::Other).
///
/// ```
/// use unitel::db::DbOperation;
///
/// assert_eq!(DbOperation::of("  -- note\n insert into t values (1)"), DbOperation::Insert);
/// assert_eq!(DbOperation::of("START TRANSACTION"), DbOperation::Begin);
/// assert_eq!(DbOperation::of("frobnicate"), DbOperation::Other);
/// assert_eq!(DbOperation::Select.as_str(), "SELECT");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DbOperation {
    /// `SELECT`
    Select,
    /// `INSERT`
    Insert,
    /// `UPDATE`
    Update,
    /// `DELETE`
    Delete,
    /// `MERGE`
    Merge,
    /// `REPLACE` (MySQL, SQLite)
    Replace,
    /// `WITH` (a statement starting with common table expressions)
    With,
    /// `VALUES`
    Values,
    /// `BEGIN`, `START TRANSACTION`
    Begin,
    /// `COMMIT`, `END`
    Commit,
    /// `ROLLBACK`, `ABORT`
    Rollback,
    /// `SAVEPOINT`
    Savepoint,
    /// `RELEASE` (a savepoint)
    Release,
    /// `CREATE`
    Create,
    /// `ALTER`
    Alter,
    /// `DROP`
    Drop,
    /// `TRUNCATE`
    Truncate,
    /// `COPY`
    Copy,
    /// `CALL`
    Call,
    /// `EXPLAIN`
    Explain,
    /// `SET`
    Set,
    /// `SHOW`
    Show,
    /// `PRAGMA` (SQLite)
    Pragma,
    /// `VACUUM`
    Vacuum,
    /// `ANALYZE`
    Analyze,
    /// `GRANT`
    Grant,
    /// `REVOKE`
    Revoke,
    /// `LOCK`
    Lock,
    /// `LISTEN`
    Listen,
    /// `NOTIFY`
    Notify,
    /// Anything else, including an empty statement.
    Other,
}

impl DbOperation {
    /// Every operation, in label order.
    pub const ALL: [Self; 31] = [
        Self::Select,
        Self::Insert,
        Self::Update,
        Self::Delete,
        Self::Merge,
        Self::Replace,
        Self::With,
        Self::Values,
        Self::Begin,
        Self::Commit,
        Self::Rollback,
        Self::Savepoint,
        Self::Release,
        Self::Create,
        Self::Alter,
        Self::Drop,
        Self::Truncate,
        Self::Copy,
        Self::Call,
        Self::Explain,
        Self::Set,
        Self::Show,
        Self::Pragma,
        Self::Vacuum,
        Self::Analyze,
        Self::Grant,
        Self::Revoke,
        Self::Lock,
        Self::Listen,
        Self::Notify,
        Self::Other,
    ];

    /// The label value (and `db.operation.name`): the keyword in upper case, or `OTHER`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Select => "SELECT",
            Self::Insert => "INSERT",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Merge => "MERGE",
            Self::Replace => "REPLACE",
            Self::With => "WITH",
            Self::Values => "VALUES",
            Self::Begin => "BEGIN",
            Self::Commit => "COMMIT",
            Self::Rollback => "ROLLBACK",
            Self::Savepoint => "SAVEPOINT",
            Self::Release => "RELEASE",
            Self::Create => "CREATE",
            Self::Alter => "ALTER",
            Self::Drop => "DROP",
            Self::Truncate => "TRUNCATE",
            Self::Copy => "COPY",
            Self::Call => "CALL",
            Self::Explain => "EXPLAIN",
            Self::Set => "SET",
            Self::Show => "SHOW",
            Self::Pragma => "PRAGMA",
            Self::Vacuum => "VACUUM",
            Self::Analyze => "ANALYZE",
            Self::Grant => "GRANT",
            Self::Revoke => "REVOKE",
            Self::Lock => "LOCK",
            Self::Listen => "LISTEN",
            Self::Notify => "NOTIFY",
            Self::Other => "OTHER",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }

    /// The operation of a keyword (case-insensitive); [`Other`](Self::Other) if unknown.
    #[must_use]
    pub fn from_keyword(word: &str) -> Self {
        const KEYWORDS: &[(&str, DbOperation)] = &[
            ("SELECT", DbOperation::Select),
            ("INSERT", DbOperation::Insert),
            ("UPDATE", DbOperation::Update),
            ("DELETE", DbOperation::Delete),
            ("MERGE", DbOperation::Merge),
            ("REPLACE", DbOperation::Replace),
            ("WITH", DbOperation::With),
            ("VALUES", DbOperation::Values),
            ("BEGIN", DbOperation::Begin),
            ("START", DbOperation::Begin),
            ("COMMIT", DbOperation::Commit),
            ("END", DbOperation::Commit),
            ("ROLLBACK", DbOperation::Rollback),
            ("ABORT", DbOperation::Rollback),
            ("SAVEPOINT", DbOperation::Savepoint),
            ("RELEASE", DbOperation::Release),
            ("CREATE", DbOperation::Create),
            ("ALTER", DbOperation::Alter),
            ("DROP", DbOperation::Drop),
            ("TRUNCATE", DbOperation::Truncate),
            ("COPY", DbOperation::Copy),
            ("CALL", DbOperation::Call),
            ("EXPLAIN", DbOperation::Explain),
            ("SET", DbOperation::Set),
            ("SHOW", DbOperation::Show),
            ("PRAGMA", DbOperation::Pragma),
            ("VACUUM", DbOperation::Vacuum),
            ("ANALYZE", DbOperation::Analyze),
            ("ANALYSE", DbOperation::Analyze),
            ("GRANT", DbOperation::Grant),
            ("REVOKE", DbOperation::Revoke),
            ("LOCK", DbOperation::Lock),
            ("LISTEN", DbOperation::Listen),
            ("NOTIFY", DbOperation::Notify),
        ];
        KEYWORDS
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(word))
            .map_or(Self::Other, |&(_, op)| op)
    }

    /// The operation of a statement: its first keyword after leading whitespace, comments and
    /// opening parentheses.
    #[must_use]
    pub fn of(sql: &str) -> Self {
        StatementInfo::parse(sql).operation
    }
}

impl std::fmt::Display for DbOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// --- lexer --------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    /// Unquoted word: keyword or identifier.
    Word,
    /// `"quoted identifier"` or `` `quoted identifier` ``.
    QuotedIdent,
    /// String, number, bit/hex string or dollar-quoted body.
    Literal,
    /// `$1` or `?`.
    Param,
    /// `-- …` or `/* … */`.
    Comment,
    /// Whitespace.
    Space,
    /// Any other character.
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
}

/// A linear-time SQL lexer over bytes. Tokens always start and end on `char` boundaries: every
/// delimiter is ASCII and non-ASCII bytes are only ever consumed as a whole run.
struct Lexer<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

const fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

const fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl<'a> Lexer<'a> {
    fn new(sql: &'a str) -> Self {
        Self {
            sql,
            bytes: sql.as_bytes(),
            pos: 0,
        }
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    /// End of a quoted run starting at `start` (on the opening quote): doubled quotes escape,
    /// and with `backslash` a backslash escapes the next byte. Unterminated runs end the input.
    fn quoted_end(&self, start: usize, quote: u8, backslash: bool) -> usize {
        let mut i = start + 1;
        while let Some(b) = self.at(i) {
            if backslash && b == b'\\' {
                i += 2;
            } else if b == quote {
                if self.at(i + 1) == Some(quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            } else {
                i += 1;
            }
        }
        self.bytes.len()
    }

    /// End of a `/* */` comment (nested, as PostgreSQL allows); unterminated ends the input.
    fn block_comment_end(&self, start: usize) -> usize {
        let mut depth = 0usize;
        let mut i = start;
        while i + 1 < self.bytes.len() {
            match (self.bytes[i], self.bytes[i + 1]) {
                (b'/', b'*') => {
                    depth += 1;
                    i += 2;
                }
                (b'*', b'/') => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        return i;
                    }
                }
                _ => i += 1,
            }
        }
        self.bytes.len()
    }

    /// A dollar-quoted literal `$tag$ … $tag$` starting at `start`, or `None` if `$` does not
    /// open one (a `$1` parameter or a stray `$`).
    fn dollar_quoted_end(&self, start: usize) -> Option<usize> {
        let mut i = start + 1;
        match self.at(i) {
            Some(b'$') => {}
            Some(b) if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                while let Some(b) = self.at(i) {
                    if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 {
                        i += 1;
                    } else {
                        break;
                    }
                }
                if self.at(i) != Some(b'$') {
                    return None;
                }
            }
            _ => return None,
        }
        let body_start = i + 1;
        // Both ends of the tag are ASCII `$`, so these slices are on char boundaries.
        let tag = self.sql.get(start..body_start)?;
        let rest = self.sql.get(body_start..)?;
        Some(
            rest.find(tag)
                .map_or(self.bytes.len(), |at| body_start + at + tag.len()),
        )
    }

    fn number_end(&self, start: usize) -> usize {
        let mut i = start;
        while let Some(b) = self.at(i) {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
                // An exponent sign: 1e-5, 2E+3.
                if (b == b'e' || b == b'E')
                    && matches!(self.at(i + 1), Some(b'+' | b'-'))
                    && self.at(i + 2).is_some_and(|d| d.is_ascii_digit())
                {
                    i += 2;
                }
                i += 1;
            } else {
                break;
            }
        }
        i
    }

    fn word_end(&self, start: usize) -> usize {
        let mut i = start;
        while self.at(i).is_some_and(is_word_byte) {
            i += 1;
        }
        i
    }

    fn token_at(&self, start: usize) -> Token {
        let b = self.bytes[start];
        let next = self.at(start + 1);
        let (kind, end) = match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                let mut i = start + 1;
                while matches!(self.at(i), Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)) {
                    i += 1;
                }
                (TokenKind::Space, i)
            }
            b'-' if next == Some(b'-') => {
                let end = self.bytes[start..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(self.bytes.len(), |p| start + p);
                (TokenKind::Comment, end)
            }
            b'/' if next == Some(b'*') => (TokenKind::Comment, self.block_comment_end(start)),
            b'\'' => (TokenKind::Literal, self.quoted_end(start, b'\'', false)),
            b'"' | b'`' => (TokenKind::QuotedIdent, self.quoted_end(start, b, false)),
            b'$' => match self.dollar_quoted_end(start) {
                Some(end) => (TokenKind::Literal, end),
                None if next.is_some_and(|d| d.is_ascii_digit()) => {
                    let mut i = start + 1;
                    while self.at(i).is_some_and(|d| d.is_ascii_digit()) {
                        i += 1;
                    }
                    (TokenKind::Param, i)
                }
                None => (TokenKind::Punct, start + 1),
            },
            b'?' => (TokenKind::Param, start + 1),
            b'0'..=b'9' => (TokenKind::Literal, self.number_end(start)),
            b'.' if next.is_some_and(|d| d.is_ascii_digit()) => {
                (TokenKind::Literal, self.number_end(start))
            }
            // E'…' (backslash escapes), B'…', X'…', N'…'.
            b'e' | b'E' if next == Some(b'\'') => {
                (TokenKind::Literal, self.quoted_end(start + 1, b'\'', true))
            }
            b'b' | b'B' | b'x' | b'X' | b'n' | b'N' if next == Some(b'\'') => {
                (TokenKind::Literal, self.quoted_end(start + 1, b'\'', false))
            }
            // U&'…' (a literal) and U&"…" (an identifier).
            b'u' | b'U' if next == Some(b'&') && self.at(start + 2) == Some(b'\'') => {
                (TokenKind::Literal, self.quoted_end(start + 2, b'\'', false))
            }
            b'u' | b'U' if next == Some(b'&') && self.at(start + 2) == Some(b'"') => (
                TokenKind::QuotedIdent,
                self.quoted_end(start + 2, b'"', false),
            ),
            b if is_word_start(b) => (TokenKind::Word, self.word_end(start)),
            _ => (TokenKind::Punct, start + 1),
        };
        Token {
            kind,
            start,
            end: end.min(self.bytes.len()).max(start + 1),
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let token = self.token_at(self.pos);
        self.pos = token.end;
        Some(token)
    }
}

/// Significant tokens only (no whitespace, no comments).
fn significant(sql: &str) -> impl Iterator<Item = Token> + '_ {
    Lexer::new(sql).filter(|t| !matches!(t.kind, TokenKind::Space | TokenKind::Comment))
}

// --- statement info -----------------------------------------------------------------------------

/// A table name longer than this is not reported (it would not name a span usefully).
pub const MAX_COLLECTION_NAME_LEN: usize = 128;

/// What a statement does and to which table: enough to name a span `{operation} {table}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementInfo<'a> {
    /// The leading keyword.
    pub operation: DbOperation,
    /// The first table the statement names, as written (schema prefix and quotes included):
    /// the target of `INSERT INTO`, `UPDATE`, `DELETE FROM`, `CREATE/ALTER/DROP TABLE`,
    /// `TRUNCATE`, `COPY`, or the first `FROM` of a `SELECT` at the top level. `None` when not
    /// evident (a subquery or function after `FROM`, a `WITH` statement, no table at all).
    pub collection: Option<&'a str>,
}

impl<'a> StatementInfo<'a> {
    /// Finds the operation and table of `sql`. Linear in `sql.len()`, never panics.
    #[must_use]
    pub fn parse(sql: &'a str) -> Self {
        let mut tokens = significant(sql).peekable();
        // Leading `(`: `(SELECT …) UNION (SELECT …)`.
        while tokens
            .peek()
            .is_some_and(|t| t.kind == TokenKind::Punct && &sql[t.start..t.end] == "(")
        {
            tokens.next();
        }
        let operation = match tokens.next() {
            Some(t) if t.kind == TokenKind::Word => DbOperation::from_keyword(&sql[t.start..t.end]),
            _ => DbOperation::Other,
        };
        let collection = collection_of(sql, operation, tokens)
            .filter(|name| !name.is_empty() && name.len() <= MAX_COLLECTION_NAME_LEN);
        Self {
            operation,
            collection,
        }
    }

    /// The span name: `{operation} {table}` when the table is evident, else `{operation}`.
    #[must_use]
    pub fn span_name(&self) -> String {
        match self.collection {
            Some(table) => format!("{} {table}", self.operation.as_str()),
            None => self.operation.as_str().to_owned(),
        }
    }
}

fn is_punct(sql: &str, t: &Token, c: &str) -> bool {
    t.kind == TokenKind::Punct && &sql[t.start..t.end] == c
}

fn is_keyword(sql: &str, t: &Token, word: &str) -> bool {
    t.kind == TokenKind::Word && sql[t.start..t.end].eq_ignore_ascii_case(word)
}

/// Reads a possibly qualified name (`a`, `a.b`, `"A".b`) from `tokens`; `None` if the next
/// token is not a name, or (with `reject_call`) the name is a function call.
fn qualified_name<'a>(
    sql: &'a str,
    tokens: &mut std::iter::Peekable<impl Iterator<Item = Token>>,
    reject_call: bool,
) -> Option<&'a str> {
    let first = tokens.next()?;
    if !matches!(first.kind, TokenKind::Word | TokenKind::QuotedIdent) {
        return None;
    }
    let mut end = first.end;
    loop {
        match tokens.peek() {
            Some(t) if is_punct(sql, t, ".") => {
                tokens.next();
                match tokens.next() {
                    Some(t) if matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent) => {
                        end = t.end;
                    }
                    _ => return None,
                }
            }
            Some(t) if reject_call && is_punct(sql, t, "(") => return None,
            _ => return sql.get(first.start..end),
        }
    }
}

/// Skips the words in `skip` (case-insensitive), then reads a qualified name (which may be
/// followed by a column list).
fn name_after<'a>(
    sql: &'a str,
    tokens: &mut std::iter::Peekable<impl Iterator<Item = Token>>,
    skip: &[&str],
) -> Option<&'a str> {
    skip_words(sql, tokens, skip);
    qualified_name(sql, tokens, false)
}

/// Like [`name_after`] for a `FROM` source, which is not a table when followed by `(`.
fn source_after<'a>(
    sql: &'a str,
    tokens: &mut std::iter::Peekable<impl Iterator<Item = Token>>,
    skip: &[&str],
) -> Option<&'a str> {
    skip_words(sql, tokens, skip);
    qualified_name(sql, tokens, true)
}

fn skip_words(
    sql: &str,
    tokens: &mut std::iter::Peekable<impl Iterator<Item = Token>>,
    skip: &[&str],
) {
    while tokens
        .peek()
        .is_some_and(|t| skip.iter().any(|w| is_keyword(sql, t, w)))
    {
        tokens.next();
    }
}

/// Advances to the first `keyword` at parenthesis depth 0.
fn seek_top_level(
    sql: &str,
    tokens: &mut std::iter::Peekable<impl Iterator<Item = Token>>,
    keyword: &str,
) -> bool {
    let mut depth = 0i64;
    for t in tokens.by_ref() {
        if is_punct(sql, &t, "(") {
            depth += 1;
        } else if is_punct(sql, &t, ")") {
            depth -= 1;
        } else if depth <= 0 && is_keyword(sql, &t, keyword) {
            return true;
        } else if depth <= 0 && is_punct(sql, &t, ";") {
            return false;
        }
    }
    false
}

fn collection_of(
    sql: &str,
    operation: DbOperation,
    tokens: impl Iterator<Item = Token>,
) -> Option<&str> {
    let mut tokens = tokens.peekable();
    let t = &mut tokens;
    match operation {
        DbOperation::Select => {
            if seek_top_level(sql, t, "FROM") {
                source_after(sql, t, &["ONLY", "LATERAL"])
            } else {
                None
            }
        }
        DbOperation::Insert | DbOperation::Replace | DbOperation::Merge => {
            if seek_top_level(sql, t, "INTO") {
                name_after(sql, t, &[])
            } else {
                None
            }
        }
        DbOperation::Update => name_after(
            sql,
            t,
            &[
                "ONLY", "OR", "ROLLBACK", "ABORT", "REPLACE", "FAIL", "IGNORE",
            ],
        ),
        DbOperation::Delete => {
            if seek_top_level(sql, t, "FROM") {
                name_after(sql, t, &["ONLY"])
            } else {
                None
            }
        }
        DbOperation::Truncate => name_after(sql, t, &["TABLE", "ONLY"]),
        DbOperation::Copy => name_after(sql, t, &[]),
        DbOperation::Create | DbOperation::Alter | DbOperation::Drop => {
            // CREATE [GLOBAL|LOCAL] [TEMP|TEMPORARY|UNLOGGED] TABLE [IF NOT EXISTS] name
            let mut seen = 0;
            loop {
                let word = t.next()?;
                if is_keyword(sql, &word, "TABLE") {
                    break;
                }
                seen += 1;
                if seen > 3 || word.kind != TokenKind::Word {
                    return None;
                }
            }
            name_after(sql, t, &["IF", "NOT", "EXISTS", "ONLY"])
        }
        _ => None,
    }
}

// --- sanitizer ----------------------------------------------------------------------------------

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
pub(crate) fn truncate_on_char_boundary(text: &mut String, max_len: usize) {
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

// --- metrics ------------------------------------------------------------------------------------

/// Outcome of a query, the `status` label of `db_queries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryStatus {
    /// The database answered without error.
    Ok,
    /// The query failed (including failing to get a connection).
    Error,
}

impl QueryStatus {
    /// The label value: `ok` or `error`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
        }
    }
}

#[derive(Debug)]
struct OperationHandles {
    ok: Counter,
    error: Counter,
    duration: Histogram,
}

/// Query metrics of one database system: `db_queries_total{db_system, operation, status}` and
/// `db_query_duration_seconds{db_system, operation}`. Handles are resolved once per operation,
/// then each record is two atomic operations.
///
/// ```
/// use std::time::Duration;
/// use unitel::db::{DbClientMetrics, DbOperation, QueryStatus};
///
/// let registry = unitel::Registry::new();
/// let metrics = DbClientMetrics::new(&registry, "postgresql");
/// metrics.record_query(DbOperation::Select, QueryStatus::Ok, Duration::from_millis(3));
/// assert!(unitel::prometheus::render_registry(&registry).contains(
///     "db_queries_total{db_system=\"postgresql\",operation=\"SELECT\",status=\"ok\"} 1"
/// ));
/// ```
#[derive(Debug)]
pub struct DbClientMetrics {
    telemetry: Telemetry,
    db_system: &'static str,
    queries: CounterFamily,
    durations: HistogramFamily,
    by_operation: [OnceLock<OperationHandles>; DbOperation::ALL.len()],
}

impl DbClientMetrics {
    /// Handles on `registry` for the database system `db_system` (an OpenTelemetry
    /// `db.system.name` value such as `postgresql`, `sqlite`, `mysql`); metrics on or off as
    /// the process-wide [`Telemetry::global`] says.
    #[must_use]
    pub fn new(registry: &Registry, db_system: &'static str) -> Self {
        Self::with_telemetry_registry(Telemetry::global(), registry, db_system)
    }

    /// Handles on `telemetry`'s registry, with its metrics switch.
    #[must_use]
    pub fn for_telemetry(telemetry: &Telemetry, db_system: &'static str) -> Self {
        Self::with_telemetry_registry(telemetry, telemetry.registry(), db_system)
    }

    fn with_telemetry_registry(
        telemetry: &Telemetry,
        registry: &Registry,
        db_system: &'static str,
    ) -> Self {
        Self {
            telemetry: telemetry.clone(),
            db_system,
            queries: registry.counter(&catalog::DB_QUERIES_TOTAL),
            durations: registry.histogram(&catalog::DB_QUERY_DURATION_SECONDS),
            by_operation: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// The `db_system` label value.
    #[must_use]
    pub fn db_system(&self) -> &'static str {
        self.db_system
    }

    fn handles(&self, operation: DbOperation) -> &OperationHandles {
        self.by_operation[operation.index()].get_or_init(|| {
            let op = operation.as_str();
            OperationHandles {
                ok: self
                    .queries
                    .with_labels(&[self.db_system, op, QueryStatus::Ok.as_str()]),
                error: self
                    .queries
                    .with_labels(&[self.db_system, op, QueryStatus::Error.as_str()]),
                duration: self.durations.with_labels(&[self.db_system, op]),
            }
        })
    }

    /// Counts one query and records its duration.
    pub fn record_query(&self, operation: DbOperation, status: QueryStatus, elapsed: Duration) {
        if !self.telemetry.metrics_enabled() {
            return;
        }
        let h = self.handles(operation);
        match status {
            QueryStatus::Ok => h.ok.inc(),
            QueryStatus::Error => h.error.inc(),
        }
        h.duration.observe_duration(elapsed);
    }

    /// The counter of `operation` with `status` (for tests and dashboards' sanity checks).
    #[must_use]
    pub fn query_counter(&self, operation: DbOperation, status: QueryStatus) -> Counter {
        let h = self.handles(operation);
        match status {
            QueryStatus::Ok => h.ok.clone(),
            QueryStatus::Error => h.error.clone(),
        }
    }

    /// The duration histogram of `operation`.
    #[must_use]
    pub fn duration_histogram(&self, operation: DbOperation) -> Histogram {
        self.handles(operation).duration.clone()
    }
}

/// Connection-pool metrics of one pool, labelled `{pool, db_system}`: connections active, idle
/// and maximum, the acquire wait histogram and the acquire-timeout counter.
///
/// `pool` is a name the application configures (one per pool it creates), so the label set
/// stays bounded.
///
/// ```
/// use std::time::Duration;
/// use unitel::db::DbPoolMetrics;
///
/// let registry = unitel::Registry::new();
/// let pool = DbPoolMetrics::new(&registry, "main", "postgresql");
/// pool.set_connections(5, 2, 10);
/// pool.observe_acquire(Duration::from_millis(1));
/// assert_eq!(pool.active().value(), 3.0);
/// assert_eq!(pool.acquire_duration().snapshot().count(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct DbPoolMetrics {
    active: Gauge,
    idle: Gauge,
    max: Gauge,
    acquire_duration: Histogram,
    acquire_timeouts: Counter,
}

impl DbPoolMetrics {
    /// Handles for the pool named `pool` of the database system `db_system`.
    #[must_use]
    pub fn new(registry: &Registry, pool: &str, db_system: &'static str) -> Self {
        let labels = [pool, db_system];
        Self {
            active: registry
                .gauge(&catalog::DB_CONNECTIONS_ACTIVE)
                .with_labels(&labels),
            idle: registry
                .gauge(&catalog::DB_CONNECTIONS_IDLE)
                .with_labels(&labels),
            max: registry
                .gauge(&catalog::DB_CONNECTIONS_MAX)
                .with_labels(&labels),
            acquire_duration: registry
                .histogram(&catalog::DB_CONNECTION_ACQUIRE_DURATION_SECONDS)
                .with_labels(&labels),
            acquire_timeouts: registry
                .counter(&catalog::DB_CONNECTION_ACQUIRE_TIMEOUTS_TOTAL)
                .with_labels(&labels),
        }
    }

    /// Sets the gauges from a pool's `size` (open connections, idle included), `idle`
    /// connections and configured `max`: active = size − idle (never below zero).
    pub fn set_connections(&self, size: u32, idle: usize, max: u32) {
        let size = f64::from(size);
        #[allow(clippy::cast_precision_loss)]
        let idle = idle as f64;
        self.active.set((size - idle).max(0.0));
        self.idle.set(idle);
        self.max.set(f64::from(max));
    }

    /// Records the time one acquire waited (successful or not).
    pub fn observe_acquire(&self, waited: Duration) {
        self.acquire_duration.observe_duration(waited);
    }

    /// Counts an acquire that timed out.
    pub fn acquire_timed_out(&self) {
        self.acquire_timeouts.inc();
    }

    /// `db_connections_active` of this pool.
    #[must_use]
    pub fn active(&self) -> &Gauge {
        &self.active
    }

    /// `db_connections_idle` of this pool.
    #[must_use]
    pub fn idle(&self) -> &Gauge {
        &self.idle
    }

    /// `db_connections_max` of this pool.
    #[must_use]
    pub fn max(&self) -> &Gauge {
        &self.max
    }

    /// `db_connection_acquire_duration_seconds` of this pool.
    #[must_use]
    pub fn acquire_duration(&self) -> &Histogram {
        &self.acquire_duration
    }

    /// `db_connection_acquire_timeouts_total` of this pool.
    #[must_use]
    pub fn acquire_timeouts(&self) -> &Counter {
        &self.acquire_timeouts
    }
}

// --- spans --------------------------------------------------------------------------------------

/// Where a query goes: the attributes a database client span carries besides the statement.
#[derive(Debug, Clone, Copy, Default)]
pub struct DbTarget<'a> {
    /// `db.system.name` (`postgresql`, `sqlite`, …).
    pub system: &'static str,
    /// `db.namespace`: the database name (or file for SQLite).
    pub namespace: Option<&'a str>,
    /// `server.address`.
    pub server_address: Option<&'a str>,
    /// `server.port`.
    pub server_port: Option<u16>,
}

/// A new database client span, child of `parent` (a root span when `parent` is
/// `Span::none()`), named by [`StatementInfo::span_name`] with `db.system.name`,
/// `db.namespace`, `db.operation.name`, `db.collection.name`, `server.address`, `server.port`
/// and (when given) `db.query.text`. Record the outcome with [`record_returned_rows`] and
/// [`record_query_error`].
///
/// Integrations capture what is current when the query is issued
/// ([`SpanParent::current`](crate::trace::SpanParent::current)) and create the span when it
/// starts running (`parent.child(|p| query_span(p, ..))`), so a query that is never polled
/// leaves no span. Given a disabled `parent`, the span follows the current OpenTelemetry
/// context.
///
/// ```
/// use unitel::db::{DbTarget, StatementInfo, query_span};
///
/// let sql = "DELETE FROM sessions WHERE expires < now()";
/// let target = DbTarget { system: "postgresql", namespace: Some("app"), ..Default::default() };
/// let span = query_span(&tracing::Span::current(), &target, &StatementInfo::parse(sql), Some(sql));
/// unitel::db::record_returned_rows(&span, 0);
/// ```
#[must_use]
pub fn query_span(
    parent: &tracing::Span,
    target: &DbTarget<'_>,
    statement: &StatementInfo<'_>,
    query_text: Option<&str>,
) -> tracing::Span {
    let span = tracing::info_span!(
        parent: parent.id(),
        "db.query",
        otel.name = %statement.span_name(),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        db.system.name = target.system,
        db.namespace = tracing::field::Empty,
        db.operation.name = statement.operation.as_str(),
        db.collection.name = tracing::field::Empty,
        db.query.text = tracing::field::Empty,
        db.response.returned_rows = tracing::field::Empty,
        db.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        server.address = tracing::field::Empty,
        server.port = tracing::field::Empty,
    );
    // No `tracing` parent: the span follows the current OpenTelemetry context (a server span
    // of unitel's HTTP layers is an OpenTelemetry span, see `unitel::trace::SpanParent`).
    #[cfg(feature = "otel")]
    if parent.is_disabled() && !span.is_disabled() {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = opentelemetry::Context::current();
        if cx.has_active_span() {
            let _ = span.set_parent(cx);
        }
    }
    if !span.is_disabled() {
        if let Some(ns) = target.namespace {
            span.record("db.namespace", ns);
        }
        if let Some(table) = statement.collection {
            span.record("db.collection.name", table);
        }
        if let Some(text) = query_text {
            span.record("db.query.text", text);
        }
        if let Some(address) = target.server_address {
            span.record("server.address", address);
        }
        if let Some(port) = target.server_port {
            span.record("server.port", i64::from(port));
        }
    }
    span
}

/// Records `db.query.text` on a span from [`query_span`] created without it (so the text is
/// only computed for spans that are recorded).
pub fn record_query_text(span: &tracing::Span, text: &str) {
    span.record("db.query.text", text);
}

/// Records `db.response.returned_rows` on a span from [`query_span`].
pub fn record_returned_rows(span: &tracing::Span, rows: u64) {
    span.record(
        "db.response.returned_rows",
        i64::try_from(rows).unwrap_or(i64::MAX),
    );
}

/// Marks a span from [`query_span`] failed: status Error, `error.type`, and the database's own
/// code (`db.response.status_code`, e.g. a PostgreSQL SQLSTATE) when there is one.
pub fn record_query_error(span: &tracing::Span, error_type: &str, status_code: Option<&str>) {
    span.record("otel.status_code", "error");
    span.record("error.type", error_type);
    if let Some(code) = status_code {
        span.record("db.response.status_code", code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sql: &str) -> (DbOperation, Option<&str>) {
        let i = StatementInfo::parse(sql);
        (i.operation, i.collection)
    }

    #[test]
    fn operations_and_tables() {
        use DbOperation as O;
        let cases: &[(&str, DbOperation, Option<&str>)] = &[
            ("SELECT 1", O::Select, None),
            (
                "select * from users where id = $1",
                O::Select,
                Some("users"),
            ),
            (
                "SELECT a FROM public.users u JOIN t ON …",
                O::Select,
                Some("public.users"),
            ),
            (
                "SELECT a FROM \"My Table\"",
                O::Select,
                Some("\"My Table\""),
            ),
            (
                "SELECT (SELECT max(x) FROM inner_t) FROM outer_t",
                O::Select,
                Some("outer_t"),
            ),
            ("SELECT * FROM (SELECT 1) s", O::Select, None),
            ("SELECT * FROM generate_series(1, 3)", O::Select, None),
            (
                "  /* c */ -- d\n (SELECT x FROM a) UNION (SELECT x FROM b)",
                O::Select,
                Some("a"),
            ),
            (
                "INSERT INTO items (name) VALUES ($1)",
                O::Insert,
                Some("items"),
            ),
            (
                "insert or replace into kv values (?, ?)",
                O::Insert,
                Some("kv"),
            ),
            (
                "UPDATE ONLY accounts SET x = 1",
                O::Update,
                Some("accounts"),
            ),
            ("UPDATE OR IGNORE t SET x = 1", O::Update, Some("t")),
            (
                "DELETE FROM sessions WHERE 1 = 1",
                O::Delete,
                Some("sessions"),
            ),
            ("WITH x AS (SELECT 1) SELECT * FROM x", O::With, None),
            ("BEGIN", O::Begin, None),
            ("start transaction", O::Begin, None),
            ("COMMIT", O::Commit, None),
            ("end", O::Commit, None),
            ("ROLLBACK", O::Rollback, None),
            (
                "CREATE TABLE IF NOT EXISTS items (id int)",
                O::Create,
                Some("items"),
            ),
            (
                "CREATE TEMPORARY TABLE tmp (id int)",
                O::Create,
                Some("tmp"),
            ),
            ("CREATE INDEX i ON t (x)", O::Create, None),
            ("DROP TABLE IF EXISTS items", O::Drop, Some("items")),
            ("TRUNCATE TABLE logs", O::Truncate, Some("logs")),
            ("PRAGMA journal_mode = WAL", O::Pragma, None),
            ("", O::Other, None),
            ("   ", O::Other, None),
            ("42", O::Other, None),
            ("frobnicate the database", O::Other, None),
            ("SÉLECT 1", O::Other, None),
        ];
        for (sql, op, table) in cases {
            assert_eq!(info(sql), (*op, *table), "{sql}");
        }
    }

    #[test]
    fn operation_indices_follow_all() {
        for (i, op) in DbOperation::ALL.iter().enumerate() {
            assert_eq!(op.index(), i, "{op}");
            if *op != DbOperation::Other {
                assert_eq!(DbOperation::from_keyword(op.as_str()), *op);
            }
        }
    }

    #[test]
    fn span_names() {
        assert_eq!(StatementInfo::parse("SELECT 1").span_name(), "SELECT");
        assert_eq!(
            StatementInfo::parse("insert into t values (1)").span_name(),
            "INSERT t"
        );
        let long = format!("SELECT * FROM {}", "x".repeat(MAX_COLLECTION_NAME_LEN + 1));
        assert_eq!(StatementInfo::parse(&long).span_name(), "SELECT");
    }

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
        assert_eq!(info(&big_literal), (DbOperation::Insert, Some("blobs")));
        let many = format!("SELECT {} 1", "1, ".repeat(40 * 1024));
        assert_eq!(sanitize_query(&many).len(), many.len());
        assert!(!sanitize_query(&many).contains('1'));
        let nested = "(".repeat(100 * 1024);
        assert_eq!(info(&nested), (DbOperation::Other, None));
        let dollars = "$a$".repeat(40 * 1024);
        let _ = sanitize_query(&dollars);
        let comments = "/*".repeat(50 * 1024);
        assert_eq!(sanitize_query(&comments), "");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

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

    #[test]
    fn pool_metrics_never_go_negative() {
        let registry = Registry::new();
        let m = DbPoolMetrics::new(&registry, "p", "sqlite");
        m.set_connections(1, 3, 5);
        assert_eq!(m.active().value(), 0.0);
        m.acquire_timed_out();
        assert_eq!(m.acquire_timeouts().value(), 1.0);
    }
}
