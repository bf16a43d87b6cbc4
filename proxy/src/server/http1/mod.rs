//! The server's HTTP/1.1 lane: Gatehouse's own loop for requests without a
//! body, most of what a proxy serves. It parses the head where it lands,
//! calls the handler in the connection's own task and writes the response
//! back, often in one `writev` (`backends/upstream/http1` is the upstream side). hyper's
//! server dispatcher costs more per request than the whole of this.
//!
//! A request the lane does not serve itself hands the connection to hyper,
//! with every byte still unread in front of it, and hyper answers exactly
//! as it always did, including its 400 and 431 answers: one with a body or
//! `Expect` alone, after which the connection is the lane's again
//! (`one_request`); an upgrade, h2c or a head it cannot read for the rest
//! of the connection's life.

// Allowed here: one `Pin::new_unchecked` on a future that never moves (SAFETY below).
#![allow(unsafe_code)]

mod read_buf;
pub(super) mod request;
mod response;
mod stop;

use std::io;
use std::mem::MaybeUninit;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, ReadBuf};
use tokio::sync::watch;
use tokio::time::Sleep;

use self::request::Head;
use self::response::Asked;
use self::stop::Stop;
use super::hyper_served::{Connection, hand_off};
use crate::route::{self, Shared};
use crate::server::peer::Peer;
use crate::server::stream::ClientStream;
use crate::server::{Held, HyperServers, Limits, stopping};
use crate::support::abort::Abort;
use crate::support::send_timeout::SendTimeout;
use crate::support::timer::arm;

/// Room for a typical request head.
pub(super) const READ_SIZE: usize = 8 * 1024;

/// The first read of a head, on the stack: most heads fit (nginx reads
/// them into 1 KiB), and a connection that waits for one holds no buffer.
const FIRST_READ: usize = 2 * 1024;

