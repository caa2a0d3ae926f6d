//! Python's `SimpleHTTPServer`: static files from a directory, and the `simplehttp` command.
//!
//! Issue 4 fills this crate; it builds on [`basehttp`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]
