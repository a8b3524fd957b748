//! HTTP/1.x responses read from a byte stream, sans-IO: heads parsed by sockserv-http's
//! [`ResponseHead`], bodies counted by Content-Length and, if asked, compared with the
//! expected bytes.
use std::fmt;

use sockserv_http::client::{HeadError, ResponseHead};

/// A head longer than this is refused rather than buffered.
pub const MAX_HEAD: usize = 64 * 1024;

/// Why a response does not count as a good one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadResponse {
    /// Not an HTTP/1.x response head (httparse's reason).
    Malformed(String),
    /// The head did not end within [`MAX_HEAD`] bytes.
    HeadTooLarge,
    /// A status other than 200.
    Status(u16, String),
    /// No Content-Length: chunked and close-delimited bodies are not supported.
    NoLength,
    /// Content-Length differs from the expected body's length.
    Length {
        /// The response's Content-Length.
        got: u64,
        /// The expected body's length.
        want: u64,
    },
    /// The body differs from the expected bytes, first at this offset.
    Body {
        /// Offset of the first differing byte.
        offset: u64,
    },
}

impl fmt::Display for BadResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadResponse::Malformed(why) => write!(f, "malformed response head ({why})"),
            BadResponse::HeadTooLarge => write!(f, "response head longer than {MAX_HEAD} bytes"),
            BadResponse::Status(code, reason) => write!(f, "status {code} {reason}"),
            BadResponse::NoLength => write!(
                f,
                "no Content-Length (chunked and close-delimited bodies are not supported)"
            ),
            BadResponse::Length { got, want } => {
                write!(f, "Content-Length {got}, expected {want}")
            }
            BadResponse::Body { offset } => write!(f, "body differs at byte {offset}"),
        }
    }
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// Whether the server keeps the connection open for the next request.
    pub keep_alive: bool,
    /// Body bytes.
    pub body_len: u64,
}

#[derive(Debug)]
enum State {
    Head,
    Body {
        len: u64,
        offset: u64,
        keep_alive: bool,
    },
}

/// Reads one response after another off a connection.
#[derive(Debug)]
pub struct ResponseReader {
    /// The start of a head split across reads (empty when a head arrives whole).
    head: Vec<u8>,
    state: State,
}

impl ResponseReader {
    /// Waiting for the first response.
    pub fn new() -> Self {
        ResponseReader {
            head: Vec::new(),
            state: State::Head,
        }
    }

    /// Whether no byte of the next response has been seen.
    pub fn idle(&self) -> bool {
        matches!(self.state, State::Head) && self.head.is_empty()
    }

    /// Takes a prefix of `data`: returns how many bytes it consumed and the response they
    /// completed, if any. Call again with the rest. With `expect`, the body must be
    /// exactly those bytes.
    ///
    /// # Errors
    ///
    /// The first thing wrong with the response; the connection is not usable after it.
    pub fn feed(
        &mut self,
        data: &[u8],
        expect: Option<&[u8]>,
    ) -> Result<(usize, Option<Done>), BadResponse> {
        match self.state {
            State::Head => self.feed_head(data, expect),
            State::Body {
                len,
                offset,
                keep_alive,
            } => {
                let take = (len - offset).min(data.len() as u64) as usize;
                if let Some(want) = expect {
                    let want = &want[offset as usize..offset as usize + take];
                    if let Some(i) = data[..take].iter().zip(want).position(|(a, b)| a != b) {
                        return Err(BadResponse::Body {
                            offset: offset + i as u64,
                        });
                    }
                }
                let offset = offset + take as u64;
                if offset == len {
                    self.state = State::Head;
                    return Ok((
                        take,
                        Some(Done {
                            keep_alive,
                            body_len: len,
                        }),
                    ));
                }
                self.state = State::Body {
                    len,
                    offset,
                    keep_alive,
                };
                Ok((take, None))
            }
        }
    }

    fn feed_head(
        &mut self,
        data: &[u8],
        expect: Option<&[u8]>,
    ) -> Result<(usize, Option<Done>), BadResponse> {
        // The usual case, a head that arrives whole, is parsed in place without a copy.
        let (used, head) = if self.head.is_empty() {
            match parse_head(data)? {
                Some(head) => (head.len, head),
                None => return self.keep_partial(data),
            }
        } else {
            let before = self.head.len();
            self.head.extend_from_slice(data);
            match parse_head(&self.head)? {
                Some(head) => {
                    self.head.clear();
                    (head.len - before, head)
                }
                None if self.head.len() > MAX_HEAD => return Err(BadResponse::HeadTooLarge),
                None => return Ok((data.len(), None)),
            }
        };
        let length = head.content_length.ok_or(BadResponse::NoLength)?;
        if let Some(want) = expect {
            if length != want.len() as u64 {
                return Err(BadResponse::Length {
                    got: length,
                    want: want.len() as u64,
                });
            }
        }
        if length == 0 {
            let done = Done {
                keep_alive: head.keep_alive,
                body_len: 0,
            };
            return Ok((used, Some(done)));
        }
        self.state = State::Body {
            len: length,
            offset: 0,
            keep_alive: head.keep_alive,
        };
        Ok((used, None))
    }

