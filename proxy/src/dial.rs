//! Opening a TCP connection to an upstream: resolve, try each address in
//! turn, all within the connect timeout.

use std::time::Duration;

use http::uri::Authority;
use tokio::net::TcpStream;

use crate::metrics::UpstreamError;

/// A connection to `authority` (port 80 when it names none), with Nagle off.
/// A name that resolves to nothing is `NoEndpoint` (503); addresses that all
/// refuse, or a timeout, are `Connect` (502).
pub async fn dial(authority: &Authority, timeout: Duration) -> Result<TcpStream, UpstreamError> {
    let port = authority.port_u16().unwrap_or(80);
    let connecting = async {
        let addrs = tokio::net::lookup_host((authority.host(), port))
            .await
            .map_err(|_| UpstreamError::NoEndpoint)?;
        let mut tried = false;
        for addr in addrs {
            tried = true;
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => tracing::debug!(%err, %addr, "upstream connect failed"),
            }
        }
        Err(if tried {
            UpstreamError::Connect
        } else {
            UpstreamError::NoEndpoint
        })
    };
    let stream = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| UpstreamError::Connect)??;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}
