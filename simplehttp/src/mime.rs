//! Content types: Python's `SimpleHTTPRequestHandler.guess_type` over `mimetypes`' built-in table, with `mime_guess` for the rest.

use std::borrow::Cow;
use std::path::Path;

/// `SimpleHTTPRequestHandler.extensions_map`: looked up first, by the exact extension and then lowercased.
pub const EXTENSIONS_MAP: &[(&str, &str)] = &[
    (".gz", "application/gzip"),
    (".Z", "application/octet-stream"),
    (".bz2", "application/x-bzip2"),
    (".xz", "application/x-xz"),
];

/// The type Python sends when nothing matches.
pub const DEFAULT_TYPE: &str = "application/octet-stream";

/// `mimetypes.suffix_map`: extensions that stand for two.
const SUFFIX_MAP: &[(&str, &str)] = &[
    (".svgz", ".svg.gz"),
    (".tgz", ".tar.gz"),
    (".taz", ".tar.gz"),
    (".tz", ".tar.gz"),
    (".tbz2", ".tar.bz2"),
    (".txz", ".tar.xz"),
];

/// `mimetypes.encodings_map`'s keys, compared case-sensitively as Python does.
const ENCODINGS: &[&str] = &[".gz", ".Z", ".bz2", ".xz", ".br"];

