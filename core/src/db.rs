//! Placeholder: database client semantics (filled by the sqlx issue).
