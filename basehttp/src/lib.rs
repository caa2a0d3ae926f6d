//! Python's `http.server` base layer (`BaseHTTPServer` in Python 2): `HttpServer`, `ThreadingHttpServer` and the request-handler base.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod body;
mod headers;
mod parse;
mod status;
mod text;

pub use body::{
    parse_chunk_size, Body, ChunkSizeError, ChunkedReader, LengthReader, MAX_CHUNK_LINE,
};
pub use headers::Headers;
pub use parse::{
    decode_request_line, framing, parse_content_length, parse_head, parse_request_line,
    BodyFraming, HeadParser, ParseError, RequestHead, RequestLine, Status, MAX_HEADERS, MAX_LINE,
};
pub use status::{responses, RESPONSES};
pub use text::{
    date_time_string, escape_log, format_error_message, html_escape, log_date_time_string,
    python_repr, DEFAULT_ERROR_CONTENT_TYPE, DEFAULT_ERROR_MESSAGE,
};
