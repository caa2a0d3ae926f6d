//! [`FileOptions`]: what the file handler does beyond Python (compression, uploads, the sortable and JSON listing,
//! a single-page app's fallback, hidden dotfiles, symbolic links), every one off by default.
//!
//! The checks on paths live here too: which names are dotfiles, and whether a path reaches outside the served directory
//! through a symbolic link.

use std::fs::File;
use std::path::{Component, Path, PathBuf};

/// What the file handler does beyond Python's `SimpleHTTPRequestHandler`; [`Default`] is Python's behaviour.
///
/// Set on [`SimpleHttpRequestHandler::options`](crate::SimpleHttpRequestHandler::options); another handler hands its own
/// to [`serve_files`](crate::serve_files) through [`SimpleHooks::options`](crate::SimpleHooks::options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileOptions {
    /// Compress responses on the fly with the coding `Accept-Encoding` prefers (brotli, zstd, gzip),
    /// for compressible types from [`MIN_COMPRESSED_SIZE`](crate::MIN_COMPRESSED_SIZE) to [`MAX_COMPRESSED_SOURCE`](crate::MAX_COMPRESSED_SOURCE) bytes;
    /// never a `Range` request. Needs the `compression` feature (without it, responses go out as they are).
    pub compress: bool,
    /// Answer with `FILE.br`, `FILE.zst` or `FILE.gz` when the request accepts that coding and the sibling is
    /// a regular file at least as new as `FILE`.
    pub precompressed: bool,
    /// Dotfiles (any name in the path starting with `.`) are neither listed nor served (404).
    pub hide_dotfiles: bool,
    /// Which symbolic links are followed.
    pub symlinks: Symlinks,
    /// A file, relative to the served directory, answered with 200 to a GET or HEAD that would be 404 and accepts HTML
    /// (a single-page application's `index.html`, whose script routes the path itself).
    pub spa_fallback: Option<PathBuf>,
    /// Which listing page directories get.
    pub listing: ListingStyle,
    /// Answer a listing as JSON when asked (`?format=json`, or `Accept` weighing `application/json` above `text/html`),
    /// whichever [`ListingStyle`] the page has.
    pub json_listing: bool,
    /// Uploads (PUT, and multipart POST from the listing's form); `None`, the default, refuses them with 501 as Python does.
    pub upload: Option<Upload>,
}

impl FileOptions {
    /// Python's behaviour: nothing beyond it.
    pub const PYTHON: FileOptions = FileOptions {
        compress: false,
        precompressed: false,
        hide_dotfiles: false,
        symlinks: Symlinks::Follow,
        spa_fallback: None,
        listing: ListingStyle::Python,
        json_listing: false,
        upload: None,
    };
}

/// [`FileOptions::PYTHON`] as a value that lives for ever, for [`SimpleHooks::options`](crate::SimpleHooks::options)'s default.
pub(crate) static PYTHON_OPTIONS: FileOptions = FileOptions::PYTHON;

/// Which symbolic links under the served directory are followed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Symlinks {
    /// Every one, wherever it leads (Python's behaviour).
    #[default]
    Follow,
    /// Only those that resolve inside the served directory; the others are 404 and not listed.
    InRootOnly,
    /// None: a path through any symbolic link is 404, and links are not listed.
    Never,
}

/// The page a directory is answered with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListingStyle {
    /// Python's page, byte for byte ([`list_directory_page`](crate::list_directory_page)).
    #[default]
    Python,
    /// A table of names, sizes and dates, sortable by links with a query (`?sort=size&order=desc`), with the upload form
    /// when uploads are on.
    Sortable,
}

/// How uploads behave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Upload {
    /// Replace an existing file (200 or 204); without it, an upload to an existing name is refused with 409.
    pub overwrite: bool,
    /// Accept names starting with `.` (`.htaccess`, `.ssh`); refused with 403 otherwise.
    pub dotfiles: bool,
}

