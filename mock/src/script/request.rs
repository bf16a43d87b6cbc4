//! The request a script sees, copied out of the borrowed request so a
//! [`ScriptCall`](super::ScriptCall) owns it: `request.method`, `path`,
//! `params`, `query`, `headers`, `cookies`, `body`, `json`.

use rhai::{Dynamic, Map};
use serde_json::Value as Json;

use crate::fields;
use crate::matcher::{Incoming, Params};

#[derive(Debug)]
pub(crate) struct ScriptRequest {
    method: String,
    path: String,
    params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
    body: String,
    json: Option<Json>,
}

impl ScriptRequest {
    pub(crate) fn new(incoming: &Incoming<'_>, params: &Params<'_>) -> Self {
        let req = incoming.req;
        Self {
            method: req.method.as_str().to_owned(),
            path: req.path.to_owned(),
            params: params
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.clone()))
                .collect(),
            query: fields::query(req.query).into_iter().collect(),
            headers: fields::headers(req.headers)
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v))
                .collect(),
            cookies: fields::cookies(req.headers)
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
            body: String::from_utf8_lossy(req.body).into_owned(),
            json: incoming.json().cloned(),
        }
    }

    /// As a Rhai map; `json` is `()` when the body is not JSON.
    pub(crate) fn to_dynamic(&self) -> Dynamic {
        fn map(pairs: &[(String, String)]) -> Dynamic {
            let map: Map = pairs
                .iter()
                .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
                .collect();
            Dynamic::from_map(map)
        }
        let mut out = Map::new();
        out.insert("method".into(), Dynamic::from(self.method.clone()));
        out.insert("path".into(), Dynamic::from(self.path.clone()));
        out.insert("params".into(), map(&self.params));
        out.insert("query".into(), map(&self.query));
        out.insert("headers".into(), map(&self.headers));
        out.insert("cookies".into(), map(&self.cookies));
        out.insert("body".into(), Dynamic::from(self.body.clone()));
        let json = self
            .json
            .as_ref()
            .and_then(|j| rhai::serde::to_dynamic(j).ok())
            .unwrap_or(Dynamic::UNIT);
        out.insert("json".into(), json);
        Dynamic::from_map(out)
    }
}
