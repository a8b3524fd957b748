//! The driver's side of an [`Output`] ([`OutputExt`]): taking queued bytes and file
//! ranges out as they are sent, the wake-up and timer hand-offs, the high-water mark.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

use super::{FileRange, HighWater, Output, Segment};
use crate::driver::OutputExt;
use crate::session::WakeSource;

impl OutputExt for Output {
    fn pending(&self) -> &[u8] {
        &self.buf
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.removed += n as u64;
        self.left(n as u64);
        if self.buf.is_empty() {
            self.promote_bytes();
        }
    }

    fn take(&mut self) -> Vec<u8> {
        let taken = std::mem::take(&mut self.buf);
        self.removed += taken.len() as u64;
        self.left(taken.len() as u64);
        self.promote_bytes();
        taken
    }

    fn file_follows(&self) -> bool {
        matches!(self.rest.front(), Some(Segment::File(_)))
    }

    fn removed(&self) -> u64 {
        self.removed
    }

    fn front_file(&self) -> Option<&FileRange> {
        match self.rest.front() {
            Some(Segment::File(range)) if self.buf.is_empty() => Some(range),
            _ => None,
        }
    }

    fn file_sent(&mut self, n: u64) {
        let Some(Segment::File(range)) = self.rest.front_mut() else {
            panic!("file_sent without a file range at the front");
        };
        assert!(n <= range.len, "file_sent past the end of the range");
        range.offset += n;
        range.len -= n;
        self.rest_len -= n;
        if range.len == 0 {
            self.rest.pop_front();
            self.promote_bytes();
        }
        self.left(n);
    }

    fn load(&mut self, max: usize) -> io::Result<usize> {
        let Some(front) = self.rest.front_mut() else {
            return Ok(0);
        };
        let moved = match front {
            Segment::Bytes(bytes) => {
                let n = bytes.len();
                if self.buf.is_empty() {
                    self.buf = std::mem::take(bytes);
                } else {
                    self.buf.extend_from_slice(bytes);
                }
                self.rest.pop_front();
                n
            }
            Segment::File(range) => {
                let want = range.len.min(max.max(1) as u64) as usize;
                let start = self.buf.len();
                self.buf.resize(start + want, 0);
                let read = read_exact_at(&range.file, &mut self.buf[start..], range.offset);
                if let Err(e) = read {
                    self.buf.truncate(start);
                    return Err(e);
                }
                range.offset += want as u64;
                range.len -= want as u64;
                if range.len == 0 {
                    self.rest.pop_front();
                }
                want
            }
        };
        self.rest_len -= moved as u64;
        Ok(moved)
    }

    fn wake_source(&self) -> Option<WakeSource> {
        self.wake.as_ref().map(|cell| WakeSource {
            cell: Arc::clone(cell),
        })
    }

    fn take_timer(&mut self) -> Option<Option<Duration>> {
        self.timer.take()
    }

    fn set_high_water(&mut self, bytes: u64) {
        self.high_water = HighWater(bytes);
    }
}

/// `read_exact_at`, with a file that ended early reported as what it is.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(e.kind(), "file is shorter than the range queued to send")
        } else {
            e
        }
    })
}
