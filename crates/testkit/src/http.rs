//! HTTP/1.x responses read the way a client reads them: the head with sockserv-http's
//! [`ResponseHead`], the body by the RFC 9112 framing (none, `Content-Length`, chunked,
//! or to the end of the stream). One reader for a socket and for bytes in memory.

use std::io::{self, BufRead};

use sockserv_http::client::ResponseHead;

/// One response, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// The status code.
    pub status: u16,
    /// The head as sent, blank line included.
    pub head: String,
    /// The header fields, in order, as sent (values trimmed).
    pub headers: Vec<(String, String)>,
    /// The body, after chunked decoding when the server used it.
    pub body: Vec<u8>,
}

impl Response {
    /// The first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every field called `name`.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (lossy), for messages and `contains` checks.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads the next response from `reader`; `None` if the stream ends before its first
/// byte. `head_only` says it answers a HEAD request (no body whatever the fields say,
/// RFC 9112 §6.3).
///
/// # Errors
///
/// A read error, a stream that ends inside the response, or bytes that are not a
/// response (`InvalidData`).
pub fn read_response(reader: &mut impl BufRead, head_only: bool) -> io::Result<Option<Response>> {
    let mut head = Vec::new();
    let (mut response, content_length, chunked) = loop {
        let available = loop {
            // A signal (a stop, say) interrupted the read: read again, as std's read_exact does.
            match reader.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if available.is_empty() {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the stream ended inside a response head: {:?}",
                    String::from_utf8_lossy(&head)
                ),
            ));
        }
        let before = head.len();
        head.extend_from_slice(available);
        let parsed = ResponseHead::parse(&head)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let Some(parsed) = parsed else {
            let n = available.len();
            reader.consume(n);
            continue;
        };
        reader.consume(parsed.len - before);
        let chunked = parsed
            .headers
            .get("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        let response = Response {
            minor: parsed.minor,
            status: parsed.status,
            head: String::from_utf8_lossy(&head[..parsed.len]).into_owned(),
            headers: parsed
                .headers
                .iter()
                .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
                .collect(),
            body: Vec::new(),
        };
        break (response, parsed.content_length, chunked);
    };
    let bodiless = head_only || response.status / 100 == 1 || matches!(response.status, 204 | 304);
    response.body = if bodiless {
        Vec::new()
    } else if chunked {
        chunked_body(reader)?
    } else if let Some(length) = content_length {
        let mut body = vec![0; length as usize];
        reader.read_exact(&mut body)?;
        body
    } else {
        // No framing: the body runs to the end of the stream (HTTP/1.0 style).
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    };
    Ok(Some(response))
}

/// Every response in `bytes`; `head_only[i]` says response i answers a HEAD (the last
/// value repeats; none: no HEAD).
///
/// # Panics
///
/// If `bytes` are not whole responses.
pub fn parse_responses(mut bytes: &[u8], head_only: &[bool]) -> Vec<Response> {
    let mut responses = Vec::new();
    loop {
        let head = *head_only
            .get(responses.len())
            .or(head_only.last())
            .unwrap_or(&false);
        match read_response(&mut bytes, head) {
            Ok(Some(response)) => responses.push(response),
            Ok(None) => return responses,
            Err(e) => panic!("not whole responses ({e}) after {responses:?}"),
        }
    }
}

fn chunked_body(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = line(reader)?;
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // Trailer fields, then the blank line.
            while !line(reader)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !line(reader)?.is_empty() {
            return Err(invalid("no CRLF after a chunk".into()));
        }
    }
}

/// One line without its line ending.
fn line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| invalid("a chunk line that is not UTF-8".into()))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
