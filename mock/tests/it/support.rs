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
