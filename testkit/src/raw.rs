//! HTTP/1.1 by hand over one `TcpStream`, so a test sees exactly what
//! happens to that connection: [`RawConnection`] sends several requests on
//! one; [`exchange`], [`read_head`] and [`read_response`] read answers off
//! a stream the test writes to itself, byte for byte.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One connection sending `GET`s and reading whole answers.
pub struct RawConnection {
    stream: BufReader<TcpStream>,
    pub local_addr: SocketAddr,
}

/// An answer read off a [`RawConnection`].
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl RawConnection {
    pub async fn connect(addr: SocketAddr) -> io::Result<RawConnection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let local_addr = stream.local_addr()?;
        Ok(RawConnection {
            stream: BufReader::new(stream),
            local_addr,
        })
    }

    /// Sends `GET path` with `Host: host` and reads the whole response.
    pub async fn get(&mut self, host: &str, path: &str) -> io::Result<RawResponse> {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: gatehouse-ct\r\n\r\n");
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> io::Result<RawResponse> {
        let status_line = self.read_line().await?;
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("not an HTTP status line: {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let line = self.read_line().await?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad(format!("not a header line: {line:?}")))?;
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let mut response = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            loop {
                let size_line = self.read_line().await?;
                let size =
                    usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| bad(format!("bad chunk size {size_line:?}")))?;
                if size == 0 {
                    // Trailers, then the empty line.
                    while !self.read_line().await?.is_empty() {}
                    break;
                }
                let mut chunk = vec![0; size];
                self.stream.read_exact(&mut chunk).await?;
                response.body.extend_from_slice(&chunk);
                self.read_line().await?;
            }
        } else if let Some(length) = response.header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| bad(format!("bad content-length {length:?}")))?;
            let mut body = vec![0; length];
            self.stream.read_exact(&mut body).await?;
            response.body = body;
        } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
            // Delimited by the end of the connection.
            self.stream.read_to_end(&mut response.body).await?;
        }
        Ok(response)
    }

    async fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.stream.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection was closed",
            ));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Sends `request` on `stream` and reads one response.
pub async fn exchange(stream: &mut TcpStream, request: &[u8]) -> (String, Vec<u8>) {
    stream.write_all(request).await.unwrap();
    read_response(stream).await
}

/// Reads an HTTP/1.1 response head (up to the blank line) byte by byte, so
/// nothing after it is taken off the stream.
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// One response read off `stream`: its head, and its body as framed by
/// `Content-Length` or chunked coding.
pub async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let head = read_head(stream).await;
    let lower = head.to_ascii_lowercase();
    let body = if let Some(length) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
    {
        let mut body = vec![0; length.trim().parse().unwrap()];
        stream.read_exact(&mut body).await.unwrap();
        body
    } else if lower.contains("transfer-encoding: chunked") {
        read_chunked(stream).await
    } else {
        Vec::new()
    };
    (head, body)
}

async fn read_chunked(stream: &mut TcpStream) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut line = Vec::new();
        while !line.ends_with(b"\r\n") {
            line.push(stream.read_u8().await.unwrap());
        }
        let size = usize::from_str_radix(std::str::from_utf8(&line).unwrap().trim(), 16).unwrap();
        let mut chunk = vec![0; size + 2];
        stream.read_exact(&mut chunk).await.unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&chunk[..size]);
    }
}