impl Upload {
    /// Uploads of new files, no dotfiles.
    pub fn new() -> Upload {
        Upload::default()
    }

    /// With existing files replaced.
    pub fn with_overwrite(mut self, overwrite: bool) -> Upload {
        self.overwrite = overwrite;
        self
    }

    /// With names starting with `.` accepted.
    pub fn with_dotfiles(mut self, dotfiles: bool) -> Upload {
        self.dotfiles = dotfiles;
        self
    }
}

#[cfg(feature = "cli")]
impl crate::CommandLine {
    /// The [`FileOptions`] the command line asks for: Python's listing page unless `--sortable-listing` or `--upload`
    /// (whose form is on the sortable page), and JSON listings on request always.
    ///
    /// # Errors
    ///
    /// `--spa-fallback` naming something that is not a regular file inside `directory`.
    pub fn file_options(&self, directory: &Path) -> std::io::Result<FileOptions> {
        let spa_fallback = match &self.spa_fallback {
            None => None,
            Some(file) => {
                let inside = file
                    .components()
                    .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
                if !inside || !directory.join(file).is_file() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!(
                            "--spa-fallback {}: not a file inside {}",
                            file.display(),
                            directory.display()
                        ),
                    ));
                }
                Some(file.clone())
            }
        };
        Ok(FileOptions {
            compress: self.compress,
            precompressed: self.precompressed,
            hide_dotfiles: self.hide_dotfiles,
            symlinks: if self.no_follow_symlinks {
                Symlinks::Never
            } else if self.symlinks_in_root_only {
                Symlinks::InRootOnly
            } else {
                Symlinks::Follow
            },
            spa_fallback,
            listing: if self.sortable_listing || self.upload {
                ListingStyle::Sortable
            } else {
                ListingStyle::Python
            },
            json_listing: true,
            upload: self.upload.then(|| {
                Upload::new()
                    .with_overwrite(self.overwrite)
                    .with_dotfiles(self.upload_dotfiles)
            }),
        })
    }
}

/// Whether a name is a dotfile's: it starts with `.` (`.git`, `.env`).
pub(crate) fn is_dotfile(name: &[u8]) -> bool {
    name.first() == Some(&b'.')
}

/// Whether any name of `path` below `root` is a dotfile's.
pub(crate) fn has_dotfile(path: &Path, root: &Path) -> bool {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.components().any(|component| match component {
        Component::Normal(name) => is_dotfile(name.as_encoded_bytes()),
        _ => false,
    })
}

