//! GET and HEAD on the served directory: files (whole, ranges, gzip, conditionals),
//! redirects to a directory's slash, index pages and listings.

use std::fs::File;
use std::path::Path;

use sockserv::Output;

use super::conditional::{self, Outcome, Validators};
use super::gzip::{self, MAX_GZIP_FILE};
use super::head::Request;
use super::listing;
use super::path::{Found, Miss, Target};
use super::range::{self, Ranges};
use super::response::{error_page, Head, Status};
use super::HttpConfig;

/// What was answered, for the access log and the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The status sent.
    pub status: Status,
    /// Body bytes sent (0 for HEAD).
    pub bytes: u64,
}

/// One response being written: where the head is built, and how the connection goes on.
pub struct Reply<'a> {
    /// Scratch buffer for the head (reused across requests).
    pub scratch: &'a mut Vec<u8>,
    /// The connection's output.
    pub out: &'a mut Output,
    /// Whether the connection stays open afterwards.
    pub keep_alive: bool,
    /// The request's minor version (for `Connection: keep-alive` to HTTP/1.0).
    pub minor: u8,
    /// HEAD: headers only.
    pub head_only: bool,
}

impl Reply<'_> {
    /// Writes the finished head, then `body` (unless HEAD).
    fn send(&mut self, body: &[u8]) -> u64 {
        self.out.write(self.scratch);
        if self.head_only {
            return 0;
        }
        self.out.write(body);
        body.len() as u64
    }

    /// Python's error page for `status` with `message`.
    pub fn error(&mut self, status: Status, message: &str) -> Answer {
        let body = if status.is_bodiless() {
            Vec::new()
        } else {
            error_page(status, message)
        };
        let mut head = Head::new(self.scratch, status);
        if !body.is_empty() {
            head.field("Content-Type", "text/html;charset=utf-8")
                .number("Content-Length", body.len() as u64);
        }
        head.finish(self.keep_alive, self.minor);
        let bytes = self.send(&body);
        Answer { status, bytes }
    }
}

/// Answers a GET or HEAD request.
pub fn respond(config: &HttpConfig, request: &Request<'_>, reply: &mut Reply<'_>) -> Answer {
    let target = Target::split(request.target);
    let found = match config.root.lookup(target.path) {
        Ok(found) => found,
        Err(Miss::Invalid) => {
            reply.keep_alive = false;
            return reply.error(Status::BAD_REQUEST, "Bad request path");
        }
        Err(Miss::NotFound) => return reply.error(Status::NOT_FOUND, "File not found"),
    };
    if found.meta.is_dir() {
        if !target.wants_directory() {
            return redirect(&target, reply);
        }
        for index in ["index.html", "index.htm"] {
            if let Some(index) = config.root.child(&found.path, index) {
                if index.meta.is_file() {
                    return file(config, request, index, reply);
                }
            }
        }
        return listing(config, request, &target, &found.path, reply);
    }
    // A file asked for as a directory (`/file.txt/`) is not there (Python's Issue17324).
    if !found.meta.is_file() || target.wants_directory() {
        return reply.error(Status::NOT_FOUND, "File not found");
    }
    file(config, request, found, reply)
}

/// 301 to the directory's URL with a slash, keeping the query.
fn redirect(target: &Target<'_>, reply: &mut Reply<'_>) -> Answer {
    let mut location = Vec::with_capacity(target.origin.len() + target.path.len() + 2);
    location.extend_from_slice(target.origin.as_bytes());
    location.extend_from_slice(target.path.as_bytes());
    location.push(b'/');
    if let Some(query) = target.query {
        location.push(b'?');
        location.extend_from_slice(query.as_bytes());
    }
    Head::new(reply.scratch, Status::MOVED_PERMANENTLY)
        .field_bytes("Location", &location)
        .number("Content-Length", 0)
        .finish(reply.keep_alive, reply.minor);
    reply.send(b"");
    Answer {
        status: Status::MOVED_PERMANENTLY,
        bytes: 0,
    }
}

