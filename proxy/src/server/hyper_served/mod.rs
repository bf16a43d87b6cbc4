//! The hand-off to hyper: the requests the lane does not serve itself.
//! An upgrade, h2c or a head the lane cannot read: hyper serves the rest
//! of the connection's life. A request with a body or `Expect`: hyper
//! serves that one request (`one_request`), then the connection and every
//! byte still unread go back to the lane. Around hyper: `prefixed` puts
//! the bytes the lane read back in front, `framing_guard` ends the stream
//! at framing hyper would read more leniently, `head_timeout` keeps the
//! time between requests in hyper's place, `activity` counts what is under
//! way so idle connections close.

mod activity;
mod framing_guard;
mod head_timeout;
mod one_request;
mod prefixed;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio::time::Instant;

use self::activity::{Activity, Counted, IdleWatch, InUse};
use self::framing_guard::FramingGuard;
use self::head_timeout::{HeadSeen, HeadTimeout};
use self::one_request::OneRequest;
use self::prefixed::Prefixed;
use crate::observe::access_log::WorkerLog;
use crate::route::{self, Shared};
use crate::server::http1::{READ_SIZE, request};
use crate::server::peer::Peer;
use crate::server::stream::ClientStream;
use crate::server::{Held, HyperServers, Limits, stopping};
use crate::support::abort::{Abort, Aborted, Resettable};
use crate::support::send_timeout::SendTimeout;

/// Serves the connection on hyper from the bytes in `buf` on: HTTP/2
/// after the h2c preface, and HTTP/1.1 with upgrades for a request that
/// may upgrade, for the rest of the connection's life. Any other request
/// is hyper's alone: answered, the connection and every byte still unread
/// come back for the lane (`one_request`).
pub(super) async fn hand_off<S: ClientStream>(
    stream: S,
    buf: BytesMut,
    connection: Connection,
    hyper: &HyperServers,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> Option<(S, BytesMut)> {
    let Connection {
        shared,
        client,
        held,
    } = connection;
    let h2 = request::is_h2_preface(&buf);
    let one = !h2 && one_request::fits(&buf);
    let resettable = stream.resettable();
    let stream = SendTimeout::to_client(Prefixed::new(buf.freeze(), stream), limits.send_timeout);
    let activity = Arc::new(Activity::default());
    let counted = activity.clone();
    if h2 {
        let service = service_fn(move |req| {
            counted_request(
                shared.clone(),
                client.clone(),
                counted.begin(),
                true,
                req,
                resettable,
            )
        });
        let connection = hyper.http2.serve_connection(TokioIo::new(stream), service);
        let idle = IdleWatch::new(
            activity,
            limits.header_read_timeout,
            limits.keep_alive_timeout,
            limits.send_timeout,
        );
        let result = until_done(connection, |c| c.graceful_shutdown(), &mut stop, Some(idle)).await;
        if let Some(Err(err)) = result {
            tracing::debug!(error = %err, "connection ended with an error");
        }
        return None;
    }
    // With an access log, the head that ends the connection is logged.
    let log = shared.access_log.clone();
    let seen = log.as_ref().map(|_| Arc::new(HeadSeen::default()));
    let (began, logged_client) = (seen.clone(), client.clone());
    let service = service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
        if let Some(seen) = &began {
            seen.begin();
        }
        // An upgrade's tunnel outlives the connection: it holds the slot.
        req.extensions_mut().insert(held.clone());
        // Counted from here, not from the future's first poll: hyper may
        // read between the two, and `OneRequest` must see a request under way.
        let in_use = counted.begin();
        // Boxed: hyper keeps the room for this future for the
        // connection's life, idle or not; a box there is a pointer.
        Box::pin(h1_request(
            shared.clone(),
            client.clone(),
            counted.clone(),
            in_use,
            req,
            resettable,
        ))
    });
    let (idle, head) = (limits.keep_alive_timeout, limits.header_read_timeout);
    let (result, back) = if one {
        let stream = OneRequest::new(stream, activity.clone(), limits.max_header_bytes);
        let stream = HeadTimeout::new(stream, activity, idle, head, seen.clone());
        let mut connection = hyper.http1.serve_connection(TokioIo::new(stream), service);
        let result = until_done(
            &mut connection,
            |c| Pin::new(&mut **c.get_mut()).graceful_shutdown(),
            &mut stop,
            None,
        )
        .await;
        let back = match result {
            Some(Ok(())) => given_back(connection.into_parts()),
            _ => None,
        };
        (result, back)
    } else {
        let stream = FramingGuard::new(stream);
        let stream = HeadTimeout::new(stream, activity, idle, head, seen.clone());
        let connection = hyper
            .http1
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let result = until_done(connection, |c| c.graceful_shutdown(), &mut stop, None).await;
        (result, None)
    };
    if let (Some(seen), Some(log), Some(Err(err))) = (&seen, &log, &result) {
        log_refused_head(seen, log, &logged_client, err);
    }
    if let Some(Err(err)) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
    back
}

/// The connection hyper served one request on, with what it has not read
/// in the order the client sent it, if hyper gave it back (rather than
/// ending it).
fn given_back<S, Service>(
    parts: http1::Parts<TokioIo<HeadTimeout<OneRequest<Unread<S>>>>, Service>,
) -> Option<(S, BytesMut)> {
    let (stream, withheld) = parts.io.into_inner().into_inner().into_parts()?;
    let (prefix, stream) = stream.into_inner().into_parts();
    let unread = [&parts.read_buf[..], &withheld[..], &prefix[..]];
    let len: usize = unread.iter().map(|part| part.len()).sum();
    // An idle connection holds no buffer.
    let mut buf = BytesMut::new();
    if len > 0 {
        buf.reserve(len.max(READ_SIZE));
        for part in unread {
            buf.extend_from_slice(part);
        }
    }
    Some((stream, buf))
}

