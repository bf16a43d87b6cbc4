//! The headers a proxy sets on what it forwards: `Host`, and
//! `X-Forwarded-For`, `-Proto` and `-Host`, as nginx's usual
//! `proxy_set_header` lines and Envoy set them.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Authority;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The client's IP as `X-Forwarded-For` carries it: formatted once per
/// connection, not on each of its requests.
#[derive(Clone)]
pub struct ClientIp(HeaderValue);

impl ClientIp {
    pub fn new(addr: SocketAddr) -> ClientIp {
        let text = addr.ip().to_string();
        ClientIp(HeaderValue::from_str(&text).expect("an IP address is a valid header value"))
    }

    pub fn as_header(&self) -> &HeaderValue {
        &self.0
    }
}

/// Who asked, for the `X-Forwarded-*` headers.
pub struct Origin<'a> {
    pub client: &'a ClientIp,
    /// The Host the client sent, before any rewrite.
    pub host: Option<&'a HeaderValue>,
    /// The Host to send upstream, when a URLRewrite changes it.
    pub rewritten_host: Option<&'a HeaderValue>,
}

/// The values set on one forwarded request. They replace any the client
/// sent under these names, except that `X-Forwarded-For` extends the
/// client's list.
pub struct ProxyHeaders {
    host: HeaderValue,
    forwarded_host: Option<HeaderValue>,
    forwarded_for: HeaderValue,
}

impl ProxyHeaders {
    /// For a request with `headers` from `origin`, sent to `authority`.
    pub fn new(origin: &Origin<'_>, authority: &Authority, headers: &HeaderMap) -> ProxyHeaders {
        let host = match origin.rewritten_host.or(origin.host) {
            Some(host) => host.clone(),
            None => {
                HeaderValue::from_str(authority.as_str()).expect("an authority is a valid Host")
            }
        };
        let client_ip = &origin.client.0;
        // Every line of the client's list, in order, then its address, as
        // nginx's `$proxy_add_x_forwarded_for`; bytes are kept as sent.
        let mut previous = headers.get_all(X_FORWARDED_FOR).iter();
        let forwarded_for = match (previous.next(), previous.next()) {
            (None, _) => client_ip.clone(),
            (Some(only), None) => joined([only, client_ip]),
            (Some(first), Some(second)) => {
                let all = [first, second].into_iter().chain(previous);
                joined(all.chain([client_ip]))
            }
        };
        ProxyHeaders {
            host,
            forwarded_host: origin.host.cloned(),
            forwarded_for,
        }
    }

    /// Whether a client's header of this name gives way to ours.
    pub fn replaces(name: &HeaderName) -> bool {
        name == header::HOST
            || name == X_FORWARDED_FOR
            || name == X_FORWARDED_PROTO
            || name == X_FORWARDED_HOST
    }

    /// Each header to send, in order.
    pub fn each(&self, mut set: impl FnMut(&HeaderName, &HeaderValue)) {
        set(&header::HOST, &self.host);
        if let Some(host) = &self.forwarded_host {
            set(&X_FORWARDED_HOST, host);
        }
        set(&X_FORWARDED_FOR, &self.forwarded_for);
        set(&X_FORWARDED_PROTO, &HeaderValue::from_static("http"));
    }

    /// Sets them in `headers`.
    pub fn insert_into(&self, headers: &mut HeaderMap) {
        self.each(|name, value| {
            headers.insert(name.clone(), value.clone());
        });
    }
}

/// Values joined by `, `, as one list.
fn joined<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> HeaderValue {
    let mut list = Vec::with_capacity(64);
    for value in values {
        if !list.is_empty() {
            list.extend_from_slice(b", ");
        }
        list.extend_from_slice(value.as_bytes());
    }
    HeaderValue::from_bytes(&list).expect("joined header values are a header value")
}
