//! A file body read in bounded chunks, so a 1 GiB file never holds more
//! than one chunk in memory per response. The depot streams its
//! revisions with it too.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};

use crate::support::body::BoxError;

/// Bytes read per blocking call.
const CHUNK: usize = 256 * 1024;

pub(crate) struct FileChunks {
    file: File,
    remaining: u64,
}

impl FileChunks {
    /// `len` bytes of `file`, starting at `start`.
    pub(crate) fn new(mut file: File, start: u64, len: u64) -> io::Result<FileChunks> {
        if start > 0 {
            file.seek(SeekFrom::Start(start))?;
        }
        Ok(FileChunks {
            file,
            remaining: len,
        })
    }
}

impl Body for FileChunks {
    type Data = Bytes;
    type Error = BoxError;

    /// Reads the next chunk on this worker, as nginx does without `aio`:
    /// from the page cache that is a copy of microseconds, cheaper than a
    /// hand-off to the blocking pool. hyper asks for the next chunk only when
    /// the client has taken the last, so memory stays at one chunk.
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = this.remaining.min(CHUNK as u64) as usize;
        match read_chunk(&mut this.file, want) {
            Ok(bytes) => {
                this.remaining -= bytes.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Err(err) => {
                this.remaining = 0;
                Poll::Ready(Some(Err(err.into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Reads exactly `want` bytes; a file that shrank mid-response is an error.
fn read_chunk(file: &mut File, want: usize) -> io::Result<Bytes> {
    let mut buf = BytesMut::zeroed(want);
    let mut filled = 0;
    while filled < want {
        match file.read(&mut buf[filled..])? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                ));
            }
            n => filled += n,
        }
    }
    Ok(buf.freeze())
}
