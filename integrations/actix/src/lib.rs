//! unitel-actix: actix-web middleware recording HTTP server metrics and spans. Not implemented yet (see the project's issues); exports nothing.
