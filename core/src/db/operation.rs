//! [`DbOperation`]: the leading keyword of a statement, from a fixed set, as a metric label.

use super::StatementInfo;

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

    /// Position in [`ALL`](Self::ALL), for per-operation handle tables.
    pub(super) const fn index(self) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_indices_follow_all() {
        for (i, op) in DbOperation::ALL.iter().enumerate() {
            assert_eq!(op.index(), i, "{op}");
            if *op != DbOperation::Other {
                assert_eq!(DbOperation::from_keyword(op.as_str()), *op);
            }
        }
    }
}
