//! Client-side HTTP recording shared by client integrations (filled by the HTTP-client issue).
