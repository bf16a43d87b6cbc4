//! The headers a proxy sets on what it forwards: `Host`, and
//! `X-Forwarded-For`, `-Proto` and `-Host`, as nginx's usual
//! `proxy_set_header` lines and Envoy set them.
//!
//! Behind a load balancer that terminates TLS, the scheme and host the
//! client used are the balancer's to say: from a peer named in
//! `--trusted-proxies`, its `X-Forwarded-Proto` and `-Host` are passed on,
//! as Traefik's `forwardedHeaders.trustedIPs` and Envoy's trusted hops do.
//! Once such a list is given, the `X-Forwarded-For` of any other peer is
//! no longer believed either: the backend gets that peer's address alone.

use std::net::IpAddr;
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Authority;

use crate::server::peer::{Peer, Trust};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The peers whose `X-Forwarded-*` headers are believed: addresses and
/// networks, as `--trusted-proxies 10.0.0.0/8,192.0.2.7` gives them.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[(IpAddr, u8)]>);

impl TrustedProxies {
    /// Parses a comma-separated list of IPs and CIDR networks.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut networks = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (ip, bits) = item.split_once('/').unwrap_or((item, ""));
            let ip: IpAddr = ip.parse().map_err(|_| {
                format!("`{item}` is not an IP address or network: give e.g. `10.0.0.0/8` or `192.0.2.7`")
            })?;
            let most = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                "" => most,
                bits => bits.parse().ok().filter(|b| *b <= most).ok_or_else(|| {
                    format!("`{item}`: the prefix length must be a number from 0 to {most}")
                })?,
            };
            // A v4 network written v4-mapped (`::ffff:10.0.0.0/104`) is
            // held as v4, as the peers it names are matched.
            let network = match ip {
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) if bits >= 96 => (IpAddr::V4(v4), bits - 96),
                    Some(_) => {
                        return Err(format!(
                            "`{item}`: a v4-mapped network needs a prefix of 96 or more"
                        ));
                    }
                    None => (ip, bits),
                },
                IpAddr::V4(_) => (ip, bits),
            };
            networks.push(network);
        }
        Ok(TrustedProxies(networks.into()))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        // A v4 client on a dual-stack socket shows as `::ffff:a.b.c.d`.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|&(network, bits)| match (network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => same_prefix(&net.octets(), &ip.octets(), bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => same_prefix(&net.octets(), &ip.octets(), bits),
            _ => false,
        })
    }
}

/// Whether `a` and `b` agree in their first `bits` bits.
fn same_prefix(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    a[..whole] == b[..whole] && (rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0)
}

/// Who asked, for the `X-Forwarded-*` headers.
pub struct Origin<'a> {
    pub client: &'a Peer,
    /// The Host the client sent, before any rewrite.
    pub host: Option<&'a HeaderValue>,
    /// The Host to send upstream, when a URLRewrite changes it.
    pub rewritten_host: Option<&'a HeaderValue>,
}

/// The values set on one forwarded request. They replace any the client
/// sent under these names, except that `X-Forwarded-For` extends the
/// client's list, and a trusted proxy's scheme and host are kept.
pub(crate) struct ProxyHeaders {
    host: HeaderValue,
    forwarded_host: Option<HeaderValue>,
    forwarded_for: HeaderValue,
    forwarded_proto: HeaderValue,
}

impl ProxyHeaders {
    /// For a request with `headers` from `origin`, sent to `authority`.
    pub(crate) fn new(
        origin: &Origin<'_>,
        authority: &Authority,
        headers: &HeaderMap,
    ) -> ProxyHeaders {
        let host = match origin.rewritten_host.or(origin.host) {
            Some(host) => host.clone(),
            None => {
                HeaderValue::from_str(authority.as_str()).expect("an authority is a valid Host")
            }
        };
        let (client_ip, trust) = (origin.client.ip_header(), origin.client.trust());
        // Every line of the client's list, in order, then its address, as
        // nginx's `$proxy_add_x_forwarded_for`; bytes are kept as sent.
        let mut previous = headers.get_all(X_FORWARDED_FOR).iter();
        let forwarded_for = match (previous.next(), previous.next()) {
            _ if trust == Trust::Untrusted => client_ip.clone(),
            (None, _) => client_ip.clone(),
            (Some(only), None) => joined([only, client_ip]),
            (Some(first), Some(second)) => {
                let all = [first, second].into_iter().chain(previous);
                joined(all.chain([client_ip]))
            }
        };
        let passed_on = |name| match trust {
            Trust::Trusted => headers.get(name).cloned(),
            _ => None,
        };
        ProxyHeaders {
            host,
            forwarded_host: passed_on(&X_FORWARDED_HOST).or_else(|| origin.host.cloned()),
            forwarded_for,
            forwarded_proto: passed_on(&X_FORWARDED_PROTO)
                .unwrap_or(HeaderValue::from_static(origin.client.scheme())),
        }
    }

