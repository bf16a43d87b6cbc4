//! One request's access log line: what is taken from the request when it
//! comes, what is learnt on the way (Route, backend, status, bytes), and
//! the line written when the entry is dropped.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Version, header};
use http_body::Frame;
use http_body_util::BodyExt;
use tokio::sync::oneshot;

use super::WorkerLog;
use super::time::Clock;
use crate::server::peer::Peer;
use crate::support::body::{Body, BoxError};
use crate::support::decimal::{itoa, push_seconds};
use crate::support::locks::lock;

impl WorkerLog {
    /// The entry for `req`, taken before anything changes it.
    pub(crate) fn begin<B>(self: &Arc<Self>, client: &Peer, req: &Request<B>) -> Entry {
        let header = |name| req.headers().get(name).cloned();
        let target = match req.uri().path_and_query() {
            Some(target) => target.as_str().as_bytes().to_vec(),
            None => req.uri().to_string().into_bytes(),
        };
        // Filled in, not built whole: an `Entry` logs itself when dropped.
        let mut entry = self.entry(client, target, 499);
        entry.method = Some(req.method().clone());
        entry.version = Some(req.version());
        entry.host = header(header::HOST).or_else(|| {
            let authority = req.uri().authority()?;
            HeaderValue::from_str(authority.as_str()).ok()
        });
        entry.referer = header(header::REFERER);
        entry.user_agent = header(header::USER_AGENT);
        entry
    }

    /// The entry for a head refused before it could be read: logged with
    /// its request line as it came, as nginx logs a bad request.
    pub(crate) fn refused(self: &Arc<Self>, client: &Peer, line: &[u8]) -> Entry {
        self.entry(client, line.to_vec(), 400)
    }

    /// An entry that knows only who asked, and `target`.
    fn entry(self: &Arc<Self>, client: &Peer, target: Vec<u8>, status: u16) -> Entry {
        Entry {
            log: self.clone(),
            started: Instant::now(),
            client: client.ip_header().clone(),
            scheme: client.scheme(),
            method: None,
            target,
            version: None,
            host: None,
            referer: None,
            user_agent: None,
            served: Served::default(),
            status,
            bytes: 0,
        }
    }
}

/// The Route and backend that served a request.
#[derive(Default)]
pub(crate) struct Served {
    pub route: Option<Arc<str>>,
    pub backend: Option<Arc<str>>,
}

/// One request's line, written when it is dropped: when its answer has
/// been sent, or when the request is given up.
pub(crate) struct Entry {
    log: Arc<WorkerLog>,
    started: Instant,
    client: HeaderValue,
    /// `https` on a TLS connection, else `http`: the connection's own.
    scheme: &'static str,
    /// With the version, `None` for a request line that could not be read,
    /// which `target` then holds whole.
    method: Option<Method>,
    target: Vec<u8>,
    version: Option<Version>,
    host: Option<HeaderValue>,
    referer: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    pub served: Served,
    /// What the request was answered; 499 until it is.
    pub status: u16,
    bytes: u64,
}

/// Where an upgrade's entry goes, to be logged when its tunnel closes (a
/// response extension, which must be `Clone`: hence the shared slot).
#[derive(Clone)]
pub(crate) struct TunnelLog(Arc<Mutex<Option<oneshot::Sender<Entry>>>>);

impl TunnelLog {
    /// The slot, and the tunnel's end of it.
    pub(crate) fn new() -> (TunnelLog, oneshot::Receiver<Entry>) {
        let (sender, receiver) = oneshot::channel();
        (TunnelLog(Arc::new(Mutex::new(Some(sender)))), receiver)
    }
}

impl Entry {
    /// `response`, whose body logs the entry once it is sent; an upgrade's
    /// entry goes to its tunnel instead.
    pub(crate) fn respond(mut self, mut response: Response<Body>) -> Response<Body> {
        self.status = response.status().as_u16();
        if let Some(tunnel) = response.extensions_mut().remove::<TunnelLog>() {
            let sender = lock(&tunnel.0).take();
            // A tunnel that never opened has dropped its end: the entry
            // comes back, and is logged at once.
            if let Some(sender) = sender {
                let _ = sender.send(self);
            }
            return response;
        }
        response.map(|inner| Logged { inner, entry: self }.boxed_unsync())
    }

    /// The tunnel this request opened has closed, having sent `down`
    /// bytes to the client (nginx's `$body_bytes_sent` for a WebSocket).
    pub(crate) fn tunnel_closed(&mut self, down: u64) {
        self.bytes = down;
    }

