//! Header names as HTTP/1.x writes them: the proxy's own in their usual
//! case (`Content-Length`, `ETag`), an upstream's as it spelled them, as
//! nginx does. Names are case-insensitive, but many clients in the field
//! read them case-sensitively. HTTP/2 is lower-case by definition and
//! never uses this.

use bytes::Bytes;
use http::HeaderName;

/// Writes `name` in its usual case: each word capitalised, as most
/// servers write them, but for the names whose usual spelling is not
/// (`ETag`, `WWW-Authenticate`, …).
pub(crate) fn write_usual(out: &mut Vec<u8>, name: &HeaderName) {
    let name = name.as_str();
    match known(name) {
        Some(spelled) => out.extend_from_slice(spelled.as_bytes()),
        None => write_capitalised(out, name),
    }
}

/// `name` with each word capitalised.
fn write_capitalised(out: &mut Vec<u8>, name: &str) {
    let start = out.len();
    out.extend_from_slice(name.as_bytes());
    // A name is a lower-case token: capitalise its first letter and each
    // one after a dash.
    let mut word_start = true;
    for b in &mut out[start..] {
        if word_start {
            *b = b.to_ascii_uppercase();
        }
        word_start = *b == b'-';
    }
}

/// Whether `spelled`, a name as it came, is in its usual case, so that
/// writing it again needs no note of how it came. Read from the bytes
/// alone: the names nearly every response carries are matched as they
/// are usually spelled, by length and a compare or two.
pub(crate) fn is_usual(spelled: &[u8]) -> bool {
    if is_known_spelling(spelled) {
        return true;
    }
    // Each word must start with a capital and go on in lower case...
    let mut word_start = true;
    for &b in spelled {
        if (word_start && b.is_ascii_lowercase()) || (!word_start && b.is_ascii_uppercase()) {
            return false;
        }
        word_start = b == b'-';
    }
    // ...but for the names whose usual spelling is more than capitals.
    !matches!(
        spelled,
        b"Te" | b"Dnt" | b"Etag" | b"Content-Md5" | b"Www-Authenticate" | b"X-Xss-Protection"
    )
}

/// Whether `spelled` is how one of the names `known` knows is usually
/// spelled.
fn is_known_spelling(spelled: &[u8]) -> bool {
    match spelled.len() {
        2 => is(spelled, b"TE"),
        3 => is(spelled, b"DNT"),
        4 => is(spelled, b"Date") || is(spelled, b"ETag") || is(spelled, b"Vary"),
        6 => is(spelled, b"Server"),
        8 => is(spelled, b"Location"),
        10 => is(spelled, b"Connection"),
        11 => is(spelled, b"Content-MD5"),
        12 => is(spelled, b"Content-Type"),
        13 => {
            is(spelled, b"Last-Modified")
                || is(spelled, b"Accept-Ranges")
                || is(spelled, b"Cache-Control")
        }
        14 => is(spelled, b"Content-Length"),
        16 => is(spelled, b"WWW-Authenticate") || is(spelled, b"X-XSS-Protection"),
        17 => is(spelled, b"Transfer-Encoding"),
        _ => false,
    }
}

/// The usual spelling of the names nearly every response carries and of
/// those that are not simply capitalised words. Told apart by length
/// first, then by compares of a known length (a load or two each, no
/// call): the common case costs a few instructions, not a pass over bytes.
fn known(name: &str) -> Option<&'static str> {
    let name = name.as_bytes();
    Some(match name.len() {
        2 if is(name, b"te") => "TE",
        3 if is(name, b"dnt") => "DNT",
        4 if is(name, b"date") => "Date",
        4 if is(name, b"etag") => "ETag",
        4 if is(name, b"vary") => "Vary",
        6 if is(name, b"server") => "Server",
        8 if is(name, b"location") => "Location",
        10 if is(name, b"connection") => "Connection",
        11 if is(name, b"content-md5") => "Content-MD5",
        12 if is(name, b"content-type") => "Content-Type",
        13 if is(name, b"last-modified") => "Last-Modified",
        13 if is(name, b"accept-ranges") => "Accept-Ranges",
        13 if is(name, b"cache-control") => "Cache-Control",
        14 if is(name, b"content-length") => "Content-Length",
        16 if is(name, b"www-authenticate") => "WWW-Authenticate",
        16 if is(name, b"x-xss-protection") => "X-XSS-Protection",
        17 if is(name, b"transfer-encoding") => "Transfer-Encoding",
        _ => return None,
    })
}

