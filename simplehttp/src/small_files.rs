//! Small files kept in memory between requests, checked against the fresh stat every request makes anyway.
//!
//! A hit costs no open, fstat, read or close: a small file is answered with one stat and one write.
//! An entry is used only while the file's device, inode, size, modification and change times are exactly those it was read with,
//! and a file changed in the last [`SETTLED`] is not kept at all: a second change within the file system's timestamp granularity
//! could leave both times as they were (git's "racy" files), and the cache must never outlive a change.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Files up to this size are kept (the size whose body leaves with its headers in one write).
pub(crate) const SMALL_FILE: u64 = 4096;

/// At most this many files are kept (4 MiB at most); when full, the cache starts over.
const ENTRIES: usize = 1024;

/// How long ago a file must have last changed to be kept.
const SETTLED: Duration = Duration::from_secs(2);

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    device: u64,
    inode: u64,
    pub(crate) size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Stamp {
    pub(crate) fn of(metadata: &std::fs::Metadata) -> Stamp {
        Stamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// Whether both times lie at least [`SETTLED`] in the past.
    pub(crate) fn settled(&self) -> bool {
        let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            return false;
        };
        let limit = now.saturating_sub(SETTLED).as_secs();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.modified.0 < limit && self.changed.0 < limit
    }
}

/// Kept files by path, each with the stamp of the version kept.
///
/// Keyed by the path's bytes ([`path_key`]): hashing a `Path` walks its components, which costs more than the lookup.
type Kept = HashMap<Box<[u8]>, (Stamp, Arc<[u8]>)>;

/// A path's bytes, as the caches key it. Two spellings of one path (`a//b`, `a/b`) are two keys, which only costs a miss;
/// the paths looked up are built one way, from the normalised request target.
pub(crate) fn path_key(path: &Path) -> &[u8] {
    path.as_os_str().as_encoded_bytes()
}

static CACHE: Mutex<Option<Kept>> = Mutex::new(None);

/// The kept bytes of `path`, if they are those of the file `metadata` describes.
pub(crate) fn lookup(path: &Path, metadata: &std::fs::Metadata) -> Option<Arc<[u8]>> {
    if metadata.size() > SMALL_FILE {
        return None;
    }
    let stamp = Stamp::of(metadata);
    let cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    let (kept, content) = cache.as_ref()?.get(path_key(path))?;
    (*kept == stamp).then(|| Arc::clone(content))
}

/// Keeps `content`, read from the open file `metadata` describes, for later requests of `path`; nothing if it changed too recently.
pub(crate) fn remember(path: &Path, metadata: &std::fs::Metadata, content: &Arc<[u8]>) {
    let stamp = Stamp::of(metadata);
    if stamp.size != content.len() as u64 || stamp.size > SMALL_FILE || !stamp.settled() {
        return;
    }
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    let entries = cache.get_or_insert_with(HashMap::new);
    if entries.len() >= ENTRIES && !entries.contains_key(path_key(path)) {
        entries.clear();
    }
    entries.insert(path_key(path).into(), (stamp, Arc::clone(content)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn files_changed_recently_are_not_kept() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("fresh.txt");
        fs::write(&path, b"fresh").unwrap();
        let metadata = fs::metadata(&path).unwrap();
        remember(&path, &metadata, &Arc::from(&b"fresh"[..]));
        assert!(lookup(&path, &metadata).is_none());
    }

    // A file kept once settled is served from memory until it changes, even in place with the same size.
    #[test]
    fn a_kept_file_is_used_until_it_changes() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("page.html");
        fs::write(&path, b"first").unwrap();
        std::thread::sleep(SETTLED + Duration::from_millis(1100));
        let metadata = fs::metadata(&path).unwrap();
        remember(&path, &metadata, &Arc::from(&b"first"[..]));
        assert_eq!(lookup(&path, &metadata).as_deref(), Some(&b"first"[..]));
        // Not for another path, nor for bytes that do not match the size.
        assert!(lookup(&directory.path().join("other"), &metadata).is_none());
        fs::write(&path, b"other").unwrap();
        let rewritten = fs::metadata(&path).unwrap();
        assert!(lookup(&path, &rewritten).is_none());
    }

    #[test]
    fn content_of_the_wrong_size_is_not_kept() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("short.txt");
        fs::write(&path, b"12345").unwrap();
        let metadata = fs::metadata(&path).unwrap();
        let mut stamp = Stamp::of(&metadata);
        stamp.modified.0 -= 10;
        stamp.changed.0 -= 10;
        assert!(stamp.settled());
        assert!(!Stamp::of(&metadata).settled());
    }
}
