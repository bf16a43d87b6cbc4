//! An upstream on `127.0.0.1:0` that answers each request with exact bytes,
//! for what a real server would never send: malformed heads, two framings,
//! a body cut short, a connection closed instead of an answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a scripted upstream does with one request.
pub enum Reply {
    /// Sends these bytes and waits for the next request.
    Send(Vec<u8>),
    /// Sends these parts, `gap` apart, and waits for the next request.
    SendInParts(Vec<Vec<u8>>, Duration),
    /// Sends these bytes, then closes the connection.
    SendAndClose(Vec<u8>),
    /// Closes the connection without answering.
    Close,
}

/// `script(request_head, connection_number, request_number_on_it)`, both
/// numbers from 0.
type Script = dyn Fn(&str, usize, usize) -> Reply + Send + Sync;

/// An upstream that answers each request as its script says. A request's
/// body is read by its `Content-Length` before the script is asked.
pub struct Scripted {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    pub async fn start(
        script: impl Fn(&str, usize, usize) -> Reply + Send + Sync + 'static,
    ) -> Scripted {
        Scripted::closing_idle_after(Duration::from_secs(3600), script).await
    }

    /// An upstream answering every request with `response`.
    pub async fn answering(response: &[u8]) -> Scripted {
        let response = response.to_vec();
        Scripted::start(move |_, _, _| Reply::Send(response.clone())).await
    }

    /// Like `start`, but each connection is closed after `idle` without a
    /// request, as Node.js (5 s) and many servers do.
    pub async fn closing_idle_after(
        idle: Duration,
        script: impl Fn(&str, usize, usize) -> Reply + Send + Sync + 'static,
    ) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (counter, kept) = (connections.clone(), heads.clone());
        let script: Arc<Script> = Arc::new(script);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let number = counter.fetch_add(1, Ordering::SeqCst);
                let connection = Connection {
                    stream,
                    number,
                    idle,
                    script: script.clone(),
                    heads: kept.clone(),
                };
                tokio::spawn(connection.serve());
            }
        });
        Scripted {
            addr,
            connections,
            heads,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The request heads received since the last call (without their
    /// blank line), oldest first: each is seen once.
    pub fn take_heads(&self) -> Vec<String> {
        std::mem::take(&mut *self.heads.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

struct Connection {
    stream: TcpStream,
    number: usize,
    idle: Duration,
    script: Arc<Script>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Connection {
    async fn serve(mut self) {
        let mut pending = Vec::new();
        for request in 0.. {
            let Some(head) = self.read_request(&mut pending).await else {
                return;
            };
            let reply = (self.script)(&head, self.number, request);
            self.heads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(head.trim_end().to_owned());
            let sent = match reply {
                Reply::Send(bytes) => self.stream.write_all(&bytes).await.is_ok(),
                Reply::SendInParts(parts, gap) => self.send_in_parts(&parts, gap).await,
                Reply::SendAndClose(bytes) => {
                    let _ = self.stream.write_all(&bytes).await;
                    false
                }
                Reply::Close => false,
            };
            if !sent {
                return;
            }
        }
    }

    /// One request's head, its body (by `Content-Length`) taken off `pending`
    /// too; `None` when the connection ends or idles out first.
    async fn read_request(&mut self, pending: &mut Vec<u8>) -> Option<String> {
        let (head_len, body_len) = loop {
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
                let body = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |n| n.trim().parse::<usize>().unwrap_or(0));
                break (end + 4, body);
            }
            self.read_more(pending).await?;
        };
        while pending.len() < head_len + body_len {
            self.read_more(pending).await?;
        }
        let head = String::from_utf8_lossy(&pending[..head_len]).into_owned();
        pending.drain(..head_len + body_len);
        Some(head)
    }

    async fn read_more(&mut self, pending: &mut Vec<u8>) -> Option<()> {
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout(self.idle, self.stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => None,
            Ok(Ok(n)) => {
                pending.extend_from_slice(&chunk[..n]);
                Some(())
            }
        }
    }

    async fn send_in_parts(&mut self, parts: &[Vec<u8>], gap: Duration) -> bool {
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(gap).await;
            }
            if self.stream.write_all(part).await.is_err() {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::exchange;

    #[tokio::test]
    async fn each_request_is_read_with_its_body_and_numbered_on_its_connection() {
        let upstream = Scripted::start(|_, connection, request| {
            let text = format!("{connection}.{request}");
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", text.len());
            Reply::Send((head + &text).into_bytes())
        })
        .await;
        let mut stream = TcpStream::connect(upstream.addr).await.unwrap();
        let post = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
        assert_eq!(exchange(&mut stream, post).await.1, b"0.0");
        let get = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(exchange(&mut stream, get).await.1, b"0.1");

        let heads = upstream.take_heads();
        assert_eq!(heads.len(), 2, "{heads:?}");
        assert!(
            heads[1].starts_with("GET /b "),
            "the body is not taken for a head"
        );
        assert!(upstream.take_heads().is_empty(), "each head is seen once");
        assert_eq!(upstream.connections(), 1);
    }
}
