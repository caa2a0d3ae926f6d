//! Content codings: which one a request accepts (`Accept-Encoding`), which responses are worth compressing,
//! and compressed files kept in memory while a fresh stat shows the file unchanged.
//!
//! A hostile client can ask for a large text file with gzip over and over; what that costs is bounded three ways:
//! a file is compressed at most once per version and coding (the result is kept, keyed like [`crate::small_files`]),
//! only files up to [`MAX_COMPRESSED_SOURCE`] are compressed at all (larger ones go out as they are, by sendfile),
//! and at most one compression per core runs at a time: a request that finds every slot taken gets the file as it is,
//! at once, instead of waiting or adding to the load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::small_files::{path_key, Stamp};

/// A content coding the server can send (RFC 9110 §8.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContentCoding {
    /// `br` (RFC 7932).
    Brotli,
    /// `zstd` (RFC 8878).
    Zstd,
    /// `gzip` (RFC 1952), also accepted as `x-gzip`.
    Gzip,
}

impl ContentCoding {
    /// Every coding, in the order the server prefers them when a client weighs them alike: smallest output first.
    pub const ALL: [ContentCoding; 3] = [
        ContentCoding::Brotli,
        ContentCoding::Zstd,
        ContentCoding::Gzip,
    ];

    /// The coding's name in `Content-Encoding` and `Accept-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            ContentCoding::Brotli => "br",
            ContentCoding::Zstd => "zstd",
            ContentCoding::Gzip => "gzip",
        }
    }

    /// The suffix of a precompressed sibling: `FILE.br`, `FILE.zst`, `FILE.gz`.
    pub fn extension(self) -> &'static str {
        match self {
            ContentCoding::Brotli => ".br",
            ContentCoding::Zstd => ".zst",
            ContentCoding::Gzip => ".gz",
        }
    }

    /// The entity tag of this coding's representation, made from the identity's: `"tag"` becomes `"tag-br"`,
    /// so a cache or a conditional request never takes one representation's bytes for another's.
    pub fn entity_tag(self, identity: &str) -> String {
        let (open, close) = match identity.strip_suffix('"') {
            Some(open) => (open, "\""),
            None => (identity, ""),
        };
        // Pushed piece by piece: `format!` would cost more than the rest of a kept sibling's answer.
        let mut tag = String::with_capacity(identity.len() + 6);
        tag.push_str(open);
        tag.push('-');
        tag.push_str(self.token());
        tag.push_str(close);
        tag
    }
}

/// Responses smaller than this are sent as they are: the coding's header and framing would eat most of the gain.
pub const MIN_COMPRESSED_SIZE: u64 = 1024;

/// Files larger than this are never compressed on the fly (so never held in memory whole): they go out as they are,
/// or from a precompressed sibling.
pub const MAX_COMPRESSED_SOURCE: u64 = 4 << 20;

/// At most this many compressed bytes are kept; when full, the cache starts over.
const KEPT_BYTES: usize = 32 << 20;

/// At most this many compressed files are kept.
const KEPT_ENTRIES: usize = 4096;

/// The names of `Accept-Encoding` that choosing a coding reads, in the order of [`AcceptedWeights::weights`].
const WEIGHED_NAMES: [&str; 6] = ["br", "zstd", "gzip", "x-gzip", "*", "identity"];

/// The highest weight (thousandths, as RFC 9110's three decimals) one `Accept-Encoding` gives each of [`WEIGHED_NAMES`];
/// `None` for a name it does not list. Other names are checked and passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AcceptedWeights {
    weights: [Option<u16>; WEIGHED_NAMES.len()],
}

impl AcceptedWeights {
    /// The weight given to `name`, one of [`WEIGHED_NAMES`].
    fn of(&self, name: &str) -> Option<u16> {
        let index = WEIGHED_NAMES.iter().position(|known| *known == name)?;
        self.weights[index]
    }
}

