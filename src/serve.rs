//! HELPER-OWNED placeholder: the HTTP server.
