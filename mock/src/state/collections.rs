//! A collection answers like a small REST API at its `path`: list and
//! create on the path, read, replace, patch and delete on `path/<key>`.
//! Items are JSON objects, found by their `key` field; bodies and errors
//! are JSON. What each request does to the items is one step under the
//! collection's lock; the body is read before it is taken.

use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value as Json;

use super::keys::{KeyProblem, decode_segment, encode_segment, key_of, key_value};
use super::patch::merge_patch;
use super::store::Store;
use crate::answer::Request;

/// A collection's items at most, unless its `maxItems` says otherwise.
pub(crate) const DEFAULT_MAX_ITEMS: usize = 1000;
/// A request body's bytes at most, unless its `maxBodyBytes` says otherwise.
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) struct Collection {
    pub(crate) name: String,
    /// Starts with `/`, no trailing `/`; compared as sent.
    pub(crate) path: String,
    /// The field of each item that is its key.
    pub(crate) key: String,
    pub(crate) max_items: usize,
    pub(crate) max_body_bytes: usize,
    seed: Store,
    items: Mutex<Store>,
}

/// An answer made for one request.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

const LIST_METHODS: &str = "GET, HEAD, POST, OPTIONS";
const ITEM_METHODS: &str = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS";

impl Collection {
    pub(crate) fn new(
        name: String,
        path: String,
        key: String,
        seed: Store,
        max_items: usize,
        max_body_bytes: usize,
    ) -> Self {
        Self {
            name,
            path,
            key,
            max_items,
            max_body_bytes,
            items: Mutex::new(seed.clone()),
            seed,
        }
    }

