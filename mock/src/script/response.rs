//! What a script returns, checked into a response: a string (a 200 text
//! body) or a map `#{status, headers, body}` / `#{status, headers, json}`.

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use rhai::{Dynamic, Map};

use super::ScriptResponse;

const TEXT: &str = "text/plain; charset=utf-8";

pub(crate) fn from_dynamic(value: Dynamic) -> Result<ScriptResponse, String> {
    if value.is_string() {
        let text = value.into_string().unwrap_or_default();
        return Ok(response(
            StatusCode::OK,
            HeaderMap::new(),
            text.into(),
            TEXT,
        ));
    }
    let Some(map) = value.clone().try_cast::<Map>() else {
        return Err(format!(
            "a script returns a map such as #{{status: 200, body: \"…\"}}, or a string; not {}",
            value.type_name()
        ));
    };
    for key in map.keys() {
        if !["status", "headers", "body", "json"].contains(&key.as_str()) {
            return Err(format!(
                "unknown key `{key}` in the returned map; expected status, headers, body or json"
            ));
        }
    }
    let status = match map.get("status") {
        None => StatusCode::OK,
        Some(v) => v
            .as_int()
            .ok()
            .filter(|s| (200..=599).contains(s))
            .and_then(|s| StatusCode::from_u16(s as u16).ok())
            .ok_or_else(|| format!("`status` must be a number from 200 to 599, not {v}"))?,
    };
    let mut headers = HeaderMap::new();
    if let Some(v) = map.get("headers") {
        let Some(given) = v.clone().try_cast::<Map>() else {
            return Err(format!("`headers` must be a map, not {}", v.type_name()));
        };
        for (name, value) in given {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a valid header name"))?;
            if [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(&header) {
                return Err(format!("`{name}` is set by the proxy; leave it out"));
            }
            let value = HeaderValue::from_str(&value.to_string())
                .map_err(|_| format!("the value of `{name}` is not a valid header value"))?;
            headers.append(header, value);
        }
    }
    let (body, content_type) = match (map.get("body"), map.get("json")) {
        (Some(_), Some(_)) => return Err("give `body` or `json`, not both".to_owned()),
        (Some(body), None) => match body.clone().into_string() {
            Ok(text) => (Bytes::from(text), TEXT),
            Err(kind) => return Err(format!("`body` must be a string, not {kind}")),
        },
        (None, Some(json)) => {
            let json: serde_json::Value = rhai::serde::from_dynamic(json)
                .map_err(|err| format!("`json` has no JSON form: {err}"))?;
            let bytes = serde_json::to_vec(&json).expect("a JSON value serialises");
            (Bytes::from(bytes), "application/json")
        }
        (None, None) => (Bytes::new(), TEXT),
    };
    if !body.is_empty() && (status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED)
    {
        return Err(format!("a {status} response has no body"));
    }
    Ok(response(status, headers, body, content_type))
}

fn response(
    status: StatusCode,
    mut headers: HeaderMap,
    body: Bytes,
    content_type: &'static str,
) -> ScriptResponse {
    if !body.is_empty() && !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    ScriptResponse {
        status,
        headers,
        body,
    }
}
