//! A request body as it comes from the client: held to a time limit
//! between two reads (nginx's `client_body_timeout`), and its failure
//! remembered, so the answer blames the client (400, 408) and not the
//! backend it was being sent to (502), and no backend error is counted.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::sync::Notify;

use crate::observe::metrics::UpstreamError;
use crate::support::body::BoxError;
use crate::support::timer::{BodyTimedOut, TimedBody};

/// The fault's values; 0, the default, is none.
const BROKEN: u8 = 1;
const TIMED_OUT: u8 = 2;

/// What went wrong with the client's body, if anything, and whether it has
/// all been sent; shared between the body (which the upstream client
/// polls) and the request's task.
#[derive(Clone, Default)]
pub(crate) struct Fault(Arc<Shared>);

#[derive(Default)]
struct Shared {
    fault: AtomicU8,
    sent: Notify,
}

impl Fault {
    /// Resolves once the whole body has gone to the backend: only then
    /// does the wait for its answer begin (an upload may take minutes).
    pub(crate) async fn sent(&self) {
        self.0.sent.notified().await;
    }

    /// The error to answer with when the body failed.
    pub(crate) fn get(&self) -> Option<UpstreamError> {
        match self.0.fault.load(Ordering::Relaxed) {
            BROKEN => Some(UpstreamError::ClientBodyBroken),
            TIMED_OUT => Some(UpstreamError::ClientBodyTimeout),
            _ => None,
        }
    }
}

pub(crate) struct ClientBody<B> {
    inner: TimedBody<B>,
    fault: Fault,
}

impl<B> ClientBody<B> {
    pub(crate) fn new(inner: B, timeout: Duration, fault: Fault) -> ClientBody<B>
    where
        B: Body,
    {
        if inner.is_end_stream() {
            // Nothing to send: `notify_one` keeps the news for the waiter.
            fault.0.sent.notify_one();
        }
        ClientBody {
            inner: TimedBody::new(inner, Some(timeout), None),
            fault,
        }
    }
}

impl<B> Body for ClientBody<B>
where
    B: Body<Data = Bytes, Error = BoxError> + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Err(err))) => {
                let kind = if err.is::<BodyTimedOut>() {
                    TIMED_OUT
                } else {
                    BROKEN
                };
                self.fault.0.fault.store(kind, Ordering::Relaxed);
            }
            Poll::Ready(None) => self.fault.0.sent.notify_one(),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => {
                self.fault.0.sent.notify_one()
            }
            _ => {}
        }
        polled
    }

    body_hints_through!(inner);
}
