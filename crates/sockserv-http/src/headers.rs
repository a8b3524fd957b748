//! [`Headers`]: the header fields of a parsed head, read in place from its bytes.

use std::fmt;

/// The header fields of a request or response head, borrowed from the bytes they were
/// parsed from: no copy, no allocation.
///
/// Only heads that httparse accepted are wrapped, so every line is `name: value`. Names
/// compare case-insensitively; values come back trimmed.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Headers<'a> {
    /// The field lines, from the first one to the blank line that ends the head.
    block: &'a [u8],
}

impl<'a> Headers<'a> {
    /// The fields in `block`: the lines after the start line, up to and including the
    /// blank line (or without it). `block` must have been accepted by httparse.
    pub(crate) fn new(block: &'a [u8]) -> Headers<'a> {
        Headers { block }
    }

    /// Every field, in the order sent: `(name, value)` with the value trimmed.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.block
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .take_while(|line| !line.is_empty())
            .filter_map(|line| {
                let colon = line.iter().position(|&b| b == b':')?;
                // httparse accepted the name: a token, so ASCII.
                let name = std::str::from_utf8(&line[..colon]).ok()?;
                Some((name, line[colon + 1..].trim_ascii()))
            })
    }

    /// The value of the first field called `name` that is UTF-8 (a value that is not
    /// counts as absent: no standard field can hold one validly).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .find_map(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// The values of several fields in one pass: for each of `names`, what
    /// [`get`](Headers::get) would return.
    pub fn pick<const N: usize>(&self, names: [&str; N]) -> [Option<&'a str>; N] {
        let mut found = [None; N];
        for (name, value) in self.iter() {
            let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(name)) else {
                continue;
            };
            if found[i].is_none() {
                found[i] = std::str::from_utf8(value).ok();
            }
        }
        found
    }

    /// Whether a field called `name` lists `token` in its comma-separated value (every
    /// such field is looked at; both compare case-insensitively): `Connection: keep-alive,
    /// Upgrade` has the token `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, value)| std::str::from_utf8(value).ok())
            .flat_map(|value| value.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether no field was sent.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(name, value)| (name, String::from_utf8_lossy(value))),
            )
            .finish()
    }
}