/// Serves one client connection until it closes, idles out, or `stop`.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps a second copy of its arguments in the task"
)]
pub(crate) fn serve<S: ClientStream>(
    mut stream: S,
    shared: Arc<Shared>,
    client: Peer,
    limits: Limits,
    hyper: Arc<HyperServers>,
    stop: watch::Receiver<bool>,
    held: Held,
) -> impl Future<Output = ()> + use<S> {
    // An `async` block, not an `async fn`: that would move each argument
    // into a second slot of the task, which every idle connection carries.
    async move {
        // An idle connection holds no buffer: `poll_read_some` takes the
        // worker's when a head's first bytes come, and it goes back once
        // the head is answered (`read_buf`).
        let mut buf = BytesMut::new();
        // One timer for the connection, moved on for each head: pushing a
        // deadline later costs tokio nothing, where a new timer per request
        // would often have to wake the driver. (`pin!` pins in place, where
        // `tokio::pin!` would move it into a second slot of the task.)
        let mut timer = pin!(tokio::time::sleep(limits.header_read_timeout));
        // Waited on between requests; made once, so its waiter stays
        // registered instead of joining and leaving the list each request.
        let mut stopped = pin!(stopped(stop.clone()));
        let mut listening = false;
        // The first request must come within the header timeout; later ones
        // may idle up to the keep-alive time, then have the header timeout
        // from their first byte.
        let mut idle = limits.header_read_timeout;
        let mut first = true;
        loop {
            let waiting = Waiting {
                first,
                idle,
                limits: &limits,
                timer: timer.as_mut(),
                stop: Stop {
                    stopped: stopped.as_mut(),
                    listening: &mut listening,
                    news: &stop,
                },
            };
            let head = match read_head(&mut stream, &mut buf, waiting).await {
                Ok(head) => head,
                // Empty lines before a request are no request (RFC 9112 §2.2).
                Err(HeadMissing::TimedOut) if buf.iter().any(|&b| b != b'\r' && b != b'\n') => {
                    // As nginx: nothing is answered, but a head begun and not
                    // finished in time is logged, with 408.
                    if let Some(log) = &shared.access_log {
                        let mut entry = log.refused(&client, request::first_line(&buf));
                        entry.status = http::StatusCode::REQUEST_TIMEOUT.as_u16();
                        drop(entry);
                    }
                    break;
                }
                Err(_) => break,
            };
            let lane = match head {
                Head::Lane(lane) => lane,
                Head::TooLarge | Head::TooManyFields => {
                    let why = match head {
                        Head::TooLarge => format!(
                            "the request head is larger than {} bytes",
                            limits.max_header_bytes
                        ),
                        _ => format!(
                            "the request has more than {} header fields",
                            request::MAX_HEADERS
                        ),
                    };
                    let refused = Refused {
                        status: http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                        why: &why,
                        line: request::first_line(&buf),
                    };
                    Box::pin(refuse(&mut stream, &limits, &shared, &client, refused)).await;
                    break;
                }
                Head::Malformed(why) => {
                    let refused = Refused {
                        status: http::StatusCode::BAD_REQUEST,
                        why,
                        line: request::first_line(&buf),
                    };
                    Box::pin(refuse(&mut stream, &limits, &shared, &client, refused)).await;
                    break;
                }
                Head::Hyper => {
                    let connection = Connection {
                        shared: shared.clone(),
                        client: client.clone(),
                        held: held.clone(),
                    };
                    let handed = hand_off(stream, buf, connection, &hyper, limits, stop.clone());
                    // Served one request, hyper gives the connection back.
                    let Some(back) = Box::pin(handed).await else {
                        return;
                    };
                    (stream, buf) = back;
                    idle = limits.keep_alive_timeout;
                    first = false;
                    continue;
                }
            };
            // Boxed, as the refusals and the hand-off above: the connection's
            // task holds what a request needs (the handler's state, the
            // response being written) only while the request is under way.
            let exchange = Exchange {
                stream: &mut stream,
                buf: &mut buf,
                shared: &shared,
                client: &client,
                limits: &limits,
                stop: &stop,
            };
            if !exchange.answer(lane).await {
                break;
            }
            release_idle(&mut buf);
            idle = limits.keep_alive_timeout;
            first = false;
        }
        // The lane's end of the connection: TLS says so (close_notify),
        // so a client reading to the end knows it has it all.
        stream.close().await;
    }
}

/// Gives the read buffer back to the worker between requests, unless it
/// holds the start of the next (pipelined) one: an idle connection would
/// keep its 8 KiB.
fn release_idle(buf: &mut BytesMut) {
    if buf.is_empty() {
        read_buf::give_back(std::mem::take(buf));
    }
}

/// One request the lane serves, and what answering it needs.
struct Exchange<'a, S> {
    stream: &'a mut S,
    buf: &'a mut BytesMut,
    shared: &'a Arc<Shared>,
    client: &'a Peer,
    limits: &'a Limits,
    stop: &'a watch::Receiver<bool>,
}

