//! A response body read from the upstream connection as the client takes
//! it (the server side polls it only when it can write), so nothing is
//! buffered beyond one read. Once the body is complete the connection goes
//! back to the idle pool, if the response allows.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http_body::{Body, Frame, SizeHint};

use super::conn::Conn;
use super::idle::Idle;
use crate::proto::chunked::{ChunkError, Chunked, Decoded};
use crate::support::body::BoxError;

pub(super) struct ResponseBody {
    /// `None` once the body is complete.
    conn: Option<Conn>,
    rest: Rest,
    /// Where the connection goes when the body is complete, if it may be reused.
    keep: Option<(Arc<Idle>, Authority)>,
    /// The longest wait for the next bytes.
    read_timeout: Duration,
}

/// What is left of the body.
pub(super) enum Rest {
    Length(u64),
    Chunked(Chunked),
    UntilClose,
}

#[derive(Debug, thiserror::Error)]
pub(super) enum BodyError {
    #[error("the upstream closed the connection before the end of the body")]
    Truncated,
    #[error("the upstream's chunked body is malformed: {0}")]
    Chunked(#[from] ChunkError),
    #[error("reading the upstream's body failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ResponseBody {
    pub(super) fn new(
        conn: Conn,
        rest: Rest,
        keep: Option<(Arc<Idle>, Authority)>,
        read_timeout: Duration,
    ) -> ResponseBody {
        ResponseBody {
            conn: Some(conn),
            rest,
            keep,
            read_timeout,
        }
    }

    /// The body is complete: keep the connection if nothing but this
    /// response came on it.
    fn complete(&mut self) {
        if let (Some(conn), Some((idle, authority))) = (self.conn.take(), self.keep.take())
            && conn.buf.is_empty()
        {
            idle.checkin(authority.as_str(), conn);
        }
    }

    /// The next frame from what is buffered: `Some` data, `Some(None)` for
    /// the end, `None` to read more first.
    fn buffered(&mut self) -> Result<Option<Option<Bytes>>, BodyError> {
        let conn = self.conn.as_mut().expect("polled after the end");
        let data = match &mut self.rest {
            Rest::Length(0) => None,
            Rest::Length(remaining) => {
                if conn.buf.is_empty() {
                    return Ok(None);
                }
                let n = (*remaining).min(conn.buf.len() as u64);
                *remaining -= n;
                Some(conn.buf.split_to(n as usize).freeze())
            }
            Rest::Chunked(decoder) => match decoder.decode(&mut conn.buf)? {
                Decoded::Data(data) => Some(data),
                Decoded::NeedMore => return Ok(None),
                Decoded::Done => None,
            },
            Rest::UntilClose => {
                if conn.buf.is_empty() {
                    return Ok(None);
                }
                Some(conn.buf.split().freeze())
            }
        };
        if data.is_none() || matches!(self.rest, Rest::Length(0)) {
            self.complete();
        }
        Ok(Some(data))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if this.conn.is_none() {
                return Poll::Ready(None);
            }
            match this.buffered() {
                Ok(Some(data)) => return Poll::Ready(data.map(|d| Ok(Frame::data(d)))),
                Ok(None) => {}
                Err(err) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(err.into())));
                }
            }
            let conn = this.conn.as_mut().expect("checked above");
            match ready!(conn.poll_fill_within(cx, this.read_timeout)) {
                Ok(0) if matches!(this.rest, Rest::UntilClose) => {
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(BodyError::Truncated.into())));
                }
                Ok(_) => {}
                Err(err) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(BodyError::Io(err).into())));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.conn, &self.rest) {
            (None, _) => SizeHint::with_exact(0),
            (Some(_), Rest::Length(n)) => SizeHint::with_exact(*n),
            _ => SizeHint::default(),
        }
    }
}
