//! unitel-sqlx: instrumented sqlx pool recording database metrics and spans. Not implemented yet (see the project's issues); exports nothing.
