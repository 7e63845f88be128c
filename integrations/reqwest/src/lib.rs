//! unitel-reqwest: reqwest-middleware recording HTTP client metrics and spans. Not implemented yet (see the project's issues); exports nothing.
