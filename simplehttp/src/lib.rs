//! Python's `SimpleHTTPServer` (`http.server.SimpleHTTPRequestHandler`): static files from a directory, and the `simplehttp` command.
//!
//! This layer starts with the I/O-free core of the handler: each piece is a pure function of bytes and values, so it can be tested and fuzzed alone.
//!
//! | Python | Rust |
//! | --- | --- |
//! | `SimpleHTTPRequestHandler.send_head` | [`send_head`] over [`SimpleHooks`], answering a [`HeadReply`] |
//! | `SimpleHTTPRequestHandler.translate_path` | [`translate_path`] (and [`safe_segments`]) |
//! | `send_head`'s trailing-slash test (`/`, `%2f`, `%2F`) | [`has_trailing_slash`] |
//! | `send_head`'s 301 `Location` | [`directory_redirect_location`] |
//! | `list_directory` | [`list_directory_page`], [`read_listing_entries`], [`ListingEntry`] |
//! | `html.escape(s, quote=False)` | [`html_escape`] |
//! | `index_pages` | [`INDEX_PAGES`], [`SimpleHooks::index_pages`] |
//! | `guess_type`, `extensions_map` | [`guess_type`], [`guess_type_with`], [`EXTENSIONS_MAP`] |
//! | `If-Modified-Since` handling in `send_head` | [`evaluate_preconditions`] (also `If-Match`, `If-None-Match`, `If-Unmodified-Since`) |
//! | `date_time_string` for `Last-Modified` | [`http_date`] |
//! | `python -m http.server` arguments, banner | [`CommandLine`], [`banner`] |
//! | (none: Python has no Range) | [`parse_range`], [`if_range_matches`], [`MultipartByteranges`] |
//! | (none: Python sends no ETag) | [`etag_for`] |
//!
//! Where Python is weak this crate does better, and says so on the item: names that are not UTF-8 are served and listed, `Range` and `ETag` are supported, and the directory redirect can never point to another host.
//!
//! ```
//! use std::path::Path;
//! use simplehttp::{guess_type, has_trailing_slash, translate_path};
//!
//! let file = translate_path("/docs/../index.html?v=2", Path::new("/srv/www"));
//! assert_eq!(file, Path::new("/srv/www/index.html"));
//! assert_eq!(guess_type(&file), "text/html");
//! assert!(!has_trailing_slash("/docs"));
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cli;
mod conditional;
mod handler;
mod head;
mod listing;
mod mime;
mod range;
mod sendfile;
mod url_path;

pub use cli::{banner, CommandLine, UsageError, DEFAULT_PORT};
pub use conditional::{
    etag_for, evaluate_preconditions, http_date, parse_entity_tag, parse_entity_tag_list,
    parse_http_date, truncate_to_seconds, Conditions, EntityTag, EntityTagList, Precondition,
};
pub use handler::{serve_files, write_reply, SimpleHttpRequestHandler, SERVER_VERSION};
pub use head::{
    send_head, FileBody, FileReply, FileRequest, HeadReply, ServeDirectory, SimpleHooks,
    INDEX_PAGES,
};
pub use listing::{
    html_escape, list_directory_page, read_listing_entries, sort_entries, sort_key, ListingEntry,
    LISTING_CONTENT_TYPE,
};
pub use mime::{
    guess_type, guess_type_with, mimetypes_guess, splitext, DEFAULT_TYPE, EXTENSIONS_MAP,
};
pub use range::{
    copy_range, if_range_matches, new_boundary, parse_range, unsatisfied_content_range, ByteRange,
    MultipartByteranges, RangeRequest, MAX_RANGES,
};
pub use sendfile::{send_file_range, send_range_with};
pub use url_path::{
    directory_redirect_location, has_trailing_slash, latin1_bytes, path_ends_with_slash,
    safe_segments, strip_query_and_fragment, translate_path, translate_path_bytes,
    unquote_to_bytes,
};