fn listing(
    config: &HttpConfig,
    request: &Request<'_>,
    target: &Target<'_>,
    dir: &Path,
    reply: &mut Reply<'_>,
) -> Answer {
    let shown = super::path::decode(target.path);
    let Ok(page) = listing::render(dir, &shown) else {
        return reply.error(Status::NOT_FOUND, "No permission to list directory");
    };
    let content_type = "text/html; charset=utf-8";
    let gzip = wants_gzip(config, request, content_type, page.len() as u64);
    let body = match gzip {
        Some(true) => gzip::compress(&page[..], page.len() as u64).ok(),
        _ => None,
    };
    let mut head = Head::new(reply.scratch, Status::OK);
    head.field("Content-Type", content_type);
    if gzip.is_some() {
        head.field("Vary", "Accept-Encoding");
    }
    if body.is_some() {
        head.field("Content-Encoding", "gzip");
    }
    let body = body.unwrap_or(page);
    head.number("Content-Length", body.len() as u64)
        .finish(reply.keep_alive, reply.minor);
    let bytes = reply.send(&body);
    Answer {
        status: Status::OK,
        bytes,
    }
}

/// `None` when the representation does not depend on `Accept-Encoding`; else whether
/// this client gets gzip.
fn wants_gzip(
    config: &HttpConfig,
    request: &Request<'_>,
    content_type: &str,
    len: u64,
) -> Option<bool> {
    let eligible = config.gzip && len <= MAX_GZIP_FILE && gzip::compressible(content_type);
    eligible.then(|| {
        request.fields.range.is_none() && request.fields.accept_encoding.is_some_and(gzip::accepts)
    })
}

/// The media type of `path`: mime_guess, with Python's overrides for compressed files
/// (served as themselves, never as `Content-Encoding`), else `application/octet-stream`.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("gz") => "application/gzip",
        Some("Z") => "application/octet-stream",
        Some("bz2") => "application/x-bzip2",
        Some("xz") => "application/x-xz",
        _ => mime_guess::from_path(path)
            .first_raw()
            .unwrap_or("application/octet-stream"),
    }
}

/// A regular file, open: `found.meta` is from its descriptor, so the length and the
/// validators are those of the bytes sent.
fn file(config: &HttpConfig, request: &Request<'_>, found: Found, reply: &mut Reply<'_>) -> Answer {
    let Found { path, meta, file } = found;
    let content_type = content_type(&path);
    let len = meta.len();
    let gzip = wants_gzip(config, request, content_type, len);
    let mut validators = Validators::of(&meta);
    if gzip == Some(true) {
        validators = validators.variant("gz");
    }
    let fields = &request.fields;
    match conditional::evaluate(fields, &validators) {
        Outcome::Proceed => {}
        Outcome::NotModified => {
            let mut head = Head::new(reply.scratch, Status::NOT_MODIFIED);
            validator_fields(&mut head, &validators, gzip.is_some());
            head.finish(reply.keep_alive, reply.minor);
            reply.send(b"");
            return Answer {
                status: Status::NOT_MODIFIED,
                bytes: 0,
            };
        }
        Outcome::Failed => return reply.error(Status::PRECONDITION_FAILED, "Precondition failed"),
    }
    if gzip == Some(true) {
        // The file was just opened: failing to read it is as if it were not there.
        let Ok(body) = gzip::compress(&file, len) else {
            return reply.error(Status::NOT_FOUND, "File not found");
        };
        let mut head = Head::new(reply.scratch, Status::OK);
        head.field("Content-Type", content_type)
            .field("Content-Encoding", "gzip")
            .number("Content-Length", body.len() as u64);
        validator_fields(&mut head, &validators, true);
        head.finish(reply.keep_alive, reply.minor);
        let bytes = reply.send(&body);
        return Answer {
            status: Status::OK,
            bytes,
        };
    }
    let ranges = match fields.range {
        Some(header) if conditional::if_range_holds(fields, &validators) => {
            range::parse(header, len)
        }
        _ => Ranges::Whole,
    };
    let parts = match ranges {
        Ranges::Whole => vec![],
        Ranges::Unsatisfiable => {
            let mut head = Head::new(reply.scratch, Status::RANGE_NOT_SATISFIABLE);
            let body = error_page(
                Status::RANGE_NOT_SATISFIABLE,
                "Requested range not satisfiable",
            );
            head.field("Content-Type", "text/html;charset=utf-8")
                .number("Content-Length", body.len() as u64)
                .field("Content-Range", &format!("bytes */{len}"))
                .finish(reply.keep_alive, reply.minor);
            let bytes = reply.send(&body);
            return Answer {
                status: Status::RANGE_NOT_SATISFIABLE,
                bytes,
            };
        }
        Ranges::Parts(parts) => parts,
    };
    let status = if parts.is_empty() {
        Status::OK
    } else {
        Status::PARTIAL_CONTENT
    };
    let mut head = Head::new(reply.scratch, status);
    validator_fields(&mut head, &validators, gzip.is_some());
    head.field("Accept-Ranges", "bytes");
    let bytes = match parts[..] {
        [] => {
            head.field("Content-Type", content_type)
                .number("Content-Length", len);
            head.finish(reply.keep_alive, reply.minor);
            send_file(reply, file, 0, len)
        }
        [(first, last)] => {
            head.field("Content-Type", content_type)
                .field("Content-Range", &format!("bytes {first}-{last}/{len}"))
                .number("Content-Length", last - first + 1);
            head.finish(reply.keep_alive, reply.minor);
            send_file(reply, file, first, last - first + 1)
        }
        _ => multipart(reply, file, &validators, content_type, len, &parts),
    };
    Answer { status, bytes }
}

