//! Server-side HTTP recording shared by the framework integrations (filled by the HTTP-server issue).
