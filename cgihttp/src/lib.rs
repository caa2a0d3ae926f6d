//! Python's `CGIHTTPServer`, done by RFC 3875, and the `cgihttp` command.
//!
//! Issue 5 fills this crate; it builds on [`simplehttp`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]
