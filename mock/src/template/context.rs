//! The values a template sees: `request` (method, path, params, query,
//! headers, cookies, body, json, id) and `now`, built once per answer and
//! shared by the response's header and body templates.

use std::collections::BTreeMap;
use std::time::SystemTime;

use minijinja::Value;
use serde_json::Value as Json;

use super::functions::{Now, uuid_v4};
use crate::fields;
use crate::matcher::{Incoming, Params};

pub(crate) fn context(incoming: &Incoming<'_>, params: &Params<'_>) -> Value {
    let req = incoming.req;
    let mut request = BTreeMap::new();
    request.insert("method", Value::from(req.method.as_str()));
    request.insert("path", Value::from(req.path));
    request.insert("id", Value::from(uuid_v4()));
    request.insert(
        "params",
        Value::from(
            params
                .iter()
                .map(|(name, value)| (*name, Value::from(value.as_str())))
                .collect::<BTreeMap<_, _>>(),
        ),
    );
    let query: BTreeMap<_, _> = fields::query(req.query)
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    request.insert("query", Value::from(query));
    let headers: BTreeMap<_, _> = fields::headers(req.headers)
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    request.insert("headers", Value::from(headers));
    let cookies: BTreeMap<_, _> = fields::cookies(req.headers)
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    request.insert("cookies", Value::from(cookies));
    request.insert(
        "body",
        Value::from(String::from_utf8_lossy(req.body).into_owned()),
    );
    // Left out when the body is not JSON: `{% if request.json is defined %}`.
    if let Some(json) = incoming.json() {
        request.insert("json", from_json(json));
    }
    let mut top = BTreeMap::new();
    top.insert("request", Value::from(request));
    top.insert(
        "now",
        Value::from_object(Now(super::clock::unix_ms(SystemTime::now()))),
    );
    Value::from(top)
}

pub(crate) fn from_json(json: &Json) -> Value {
    match json {
        Json::Null => Value::from(()),
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::from(items.iter().map(from_json).collect::<Vec<_>>()),
        Json::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.as_str(), from_json(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}