/// `mimetypes._types_map_default` of Python 3.14 (strict types), sorted by extension without its dot.
const TYPES_MAP: &[(&str, &str)] = &[
    ("3g2", "audio/3gpp2"),
    ("3gp", "audio/3gpp"),
    ("3gpp", "audio/3gpp"),
    ("3gpp2", "audio/3gpp2"),
    ("7z", "application/x-7z-compressed"),
    ("a", "application/octet-stream"),
    ("aac", "audio/aac"),
    ("adts", "audio/aac"),
    ("ai", "application/postscript"),
    ("aif", "audio/x-aiff"),
    ("aifc", "audio/x-aiff"),
    ("aiff", "audio/x-aiff"),
    ("ass", "audio/aac"),
    ("au", "audio/basic"),
    ("avi", "video/vnd.avi"),
    ("avif", "image/avif"),
    ("bat", "text/plain"),
    ("bcpio", "application/x-bcpio"),
    ("bin", "application/octet-stream"),
    ("bmp", "image/bmp"),
    ("c", "text/plain"),
    ("cdf", "application/x-netcdf"),
    ("cpio", "application/x-cpio"),
    ("csh", "application/x-csh"),
    ("css", "text/css"),
    ("csv", "text/csv"),
    ("deb", "application/x-debian-package"),
    ("dll", "application/octet-stream"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("dot", "application/msword"),
    ("dvi", "application/x-dvi"),
    ("emf", "image/emf"),
    ("eml", "message/rfc822"),
    ("eot", "application/vnd.ms-fontobject"),
    ("eps", "application/postscript"),
    ("epub", "application/epub+zip"),
    ("etx", "text/x-setext"),
    ("exe", "application/octet-stream"),
    ("fits", "image/fits"),
    ("flac", "audio/flac"),
    ("g3", "image/g3fax"),
    ("gif", "image/gif"),
    ("glb", "model/gltf-binary"),
    ("gltf", "model/gltf+json"),
    ("gtar", "application/x-gtar"),
    ("gz", "application/gzip"),
    ("h", "text/plain"),
    ("h5", "application/x-hdf5"),
    ("hdf", "application/x-hdf"),
    ("heic", "image/heic"),
    ("heif", "image/heif"),
    ("htm", "text/html"),
    ("html", "text/html"),
    ("ico", "image/vnd.microsoft.icon"),
    ("ief", "image/ief"),
    ("jp2", "image/jp2"),
    ("jpe", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("jpm", "image/jpm"),
    ("jpx", "image/jpx"),
    ("js", "text/javascript"),
    ("json", "application/json"),
    ("ksh", "text/plain"),
    ("latex", "application/x-latex"),
    ("loas", "audio/aac"),
    ("m1v", "video/mpeg"),
    ("m3u", "application/vnd.apple.mpegurl"),
    ("m3u8", "application/vnd.apple.mpegurl"),
    ("m4a", "audio/mp4"),
    ("m4v", "video/x-m4v"),
    ("man", "application/x-troff-man"),
    ("markdown", "text/markdown"),
    ("md", "text/markdown"),
    ("me", "application/x-troff-me"),
    ("mht", "message/rfc822"),
    ("mhtml", "message/rfc822"),
    ("mif", "application/x-mif"),
    ("mjs", "text/javascript"),
    ("mk3d", "video/matroska-3d"),
    ("mka", "audio/matroska"),
    ("mkv", "video/matroska"),
    ("mov", "video/quicktime"),
    ("movie", "video/x-sgi-movie"),
    ("mp2", "audio/mpeg"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("mpa", "video/mpeg"),
    ("mpe", "video/mpeg"),
    ("mpeg", "video/mpeg"),
    ("mpg", "video/mpeg"),
    ("ms", "application/x-troff-ms"),
    ("n3", "text/n3"),
    ("nc", "application/x-netcdf"),
    ("nq", "application/n-quads"),
    ("nt", "application/n-triples"),
    ("nws", "message/rfc822"),
    ("o", "application/octet-stream"),
    ("obj", "application/octet-stream"),
    ("oda", "application/oda"),
    ("odg", "application/vnd.oasis.opendocument.graphics"),
    ("odp", "application/vnd.oasis.opendocument.presentation"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ogg", "audio/ogg"),
    ("ogv", "video/ogg"),
    ("ogx", "application/ogg"),
    ("opus", "audio/opus"),
    ("otf", "font/otf"),
    ("p12", "application/x-pkcs12"),
    ("p7c", "application/pkcs7-mime"),
    ("pbm", "image/x-portable-bitmap"),
    ("pdf", "application/pdf"),
    ("pfx", "application/x-pkcs12"),
    ("pgm", "image/x-portable-graymap"),
    ("php", "application/x-httpd-php"),
    ("pl", "text/plain"),
    ("png", "image/png"),
    ("pnm", "image/x-portable-anymap"),
    ("pot", "application/vnd.ms-powerpoint"),
    ("ppa", "application/vnd.ms-powerpoint"),
    ("ppm", "image/x-portable-pixmap"),
    ("pps", "application/vnd.ms-powerpoint"),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("ps", "application/postscript"),
    ("pwz", "application/vnd.ms-powerpoint"),
    ("py", "text/x-python"),
    ("pyc", "application/x-python-code"),
    ("pyo", "application/x-python-code"),
    ("qt", "video/quicktime"),
    ("ra", "audio/x-pn-realaudio"),
    ("ram", "application/x-pn-realaudio"),
    ("rar", "application/vnd.rar"),
    ("ras", "image/x-cmu-raster"),
    ("rdf", "application/xml"),
    ("rgb", "image/x-rgb"),
    ("roff", "application/x-troff"),
    ("rpm", "application/x-rpm"),
    ("rst", "text/x-rst"),
    ("rtf", "text/rtf"),
    ("rtx", "text/richtext"),
    ("sgm", "text/x-sgml"),
    ("sgml", "text/x-sgml"),
    ("sh", "application/x-sh"),
    ("shar", "application/x-shar"),
    ("snd", "audio/basic"),
    ("so", "application/octet-stream"),
    ("src", "application/x-wais-source"),
    ("srt", "text/plain"),
    ("stl", "model/stl"),
    ("sv4cpio", "application/x-sv4cpio"),
    ("sv4crc", "application/x-sv4crc"),
    ("svg", "image/svg+xml"),
    ("swf", "application/x-shockwave-flash"),
    ("t", "application/x-troff"),
    ("t38", "image/t38"),
    ("tar", "application/x-tar"),
    ("tcl", "application/x-tcl"),
    ("tex", "application/x-tex"),
    ("texi", "application/x-texinfo"),
    ("texinfo", "application/x-texinfo"),
    ("tfx", "image/tiff-fx"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("tr", "application/x-troff"),
    ("trig", "application/trig"),
    ("tsv", "text/tab-separated-values"),
    ("ttf", "font/ttf"),
    ("txt", "text/plain"),
    ("ustar", "application/x-ustar"),
    ("vcf", "text/x-vcard"),
    ("vtt", "text/vtt"),
    ("wasm", "application/wasm"),
    ("wav", "audio/vnd.wave"),
    ("weba", "audio/webm"),
    ("webm", "video/webm"),
    ("webmanifest", "application/manifest+json"),
    ("webp", "image/webp"),
    ("wiz", "application/msword"),
    ("wmf", "image/wmf"),
    ("wmv", "video/x-ms-wmv"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("wsdl", "application/xml"),
    ("xbm", "image/x-xbitmap"),
    ("xlb", "application/vnd.ms-excel"),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("xml", "text/xml"),
    ("xpdl", "application/xml"),
    ("xpm", "image/x-xpixmap"),
    ("xsl", "application/xml"),
    ("xwd", "image/x-xwindowdump"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("zip", "application/zip"),
];

fn lookup<'a>(table: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    table
        .iter()
        .find(|(candidate, _)| *candidate == key)
        .map(|(_, value)| *value)
}

/// `posixpath.splitext`: the last `.` of the last component starts the extension, unless the name is only dots up to it.
pub fn splitext(path: &str) -> (&str, &str) {
    // Byte searches: `/` and `.` are single bytes in UTF-8, and a name is short, where `rfind`'s searcher costs more than it finds.
    let bytes = path.as_bytes();
    let name_start = bytes
        .iter()
        .rposition(|&byte| byte == b'/')
        .map_or(0, |index| index + 1);
    if let Some(dot) = bytes.iter().rposition(|&byte| byte == b'.') {
        if dot >= name_start && bytes[name_start..dot].iter().any(|&byte| byte != b'.') {
            return (&path[..dot], &path[dot..]);
        }
    }
    (path, "")
}

/// `mimetypes.guess_file_type(path)[0]` with Python's built-in table (strict), or `None`.
///
/// Compression suffixes are looked through as Python does: `a.tgz` is `application/x-tar` and `a.txt.br` is `text/plain`.
pub fn mimetypes_guess(path: &str) -> Option<&'static str> {
    let (base, extension) = splitext(path);
    let expanded;
    // Every suffix_map replacement ends in an encoding that is not itself in suffix_map, so Python's loop runs at most once.
    let (base, extension) = match lookup(SUFFIX_MAP, &lower(extension)) {
        Some(replacement) => {
            expanded = format!("{base}{replacement}");
            splitext(&expanded)
        }
        None => (base, extension),
    };
    let extension = if ENCODINGS.contains(&extension) {
        splitext(base).1
    } else {
        extension
    };
    lookup_type(extension)
}

/// Python's `str.lower()`, without a copy for the usual extension that is lower case already.
fn lower(text: &str) -> Cow<'_, str> {
    if text
        .bytes()
        .any(|byte| byte.is_ascii_uppercase() || !byte.is_ascii())
    {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

fn lookup_type(extension: &str) -> Option<&'static str> {
    let lowered = lower(extension);
    let key = lowered.strip_prefix('.')?;
    TYPES_MAP
        .binary_search_by(|(candidate, _)| (*candidate).cmp(key))
        .ok()
        .map(|index| TYPES_MAP[index].1)
}

/// The content type for a file, as Python's `SimpleHTTPRequestHandler.guess_type`, with [`EXTENSIONS_MAP`] as the handler's overrides.
///
/// See [`guess_type_with`].
///
/// ```
/// use simplehttp::guess_type;
///
/// assert_eq!(guess_type("index.html"), "text/html");
/// assert_eq!(guess_type("archive.tar.gz"), "application/gzip");
/// assert_eq!(guess_type("no-extension"), "application/octet-stream");
/// ```
pub fn guess_type(path: impl AsRef<Path>) -> Cow<'static, str> {
    guess_type_with(path.as_ref(), EXTENSIONS_MAP)
}

/// The content type for a file, as Python's `guess_type` with the given `extensions_map`.
///
/// The order is Python's: the map by the exact extension, then by the lowercased one, then `mimetypes` (its built-in table, compression suffixes looked through), then, standing in for the system's `mime.types` that Python also reads, `mime_guess`, and finally `application/octet-stream`.
/// Like Python, text types carry no `charset`.
pub fn guess_type_with<'a, K, V>(path: &Path, extensions_map: &'a [(K, V)]) -> Cow<'a, str>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    // Only the last name is read (`splitext` looks no further back than the last `/`), so a long directory costs nothing.
    let bytes = path.as_os_str().as_encoded_bytes();
    let name = bytes.rsplit(|&byte| byte == b'/').next().unwrap_or(bytes);
    let text = String::from_utf8_lossy(name);
    let (_, extension) = splitext(&text);
    let find = |key: &str| {
        extensions_map
            .iter()
            .find(|(candidate, _)| candidate.as_ref() == key)
            .map(|(_, value)| value.as_ref())
    };
    let lowered = lower(extension);
    let found = find(extension).or_else(|| {
        // A lower-case extension was looked up already.
        matches!(lowered, Cow::Owned(_))
            .then(|| find(&lowered))
            .flatten()
    });
    if let Some(found) = found {
        return Cow::Borrowed(found);
    }
    if let Some(found) = mimetypes_guess(&text) {
        return Cow::Borrowed(found);
    }
    if let Some(found) = extension
        .strip_prefix('.')
        .and_then(|bare| mime_guess::from_ext(bare).first_raw())
    {
        return Cow::Borrowed(found);
    }
    Cow::Borrowed(DEFAULT_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: &str) {
        assert_eq!(guess_type(path), expected, "guess_type({path:?})");
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(TYPES_MAP.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    // Values from Python 3.14's mimetypes and http.server; `python3 -c 'import mimetypes; print(mimetypes.guess_file_type("a.js"))'`.
    #[test]
    fn common_types() {
        check("a.html", "text/html");
        check("a.htm", "text/html");
        check("a.HTML", "text/html");
        // Python lowers the extension before its table; mime_guess, the fallback, would say application/javascript.
        check("a.JS", "text/javascript");
        check("a.Js", "text/javascript");
        check("a.txt", "text/plain");
        check("a.js", "text/javascript");
        check("a.mjs", "text/javascript");
        check("a.css", "text/css");
        check("a.json", "application/json");
        check("a.png", "image/png");
        check("a.jpg", "image/jpeg");
        check("a.gif", "image/gif");
        check("a.svg", "image/svg+xml");
        check("a.webp", "image/webp");
        check("a.ico", "image/vnd.microsoft.icon");
        check("a.pdf", "application/pdf");
        check("a.wasm", "application/wasm");
        check("a.xml", "text/xml");
        check("a.py", "text/x-python");
        check("a.c", "text/plain");
        check("a.mp4", "video/mp4");
        check("a.woff2", "font/woff2");
        check("a.md", "text/markdown");
        check("a.zip", "application/zip");
        check("/srv/www/dir.with.dots/a.csv", "text/csv");
    }

    // Mirrors test_httpservers: SimpleHTTPRequestHandlerTestCase (extensions_map overrides of Python 3.9+).
    #[test]
    fn extensions_map_overrides() {
        check("a.gz", "application/gzip");
        check("a.tar.gz", "application/gzip");
        check("a.GZ", "application/gzip");
        check("a.Z", "application/octet-stream");
        check("a.bz2", "application/x-bzip2");
        check("a.xz", "application/x-xz");
    }

    #[test]
    fn compression_suffixes_are_looked_through() {
        check("a.tgz", "application/x-tar");
        check("a.svgz", "image/svg+xml");
        check("a.txt.br", "text/plain");
        check("a.br", "application/octet-stream");
    }

    #[test]
    fn unknown_and_odd_names() {
        check("", "application/octet-stream");
        check("noext", "application/octet-stream");
        check(".bashrc", "application/octet-stream");
        check("..html", "application/octet-stream");
        check("..a.html", "text/html");
        check("dir.html/", "application/octet-stream");
        check("a.", "application/octet-stream");
        check("a.definitely-not-a-type", "application/octet-stream");
    }

    #[test]
    fn overrides_are_configurable() {
        let map = [(".md".to_owned(), "text/plain; charset=utf-8".to_owned())];
        assert_eq!(
            guess_type_with(Path::new("a.md"), &map),
            "text/plain; charset=utf-8"
        );
        assert_eq!(guess_type_with(Path::new("a.gz"), &map), "application/gzip");
    }

    #[test]
    fn splitext_matches_posixpath() {
        for (path, expected) in [
            ("a.b", ("a", ".b")),
            ("a.b.c", ("a.b", ".c")),
            (".a", (".a", "")),
            ("..a", ("..a", "")),
            ("..a.b", ("..a", ".b")),
            ("x/.a", ("x/.a", "")),
            ("x.y/z", ("x.y/z", "")),
            ("a.", ("a", ".")),
            ("", ("", "")),
        ] {
            assert_eq!(splitext(path), expected, "{path:?}");
        }
    }
}
