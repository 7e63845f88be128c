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

mod lexer;
mod operation;
mod pool_metrics;
mod query_metrics;
mod sanitize;
mod span;
mod statement;

pub use operation::DbOperation;
pub use pool_metrics::DbPoolMetrics;
pub use query_metrics::{DbClientMetrics, QueryStatus};
pub use sanitize::{
    DEFAULT_MAX_QUERY_TEXT_LEN, QueryTextMode, query_text, sanitize_query, sanitize_query_bounded,
};
pub use span::{DbTarget, query_span, record_query_error, record_query_text, record_returned_rows};
pub use statement::{MAX_COLLECTION_NAME_LEN, StatementInfo};
