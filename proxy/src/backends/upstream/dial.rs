//! Opening a TCP connection to an upstream: resolve, try each address in
//! turn, all within the connect timeout.

use std::time::Duration;

use http::uri::Authority;
use tokio::net::TcpStream;

use crate::observe::metrics::UpstreamError;

/// A connection to `authority` (port 80 when it names none), with Nagle off.
/// A name that resolves to nothing is `NoEndpoint` (503); addresses that all
/// refuse are `Connect` (502), a timeout `ConnectTimeout` (504, as nginx
/// and Envoy answer: the backend may be there, only slow), except that a Kubernetes
/// Service (`*.svc`) that refuses has no ready endpoint: kube-proxy rejects
/// connections to a Service without one, and Gateway API asks for a 503
/// there, as Envoy Gateway and Contour answer.
pub(crate) async fn dial(
    authority: &Authority,
    timeout: Duration,
) -> Result<TcpStream, UpstreamError> {
    let port = authority.port_u16().unwrap_or(80);
    let connecting = async {
        let addrs = tokio::net::lookup_host((authority.host(), port))
            .await
            .map_err(|_| UpstreamError::NoEndpoint)?;
        let mut tried = false;
        let mut all_refused = true;
        for addr in addrs {
            tried = true;
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(err) => {
                    all_refused &= err.kind() == std::io::ErrorKind::ConnectionRefused;
                    tracing::debug!(%err, %addr, "upstream connect failed");
                }
            }
        }
        Err(failure(tried, all_refused, authority.host()))
    };
    let stream = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| UpstreamError::ConnectTimeout)??;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// What a failed dial was: nothing to try or a Service refusing is no
/// endpoint, anything else a failed connect.
fn failure(tried: bool, all_refused: bool, host: &str) -> UpstreamError {
    if !tried || (all_refused && is_service(host)) {
        UpstreamError::NoEndpoint
    } else {
        UpstreamError::Connect
    }
}

/// A Kubernetes Service name, as `compile` writes `service` backends.
fn is_service(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host.ends_with(".svc") || host.ends_with(".svc.cluster.local")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_service_that_refuses_has_no_endpoint_and_a_host_that_refuses_is_down() {
        // Nothing listens on the port. `*.svc` names resolve only in a
        // cluster, so the Service rule is checked on `failure` itself.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let host: Authority = format!("127.0.0.1:{port}").parse().unwrap();
        assert!(matches!(
            dial(&host, Duration::from_secs(2)).await,
            Err(UpstreamError::Connect)
        ));
        let no_endpoint = |e| matches!(e, UpstreamError::NoEndpoint);
        assert!(no_endpoint(failure(true, true, "app.shop.svc")));
        assert!(no_endpoint(failure(
            true,
            true,
            "app.shop.svc.cluster.local."
        )));
        assert!(no_endpoint(failure(false, false, "app.example.com")));
        assert!(!no_endpoint(failure(true, true, "svc.example.com")));
        assert!(
            !no_endpoint(failure(true, false, "app.shop.svc")),
            "a timeout is no refusal"
        );
    }
}
