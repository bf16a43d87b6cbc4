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
        let forwarded_for = match headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(previous) => {
                let ip = client_ip.to_str().expect("an IP address is ASCII");
                HeaderValue::from_str(&format!("{previous}, {ip}"))
                    .unwrap_or_else(|_| client_ip.clone())
            }
            None => client_ip.clone(),
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
