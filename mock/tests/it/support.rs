//! Building provisions and requests in tests.

use gatehouse_mock::{Provision, ProvisionError};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// A provision that must be accepted.
pub(crate) fn provision(yaml: &str) -> Provision {
    match Provision::parse("test.yaml", yaml) {
        Ok(p) => p,
        Err(errors) => panic!(
            "refused:\n{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// A provision that must be refused: its errors, displayed.
pub(crate) fn refused(yaml: &str) -> Vec<String> {
    errors(yaml).iter().map(ToString::to_string).collect()
}

pub(crate) fn errors(yaml: &str) -> Vec<ProvisionError> {
    match Provision::parse("test.yaml", yaml) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(errors) => errors,
    }
}

/// An owned request, lent to the engine as `gatehouse_mock::Request`.
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) target: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Req {
    pub(crate) fn new(method: &str, target: &str) -> Self {
        Self {
            method: method.parse().unwrap(),
            target: target.into(),
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn get(target: &str) -> Self {
        Self::new("GET", target)
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }

    pub(crate) fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub(crate) fn lend(&self) -> gatehouse_mock::Request<'_> {
        gatehouse_mock::Request::new(&self.method, &self.target, &self.headers, &self.body)
    }
}

/// The label of what answered (`rules[i]`, a name, `default`, `none`).
pub(crate) fn who(provision: &Provision, req: &Req) -> String {
    provision.answer(&req.lend()).matched.to_string()
}

/// What a provision answered, owned: status, headers, body.
pub(crate) struct Got {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    /// What answered (`Matched`'s display).
    pub(crate) who: String,
}

impl Got {
    /// The body as JSON (`null` when empty).
    pub(crate) fn json(&self) -> serde_json::Value {
        if self.body.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// A JSON error body's message.
    pub(crate) fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or_default())
    }
}

/// Sends `method target` with `body` and keeps the answer.
pub(crate) fn send(provision: &Provision, method: &str, target: &str, body: &str) -> Got {
    let req = Req::new(method, target).body(body);
    let answer = provision.answer(&req.lend());
    Got {
        status: answer.status.as_u16(),
        headers: answer.headers.into_owned(),
        body: answer.body.to_vec(),
        who: answer.matched.to_string(),
    }
}

/// `refused` said exactly these problems (each line starting with one of
/// `want`, in any order), no more.
pub(crate) fn assert_problems(out: &[String], want: &[&str]) {
    for w in want {
        assert!(
            out.iter().any(|line| line.starts_with(w)),
            "missing {w:?} in\n{}",
            out.join("\n")
        );
    }
    assert_eq!(out.len(), want.len(), "\n{}", out.join("\n"));
}
