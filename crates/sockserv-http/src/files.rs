//! [`FileServer`]: Python's `SimpleHTTPRequestHandler` as a [`Handler`] — files (whole,
//! ranges, gzip, conditionals), redirects to a directory's slash, index pages and
//! listings — deciding each answer as a [`Response`] value.
//!
//! Paths resolve under the served directory ([`Root`]); directories without an
//! `index.html` or `index.htm` get Python's listing ([`listing`]). Files are sent from
//! the file, never read whole, except to compress one (at most
//! [`MAX_GZIP_FILE`](crate::gzip::MAX_GZIP_FILE) bytes). GET and HEAD are served; any
//! other method is 501 and closes the connection, as in Python.

pub mod listing;
mod path;

use std::fs::File;
use std::path::Path;

use sockserv::PeerAddr;

use crate::conditional::{self, Outcome, Preconditions, Validators};
use crate::gzip::{self, Coding};
use crate::handler::Handler;
use crate::range::{self, Ranges};
use crate::request::Request;
use crate::response::{Multipart, Response, Text};
use crate::status::Status;

pub use self::path::{decode, with_segments, Found, Miss, Root, Target};

/// The media type of a directory listing.
const LISTING_TYPE: &str = "text/html; charset=utf-8";

/// The media type of a file whose name says nothing (Python's default).
pub const DEFAULT_TYPE: &str = "application/octet-stream";

/// Serves a directory over HTTP: `python -m http.server`, as a [`Handler`].
#[derive(Clone, Debug)]
pub struct FileServer {
    root: Root,
    gzip: bool,
    default_type: Text,
}

impl FileServer {
    /// Serves `root`, without compression, unknown types as [`DEFAULT_TYPE`].
    pub fn new(root: Root) -> FileServer {
        FileServer {
            root,
            gzip: false,
            default_type: Text::Borrowed(DEFAULT_TYPE),
        }
    }

    /// The `Content-Type` of files whose extension has no known type (Python 3.15's
    /// `--content-type`; default [`DEFAULT_TYPE`]).
    pub fn default_type(mut self, media_type: impl Into<Text>) -> FileServer {
        self.default_type = media_type.into();
        self
    }

    /// Compresses text types on the fly for clients that accept gzip (see [`Coding`]).
    pub fn gzip(mut self, on: bool) -> FileServer {
        self.gzip = on;
        self
    }

    /// The served directory.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The answer to `request`, whatever its method: GET and HEAD are served, anything
    /// else is 501.
    pub fn decide(&self, request: &Request<'_>) -> Response {
        match request.method {
            "GET" | "HEAD" => self.get(request),
            // Python closes after a 501 too: the body of the unknown method was not read.
            method => Response::error(
                Status::NOT_IMPLEMENTED,
                &format!("Unsupported method ('{method}')"),
            )
            .closing(),
        }
    }

    fn get(&self, request: &Request<'_>) -> Response {
        let target = Target::split(request.target);
        let found = match self.root.lookup(target.path) {
            Ok(found) => found,
            // A malformed path closes the connection too.
            Err(Miss::Invalid) => {
                return Response::error(Status::BAD_REQUEST, "Bad request path").closing()
            }
            Err(Miss::NotFound) => return not_found(),
        };
        if found.meta.is_dir() {
            if !target.wants_directory() {
                return redirect(&target);
            }
            for index in ["index.html", "index.htm"] {
                if let Some(index) = self.root.child(&found.path, index) {
                    if index.meta.is_file() {
                        return self.file(request, index);
                    }
                }
            }
            return self.listing(request, &target, &found.path);
        }
        // A file asked for as a directory (`/file.txt/`) is not there (Python's Issue17324).
        if !found.meta.is_file() || target.wants_directory() {
            return not_found();
        }
        self.file(request, found)
    }

    fn coding(&self, asked: &Asked<'_>, content_type: &str, len: u64) -> Coding {
        Coding::choose(
            self.gzip,
            content_type,
            len,
            asked.accept_encoding,
            asked.range,
        )
    }

    fn listing(&self, request: &Request<'_>, target: &Target<'_>, dir: &Path) -> Response {
        let shown = path::decode(target.path);
        let Ok(page) = listing::render(dir, &shown) else {
            return Response::error(Status::NOT_FOUND, "No permission to list directory");
        };
        let coding = self.coding(&Asked::of(request), LISTING_TYPE, page.len() as u64);
        let response = Response::new(Status::OK).with_header("Content-Type", LISTING_TYPE);
        match coding {
            Coding::Fixed => response.with_body(page),
            Coding::Identity => vary(response).with_body(page),
            Coding::Gzip => match gzip::compress(&page[..], page.len() as u64) {
                Ok(packed) => vary(response)
                    .with_header("Content-Encoding", "gzip")
                    .with_body(packed),
                Err(_) => vary(response).with_body(page),
            },
        }
    }