/// Reads a weight (`q=` value, RFC 9110 §12.4.2): `0` or `1` with up to three decimals, in thousandths.
fn parse_weight(text: &str) -> Option<u16> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    if fraction.len() > 3 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |total, digit| total * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Whether `text` is an HTTP token (RFC 9110 §5.6.2).
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// Reads an `Accept-Encoding` value into the weights it gives the names that matter here; `None` when any part of it is
/// not what RFC 9110 §12.5.3 allows, and then the request is answered as if it accepted no coding.
///
/// Read in one pass without a list, as every request for a file with a precompressed sibling passes here.
fn parse_accept_encoding(value: &str) -> Option<AcceptedWeights> {
    let mut accepted = AcceptedWeights {
        weights: [None; WEIGHED_NAMES.len()],
    };
    let mut names = 0;
    for item in value.split(',') {
        let item = item.trim_matches([' ', '\t']);
        if item.is_empty() {
            // RFC 9110 §5.6.1: empty list elements are allowed and ignored.
            continue;
        }
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim_matches([' ', '\t']);
        if !is_token(name) {
            return None;
        }
        let mut weight = 1000;
        for parameter in parts {
            let (key, value) = parameter.trim_matches([' ', '\t']).split_once('=')?;
            if !key.trim_end_matches([' ', '\t']).eq_ignore_ascii_case("q") {
                return None;
            }
            weight = parse_weight(value.trim_start_matches([' ', '\t']))?;
        }
        if let Some(index) = WEIGHED_NAMES
            .iter()
            .position(|known| name.eq_ignore_ascii_case(known))
        {
            let slot = &mut accepted.weights[index];
            *slot = (*slot).max(Some(weight));
        }
        names += 1;
        // Far more names than there are codings is not a browser: stop reading rather than scan an endless list.
        if names > 64 {
            return None;
        }
    }
    Some(accepted)
}

/// The coding to answer with, among `offered`, as `Accept-Encoding` weighs them (RFC 9110 §12.5.3); `None` for the identity.
///
/// The highest weight wins, and among equal weights the order of `offered`; a weight of 0 refuses a coding,
/// `*` weighs every coding not named, `x-gzip` is `gzip`, and `identity` weighed above every coding wins over them.
/// No header, or one that is not well formed, accepts no coding: the answer is then the identity, never an error.
///
/// ```
/// use simplehttp::{negotiate_encoding, ContentCoding};
///
/// let all = ContentCoding::ALL;
/// assert_eq!(negotiate_encoding(Some("gzip, deflate, br, zstd"), &all), Some(ContentCoding::Brotli));
/// assert_eq!(negotiate_encoding(Some("gzip;q=1, br;q=0.5"), &all), Some(ContentCoding::Gzip));
/// assert_eq!(negotiate_encoding(Some("*;q=0, identity"), &all), None);
/// assert_eq!(negotiate_encoding(Some("gzip;q=2"), &all), None);
/// ```
pub fn negotiate_encoding(
    accept_encoding: Option<&str>,
    offered: &[ContentCoding],
) -> Option<ContentCoding> {
    acceptable_encodings(accept_encoding, offered)
        .first()
        .map(|(coding, _)| *coding)
}

/// The codings of `offered` that `Accept-Encoding` accepts, with their weights, best first: the order in which
/// [`negotiate_encoding`] would choose them as fewer remain on offer (a coding the identity outweighs is left out,
/// since the identity would win over it). The header is read once, however many codings are then tried.
pub(crate) fn acceptable_encodings(
    accept_encoding: Option<&str>,
    offered: &[ContentCoding],
) -> Vec<(ContentCoding, u16)> {
    let Some(accepted) = accept_encoding.and_then(parse_accept_encoding) else {
        return Vec::new();
    };
    let weight_of = |wanted: &str| accepted.of(wanted);
    let star = weight_of("*");
    let identity = weight_of("identity");
    let mut ranked: Vec<(ContentCoding, u16)> = offered
        .iter()
        .filter_map(|&coding| {
            let named = match coding {
                ContentCoding::Gzip => weight_of("gzip").max(weight_of("x-gzip")),
                other => weight_of(other.token()),
            };
            let weight = named.or(star).filter(|weight| *weight > 0)?;
            match identity {
                Some(identity) if identity > weight => None,
                _ => Some((coding, weight)),
            }
        })
        .collect();
    // A stable sort: among equal weights, the order of `offered`.
    ranked.sort_by(|(_, left), (_, right)| right.cmp(left));
    ranked
}