/// The client's stream as hyper is given it, before the HTTP/1.1 layers.
type Unread<S> = SendTimeout<Prefixed<S>>;

/// Logs the head that ended a connection hyper served, as the lane logs
/// the heads it refuses: one hyper answered 400, 414 or 431 (its
/// `on_error`), or one not finished within the header timeout (408).
fn log_refused_head(seen: &HeadSeen, log: &Arc<WorkerLog>, client: &Peer, err: &hyper::Error) {
    let Some(head) = seen.last() else {
        return;
    };
    let status = if head.timed_out {
        http::StatusCode::REQUEST_TIMEOUT
    } else if err.is_parse_version_h2() {
        return;
    } else if err.is_parse_too_large() {
        // hyper's one public sign of its URI limit is the error's text.
        if err.to_string().contains("URI too long") {
            http::StatusCode::URI_TOO_LONG
        } else {
            http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        }
    } else if err.is_parse() {
        http::StatusCode::BAD_REQUEST
    } else {
        return;
    };
    log.refused(client, &head.line).status = status.as_u16();
}

/// What the lane hands hyper with a connection.
pub(super) struct Connection {
    pub(super) shared: Arc<Shared>,
    pub(super) client: Peer,
    pub(super) held: Held,
}

/// One h2 request, counted as under way until its response is sent. A
/// response that asks to `Abort` is an error: hyper ends the connection
/// (HTTP/1) or resets the stream (HTTP/2) without answering.
async fn counted_request(
    shared: Arc<Shared>,
    client: Peer,
    in_use: InUse,
    h2: bool,
    req: http::Request<hyper::body::Incoming>,
    resettable: Resettable,
) -> Result<http::Response<crate::support::body::Body>, Aborted> {
    let Ok(response) = route::handle(shared, client, req).await;
    if let Some(abort) = response.extensions().get::<Abort>() {
        if *abort == Abort::Reset && !h2 {
            resettable.reset_on_close();
        }
        return Err(Aborted);
    }
    Ok(response.map(|body| Counted::new(body, in_use, h2).boxed_unsync()))
}

/// One HTTP/1.1 request, counted likewise; a connection it upgrades
/// carries no more requests.
async fn h1_request(
    shared: Arc<Shared>,
    client: Peer,
    activity: Arc<Activity>,
    in_use: InUse,
    req: http::Request<hyper::body::Incoming>,
    resettable: Resettable,
) -> Result<http::Response<crate::support::body::Body>, Aborted> {
    let mut response = counted_request(shared, client, in_use, false, req, resettable).await?;
    crate::proto::header_case::for_hyper_server(&mut response);
    if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        activity.upgrade();
    }
    Ok(response)
}

/// Drives a hyper connection to its end; on `stop`, or once it has idled
/// out, asks it to finish what it has and close. `None`: it idled out and
/// was closed, or a response of its waited on the client past the send
/// timeout and it was dropped.
async fn until_done<C: Future>(
    connection: C,
    graceful_shutdown: impl FnOnce(Pin<&mut C>),
    stop: &mut watch::Receiver<bool>,
    mut idle: Option<IdleWatch>,
) -> Option<C::Output> {
    tokio::pin!(connection);
    let check = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(check);
    loop {
        if let Some(idle) = &mut idle {
            // Looked at once a second at most: idle limits are seconds
            // long, a look costs two atomic loads, and requests come and
            // go between looks without touching the timer.
            let next_look = Instant::now() + Duration::from_secs(1);
            let at = idle.due().map_or(next_look, |due| due.min(next_look));
            check.as_mut().reset(at);
        }
        tokio::select! {
            // The connection first: told to stop before it has read the
            // request the lane left it, hyper would close without answering.
            biased;
            result = connection.as_mut() => return Some(result),
            _ = stopping(stop) => {
                graceful_shutdown(connection.as_mut());
                return Some(connection.await);
            }
            _ = check.as_mut(), if idle.is_some() => {
                if let Some(watch) = idle.as_ref().filter(|idle| idle.stalled()) {
                    // hyper cannot reset the one stream from here: the
                    // connection says goodbye (GOAWAY), lets its other
                    // requests finish, and goes once only stalled ones are left.
                    tracing::debug!("an HTTP/2 client took none of a response for the send timeout; closing");
                    graceful_shutdown(connection.as_mut());
                    loop {
                        match tokio::time::timeout(Duration::from_secs(1), connection.as_mut()).await {
                            Ok(out) => return Some(out),
                            Err(_) if watch.only_stalled_left() => return None,
                            Err(_) => continue,
                        }
                    }
                }
                let due = idle.as_mut().and_then(IdleWatch::due);
                if due.is_some_and(|due| due <= Instant::now()) {
                    break;
                }
            }
        }
    }
    // Nothing is under way: say goodbye (GOAWAY). A client that does not
    // answer it, or never finished its handshake, is not waited for past a
    // second without a request under way.
    tracing::debug!("closing an HTTP/2 connection that carried no request in time");
    graceful_shutdown(connection.as_mut());
    loop {
        match tokio::time::timeout(Duration::from_secs(1), connection.as_mut()).await {
            Ok(out) => return Some(out),
            // A request that came in before the GOAWAY is answered first.
            Err(_) if idle.as_mut().is_some_and(|idle| idle.due().is_none()) => continue,
            Err(_) => return None,
        }
    }
}
