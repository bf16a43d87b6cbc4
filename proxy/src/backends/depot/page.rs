//! The depot's web page for people: one self-contained HTML file
//! (`page.html`: inline CSS and JS, no external resource, so it works
//! offline) built into the binary and served for GET and HEAD of the mount
//! itself when the client prefers HTML. The page does everything through
//! the depot's own API (same-origin `fetch`), so it can do nothing a
//! `curl` could not, and the engine's checks apply to it unchanged.
//!
//! Any other `Accept` (`curl`'s `*/*`, `application/json`) keeps the
//! engine's answer at the mount, so scripts see what they always saw.

use std::sync::OnceLock;

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, Response, header};
use sha2::{Digest, Sha256};

use crate::support::body::{self, Body};

const PAGE: &str = include_str!("page.html");

/// Whether `below` (the path under the mount) is the mount itself.
pub(super) fn is_mount(below: &str) -> bool {
    below.is_empty() || below == "/"
}

/// Whether this request gets the page: GET or HEAD of the mount itself
/// from a client that prefers HTML.
pub(super) fn wanted(method: &Method, below: &str, headers: &HeaderMap) -> bool {
    (method == Method::GET || method == Method::HEAD) && is_mount(below) && prefers_html(headers)
}

/// True when `Accept` names HTML with a weight at least JSON's. Wildcards
/// do not count: `curl` sends `*/*` and must keep getting the API's answer.
fn prefers_html(headers: &HeaderMap) -> bool {
    let (mut html, mut json) = (0.0_f32, 0.0_f32);
    let items = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for item in items {
        let mut parts = item.split(';');
        let kind = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let weight = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match kind.as_str() {
            "text/html" | "application/xhtml+xml" => html = html.max(weight),
            "application/json" => json = json.max(weight),
            _ => {}
        }
    }
    html > 0.0 && html >= json
}

/// The page, with headers that keep it to itself: only its own inline
/// script and style run (by hash, so an injected one would not), it talks
/// only to its own origin, and it may not be framed (its buttons delete).
pub(super) fn serve(head: bool) -> Response<Body> {
    let mut response = Response::new(if head {
        body::empty()
    } else {
        body::full(PAGE)
    });
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(PAGE.len()));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy().clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Always asked again: a new binary may bring a new page.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // The mount answers JSON to other clients: caches must keep both apart.
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// The Content-Security-Policy, with the hashes of the page's one
/// `<script>` and one `<style>`, computed once.
fn policy() -> &'static HeaderValue {
    static POLICY: OnceLock<HeaderValue> = OnceLock::new();
    POLICY.get_or_init(|| {
        let script = hash(inline(PAGE, "script"));
        let style = hash(inline(PAGE, "style"));
        let text = format!(
            "default-src 'none'; script-src '{script}'; style-src '{style}'; \
             connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'"
        );
        HeaderValue::from_str(&text).expect("a policy of ASCII")
    })
}

/// The text between `<tag>` and `</tag>`: the page holds one of each.
fn inline<'p>(page: &'p str, tag: &str) -> &'p str {
    let open = format!("<{tag}>");
    let start = page.find(&open).expect("the page has its inline block") + open.len();
    let end = page[start..]
        .find(&format!("</{tag}>"))
        .expect("the inline block is closed");
    &page[start..start + end]
}

/// A CSP source for inline text: `sha256-<base64 of its SHA-256>`.
fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn html_only_when_named_and_not_outweighed_by_json() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(prefers_html(&accept(browser)));
        assert!(prefers_html(&accept("text/html")));
        assert!(!prefers_html(&accept("*/*")), "curl's default");
        assert!(!prefers_html(&HeaderMap::new()));
        assert!(!prefers_html(&accept("application/json")));
        assert!(!prefers_html(&accept("application/json, text/html;q=0.5")));
        assert!(!prefers_html(&accept("text/html;q=0")));
    }

    #[test]
    fn the_page_has_exactly_one_script_and_one_style() {
        for tag in ["script", "style"] {
            assert_eq!(PAGE.matches(&format!("<{tag}")).count(), 1, "{tag}");
        }
        assert!(inline(PAGE, "script").contains("function diffLines"));
        let policy = policy().to_str().unwrap();
        assert_eq!(policy.matches("'sha256-").count(), 2, "{policy}");
    }

    #[test]
    fn the_page_writes_nothing_from_the_depot_as_html() {
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ] {
            assert!(!PAGE.contains(sink), "the page uses {sink}");
        }
    }
}
