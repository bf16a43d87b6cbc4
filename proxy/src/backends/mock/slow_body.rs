//! A body sent a few bytes at a time, with a wait before each piece after
//! the first: a mock's `fault: {slowBody: …}`, for testing clients' read
//! timeouts (WireMock's `chunkedDribbleDelay`).

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use crate::support::body::BoxError;

pub(crate) struct SlowBody {
    rest: Bytes,
    chunk: usize,
    every: Duration,
    /// The wait before the next piece; none before the first.
    wait: Option<Pin<Box<Sleep>>>,
    started: bool,
}

impl SlowBody {
    pub(crate) fn new(body: Bytes, chunk: usize, every: Duration) -> SlowBody {
        SlowBody {
            rest: body,
            chunk: chunk.max(1),
            every,
            wait: None,
            started: false,
        }
    }
}

impl Body for SlowBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        if self.started {
            let every = self.every;
            let wait = self
                .wait
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
            ready!(wait.as_mut().poll(cx));
            self.wait = None;
        }
        self.started = true;
        let take = self.chunk.min(self.rest.len());
        let piece = self.rest.split_to(take);
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sends_the_body_in_pieces_a_wait_apart() {
        let started = tokio::time::Instant::now();
        let mut body = SlowBody::new(Bytes::from_static(b"abcdefg"), 3, Duration::from_secs(1));
        let mut pieces = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            pieces.push((data, started.elapsed().as_secs()));
        }
        assert_eq!(
            pieces,
            [
                (Bytes::from_static(b"abc"), 0),
                (Bytes::from_static(b"def"), 1),
                (Bytes::from_static(b"g"), 2),
            ]
        );
    }
}