    /// Whether a client's header of this name gives way to ours.
    pub(crate) fn replaces(name: &HeaderName) -> bool {
        name == header::HOST
            || name == X_FORWARDED_FOR
            || name == X_FORWARDED_PROTO
            || name == X_FORWARDED_HOST
    }

    /// Each header to send, in order.
    pub(crate) fn each(&self, mut set: impl FnMut(&HeaderName, &HeaderValue)) {
        set(&header::HOST, &self.host);
        if let Some(host) = &self.forwarded_host {
            set(&X_FORWARDED_HOST, host);
        }
        set(&X_FORWARDED_FOR, &self.forwarded_for);
        set(&X_FORWARDED_PROTO, &self.forwarded_proto);
    }

    /// Sets them in `headers`.
    pub(crate) fn insert_into(&self, headers: &mut HeaderMap) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(list: &str, ip: &str) -> bool {
        TrustedProxies::parse(list)
            .unwrap()
            .contains(ip.parse().unwrap())
    }

    #[test]
    fn networks_and_addresses_name_the_trusted_peers() {
        assert!(trusted("10.0.0.0/8", "10.200.3.4"));
        assert!(!trusted("10.0.0.0/8", "11.0.0.1"));
        assert!(trusted("192.0.2.7, 172.16.0.0/12", "172.31.255.1"));
        assert!(!trusted("192.0.2.7, 172.16.0.0/12", "172.32.0.1"));
        assert!(trusted("192.0.2.0/25", "192.0.2.127"));
        assert!(!trusted("192.0.2.0/25", "192.0.2.128"));
        assert!(trusted("0.0.0.0/0", "203.0.113.9"));
        assert!(trusted("fd00::/8", "fd12::1"));
        assert!(!trusted("fd00::/8", "fe80::1"));
        // A v4 peer on a dual-stack socket, or a v4 network written mapped.
        assert!(trusted("127.0.0.1", "::ffff:127.0.0.1"));
        assert!(trusted("::ffff:10.0.0.1", "10.0.0.1"));
        assert!(trusted("::ffff:10.0.0.0/104", "::ffff:10.9.9.9"));
        assert!(!trusted("::ffff:10.0.0.0/104", "11.0.0.1"));
        assert!(
            !trusted("::/0", "127.0.0.1"),
            "a v6 network holds no v4 peer"
        );
    }

    #[test]
    fn a_list_that_is_not_addresses_says_what_is_wrong() {
        let err = TrustedProxies::parse("10.0.0.0/8,lb.internal").unwrap_err();
        assert!(err.contains("`lb.internal` is not an IP address"), "{err}");
        let err = TrustedProxies::parse("10.0.0.0/33").unwrap_err();
        assert!(err.contains("from 0 to 32"), "{err}");
        let err = TrustedProxies::parse("::ffff:10.0.0.0/64").unwrap_err();
        assert!(err.contains("96 or more"), "{err}");
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
    }

    /// `X-Forwarded-Proto` as `headers` from `peer` get it.
    fn proto(peer: &Peer, headers: &HeaderMap) -> HeaderValue {
        let origin = Origin {
            client: peer,
            host: None,
            rewritten_host: None,
        };
        let authority: Authority = "app:80".parse().unwrap();
        let mut out = HeaderMap::new();
        ProxyHeaders::new(&origin, &authority, headers).insert_into(&mut out);
        out[X_FORWARDED_PROTO].clone()
    }

    #[test]
    fn the_scheme_sent_on_is_the_connection_s_unless_a_trusted_proxy_says() {
        use crate::server::peer::TlsFacts;
        let addr = "192.0.2.7:1".parse().unwrap();
        let plain = Peer::new(addr);
        let tls = Peer::new(addr).with_tls(TlsFacts::default());
        let mut claims = HeaderMap::new();
        claims.insert(X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        assert_eq!(proto(&plain, &HeaderMap::new()), "http");
        assert_eq!(proto(&tls, &HeaderMap::new()), "https");
        assert_eq!(
            proto(&plain, &claims),
            "http",
            "a client's own claim is not believed"
        );
        let trusted = TrustedProxies::parse("192.0.2.0/24").unwrap();
        assert_eq!(proto(&Peer::judged(addr, &trusted), &claims), "https");
    }
}