    /// A regular file, open: `found.meta` is from its descriptor, so the length and the
    /// validators are those of the bytes sent.
    fn file(&self, request: &Request<'_>, found: Found) -> Response {
        let Found { path, meta, file } = found;
        let content_type = match known_type(&path) {
            Some(known) => Text::Borrowed(known),
            None => self.default_type.clone(),
        };
        let len = meta.len();
        let asked = Asked::of(request);
        let coding = self.coding(&asked, &content_type, len);
        let mut validators = Validators::of(&meta);
        if coding == Coding::Gzip {
            validators = validators.variant("gz");
        }
        let preconditions = &asked.preconditions;
        match conditional::evaluate(preconditions, &validators) {
            Outcome::Proceed => {}
            Outcome::NotModified => {
                return validated(Response::new(Status::NOT_MODIFIED), validators, coding)
            }
            Outcome::Failed => {
                return Response::error(Status::PRECONDITION_FAILED, "Precondition failed")
            }
        }
        if coding == Coding::Gzip {
            return gzipped(file, len, content_type, validators);
        }
        let ranges = match asked.range {
            Some(header) if conditional::if_range_holds(preconditions, &validators) => {
                range::parse(header, len)
            }
            _ => Ranges::Whole,
        };
        match ranges {
            Ranges::Whole => validated(Response::new(Status::OK), validators, coding)
                .with_header("Accept-Ranges", "bytes")
                .with_header("Content-Type", content_type)
                .with_file(file, 0, len),
            Ranges::Unsatisfiable => Response::error(
                Status::RANGE_NOT_SATISFIABLE,
                "Requested range not satisfiable",
            )
            .with_header("Content-Range", format!("bytes */{len}")),
            Ranges::Parts(parts) => {
                // The ETag's hex digits cannot collide with the part headers; the prefix
                // makes the boundary unlikely in the data too.
                let boundary = format!("sockserv-{}", validators.etag.trim_matches('"'));
                let partial = validated(Response::new(Status::PARTIAL_CONTENT), validators, coding)
                    .with_header("Accept-Ranges", "bytes");
                match parts[..] {
                    [(first, last)] => partial
                        .with_header("Content-Type", content_type)
                        .with_header("Content-Range", format!("bytes {first}-{last}/{len}"))
                        .with_file(file, first, last - first + 1),
                    _ => partial.with_ranges(Multipart {
                        file,
                        parts,
                        content_type,
                        file_len: len,
                        boundary,
                    }),
                }
            }
        }
    }
}

/// The request fields the file server reads, found in one pass over the head.
struct Asked<'a> {
    range: Option<&'a str>,
    accept_encoding: Option<&'a str>,
    preconditions: Preconditions<'a>,
}

impl<'a> Asked<'a> {
    fn of(request: &Request<'a>) -> Asked<'a> {
        let [range, accept_encoding, if_match, if_none_match, if_modified_since, if_unmodified_since, if_range] =
            request.headers.pick([
                "range",
                "accept-encoding",
                "if-match",
                "if-none-match",
                "if-modified-since",
                "if-unmodified-since",
                "if-range",
            ]);
        Asked {
            range,
            accept_encoding,
            preconditions: Preconditions {
                if_match,
                if_none_match,
                if_modified_since,
                if_unmodified_since,
                if_range,
            },
        }
    }
}

impl Handler for FileServer {
    fn respond(&self, request: &Request<'_>, _peer: &PeerAddr) -> Response {
        self.decide(request)
    }
}

fn not_found() -> Response {
    Response::error(Status::NOT_FOUND, "File not found")
}

/// 301 to the directory's URL with a slash, keeping the query.
fn redirect(target: &Target<'_>) -> Response {
    let mut location = String::with_capacity(target.origin.len() + target.path.len() + 2);
    location.push_str(target.origin);
    location.push_str(target.path);
    location.push('/');
    if let Some(query) = target.query {
        location.push('?');
        location.push_str(query);
    }
    Response::new(Status::MOVED_PERMANENTLY).with_header("Location", location)
}

fn vary(response: Response) -> Response {
    response.with_header("Vary", "Accept-Encoding")
}

/// Adds `Last-Modified`, `ETag` and, when the coding varies, `Vary`.
fn validated(response: Response, validators: Validators, coding: Coding) -> Response {
    let response = response
        .with_header(
            "Last-Modified",
            httpdate::fmt_http_date(validators.modified),
        )
        .with_header("ETag", validators.etag);
    if coding.varies() {
        vary(response)
    } else {
        response
    }
}

/// The whole file, compressed.
fn gzipped(file: File, len: u64, content_type: Text, validators: Validators) -> Response {
    // The file was just opened: failing to read it is as if it were not there.
    let Ok(body) = gzip::compress(&file, len) else {
        return not_found();
    };
    let response = Response::new(Status::OK)
        .with_header("Content-Type", content_type)
        .with_header("Content-Encoding", "gzip");
    validated(response, validators, Coding::Gzip).with_body(body)
}

/// The media type of `path`: [`known_type`], else [`DEFAULT_TYPE`].
pub fn content_type(path: &Path) -> &'static str {
    known_type(path).unwrap_or(DEFAULT_TYPE)
}

/// The media type `path`'s name says: mime_guess, with Python's overrides for compressed
/// files (served as themselves, never as `Content-Encoding`); `None` when it says nothing.
pub fn known_type(path: &Path) -> Option<&'static str> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => Some("application/gzip"),
        Some("Z") => Some("application/octet-stream"),
        Some("bz2") => Some("application/x-bzip2"),
        Some("xz") => Some("application/x-xz"),
        _ => mime_guess::from_path(path).first_raw(),
    }
}