    pub(crate) fn reset(&self) {
        *self.lock() = self.seed.clone();
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer when the request is for this collection (its path, with
    /// or without a trailing `/`, or one segment below it); `None` otherwise.
    pub(crate) fn answer(&self, req: &Request<'_>) -> Option<Reply> {
        let rest = req.path.strip_prefix(self.path.as_str())?;
        let segment = match rest {
            "" | "/" => None,
            _ => Some(rest.strip_prefix('/').filter(|s| !s.contains('/'))?),
        };
        Some(self.route(req, segment).unwrap_or_else(Refusal::reply))
    }

    fn route(&self, req: &Request<'_>, segment: Option<&str>) -> Result<Reply, Refusal> {
        let method = req.method;
        let Some(segment) = segment else {
            return match *method {
                Method::GET | Method::HEAD => Ok(self.list()),
                Method::POST => self.create(req.body),
                _ => other(method, LIST_METHODS, &self.path),
            };
        };
        let key = decode_segment(segment).ok_or_else(|| Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("the key `{segment}` is not UTF-8 once percent-decoded — encode the key's UTF-8 bytes (`%C3%BC` for ü)"),
        ))?;
        match *method {
            Method::GET | Method::HEAD => self.read(&key),
            Method::PUT => self.replace(&key, req.body),
            Method::PATCH => self.patch(&key, req.body),
            Method::DELETE => self.delete(&key),
            _ => other(method, ITEM_METHODS, req.path),
        }
    }

    fn list(&self) -> Reply {
        let items = self.lock();
        let list: Vec<&Json> = items.values().collect();
        json(StatusCode::OK, &list)
    }

    fn create(&self, body: &[u8]) -> Result<Reply, Refusal> {
        let item = self.item(body)?;
        let key = key_of(&item, &self.key).map_err(|p| self.bad_key(p, "the item"))?;
        let mut items = self.lock();
        if items.contains(&key) {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                format!(
                    "{} already has an item with {} {key} — PUT {} replaces it; DELETE it first to create it again",
                    self.name,
                    self.key,
                    self.item_path(&key)
                ),
            ));
        }
        self.room(&items)?;
        let reply = self.created(&key, &item);
        items.put(key, item);
        Ok(reply)
    }

    fn read(&self, key: &str) -> Result<Reply, Refusal> {
        match self.lock().get(key) {
            Some(item) => Ok(json(StatusCode::OK, item)),
            None => Err(self.not_found(key)),
        }
    }

    fn replace(&self, key: &str, body: &[u8]) -> Result<Reply, Refusal> {
        let mut item = self.item(body)?;
        let mut items = self.lock();
        match key_of(&item, &self.key) {
            Err(KeyProblem::Missing) => {
                // The URL gives the key; an existing item keeps its type.
                let value = items
                    .get(key)
                    .and_then(|old| old.get(&self.key).cloned())
                    .unwrap_or_else(|| key_value(key));
                if let Json::Object(map) = &mut item {
                    map.insert(self.key.clone(), value);
                }
            }
            Err(problem) => return Err(self.bad_key(problem, "the item")),
            Ok(given) if given != key => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the body's {} is {given} but the URL's key is {key} — make them agree, or leave {} out of the body",
                        self.key, self.key
                    ),
                ));
            }
            Ok(_) => {}
        }
        if !items.contains(key) {
            self.room(&items)?;
        }
        Ok(if items.put(key.to_owned(), item.clone()) {
            self.created(key, &item)
        } else {
            json(StatusCode::OK, &item)
        })
    }

    fn patch(&self, key: &str, body: &[u8]) -> Result<Reply, Refusal> {
        let patch = self.item(body)?;
        let mut items = self.lock();
        let mut item = items.get(key).ok_or_else(|| self.not_found(key))?.clone();
        merge_patch(&mut item, &patch);
        match key_of(&item, &self.key) {
            Err(problem) => return Err(self.bad_key(problem, "the patched item")),
            Ok(new) if new != key => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the patch changes {} from {key} to {new} — a key cannot change: DELETE the item and POST it anew",
                        self.key
                    ),
                ));
            }
            Ok(_) => {}
        }
        let size = serde_json::to_vec(&item).map_or(0, |b| b.len());
        if size > self.max_body_bytes {
            return Err(self.too_large(size));
        }
        let reply = json(StatusCode::OK, &item);
        items.put(key.to_owned(), item);
        Ok(reply)
    }

    fn delete(&self, key: &str) -> Result<Reply, Refusal> {
        if !self.lock().remove(key) {
            return Err(self.not_found(key));
        }
        Ok(empty(StatusCode::NO_CONTENT))
    }

    /// The body as a JSON object.
    fn item(&self, body: &[u8]) -> Result<Json, Refusal> {
        if body.len() > self.max_body_bytes {
            return Err(self.too_large(body.len()));
        }
        let example = format!("{{\"{}\": 1, …}}", self.key);
        let message = match serde_json::from_slice::<Json>(body) {
            Ok(item @ Json::Object(_)) => return Ok(item),
            Ok(other) => format!(
                "the body is {}, not a JSON object — send one object, such as {example}",
                json_kind(&other)
            ),
            Err(err) => format!(
                "the body is not valid JSON: {err} — send one JSON object, such as {example}"
            ),
        };
        Err(Refusal::new(StatusCode::BAD_REQUEST, message))
    }

    fn bad_key(&self, problem: KeyProblem, what: &str) -> Refusal {
        let message = match problem {
            KeyProblem::Missing => format!(
                "{what} has no `{}` — every item of {} is found by it: add it (a string or a number)",
                self.key, self.name
            ),
            KeyProblem::NotScalar(kind) => format!(
                "`{}` in {what} is {kind} — a key is a number or a non-empty string",
                self.key
            ),
        };
        Refusal::new(StatusCode::BAD_REQUEST, message)
    }

    fn room(&self, items: &Store) -> Result<(), Refusal> {
        if items.len() < self.max_items {
            return Ok(());
        }
        Err(Refusal::new(
            StatusCode::INSUFFICIENT_STORAGE,
            format!(
                "{} is full ({} items) — DELETE some, reset the mock's state, or raise the collection's maxItems",
                self.name, self.max_items
            ),
        ))
    }

    fn too_large(&self, size: usize) -> Refusal {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the item is {size} bytes; {} takes at most {} — send a smaller one, or raise the collection's maxBodyBytes",
                self.name, self.max_body_bytes
            ),
        )
    }

    fn not_found(&self, key: &str) -> Refusal {
        Refusal::new(
            StatusCode::NOT_FOUND,
            format!(
                "{} has no item with {} {key} — GET {} lists them; POST or PUT creates one",
                self.name, self.key, self.path
            ),
        )
    }

    fn created(&self, key: &str, item: &Json) -> Reply {
        let mut reply = json(StatusCode::CREATED, item);
        if let Ok(location) = HeaderValue::from_str(&self.item_path(key)) {
            reply.headers.insert(LOCATION, location);
        }
        reply
    }

    fn item_path(&self, key: &str) -> String {
        format!("{}/{}", self.path, encode_segment(key))
    }
}

/// `OPTIONS` says what is allowed (204); anything else is refused (405).
/// Both carry `Allow`.
fn other(method: &Method, allow: &'static str, path: &str) -> Result<Reply, Refusal> {
    let mut reply = if *method == Method::OPTIONS {
        empty(StatusCode::NO_CONTENT)
    } else {
        Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {path} — use one of {allow}"),
        )
        .reply()
    };
    reply.headers.insert(ALLOW, HeaderValue::from_static(allow));
    Ok(reply)
}

/// A request the collection refuses: its status and what to say.
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: String) -> Self {
        Self { status, message }
    }

    /// `{"error": message}`.
    fn reply(self) -> Reply {
        json(self.status, &serde_json::json!({ "error": self.message }))
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

fn empty(status: StatusCode) -> Reply {
    Reply {
        status,
        headers: HeaderMap::new(),
        body: Bytes::new(),
    }
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Reply {
    let body = serde_json::to_vec(value).expect("JSON values serialise");
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Reply {
        status,
        headers,
        body: Bytes::from(body),
    }
}