/// What `path` resolves to once every symbolic link is followed; `None` when it does not exist (nothing to serve).
fn resolved(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// Whether `path`, a path under `root` built from a request, may be served under `policy`.
///
/// A path that does not exist is allowed here: looking it up answers 404 anyway.
pub(crate) fn path_allowed(path: &Path, root: &Path, policy: Symlinks) -> bool {
    match policy {
        Symlinks::Follow => true,
        _ => match (resolved(path), resolved(root)) {
            (Some(target), Some(root_target)) => {
                target_allowed(&target, path, root, &root_target, policy)
            }
            (None, _) => true,
            (Some(_), None) => false,
        },
    }
}

/// Whether `target`, what `path` (under `root`, whose own resolution is `root_target`) resolved to, may be served.
fn target_allowed(
    target: &Path,
    path: &Path,
    root: &Path,
    root_target: &Path,
    policy: Symlinks,
) -> bool {
    match policy {
        Symlinks::Follow => true,
        Symlinks::InRootOnly => target.starts_with(root_target),
        Symlinks::Never => {
            // Without links, the resolution is the root's followed by the same names.
            let Ok(relative) = path.strip_prefix(root) else {
                return false;
            };
            let mut expected = root_target.to_path_buf();
            for component in relative.components() {
                match component {
                    Component::Normal(name) => expected.push(name),
                    Component::CurDir => {}
                    _ => return false,
                }
            }
            *target == expected
        }
    }
}

/// Whether the file opened from `path` may be served under `policy`, read from the open descriptor itself
/// (`/proc/self/fd`), so a link swapped in between the check of the path and the open cannot slip through.
///
/// Where `/proc` cannot tell, the path's own resolution decides.
pub(crate) fn open_file_allowed(file: &File, path: &Path, root: &Path, policy: Symlinks) -> bool {
    if policy == Symlinks::Follow {
        return true;
    }
    use std::os::fd::AsRawFd;
    let opened = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()));
    match (opened, resolved(root)) {
        (Ok(target), Some(root_target)) => {
            target_allowed(&target, path, root, &root_target, policy)
        }
        (Err(_), Some(_)) => path_allowed(path, root, policy),
        (_, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn dotfiles_are_names_starting_with_a_dot() {
        let root = Path::new("/srv");
        assert!(has_dotfile(Path::new("/srv/.env"), root));
        assert!(has_dotfile(Path::new("/srv/.git/config"), root));
        assert!(has_dotfile(Path::new("/srv/a/.b/c"), root));
        assert!(!has_dotfile(Path::new("/srv/a.b/c."), root));
        assert!(!has_dotfile(Path::new("/srv/"), root));
        // The root itself may have a dot in its name.
        assert!(!has_dotfile(
            Path::new("/home/.www/a"),
            Path::new("/home/.www")
        ));
        assert!(is_dotfile(b".."));
        assert!(!is_dotfile(b""));
    }

    #[test]
    fn symlink_policies() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("root");
        let outside = base.path().join("outside");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(root.join("sub/file"), b"in").unwrap();
        fs::write(outside.join("secret"), b"out").unwrap();
        symlink(outside.join("secret"), root.join("out")).unwrap();
        symlink("sub/file", root.join("in")).unwrap();
        symlink("sub", root.join("subdir")).unwrap();
        symlink(&outside, root.join("outdir")).unwrap();
        let allowed = |name: &str, policy| path_allowed(&root.join(name), &root, policy);
        for name in [
            "sub/file",
            "in",
            "out",
            "subdir/file",
            "outdir/secret",
            "missing",
        ] {
            assert!(allowed(name, Symlinks::Follow), "{name}");
        }
        for name in ["sub/file", "in", "subdir/file", "sub/", "missing"] {
            assert!(allowed(name, Symlinks::InRootOnly), "{name}");
        }
        for name in ["out", "outdir/secret", "outdir"] {
            assert!(!allowed(name, Symlinks::InRootOnly), "{name}");
        }
        for name in ["sub/file", "sub", "missing"] {
            assert!(allowed(name, Symlinks::Never), "{name}");
        }
        for name in ["in", "out", "subdir/file", "subdir", "outdir/secret"] {
            assert!(!allowed(name, Symlinks::Never), "{name}");
        }
        // The root may itself be reached through a link.
        let linked_root = base.path().join("linked-root");
        symlink(&root, &linked_root).unwrap();
        assert!(path_allowed(
            &linked_root.join("sub/file"),
            &linked_root,
            Symlinks::Never
        ));
        assert!(!path_allowed(
            &linked_root.join("in"),
            &linked_root,
            Symlinks::Never
        ));
        // The open descriptor tells where the file really is.
        let file = File::open(root.join("out")).unwrap();
        assert!(!open_file_allowed(
            &file,
            &root.join("out"),
            &root,
            Symlinks::InRootOnly
        ));
        assert!(open_file_allowed(
            &file,
            &root.join("out"),
            &root,
            Symlinks::Follow
        ));
        let file = File::open(root.join("sub/file")).unwrap();
        assert!(open_file_allowed(
            &file,
            &root.join("sub/file"),
            &root,
            Symlinks::Never
        ));
        // A file opened through one name and checked as another (a link swapped in after the open) is refused.
        let file = File::open(root.join("in")).unwrap();
        assert!(!open_file_allowed(
            &file,
            &root.join("in"),
            &root,
            Symlinks::Never
        ));
    }
}