/// Whether a response of this content type gains from compression: text, and the structured text formats;
/// not images, audio, video, archives or fonts that are compressed already, nor unknown types.
pub fn is_compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence.starts_with("text/") || essence.ends_with("+json") || essence.ends_with("+xml") {
        return true;
    }
    matches!(
        essence.as_str(),
        "application/json"
            | "application/javascript"
            | "application/x-javascript"
            | "application/ecmascript"
            | "application/xml"
            | "application/wasm"
            | "application/x-sh"
            | "application/x-csh"
            | "application/x-tex"
            | "application/x-latex"
            | "application/sql"
            | "application/toml"
            | "application/yaml"
            | "application/x-yaml"
            | "application/postscript"
            | "application/rtf"
            | "application/x-ndjson"
            | "application/vnd.ms-fontobject"
            | "font/ttf"
            | "font/otf"
            | "font/collection"
            | "image/svg+xml"
            | "image/bmp"
            | "image/x-icon"
            | "image/vnd.microsoft.icon"
    )
}

/// Compresses `data` with `coding` at a level that costs little CPU for most of the gain
/// (gzip 6, brotli 5, zstd 3: each library's balanced setting; the result is kept, so it is paid once per file).
///
/// # Errors
///
/// An error from the encoder; without the `compression` feature, [`std::io::ErrorKind::Unsupported`].
pub fn compress(coding: ContentCoding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    encode(coding, data)
}

#[cfg(feature = "compression")]
fn encode(coding: ContentCoding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut output = Vec::with_capacity(data.len() / 3 + 64);
    match coding {
        ContentCoding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(&mut output, flate2::Compression::new(6));
            encoder.write_all(data)?;
            encoder.finish()?;
        }
        ContentCoding::Brotli => {
            let parameters = brotli::enc::BrotliEncoderParams {
                quality: 5,
                lgwin: 22,
                size_hint: data.len(),
                ..brotli::enc::BrotliEncoderParams::default()
            };
            brotli::BrotliCompress(&mut &data[..], &mut output, &parameters)?;
        }
        ContentCoding::Zstd => {
            zstd::stream::copy_encode(data, &mut output, 3)?;
        }
    }
    Ok(output)
}

#[cfg(not(feature = "compression"))]
fn encode(_coding: ContentCoding, _data: &[u8]) -> std::io::Result<Vec<u8>> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "built without the compression feature",
    ))
}

/// Whether this build can compress on the fly (the `compression` feature).
pub(crate) const CAN_COMPRESS: bool = cfg!(feature = "compression");

/// Compressions running now, across the process.
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// A compression slot, released when dropped.
struct Slot;

impl Slot {
    /// A slot, if fewer compressions than cores run now.
    fn take() -> Option<Slot> {
        let limit = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        RUNNING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < limit).then_some(running + 1)
            })
            .ok()
            .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A kept result: the compressed bytes, or `None` when compressing did not make the file smaller.
type KeptResult = Option<Arc<[u8]>>;

/// The kept results of one coding, by the path's bytes ([`path_key`]), each with the stamp of the version it came from.
type KeptByPath = HashMap<Box<[u8]>, (Stamp, KeptResult)>;

