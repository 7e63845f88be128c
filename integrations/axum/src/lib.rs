//! unitel-axum: tower Layer recording HTTP server metrics and spans for axum. Not implemented yet (see the project's issues); exports nothing.