fn validator_fields(head: &mut Head<'_>, validators: &Validators, vary: bool) {
    head.date("Last-Modified", validators.modified)
        .field("ETag", &validators.etag);
    if vary {
        head.field("Vary", "Accept-Encoding");
    }
}

fn send_file(reply: &mut Reply<'_>, file: File, offset: u64, len: u64) -> u64 {
    reply.out.write(reply.scratch);
    if reply.head_only {
        return 0;
    }
    reply.out.send_file(file, offset, len);
    len
}

/// `multipart/byteranges`: one part per range, each sent from the file.
fn multipart(
    reply: &mut Reply<'_>,
    file: File,
    validators: &Validators,
    content_type: &str,
    len: u64,
    parts: &[(u64, u64)],
) -> u64 {
    // The ETag's hex digits cannot collide with the part headers; the prefix makes the
    // boundary unlikely in the data too.
    let boundary = format!("sockserv-{}", validators.etag.trim_matches('"'));
    let part_heads: Vec<String> = parts
        .iter()
        .map(|(first, last)| format!("--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {first}-{last}/{len}\r\n\r\n"))
        .collect();
    let closing = format!("--{boundary}--\r\n");
    let total: u64 = parts
        .iter()
        .zip(&part_heads)
        .map(|((first, last), head)| head.len() as u64 + (last - first + 1) + 2)
        .sum::<u64>()
        + closing.len() as u64;
    // Continue the head the caller started.
    let mut head = Head::resume(reply.scratch);
    head.field(
        "Content-Type",
        &format!("multipart/byteranges; boundary={boundary}"),
    )
    .number("Content-Length", total)
    .finish(reply.keep_alive, reply.minor);
    reply.out.write(reply.scratch);
    if reply.head_only {
        return 0;
    }
    for ((first, last), part_head) in parts.iter().zip(&part_heads) {
        reply.out.write(part_head.as_bytes());
        match file.try_clone() {
            Ok(copy) => reply.out.send_file(copy, *first, last - first + 1),
            // Out of descriptors: end the connection rather than send a wrong body.
            Err(_) => {
                reply.out.close();
                return 0;
            }
        }
        reply.out.write(b"\r\n");
    }
    reply.out.write(closing.as_bytes());
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_come_from_the_name() {
        for (name, expected) in [
            ("a.html", "text/html"),
            ("a.txt", "text/plain"),
            ("a.png", "image/png"),
            ("a.tar.gz", "application/gzip"),
            ("a.Z", "application/octet-stream"),
            ("a.bz2", "application/x-bzip2"),
            ("a.xz", "application/x-xz"),
            ("a.JSON", "application/json"),
            ("noext", "application/octet-stream"),
            ("a.unknownext", "application/octet-stream"),
        ] {
            assert_eq!(content_type(Path::new(name)), expected, "{name}");
        }
    }
}