impl<'a, S: ClientStream> Exchange<'a, S> {
    /// Answers the request: a future, in its box, that says whether the
    /// connection may carry another. One box holds it all, the handler's
    /// future included, and it is built in place: out of line, as
    /// `in_place` says, where built in the connection's loop it was built
    /// on the stack, then its kilobytes copied into the box.
    #[inline(never)]
    fn answer(
        self,
        lane: Box<request::LaneRequest>,
    ) -> Pin<Box<impl Future<Output = bool> + use<'a, S>>> {
        let mut asked = Asked {
            head: lane.request.method() == http::Method::HEAD,
            http10: lane.request.version() == http::Version::HTTP_10,
            keep_alive: lane.keep_alive,
        };
        let waiting = Answer {
            max_head: self.limits.max_header_bytes,
            // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
            interim: !asked.http10,
        };
        let (shared, client) = (self.shared.clone(), self.client.clone());
        crate::support::in_place::boxed(move || {
            let mut handle = route::handle(shared, client, lane.request);
            async move {
                // Polled where it lies: moved into a future of its own
                // (an `async fn`'s argument, `pin!`), the handler's future
                // would take a second slot of the box and a copy of it.
                // SAFETY: `handle` lives in this async block's future,
                // which is polled only pinned and is never `Unpin`, and
                // is never moved out of it: it stays where it is pinned
                // until dropped with the block.
                let handle = unsafe { Pin::new_unchecked(&mut handle) };
                let Some(Ok(response)) =
                    unless_client_leaves(self.stream, self.buf, handle, waiting).await
                else {
                    tracing::debug!("the client closed before its answer was ready");
                    return false;
                };
                if let Some(abort) = response.extensions().get::<Abort>() {
                    if *abort == Abort::Reset {
                        self.stream.resettable().reset_on_close();
                    }
                    return false;
                }
                // A draining server answers what it has and closes, as hyper does.
                asked.keep_alive &= !*self.stop.borrow();
                let mut out = response::take_out();
                let mut sink = SendTimeout::to_client(self.stream, self.limits.send_timeout);
                let written = response::write(&mut sink, &mut out, response, asked).await;
                response::give_back_out(out);
                match written {
                    Ok(keep_alive) => keep_alive,
                    Err(err) => {
                        tracing::debug!(error = %err, "writing a response failed");
                        false
                    }
                }
            }
        })
    }
}

/// A head the lane refuses to read on.
struct Refused<'a> {
    status: http::StatusCode,
    why: &'a str,
    /// Its request line as it came, for the access log.
    line: &'a [u8],
}

/// Answers a head that cannot be served (431 for one over the limit, as
/// nginx's 400 "Request Header Or Cookie Too Large"; 400 for one that is
/// not HTTP), logs it, then the connection closes.
async fn refuse<S: ClientStream>(
    stream: &mut S,
    limits: &Limits,
    shared: &Shared,
    client: &Peer,
    refused: Refused<'_>,
) {
    let entry = shared
        .access_log
        .as_ref()
        .map(|log| log.refused(client, refused.line));
    let response = crate::support::body::plain(refused.status, refused.why);
    let response = match entry {
        Some(entry) => entry.respond(response),
        None => response,
    };
    let asked = Asked {
        head: false,
        http10: false,
        keep_alive: false,
    };
    let mut sink = SendTimeout::to_client(stream, limits.send_timeout);
    let _ = response::write(&mut sink, &mut Vec::new(), response, asked).await;
}

/// Awaits `answer` while watching the client: one that closes its side
/// first has gone, and its request is dropped, upstream connection and all
/// (nginx: "client prematurely closed connection", its 499). What it sends
/// meanwhile (a pipelined request) is kept, up to a head's worth. Costs no
/// syscall unless the client sends something. Interim responses from the
/// upstream go to the client as they come, before the answer.
async fn unless_client_leaves<S: ClientStream, F: Future>(
    stream: &mut S,
    buf: &mut BytesMut,
    answer: F,
    waiting: Answer,
) -> Option<F::Output> {
    tokio::pin!(answer);
    let mut interim = response::Interim::default();
    let mut answered = None;
    std::future::poll_fn(|cx| {
        if answered.is_none() {
            let polled = if waiting.interim {
                crate::backends::upstream::http1::interim::taken_during(|| answer.as_mut().poll(cx))
            } else {
                answer.as_mut().poll(cx)
            };
            if let Poll::Ready(out) = polled {
                answered = Some(out);
            }
        }
        if waiting.interim {
            match interim.poll_send(stream, cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Pending if answered.is_some() => return Poll::Pending,
                Poll::Pending => {}
            }
        }
        if let Some(out) = answered.take() {
            return Poll::Ready(Some(out));
        }
        // What the client sends meanwhile is kept, up to a head's worth.
        while buf.len() <= waiting.max_head {
            match stream.poll_read_sent(cx, buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(None),
                Poll::Ready(Ok(_)) => {}
            }
        }
        Poll::Pending
    })
    .await
}

