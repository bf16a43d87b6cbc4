//! A scripted API server for unit tests, and the objects they feed it, after kube-rs controller-rs's
//! `ApiServerVerifier`: the code under test talks to a real `kube::Client`
//! whose transport is tower-test's mock service, and the test takes each
//! request in turn, checks it and answers it.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::Value;
use tower_test::mock::{self, Handle, SendResponse};

pub(super) struct ApiServer(Handle<Request<Body>, Response<Body>>);

/// A request as the API server received it.
#[derive(Debug)]
pub(super) struct Received {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: String,
    /// The JSON body; `Null` when there was none.
    pub body: Value,
}

/// A client whose every request goes to the returned `ApiServer`.
pub(super) fn client() -> (kube::Client, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), ApiServer(handle))
}

impl ApiServer {
    /// Takes the next request (within 5 s), unanswered: the client waits
    /// until the test answers it.
    pub(super) async fn next(&mut self) -> Held {
        let (request, respond) =
            tokio::time::timeout(Duration::from_secs(5), self.0.next_request())
                .await
                .expect("the code under test sent no request within 5 s")
                .expect("the client is gone");
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.expect("a readable body");
        let received = Received {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        };
        Held {
            received,
            bytes,
            respond,
        }
    }

    /// Takes the next request and answers `status` with `reply`.
    pub(super) async fn answer(&mut self, status: u16, reply: Value) -> Received {
        self.next().await.answer(status, reply)
    }

    /// Takes the next request and answers 200 with its own body.
    pub(super) async fn echo(&mut self) -> Received {
        self.next().await.echo()
    }

    /// No request arrives within `within`.
    pub(super) async fn expect_none(&mut self, within: Duration) {
        if let Ok(Some((request, _))) = tokio::time::timeout(within, self.0.next_request()).await {
            panic!("unexpected request: {} {}", request.method(), request.uri());
        }
    }
}

/// A request the test has not answered yet.
pub(super) struct Held {
    pub received: Received,
    bytes: Bytes,
    respond: SendResponse<Response<Body>>,
}

impl Held {
    pub(super) fn answer(self, status: u16, reply: Value) -> Received {
        let body = serde_json::to_vec(&reply).unwrap();
        self.respond.send_response(json_response(status, body));
        self.received
    }

    /// Answers 200 with the request's own body, as the API server echoes a
    /// created or patched object.
    pub(super) fn echo(self) -> Received {
        self.respond
            .send_response(json_response(200, self.bytes.to_vec()));
        self.received
    }
}

fn json_response(status: u16, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap()
}

/// A `Status` error body, as the API server sends with a 4xx.
pub(super) fn status_error(code: u16, reason: &str) -> Value {
    serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": format!("{reason} (test)"), "reason": reason, "code": code,
    })
}

/// A Route as the API server stores it (generation 3, resourceVersion 41),
/// of the default class unless `class` says otherwise.
pub(super) fn stored_route(name: &str, path: &str, class: Option<&str>) -> gatehouse_api::Route {
    let mut route: gatehouse_api::Route = serde_yaml::from_str(&format!(
        "apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {{name: {name}, namespace: shop, generation: 3, resourceVersion: '41', uid: uid-{name}}}
spec:
  rules:
    - matches: [{{path: {path}}}]
      backends: [{{name: web, url: 'http://127.0.0.1:9'}}]"
    ))
    .unwrap();
    route.spec.class_name = class.map(str::to_owned);
    route
}

/// A recorder that reports as the operator does.
pub(super) fn recorder(client: &kube::Client) -> kube::runtime::events::Recorder {
    let reporter = kube::runtime::events::Reporter {
        controller: "gatehouse-operator".into(),
        instance: Some("operator-0".into()),
    };
    kube::runtime::events::Recorder::new(client.clone(), reporter)
}