/// Whether `name` is `text`: an array compare, of a length known when
/// compiled.
#[inline(always)]
fn is<const N: usize>(name: &[u8], text: &[u8; N]) -> bool {
    <&[u8; N]>::try_from(name).is_ok_and(|name| name == text)
}

/// The usual spelling of the names that are not simply capitalised words.
fn unusual_usual(name: &str) -> Option<&'static str> {
    // Most names have none of these lengths: one compare, no string's.
    if !matches!(name.len(), 2 | 3 | 4 | 11 | 16) {
        return None;
    }
    Some(match name {
        "etag" => "ETag",
        "www-authenticate" => "WWW-Authenticate",
        "te" => "TE",
        "dnt" => "DNT",
        "content-md5" => "Content-MD5",
        "x-xss-protection" => "X-XSS-Protection",
        _ => return None,
    })
}

/// How an upstream spelled the names of a response's fields where that
/// was not their usual case, in the order they came; a response extension,
/// present only when there is one (most upstreams write the usual case).
#[derive(Clone, Debug, Default)]
pub(crate) struct Spellings(Vec<(HeaderName, Bytes)>);

impl Spellings {
    pub(crate) fn push(&mut self, name: HeaderName, spelled: Bytes) {
        self.0.push((name, spelled));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Writes `name` as the upstream spelled its next field of that name
    /// not yet written (`used` marks those written), else in its usual case.
    pub(crate) fn write(&self, out: &mut Vec<u8>, name: &HeaderName, used: &mut u128) {
        let mut unused = self.0.iter().enumerate().filter(|&(i, _)| {
            // Past 128 fields, later spellings are reused: never wrong in
            // meaning, at worst in case.
            i >= 128 || *used & (1 << i) == 0
        });
        match unused.find(|(_, (n, _))| n == name) {
            Some((i, (_, spelled))) => {
                if i < 128 {
                    *used |= 1 << i;
                }
                out.extend_from_slice(spelled);
            }
            None => write_usual(out, name),
        }
    }
}

/// Marks a response from hyper's client: hyper's own map of how the
/// upstream spelled its names came with it, and its server uses that.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SpelledByHyper;

/// Readies a response for hyper's HTTP/1.1 server, which writes a name as
/// its case map in the response's extensions says, else capitalised
/// (`title_case_headers`). The map's type is hyper's own and private:
/// only hyper's parser makes one, so a head with the wanted spellings is
/// parsed by hyper's client, in memory. Needed only for an upstream's
/// unusual spellings from Gatehouse's own client, made on each such
/// answer, and for the names capitals alone do not spell (`ETag`), from a
/// map made once per thread.
pub(crate) fn for_hyper_server<B>(response: &mut http::Response<B>) {
    let extensions = response.extensions();
    if extensions.get::<SpelledByHyper>().is_some() {
        return;
    }
    let map = if let Some(spellings) = extensions.get::<Spellings>() {
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        let mut used = 0;
        for name in response.headers().keys() {
            for _ in response.headers().get_all(name) {
                spellings.write(&mut head, name, &mut used);
                head.extend_from_slice(b": 0\r\n");
            }
        }
        head.extend_from_slice(b"\r\n");
        spelled_by_hyper(&head)
    } else if response
        .headers()
        .keys()
        .any(|n| unusual_usual(n.as_str()).is_some())
    {
        thread_local! {
            static USUAL: Option<http::Extensions> = spelled_by_hyper(USUAL_HEAD);
        }
        USUAL.with(Clone::clone)
    } else {
        None
    };
    if let Some(map) = map {
        response.extensions_mut().extend(map);
    }
}

/// The names whose usual spelling is more than capitals, in a head.
const USUAL_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nETag: 0\r\nWWW-Authenticate: 0\r\nTE: 0\r\n\
DNT: 0\r\nContent-MD5: 0\r\nX-XSS-Protection: 0\r\n\r\n";

/// The extensions hyper's client gives the response `head`, its case map
/// among them; `None` if it would not read it.
fn spelled_by_hyper(head: &[u8]) -> Option<http::Extensions> {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use tokio::io::AsyncWrite;

    // All in memory: every step is ready when polled, so a no-op waker
    // and a few rounds of polling do.
    let mut cx = Context::from_waker(Waker::noop());
    let (ours, mut theirs) = tokio::io::duplex(head.len() + 256);
    let handshake = hyper::client::conn::http1::Builder::new()
        .preserve_header_case(true)
        .handshake(hyper_util::rt::TokioIo::new(ours));
    let Poll::Ready(Ok((mut sender, connection))) = pin!(handshake).poll(&mut cx) else {
        return None;
    };
    let request = http::Request::new(http_body_util::Empty::<bytes::Bytes>::new());
    let mut answer = pin!(sender.send_request(request));
    let mut connection = pin!(connection);
    for round in 0..8 {
        let _ = connection.as_mut().poll(&mut cx);
        if round == 0 {
            // Once the request is out: hyper's client refuses bytes that
            // come before it.
            match pin!(&mut theirs).poll_write(&mut cx, head) {
                Poll::Ready(Ok(n)) if n == head.len() => {}
                _ => return None,
            }
        }
        match answer.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(mut response)) => {
                return Some(std::mem::take(response.extensions_mut()));
            }
            Poll::Ready(Err(_)) => return None,
            Poll::Pending => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usual(name: &str) -> String {
        let mut out = Vec::new();
        write_usual(&mut out, &HeaderName::from_bytes(name.as_bytes()).unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_names_as_servers_usually_do() {
        for (name, spelled) in [
            ("content-length", "Content-Length"),
            ("date", "Date"),
            ("etag", "ETag"),
            ("www-authenticate", "WWW-Authenticate"),
            ("x-request-id", "X-Request-Id"),
            ("x--odd-", "X--Odd-"),
            ("a", "A"),
            ("x-1", "X-1"),
        ] {
            assert_eq!(usual(name), spelled);
            assert!(is_usual(spelled.as_bytes()), "{spelled}");
        }
    }

    #[test]
    fn the_known_names_are_spelled_as_the_rule_and_the_exceptions_spell_them() {
        for name in [
            "content-length",
            "content-type",
            "date",
            "server",
            "connection",
            "last-modified",
            "etag",
            "accept-ranges",
            "cache-control",
            "location",
            "vary",
            "transfer-encoding",
            "te",
            "dnt",
            "content-md5",
            "www-authenticate",
            "x-xss-protection",
        ] {
            let fast = known(name).expect("a known name");
            let mut slow = Vec::new();
            match unusual_usual(name) {
                Some(spelled) => slow.extend_from_slice(spelled.as_bytes()),
                None => write_capitalised(&mut slow, name),
            }
            assert_eq!(fast.as_bytes(), slow, "{name}");
            // Read back as it is written: usual, with no note of it.
            assert!(is_known_spelling(fast.as_bytes()), "{fast}");
            assert!(is_usual(fast.as_bytes()), "{fast}");
        }
        // Each exception is known: writing a name never misses one.
        for name in [
            "etag",
            "www-authenticate",
            "te",
            "dnt",
            "content-md5",
            "x-xss-protection",
        ] {
            assert_eq!(known(name), unusual_usual(name), "{name}");
            // Capitalised as a plain name would be, it is not its usual case.
            let mut capitalised = Vec::new();
            write_capitalised(&mut capitalised, name);
            assert!(!is_usual(&capitalised), "{name}");
        }
    }

    #[test]
    fn tells_an_unusual_spelling() {
        for spelled in [
            "Content-type",
            "content-length",
            "Etag",
            "X-REQUEST-ID",
            "CONTENT-TYPE",
            "date",
            "Www-Authenticate",
        ] {
            assert!(!is_usual(spelled.as_bytes()), "{spelled}");
        }
    }

    #[test]
    fn hyper_reads_a_head_in_memory() {
        let map = spelled_by_hyper(USUAL_HEAD).expect("hyper's client read the head");
        assert_eq!(map.len(), 1, "hyper's case map");
    }

    #[test]
    fn writes_each_field_as_it_was_spelled() {
        let name = HeaderName::from_static("x-b");
        let mut spellings = Spellings::default();
        spellings.push(name.clone(), Bytes::from_static(b"x-B"));
        spellings.push(name.clone(), Bytes::from_static(b"X-b"));
        let (mut out, mut used) = (Vec::new(), 0);
        for _ in 0..3 {
            spellings.write(&mut out, &name, &mut used);
            out.push(b' ');
        }
        assert_eq!(out, b"x-B X-b X-B ");
    }
}
