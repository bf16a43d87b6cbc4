//! One client connection's facts, made once by the server when it accepts
//! the connection and read by every request on it: the client's address
//! (as `X-Forwarded-For` and the access log carry it), whether it is a
//! trusted proxy, and, on a TLS connection, what its handshake said (SNI,
//! ALPN), from which the scheme follows.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::HeaderValue;

use crate::route::forwarded::TrustedProxies;

#[derive(Clone)]
pub struct Peer {
    addr: IpAddr,
    /// The address as a header value, formatted once per connection, not
    /// on each of its requests.
    ip: HeaderValue,
    trust: Trust,
    /// `None` on a plain TCP connection.
    tls: Option<Arc<TlsFacts>>,
}

/// What a TLS handshake said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFacts {
    /// The server name the client asked for (SNI).
    pub server_name: Option<String>,
    /// The protocol agreed by ALPN (`h2`, `http/1.1`).
    pub alpn: Option<Vec<u8>>,
    /// The Route whose certificate the handshake used.
    pub route: Option<Arc<str>>,
    /// The verified client certificate's subject (RFC 4514), when the
    /// certificate asked for one.
    pub client_subject: Option<HeaderValue>,
}

/// Whose `X-Forwarded-*` headers are believed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trust {
    /// No `--trusted-proxies`: the client's `X-Forwarded-For` is extended,
    /// as nginx's `$proxy_add_x_forwarded_for` does; the rest are ours.
    Unset,
    /// A trusted proxy: its scheme and host are passed on too.
    Trusted,
    /// Not one of the trusted proxies: none of its headers are.
    Untrusted,
}

impl Peer {
    /// A client with no trusted proxies configured, over plain TCP.
    pub fn new(addr: SocketAddr) -> Peer {
        Peer::of(addr, Trust::Unset)
    }

    /// A client at `addr`, trusted if `trusted` names it.
    pub fn judged(addr: SocketAddr, trusted: &TrustedProxies) -> Peer {
        let trust = match trusted.is_empty() {
            true => Trust::Unset,
            false if trusted.contains(addr.ip()) => Trust::Trusted,
            false => Trust::Untrusted,
        };
        Peer::of(addr, trust)
    }

    fn of(addr: SocketAddr, trust: Trust) -> Peer {
        let text = addr.ip().to_string();
        let ip = HeaderValue::from_str(&text).expect("an IP address is a valid header value");
        Peer {
            addr: addr.ip(),
            ip,
            trust,
            tls: None,
        }
    }

    /// The same peer, over a TLS connection whose handshake said `facts`.
    pub fn with_tls(self, facts: TlsFacts) -> Peer {
        Peer {
            tls: Some(Arc::new(facts)),
            ..self
        }
    }

    /// The address the connection came from.
    pub fn ip(&self) -> IpAddr {
        self.addr
    }

    /// The client's address as `X-Forwarded-For` carries it.
    pub fn ip_header(&self) -> &HeaderValue {
        &self.ip
    }

    pub(crate) fn trust(&self) -> Trust {
        self.trust
    }

    pub fn tls(&self) -> Option<&TlsFacts> {
        self.tls.as_deref()
    }

    /// The scheme the client used: `X-Forwarded-Proto` when no trusted
    /// proxy says otherwise.
    pub fn scheme(&self) -> &'static str {
        match self.tls {
            Some(_) => "https",
            None => "http",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_follows_the_connection() {
        let plain = Peer::new("192.0.2.7:1234".parse().unwrap());
        assert_eq!(plain.scheme(), "http");
        assert_eq!(plain.ip_header(), "192.0.2.7");
        let tls = plain.with_tls(TlsFacts {
            server_name: Some("shop.example.com".into()),
            alpn: Some(b"http/1.1".to_vec()),
            ..TlsFacts::default()
        });
        assert_eq!(tls.scheme(), "https");
        assert_eq!(
            tls.tls().unwrap().server_name.as_deref(),
            Some("shop.example.com")
        );
    }
}