/// What the lane does while a request's answer is awaited.
struct Answer {
    /// How much of a pipelined head it keeps meanwhile.
    max_head: usize,
    /// Whether the client takes interim responses.
    interim: bool,
}

/// How long a connection may wait for a head, the timer that says so, and
/// the server's stop.
struct Waiting<'a, S> {
    /// No request came on the connection before.
    first: bool,
    idle: Duration,
    limits: &'a Limits,
    timer: Pin<&'a mut Sleep>,
    stop: Stop<'a, S>,
}

/// Why no head came: the connection is done.
enum HeadMissing {
    Closed,
    /// The idle time or the header timeout ran out.
    TimedOut,
    /// The server is stopping while the connection idles.
    Stopping,
}

/// Reads until `buf` starts with a whole head (or one for hyper).
async fn read_head<S: ClientStream, Stop: Future<Output = ()>>(
    stream: &mut S,
    buf: &mut BytesMut,
    waiting: Waiting<'_, Stop>,
) -> Result<Head, HeadMissing> {
    let Waiting {
        first,
        idle,
        limits,
        mut timer,
        mut stop,
    } = waiting;
    // The idle time runs until the head's first byte, the header timeout
    // from then on; most heads come whole in one read and need neither
    // timer move.
    let mut timing_head = !buf.is_empty();
    let wait = if timing_head {
        limits.header_read_timeout
    } else {
        idle
    };
    arm(timer.as_mut(), wait);
    loop {
        if let Some(head) = request::parse(buf, limits.max_header_bytes, first) {
            return Ok(head);
        }
        if !buf.is_empty() && !timing_head {
            timing_head = true;
            arm(timer.as_mut(), limits.header_read_timeout);
        }
        let idling = buf.is_empty();
        // Polled by hand rather than `select!`ed: the socket's own waker
        // slot, no waiter (nor buffer) kept in the task while it idles.
        let read = std::future::poll_fn(|cx| {
            if let Poll::Ready(read) = poll_read_some(stream, buf, cx) {
                return Poll::Ready(Ok(read));
            }
            if timer.as_mut().poll(cx).is_ready() {
                tracing::debug!(idling, "no request head in time; closing the connection");
                return Poll::Ready(Err(HeadMissing::TimedOut));
            }
            if idling && stop.poll(cx) {
                return Poll::Ready(Err(HeadMissing::Stopping));
            }
            Poll::Pending
        })
        .await?;
        match read {
            Ok(0) | Err(_) => return Err(HeadMissing::Closed),
            Ok(_) => {}
        }
    }
}

/// Reads what the client has sent into `buf`. A `buf` without room gets
/// its room only once bytes have come, read first on the stack: a
/// connection waiting for its next request holds no buffer. Both reads go
/// through `poll_read`, which takes a short read as the socket drained
/// and waits for news, where a `try_read` would cost an `EAGAIN` read
/// before each wait.
fn poll_read_some<S: ClientStream>(
    stream: &mut S,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if buf.capacity() == 0 {
        let mut first = [MaybeUninit::uninit(); FIRST_READ];
        let mut first = ReadBuf::uninit(&mut first);
        ready!(Pin::new(stream).poll_read(cx, &mut first))?;
        let read = first.filled();
        if !read.is_empty() {
            *buf = read_buf::take();
            buf.extend_from_slice(read);
        }
        return Poll::Ready(Ok(read.len()));
    }
    if buf.capacity() - buf.len() < READ_SIZE / 4 {
        buf.reserve(READ_SIZE);
    }
    pin!(stream.read_buf(buf)).poll(cx)
}