    /// nginx's `combined`, then `$request_time`, the Route and backend and
    /// the scheme: `1.2.3.4 - - [02/Dec/2026:10:00:00 +0000] "GET /
    /// HTTP/1.1" 200 12 "-" "curl/8.0" 0.001 route=default/app
    /// backend=blue scheme=https`.
    /// Like nginx's `$time_local`, the time is the line's own: the end.
    pub(super) fn write_text(&self, line: &mut Vec<u8>, clock: &mut Clock) {
        let took = self.started.elapsed();
        push_escaped(line, self.client.as_bytes());
        line.extend_from_slice(b" - - [");
        line.extend_from_slice(clock.clf(SystemTime::now()).as_bytes());
        line.extend_from_slice(b"] \"");
        if let Some(method) = &self.method {
            line.extend_from_slice(method.as_str().as_bytes());
            line.push(b' ');
        }
        push_escaped(line, &self.target);
        if let Some(version) = self.version {
            line.push(b' ');
            line.extend_from_slice(version_text(version).as_bytes());
        }
        line.extend_from_slice(b"\" ");
        line.extend_from_slice(itoa(self.status.into(), &mut [0; 20]));
        line.push(b' ');
        line.extend_from_slice(itoa(self.bytes, &mut [0; 20]));
        line.extend_from_slice(b" \"");
        push_header(line, self.referer.as_ref());
        line.extend_from_slice(b"\" \"");
        push_header(line, self.user_agent.as_ref());
        line.extend_from_slice(b"\" ");
        push_seconds(line, took.as_nanos());
        line.extend_from_slice(b" route=");
        line.extend_from_slice(self.served.route.as_deref().unwrap_or("-").as_bytes());
        line.extend_from_slice(b" backend=");
        line.extend_from_slice(self.served.backend.as_deref().unwrap_or("-").as_bytes());
        line.extend_from_slice(b" scheme=");
        line.extend_from_slice(self.scheme.as_bytes());
        line.push(b'\n');
    }

    pub(super) fn write_json(&self, line: &mut Vec<u8>, clock: &mut Clock) {
        let seconds = self.started.elapsed().as_secs_f64();
        let text = |value: Option<&HeaderValue>| {
            value.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let entry = JsonEntry {
            time: clock.rfc3339(SystemTime::now()),
            client: text(Some(&self.client)),
            scheme: self.scheme,
            method: self.method.as_ref().map(Method::as_str),
            target: String::from_utf8_lossy(&self.target),
            protocol: self.version.map(version_text),
            host: text(self.host.as_ref()),
            status: self.status,
            bytes: self.bytes,
            duration_seconds: (seconds * 1e6).round() / 1e6,
            route: self.served.route.as_deref(),
            backend: self.served.backend.as_deref(),
            referer: text(self.referer.as_ref()),
            user_agent: text(self.user_agent.as_ref()),
        };
        serde_json::to_writer(&mut *line, &entry).expect("an entry serialises");
        line.push(b'\n');
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let entry: &Entry = self;
        entry.log.write(entry);
    }
}

#[derive(serde::Serialize)]
struct JsonEntry<'a> {
    time: String,
    client: Option<String>,
    scheme: &'static str,
    method: Option<&'a str>,
    target: std::borrow::Cow<'a, str>,
    protocol: Option<&'static str>,
    host: Option<String>,
    status: u16,
    bytes: u64,
    duration_seconds: f64,
    route: Option<&'a str>,
    backend: Option<&'a str>,
    referer: Option<String>,
    user_agent: Option<String>,
}

/// A response body that counts what it yields and logs its entry when it
/// is dropped: sent whole, or cut off.
struct Logged {
    inner: Body,
    entry: Entry,
}

impl http_body::Body for Logged {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.entry.bytes += data.len() as u64;
        }
        polled
    }

    body_hints_through!(inner);
}

fn version_text(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

fn push_header(line: &mut Vec<u8>, value: Option<&HeaderValue>) {
    match value {
        Some(value) => push_escaped(line, value.as_bytes()),
        None => line.push(b'-'),
    }
}

/// Bytes as nginx escapes them in a log: `"`, `\`, controls and non-ASCII
/// as `\xHH`, so a client cannot forge a line or a field.
fn push_escaped(line: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let plain = |byte: &u8| *byte != b'"' && *byte != b'\\' && (0x20..0x7f).contains(byte);
    // Nearly every field has nothing to escape: copied whole.
    if bytes.iter().all(plain) {
        line.extend_from_slice(bytes);
        return;
    }
    for &byte in bytes {
        if byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte) {
            line.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]);
        } else {
            line.push(byte);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_controls_cannot_forge_a_field() {
        let mut line = Vec::new();
        push_escaped(&mut line, b"a\"b\\c\nd\x7f\xc3\xa9");
        assert_eq!(line, br"a\x22b\x5Cc\x0Ad\x7F\xC3\xA9");
    }
}
