//! Python's `http.client` (`httplib` in Python 2): a blocking HTTP/1.1 client.
//!
//! Issue 6 fills this crate; it depends on no server crate.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