    fn keep_partial(&mut self, data: &[u8]) -> Result<(usize, Option<Done>), BadResponse> {
        if self.head.len() + data.len() > MAX_HEAD {
            return Err(BadResponse::HeadTooLarge);
        }
        self.head.extend_from_slice(data);
        Ok((data.len(), None))
    }
}

/// What the bench needs from a response head.
struct Head {
    len: usize,
    content_length: Option<u64>,
    keep_alive: bool,
}

/// `Ok(None)` while the head is incomplete; an error for anything but a 200 with a
/// Content-Length.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, BadResponse> {
    let head = match ResponseHead::parse(buf) {
        Ok(Some(head)) => head,
        Ok(None) => return Ok(None),
        Err(HeadError::ContentLength(value)) => {
            return Err(BadResponse::Malformed(format!("Content-Length {value:?}")))
        }
        Err(HeadError::Malformed(why)) => return Err(BadResponse::Malformed(why.to_string())),
        Err(other) => return Err(BadResponse::Malformed(other.to_string())),
    };
    if head.status != 200 {
        return Err(BadResponse::Status(head.status, head.reason.to_owned()));
    }
    if head.encoded {
        return Err(BadResponse::NoLength);
    }
    Ok(Some(Head {
        len: head.len,
        content_length: head.content_length,
        keep_alive: head.keep_alive,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of `step` bytes and collects every response completed.
    fn read_all(
        stream: &[u8],
        step: usize,
        expect: Option<&[u8]>,
    ) -> Result<Vec<Done>, BadResponse> {
        let mut reader = ResponseReader::new();
        let mut done = Vec::new();
        for piece in stream.chunks(step) {
            let mut rest = piece;
            while !rest.is_empty() {
                let (used, response) = reader.feed(rest, expect)?;
                assert!(used > 0, "no progress on {rest:?}");
                rest = &rest[used..];
                done.extend(response);
            }
        }
        assert!(reader.idle(), "a response was left unfinished");
        Ok(done)
    }

    const OK_11: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: t\r\n\r\nhello";

    #[test]
    fn back_to_back_responses_are_read_whole_or_byte_by_byte() {
        let two = [OK_11, OK_11].concat();
        let want = Done {
            keep_alive: true,
            body_len: 5,
        };
        for step in [1, 2, 7, 50, two.len()] {
            assert_eq!(
                read_all(&two, step, Some(b"hello")),
                Ok(vec![want, want]),
                "step {step}"
            );
        }
    }

    #[test]
    fn keep_alive_follows_the_version_and_the_connection_header() {
        let cases: [(&[u8], bool); 5] = [
            (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
            (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                false,
            ),
            (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
            (
                b"HTTP/1.0 200 OK\r\nconnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n",
                false,
            ),
        ];
        for (response, keep_alive) in cases {
            let done = read_all(response, 3, None).unwrap();
            assert_eq!(
                done,
                vec![Done {
                    keep_alive,
                    body_len: 0
                }],
                "{response:?}"
            );
        }
    }

    #[test]
    fn python_http_server_response_is_read() {
        let head = b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.12.0\r\n\
Date: Tue, 01 Dec 2026 10:00:00 GMT\r\nContent-type: application/octet-stream\r\n\
Content-Length: 4\r\nLast-Modified: Tue, 01 Dec 2026 09:00:00 GMT\r\n\r\n";
        let done = read_all(&[&head[..], b"abcd"].concat(), 16, Some(b"abcd")).unwrap();
        assert_eq!(
            done,
            vec![Done {
                keep_alive: false,
                body_len: 4
            }]
        );
    }

    #[test]
    fn a_bad_status_length_or_body_is_reported() {
        let not_found = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            read_all(not_found, 100, None),
            Err(BadResponse::Status(404, "Not Found".into()))
        );
        assert_eq!(
            read_all(OK_11, 100, Some(b"hello!")),
            Err(BadResponse::Length { got: 5, want: 6 })
        );
        assert_eq!(
            read_all(OK_11, 3, Some(b"helpo")),
            Err(BadResponse::Body { offset: 3 })
        );
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(read_all(chunked, 100, None), Err(BadResponse::NoLength));
        let no_length = b"HTTP/1.0 200 OK\r\n\r\nhello";
        assert_eq!(read_all(no_length, 100, None), Err(BadResponse::NoLength));
    }

    #[test]
    fn garbage_and_endless_heads_are_refused() {
        assert!(matches!(
            read_all(b"SSH-2.0-OpenSSH\r\n\r\n", 100, None),
            Err(BadResponse::Malformed(_))
        ));
        let bad_length = b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n";
        assert!(matches!(
            read_all(bad_length, 100, None),
            Err(BadResponse::Malformed(_))
        ));
        let endless = [&b"HTTP/1.1 200 OK\r\nX-Pad: "[..], &[b'a'; MAX_HEAD]].concat();
        let mut reader = ResponseReader::new();
        let err = endless
            .chunks(4096)
            .map(|piece| reader.feed(piece, None))
            .find_map(Result::err);
        assert_eq!(err, Some(BadResponse::HeadTooLarge));
    }
}