/// The kept results, a map for each coding, so a lookup borrows the path's bytes instead of building a key.
#[derive(Default)]
struct Kept {
    entries: [KeptByPath; ContentCoding::ALL.len()],
    bytes: usize,
}

impl Kept {
    fn get(&self, path: &Path, coding: ContentCoding) -> Option<&(Stamp, KeptResult)> {
        self.entries[coding as usize].get(path_key(path))
    }

    fn len(&self) -> usize {
        self.entries.iter().map(HashMap::len).sum()
    }
}

static CACHE: Mutex<Option<Kept>> = Mutex::new(None);

/// The compressed bytes of the file at `path`, as `metadata` (a fresh stat of it) describes it, with `coding`:
/// kept from an earlier request when the file is unchanged, else compressed now from what `read` gives, if a slot is free.
///
/// `None` means send the file as it is: it did not shrink, or every compression slot is taken, or it could not be read.
pub(crate) fn compressed_file(
    path: &Path,
    metadata: &std::fs::Metadata,
    coding: ContentCoding,
    read: impl FnOnce() -> Option<Vec<u8>>,
) -> Option<Arc<[u8]>> {
    let stamp = Stamp::of(metadata);
    {
        let cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((kept, result)) = cache.as_ref().and_then(|kept| kept.get(path, coding)) {
            if *kept == stamp {
                return result.clone();
            }
        }
    }
    let slot = Slot::take()?;
    let data = read()?;
    if data.len() as u64 != stamp.size {
        return None;
    }
    let result: KeptResult = encode(coding, &data)
        .ok()
        .filter(|output| output.len() < data.len())
        .map(Arc::from);
    drop(slot);
    if stamp.settled() {
        remember((path.to_path_buf(), coding), stamp, result.clone());
    }
    result
}

/// The bytes of a precompressed sibling (`FILE.gz`) at `path`, as `metadata` (a fresh stat of it) describes it:
/// kept from an earlier request while the file is unchanged, else what `read` gives (kept once its times have settled).
/// Siblings over [`MAX_COMPRESSED_SOURCE`] are not kept (`None`: send them from the file).
pub(crate) fn kept_sibling(
    path: &Path,
    metadata: &std::fs::Metadata,
    coding: ContentCoding,
    read: impl FnOnce() -> Option<Vec<u8>>,
) -> Option<Arc<[u8]>> {
    if metadata.len() > MAX_COMPRESSED_SOURCE {
        return None;
    }
    let stamp = Stamp::of(metadata);
    {
        let cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((kept, Some(bytes))) = cache.as_ref().and_then(|kept| kept.get(path, coding)) {
            if *kept == stamp {
                return Some(Arc::clone(bytes));
            }
        }
    }
    let data = read()?;
    if data.len() as u64 != stamp.size {
        return None;
    }
    let bytes: Arc<[u8]> = Arc::from(data);
    if stamp.settled() {
        remember(
            (path.to_path_buf(), coding),
            stamp,
            Some(Arc::clone(&bytes)),
        );
    }
    Some(bytes)
}

fn remember(key: (PathBuf, ContentCoding), stamp: Stamp, result: KeptResult) {
    let size = result.as_ref().map_or(0, |bytes| bytes.len());
    if size > KEPT_BYTES / 4 {
        return;
    }
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    let kept = cache.get_or_insert_with(Kept::default);
    if kept.len() >= KEPT_ENTRIES || kept.bytes + size > KEPT_BYTES {
        kept.entries.iter_mut().for_each(HashMap::clear);
        kept.bytes = 0;
    }
    let (path, coding) = key;
    let old = kept.entries[coding as usize].insert(path_key(&path).into(), (stamp, result));
    let old_size = old
        .and_then(|(_, result)| result)
        .map_or(0, |bytes| bytes.len());
    kept.bytes = kept.bytes + size - old_size;
}