/// Resolves when the server starts to stop.
async fn stopped(mut stop: watch::Receiver<bool>) {
    stopping(&mut stop).await
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    async fn read_some(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
        std::future::poll_fn(|cx| poll_read_some(stream, buf, cx)).await
    }

    #[tokio::test]
    async fn a_connection_waiting_for_a_head_holds_no_buffer() {
        let (mut client, mut server) = pair().await;
        let mut buf = BytesMut::new();
        let waited =
            tokio::time::timeout(Duration::from_millis(50), read_some(&mut server, &mut buf)).await;
        assert!(waited.is_err(), "nothing was sent");
        assert_eq!(buf.capacity(), 0, "no room is taken while waiting");

        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        read_some(&mut server, &mut buf).await.unwrap();
        assert_eq!(&buf[..], b"GET / HTTP/1.1\r\n\r\n");
        let Some(Head::Lane(_)) = request::parse(&mut buf, 64 * 1024, true) else {
            panic!("a lane request");
        };
        // The head shares the buffer; answered, the connection lets it go.
        release_idle(&mut buf);
        assert_eq!(buf.capacity(), 0);
    }

    #[tokio::test]
    async fn a_head_longer_than_the_first_read_comes_whole() {
        let (mut client, mut server) = pair().await;
        let head = format!(
            "GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n",
            "a".repeat(3 * FIRST_READ)
        );
        client.write_all(head.as_bytes()).await.unwrap();
        let mut buf = BytesMut::new();
        while buf.len() < head.len() {
            assert!(read_some(&mut server, &mut buf).await.unwrap() > 0);
        }
        assert_eq!(&buf[..], head.as_bytes());
    }

    #[tokio::test]
    async fn a_pipelined_request_keeps_its_buffer() {
        let mut buf = BytesMut::from(&b"GET /a HTTP/1.1\r\n\r\nGET /b HT"[..]);
        let Some(Head::Lane(_)) = request::parse(&mut buf, 64 * 1024, true) else {
            panic!("a lane request");
        };
        release_idle(&mut buf);
        assert_eq!(&buf[..], b"GET /b HT");
    }

    /// The lane over an in-memory pipe: no socket, scripted bytes in, the
    /// answer's bytes out.
    #[tokio::test]
    async fn the_lane_serves_scripted_bytes_without_a_socket() {
        use tokio::io::AsyncReadExt;
        use tokio::sync::Semaphore;

        use crate::backends::upstream::{BackendTimeouts, Upstreams};
        use crate::route::client_headers::Underscores;
        use crate::route::target::EscapedSlashes;
        use crate::server::peer::Peer;

        let state = crate::config::state::State::new();
        state
            .apply(gatehouse_api::ProxyConfig::new(Vec::new()), "test")
            .unwrap();
        let second = Duration::from_secs(1);
        let shared = Arc::new(Shared {
            state: state.clone(),
            upstreams: Upstreams::new(BackendTimeouts {
                connect: second,
                read: second,
                client_body: second,
            }),
            access_log: None,
            escaped_slashes: EscapedSlashes::default(),
            trusted_proxies: Default::default(),
            underscores: Underscores::default(),
            https_port: None,
            local_app: None,
        });
        let limits = Limits {
            max_header_bytes: 8192,
            header_read_timeout: second,
            keep_alive_timeout: second,
            send_timeout: second,
            max_connections: 1,
        };
        let slot = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let held = crate::server::Held::new(slot, state.metrics.open_connections.clone());
        let (_stop_tx, stop) = watch::channel(false);
        let (mut client, server) = tokio::io::duplex(4096);
        let hyper = Arc::new(crate::server::hyper_servers(limits));
        let peer = Peer::new("192.0.2.1:1".parse().unwrap());
        let served = tokio::spawn(serve(server, shared, peer, limits, hyper, stop, held));
        client
            .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answers = String::new();
        client.read_to_string(&mut answers).await.unwrap();
        assert_eq!(
            answers.matches("HTTP/1.1 404 Not Found\r\n").count(),
            2,
            "{answers}"
        );
        assert!(answers.contains("no route matches"), "{answers}");
        served.await.unwrap();
    }
}
