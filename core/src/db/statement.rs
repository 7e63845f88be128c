//! [`StatementInfo`]: a statement's operation and the table it works on, read from its tokens
//! without a full SQL parser.

use super::DbOperation;
use super::lexer::{Token, TokenKind, significant};

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
    fn huge_statements() {
        let big_literal = format!("INSERT INTO blobs VALUES ('{}')", "x".repeat(100 * 1024));
        assert_eq!(info(&big_literal), (DbOperation::Insert, Some("blobs")));
        let nested = "(".repeat(100 * 1024);
        assert_eq!(info(&nested), (DbOperation::Other, None));
    }
}