/// Compresses a page made for this request (a listing), if a slot is free and it shrinks.
pub(crate) fn compressed_page(coding: ContentCoding, page: &[u8]) -> Option<Vec<u8>> {
    let _slot = Slot::take()?;
    encode(coding, page)
        .ok()
        .filter(|output| output.len() < page.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str, expected: Option<ContentCoding>) {
        assert_eq!(
            negotiate_encoding(Some(header), &ContentCoding::ALL),
            expected,
            "{header:?}"
        );
    }

    /// Held by the tests that put entries in the cache, so one's count is not another's (cargo test runs them on threads).
    static CACHE_TESTS: Mutex<()> = Mutex::new(());

    /// The cache, emptied, for a test that counts what it holds.
    fn fresh_cache() -> std::sync::MutexGuard<'static, Option<Kept>> {
        let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        *cache = Some(Kept::default());
        cache
    }

    fn held() -> (usize, usize) {
        let cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = cache.as_ref().unwrap();
        (kept.len(), kept.bytes)
    }

    #[test]
    fn the_cache_counts_its_bytes_and_starts_over_when_full() {
        let _serial = CACHE_TESTS.lock().unwrap_or_else(PoisonError::into_inner);
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("stamp.txt");
        std::fs::write(&path, b"x").unwrap();
        let stamp = Stamp::of(&std::fs::metadata(&path).unwrap());
        let key = |index: usize| (PathBuf::from(format!("/kept/{index}")), ContentCoding::Gzip);
        let bytes = |length: usize| Some(Arc::from(vec![7u8; length]));
        drop(fresh_cache());
        remember(key(0), stamp, bytes(100));
        assert_eq!(held(), (1, 100));
        // Replacing an entry counts the new size instead of the old.
        remember(key(0), stamp, bytes(50));
        assert_eq!(held(), (1, 50));
        remember(key(1), stamp, bytes(10));
        assert_eq!(held(), (2, 60));
        // One result may take a quarter of the cache, no more.
        remember(key(2), stamp, bytes(KEPT_BYTES / 4 + 1));
        assert_eq!(held(), (2, 60));
        drop(fresh_cache());
        for index in 0..4 {
            remember(key(index), stamp, bytes(KEPT_BYTES / 4));
        }
        assert_eq!(held(), (4, KEPT_BYTES));
        // Full: the next one starts the cache over.
        remember(key(9), stamp, bytes(1));
        assert_eq!(held(), (1, 1));
        // So does the entry past the count.
        drop(fresh_cache());
        for index in 0..KEPT_ENTRIES {
            remember(key(index), stamp, None);
        }
        assert_eq!(held(), (KEPT_ENTRIES, 0));
        remember(key(KEPT_ENTRIES), stamp, None);
        assert_eq!(held(), (1, 0));
    }

    #[test]
    fn siblings_up_to_the_bound_are_kept() {
        let directory = tempfile::tempdir().unwrap();
        let at_bound = directory.path().join("at.gz");
        let over = directory.path().join("over.gz");
        std::fs::File::create(&at_bound)
            .unwrap()
            .set_len(MAX_COMPRESSED_SOURCE)
            .unwrap();
        std::fs::File::create(&over)
            .unwrap()
            .set_len(MAX_COMPRESSED_SOURCE + 1)
            .unwrap();
        let length = |path: &Path| {
            kept_sibling(
                path,
                &std::fs::metadata(path).unwrap(),
                ContentCoding::Gzip,
                || std::fs::read(path).ok(),
            )
            .map(|bytes| bytes.len() as u64)
        };
        assert_eq!(length(&at_bound), Some(MAX_COMPRESSED_SOURCE));
        assert_eq!(length(&over), None);
        // What `read` gives must be the version stat describes.
        let short = directory.path().join("short.gz");
        std::fs::write(&short, b"12345").unwrap();
        let metadata = std::fs::metadata(&short).unwrap();
        assert_eq!(
            kept_sibling(&short, &metadata, ContentCoding::Gzip, || Some(
                b"1234".to_vec()
            )),
            None
        );
    }

    #[test]
    fn the_cache_keeps_many_entries() {
        let _serial = CACHE_TESTS.lock().unwrap_or_else(PoisonError::into_inner);
        let directory = tempfile::tempdir().unwrap();
        let mut stamps = Vec::new();
        for index in 0..3 {
            let path = directory.path().join(format!("kept-{index}.txt"));
            std::fs::write(&path, format!("content {index}")).unwrap();
            let stamp = Stamp::of(&std::fs::metadata(&path).unwrap());
            remember(
                (path.clone(), ContentCoding::Gzip),
                stamp,
                Some(Arc::from(&b"packed"[..])),
            );
            stamps.push((path, stamp));
        }
        let cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = cache.as_ref().unwrap();
        for (path, stamp) in stamps {
            let (kept_stamp, bytes) = kept
                .get(&path, ContentCoding::Gzip)
                .unwrap_or_else(|| panic!("{} not kept", path.display()));
            assert_eq!(*kept_stamp, stamp);
            assert_eq!(bytes.as_deref(), Some(&b"packed"[..]));
        }
    }

    #[test]
    fn long_lists_are_read_up_to_64_names() {
        let names = |count: usize| {
            let mut list = vec!["x-unknown"; count - 1];
            list.push("gzip");
            list.join(",")
        };
        assert_eq!(
            negotiate_encoding(Some(&names(64)), &ContentCoding::ALL),
            Some(ContentCoding::Gzip)
        );
        assert_eq!(
            negotiate_encoding(Some(&names(65)), &ContentCoding::ALL),
            None
        );
    }

    #[test]
    fn weights_pick_the_coding() {
        use ContentCoding::*;
        check("gzip", Some(Gzip));
        check("GZIP", Some(Gzip));
        check("x-gzip", Some(Gzip));
        check("br", Some(Brotli));
        check("zstd", Some(Zstd));
        check("gzip, deflate, br, zstd", Some(Brotli));
        check("gzip, zstd", Some(Zstd));
        check("deflate", None);
        check("gzip;q=0.5, br;q=0.4", Some(Gzip));
        check("gzip;q=0.5, br;q=0.501", Some(Brotli));
        check("gzip; q=0.5 ,br;Q=1.000", Some(Brotli));
        check("br;q=0, gzip", Some(Gzip));
        check("br;q=0, gzip;q=0.000, zstd;q=0.001", Some(Zstd));
        check("zstd;q=0.", None);
        check("*", Some(Brotli));
        check("*;q=0.5, gzip", Some(Gzip));
        check("*;q=0.5, br;q=0.2", Some(Zstd));
        check("*;q=0", None);
        check("*;q=0, gzip", Some(Gzip));
        check("gzip;q=0, x-gzip", Some(Gzip));
        check("identity", None);
        check("identity;q=0.9, gzip;q=0.5", None);
        check("identity;q=0.5, gzip;q=0.5", Some(Gzip));
        check("identity;q=0, gzip", Some(Gzip));
        check("", None);
        check(" , ,gzip,", Some(Gzip));
    }

    #[test]
    fn nonsense_accepts_no_coding() {
        for header in [
            "gzip;q=2",
            "gzip;q=1.5",
            "gzip;q=0.1234",
            "gzip;q=-1",
            "gzip;q=",
            "gzip;q",
            "gzip;level=9",
            "gz ip",
            "gzip;q=0.5x",
            "\u{0}gzip",
            "gzip;;",
            ";q=1",
            "g\"zip\"",
            "gzip;q=1.0.0",
            "gzip;q=+1",
            "gzip;q=.5",
        ] {
            check(header, None);
        }
        let long = vec!["gzip"; 100].join(",");
        check(&long, None);
        assert_eq!(negotiate_encoding(None, &ContentCoding::ALL), None);
        assert_eq!(negotiate_encoding(Some("br, gzip"), &[]), None);
        assert_eq!(
            negotiate_encoding(Some("br, gzip"), &[ContentCoding::Gzip]),
            Some(ContentCoding::Gzip)
        );
    }

    #[test]
    fn weights_have_three_decimals() {
        assert_eq!(parse_weight("0"), Some(0));
        assert_eq!(parse_weight("0."), Some(0));
        assert_eq!(parse_weight("0.5"), Some(500));
        assert_eq!(parse_weight("0.05"), Some(50));
        assert_eq!(parse_weight("0.999"), Some(999));
        assert_eq!(parse_weight("1"), Some(1000));
        assert_eq!(parse_weight("1.000"), Some(1000));
        assert_eq!(parse_weight("1.001"), None);
        assert_eq!(parse_weight("2"), None);
        assert_eq!(parse_weight("00.5"), None);
    }

    #[test]
    fn text_is_compressible_and_compressed_formats_are_not() {
        for compressible in [
            "text/plain",
            "text/html; charset=utf-8",
            "TEXT/CSS",
            "application/json",
            "application/javascript",
            "text/javascript",
            "image/svg+xml",
            "application/ld+json",
            "application/atom+xml",
            "application/wasm",
        ] {
            assert!(is_compressible(compressible), "{compressible}");
        }
        for compressed in [
            "image/png",
            "image/jpeg",
            "application/gzip",
            "application/zip",
            "application/x-bzip2",
            "application/zstd",
            "video/mp4",
            "audio/mpeg",
            "font/woff2",
            "application/octet-stream",
            "application/pdf",
            "",
        ] {
            assert!(!is_compressible(compressed), "{compressed}");
        }
    }

    #[test]
    fn each_coding_has_its_own_entity_tag() {
        assert_eq!(
            ContentCoding::Gzip.entity_tag("\"1f-abc\""),
            "\"1f-abc-gzip\""
        );
        assert_eq!(
            ContentCoding::Brotli.entity_tag("\"1f-abc\""),
            "\"1f-abc-br\""
        );
        assert_eq!(ContentCoding::Zstd.entity_tag("x"), "x-zstd");
        let tags: std::collections::BTreeSet<_> = ContentCoding::ALL
            .iter()
            .map(|coding| coding.entity_tag("\"t\""))
            .chain(["\"t\"".to_owned()])
            .collect();
        assert_eq!(tags.len(), 4);
    }

    #[cfg(feature = "compression")]
    #[test]
    fn every_coding_round_trips() {
        use std::io::Read;
        let text = "All work and no play makes Jack a dull boy.\n".repeat(200);
        for coding in ContentCoding::ALL {
            let packed = compress(coding, text.as_bytes()).unwrap();
            assert!(packed.len() < text.len() / 10, "{coding:?}");
            let mut unpacked = Vec::new();
            match coding {
                ContentCoding::Gzip => {
                    flate2::read::GzDecoder::new(&packed[..])
                        .read_to_end(&mut unpacked)
                        .unwrap();
                }
                ContentCoding::Brotli => {
                    brotli::Decompressor::new(&packed[..], 4096)
                        .read_to_end(&mut unpacked)
                        .unwrap();
                }
                ContentCoding::Zstd => {
                    unpacked = zstd::stream::decode_all(&packed[..]).unwrap();
                }
            }
            assert_eq!(unpacked, text.as_bytes(), "{coding:?}");
        }
    }

    #[cfg(feature = "compression")]
    #[test]
    fn compressions_are_bounded_by_slots() {
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        let slots: Vec<Slot> = std::iter::from_fn(Slot::take).take(cores + 5).collect();
        // Other tests may hold slots meanwhile, so at most `cores` were granted, never more.
        assert!(slots.len() <= cores, "{} slots", slots.len());
        let page = b"a".repeat(4096);
        if slots.len() == cores {
            assert_eq!(compressed_page(ContentCoding::Gzip, &page), None);
        }
        drop(slots);
    }
}
