//! Request targets to files: splitting the target, percent-decoding, and resolving the
//! path under the served directory so that it can never leave it.
//!
//! Rules (Python's `translate_path`, plus the symlink check): the query and fragment are
//! dropped; the path is percent-decoded (`%2F` is a separator, `%2e%2e` is `..`); empty
//! and `.` segments are skipped and `..` removes the segment before it, never going
//! above the root; a NUL byte is a 400. A symlink whose target lies outside the root is
//! a 404 unless symlinks are followed (`--follow-symlinks`).

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A request target split into its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// `scheme://authority` of an absolute-form target, else empty.
    pub origin: &'a str,
    /// The path, still percent-encoded. A leading `//` is reduced to `/` so a redirect to
    /// it cannot point at another host (Python's gh-87389 fix).
    pub path: &'a str,
    /// The query after `?`, if any.
    pub query: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// Splits `target` (origin form `/p?q`, or absolute form `http://host/p?q`).
    pub fn split(target: &'a str) -> Target<'a> {
        let (mut origin, mut rest) = ("", target);
        for scheme in ["http://", "https://"] {
            let starts = target
                .get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme));
            if starts {
                let end = target[scheme.len()..]
                    .find(['/', '?', '#'])
                    .map_or(target.len(), |i| i + scheme.len());
                (origin, rest) = target.split_at(end);
                break;
            }
        }
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (mut path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        if origin.is_empty() && path.starts_with("//") {
            path = &path[path.len() - path.trim_start_matches('/').len() - 1..];
        }
        Target {
            origin,
            path,
            query,
        }
    }

    /// Whether the path ends in `/` (asks for a directory).
    pub fn wants_directory(&self) -> bool {
        self.path.ends_with('/') || self.path.is_empty()
    }
}

/// Why a path does not resolve to something servable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Miss {
    /// The path holds a NUL byte: 400.
    Invalid,
    /// Nothing there (or outside the root, or not readable): 404.
    NotFound,
}

/// Calls `f` with the segments of the URL `path`: percent-decoded, `.` and empty
/// segments dropped, `..` applied but never above the root.
pub fn with_segments<R>(path: &str, f: impl FnOnce(&[&[u8]]) -> R) -> Result<R, Miss> {
    let decoded = decode(path);
    if decoded.contains(&0) {
        return Err(Miss::Invalid);
    }
    let mut segments: Vec<&[u8]> = Vec::new();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    Ok(f(&segments))
}

/// Percent-decodes a URL path to the bytes of a file name.
///
/// A name that is not UTF-8 is linked the way Python links it (each stray byte as the
/// UTF-8 form of a lone surrogate, U+DC80 to U+DCFF, see `listing`): those sequences
/// decode back to the byte, so Python's links work here too.
pub fn decode(path: &str) -> Cow<'_, [u8]> {
    let decoded: Cow<'_, [u8]> = percent_encoding::percent_decode_str(path).into();
    if !decoded
        .windows(2)
        .any(|w| w[0] == 0xED && (w[1] == 0xB2 || w[1] == 0xB3))
    {
        return decoded;
    }
    let mut bytes = Vec::with_capacity(decoded.len());
    let mut i = 0;
    while i < decoded.len() {
        match decoded[i..] {
            [0xED, second @ (0xB2 | 0xB3), third @ 0x80..=0xBF, ..] => {
                bytes.push(((second & 0x03) << 6) | (third & 0x3F));
                i += 3;
            }
            [b, ..] => {
                bytes.push(b);
                i += 1;
            }
            [] => break,
        }
    }
    Cow::Owned(bytes)
}

/// The served directory: its canonical path, and whether symlinks may lead out of it.
#[derive(Clone, Debug)]
pub struct Root {
    dir: PathBuf,
    follow_symlinks: bool,
}

impl Root {
    /// The root at `dir` (made canonical, so the out-of-root check compares real paths).
    ///
    /// # Errors
    ///
    /// When `dir` does not exist or is not a directory.
    pub fn new(dir: &Path, follow_symlinks: bool) -> io::Result<Root> {
        let dir = fs::canonicalize(dir)?;
        if !fs::metadata(&dir)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", dir.display()),
            ));
        }
        Ok(Root {
            dir,
            follow_symlinks,
        })
    }

    /// The directory served.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Resolves the URL `path` (still percent-encoded) under the root.
    pub fn lookup(&self, path: &str) -> Result<Found, Miss> {
        with_segments(path, |segments| self.resolve(segments))?
    }

    /// Opens what `segments` name under the root.
    ///
    /// Without `follow_symlinks`, the directories on the way are looked at with `lstat`
    /// and the last component is opened with `O_NOFOLLOW`; when any of them is a symlink
    /// the whole path is canonicalized and must stay under the root. Without symlinks the
    /// path is under the root by construction, and a file costs one `open` and one
    /// `fstat`.
    pub fn resolve(&self, segments: &[&[u8]]) -> Result<Found, Miss> {
        let mut path = self.dir.clone();
        let mut linked = false;
        for (i, segment) in segments.iter().enumerate() {
            path.push(OsStr::from_bytes(segment));
            if !self.follow_symlinks && i + 1 < segments.len() {
                let meta = fs::symlink_metadata(&path).map_err(|_| Miss::NotFound)?;
                linked |= meta.file_type().is_symlink();
            }
        }
        self.open_checked(path, linked)
    }

    /// What is at `name` inside the directory `dir` (already resolved), under the same
    /// symlink rule: for `index.html`.
    pub fn child(&self, dir: &Path, name: &str) -> Option<Found> {
        self.open_checked(dir.join(name), false).ok()
    }

    /// Opens `path`, refusing (unless symlinks are followed) a symlink that leads out
    /// of the root: `linked` says a directory on the way was one.
    fn open_checked(&self, path: PathBuf, linked: bool) -> Result<Found, Miss> {
        if !linked {
            match open(&path, !self.follow_symlinks) {
                Ok(file) => return Found::new(path, file),
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) && !self.follow_symlinks => {}
                Err(_) => return Err(Miss::NotFound),
            }
        }
        let real = fs::canonicalize(&path).map_err(|_| Miss::NotFound)?;
        if !real.starts_with(&self.dir) {
            return Err(Miss::NotFound);
        }
        let file = open(&real, false).map_err(|_| Miss::NotFound)?;
        Found::new(path, file)
    }
}

/// Something found under the root, open.
#[derive(Debug)]
pub struct Found {
    /// Its path under the root as asked (symlinks not resolved: the name is the one
    /// asked for, which gives the content type).
    pub path: PathBuf,
    /// What it is, from the open descriptor.
    pub meta: Metadata,
    /// The open file (or directory).
    pub file: File,
}

impl Found {
    fn new(path: PathBuf, file: File) -> Result<Found, Miss> {
        let meta = file.metadata().map_err(|_| Miss::NotFound)?;
        Ok(Found { path, meta, file })
    }
}

/// Opens for reading; `O_NONBLOCK` so that a FIFO cannot block the open.
fn open(path: &Path, no_follow: bool) -> io::Result<File> {
    let flags = libc::O_NONBLOCK | if no_follow { libc::O_NOFOLLOW } else { 0 };
    OpenOptions::new().read(true).custom_flags(flags).open(path)
}
