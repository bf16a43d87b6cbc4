//! The `static` backend: a directory tree served as nginx serves one —
//! GET and HEAD, index files, `/dir` → `/dir/`, validators and 304s, single
//! ranges, precompressed `.br`/`.gz` siblings, an optional listing — and
//! never a byte from outside the root.

mod beneath;
mod cache;
mod chunks;

pub(crate) use chunks::FileChunks;
mod conditional;
mod listing;
mod request_path;

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version, header};
use http_body_util::BodyExt;

use crate::support::body::{self, Body};
use beneath::{Refusal, Root};
use conditional::{RangeAnswer, Validators};
use request_path::{Refused, RequestPath};

/// Files up to this size are read in one go; larger ones are streamed in chunks.
const READ_WHOLE: u64 = 64 * 1024;

/// One `static` backend, prepared when its config is applied.
#[derive(Debug)]
pub struct Site {
    /// Every file is opened through it, never by a joined path.
    root: Root,
    /// This site's part of the small-file cache.
    id: u64,
    index: Vec<String>,
    listing: bool,
    precompressed: bool,
    cache_control: Option<HeaderValue>,
}

/// What a path names, found on the blocking pool.
enum Lookup {
    NotFound,
    Forbidden,
    /// A folder asked for without its trailing slash.
    Folder,
    Listing(String),
    File(Opened),
}

struct Opened {
    /// `None` when the bytes came from the small-file cache.
    file: Option<File>,
    len: u64,
    modified: SystemTime,
    content_type: &'static str,
    /// `br` or `gzip` when a precompressed sibling is sent.
    encoding: Option<&'static str>,
    /// Precompressed siblings exist, so the answer depends on Accept-Encoding.
    varies: bool,
    /// The whole file, when it is small and its bytes are wanted.
    bytes: Option<Bytes>,
}

impl Site {
    /// Checks the root now, so a config naming a missing folder is rejected.
    pub fn new(
        root: &Path,
        index: Vec<String>,
        listing: bool,
        precompressed: bool,
        cache_control: Option<&str>,
    ) -> Result<Site, String> {
        let root = Root::open(root).map_err(|e| {
            format!(
                "static root {}: {e}; give an existing folder",
                root.display()
            )
        })?;
        let cache_control = cache_control
            .map(|v| {
                HeaderValue::from_str(v)
                    .map_err(|_| format!("cacheControl `{v}` is not a valid header value"))
            })
            .transpose()?;
        Ok(Site {
            root,
            id: cache::new_site_id(),
            index,
            listing,
            precompressed,
            cache_control,
        })
    }

    /// Answers on the calling worker (see `answer`): nothing here awaits.
    pub fn serve<B>(&self, req: &Request<B>) -> Response<Body> {
        let mut response = self.answer(req);
        finish_headers(&mut response, req);
        response
    }

    fn answer<B>(&self, req: &Request<B>) -> Response<Body> {
        let head = req.method() == Method::HEAD;
        if req.method() != Method::GET && !head {
            let mut response = body::plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "a static site answers GET and HEAD",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let path = match RequestPath::parse(req.uri().path()) {
            Ok(path) => path,
            Err(refused) => {
                tracing::warn!(
                    path = req.uri().path(),
                    ?refused,
                    "refused a path that could leave the static root"
                );
                let status = match refused {
                    Refused::Traversal => StatusCode::FORBIDDEN,
                    Refused::BadSegment => StatusCode::NOT_FOUND,
                };
                return body::plain(status, "");
            }
        };
        let encodings = accepted_encodings(req.headers());
        // Looked up on this worker, as nginx does without `aio threads`:
        // metadata and small files come from the page cache in microseconds,
        // far less than a hand-off to the blocking pool and back. Large files
        // are then read in chunks on the blocking pool (`chunks.rs`).
        match self.find(&path, req.uri().path(), encodings, !head) {
            Ok(Lookup::File(opened)) => {
                respond_with_file(opened, req, self.cache_control.as_ref(), head)
            }
            Ok(Lookup::Folder) => redirect_to_folder(req),
            Ok(Lookup::Listing(html)) => {
                let mut response = Response::new(if head {
                    body::empty()
                } else {
                    body::full(html.clone())
                });
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(html.len()));
                response
            }
            Ok(Lookup::NotFound) => body::plain(StatusCode::NOT_FOUND, ""),
            Ok(Lookup::Forbidden) => body::plain(StatusCode::FORBIDDEN, ""),
            Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
                body::plain(StatusCode::FORBIDDEN, "")
            }
            Err(err) => {
                tracing::warn!(%err, path = req.uri().path(), "static file error");
                body::plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the file could not be read",
                )
            }
        }
    }

    /// Blocking (page-cache fast): opens what the path names below the root.
    fn find(
        &self,
        path: &RequestPath,
        shown: &str,
        encodings: Encodings,
        want_bytes: bool,
    ) -> io::Result<Lookup> {
        let relative = path.relative();
        // Only plain files are kept: no folder, index or encoded variant.
        let cacheable = want_bytes && !self.precompressed && !path.trailing_slash;
        if cacheable && let Some(hit) = self.cached(&relative) {
            return Ok(Lookup::File(Opened {
                file: None,
                len: hit.bytes.len() as u64,
                modified: hit.modified,
                content_type: hit.content_type,
                encoding: None,
                varies: false,
                bytes: Some(hit.bytes),
            }));
        }
        let file = match self.root.open_beneath(&relative) {
            Ok(file) => file,
            Err(Refusal::Missing) => return Ok(Lookup::NotFound),
            Err(Refusal::Escapes) => {
                tracing::warn!(
                    path = shown,
                    "refused a symlink that leaves the static root"
                );
                return Ok(Lookup::Forbidden);
            }
            Err(Refusal::Io(err)) => return Err(err),
        };
        let meta = file.metadata()?;
        // The type comes from the name asked for, not a symlink's target.
        let (relative, name, file, meta) = if meta.is_dir() {
            if !path.trailing_slash {
                return Ok(Lookup::Folder);
            }
            let mut found = None;
            for index in &self.index {
                let candidate = relative.join(index);
                if let Some(file) = self.open(&candidate, shown)? {
                    let meta = file.metadata()?;
                    if meta.is_file() {
                        found = Some((candidate, index.as_str(), file, meta));
                        break;
                    }
                }
            }
            match found {
                Some(found) => found,
                None if self.listing => {
                    return Ok(Lookup::Listing(listing::render(
                        &self.root.path().join(&relative),
                        shown,
                    )?));
                }
                None => return Ok(Lookup::NotFound),
            }
        } else if path.trailing_slash {
            return Ok(Lookup::NotFound); // `/file.html/`
        } else {
            let name = path.segments.last().map_or("", String::as_str);
            (relative, name, file, meta)
        };
        let content_type = content_type(name);
        let (file, meta, encoding, varies) = match self.pick_variant(&relative, encodings, shown)? {
            Some((variant, variant_meta, encoding)) => (variant, variant_meta, encoding, true),
            None => (
                file,
                meta,
                None,
                self.precompressed && self.has_variant(&relative, shown)?,
            ),
        };
        let len = meta.len();
        let bytes = if want_bytes && len <= READ_WHOLE {
            Some(read_small(&file, len as usize)?)
        } else {
            None
        };
        let modified = meta.modified()?;
        if cacheable
            && encoding.is_none()
            && let Some(bytes) = &bytes
        {
            let cached = cache::Cached {
                identity: cache::Identity::of(&meta),
                bytes: bytes.clone(),
                modified,
                content_type,
            };
            cache::put(self.id, &relative, cached);
        }
        Ok(Lookup::File(Opened {
            len: bytes.as_ref().map_or(len, |b| b.len() as u64),
            modified,
            file: Some(file),
            content_type,
            encoding,
            varies,
            bytes,
        }))
    }

    /// The cached copy of `relative` if the path still names that very file.
    fn cached(&self, relative: &Path) -> Option<cache::Cached> {
        let cached = cache::get(self.id, relative)?;
        let now = self.root.stat(relative)?;
        (cache::Identity::of_stat(&now) == Some(cached.identity)).then_some(cached)
    }

    /// `Some(file)` when it opens below the root; `None` when it is missing or refused (and logged).
    fn open(&self, relative: &Path, shown: &str) -> io::Result<Option<File>> {
        match self.root.open_beneath(relative) {
            Ok(file) => Ok(Some(file)),
            Err(Refusal::Missing) => Ok(None),
            Err(Refusal::Escapes) => {
                tracing::warn!(
                    path = shown,
                    "refused a symlink that leaves the static root"
                );
                Ok(None)
            }
            Err(Refusal::Io(err)) => Err(err),
        }
    }

    /// A `.br` or `.gz` sibling the client accepts, with its metadata.
    fn pick_variant(
        &self,
        relative: &Path,
        accepted: Encodings,
        shown: &str,
    ) -> io::Result<Option<(File, std::fs::Metadata, Option<&'static str>)>> {
        if !self.precompressed {
            return Ok(None);
        }
        for (suffix, encoding, ok) in [("br", "br", accepted.br), ("gz", "gzip", accepted.gzip)] {
            if !ok {
                continue;
            }
            if let Some(file) = self.open(&with_suffix(relative, suffix), shown)? {
                let meta = file.metadata()?;
                if meta.is_file() {
                    return Ok(Some((file, meta, Some(encoding))));
                }
            }
        }
        Ok(None)
    }

    /// Whether any precompressed sibling exists (the answer then varies by Accept-Encoding).
    fn has_variant(&self, relative: &Path, shown: &str) -> io::Result<bool> {
        for suffix in ["br", "gz"] {
            if self.open(&with_suffix(relative, suffix), shown)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The first `len` bytes of `file` (its size when it was stat'ed), fewer if
/// it has shrunk since. Unlike `read_to_end`, which stats and seeks the file
/// again and then reads once more to see the end, this is one `read(2)`.
fn read_small(mut file: &File, len: usize) -> io::Result<Bytes> {
    let mut buf = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    buf.truncate(filled);
    Ok(Bytes::from(buf))
}

/// The media type for a file name, by extension. The guess is a search of a
/// long table, and a site asks for the same few types over and over, so each
/// worker remembers its last answer.
fn content_type(name: &str) -> &'static str {
    thread_local! {
        static LAST: RefCell<(String, &'static str)> = const { RefCell::new((String::new(), "")) };
    }
    let extension = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    LAST.with_borrow_mut(|(last_extension, last_type)| {
        if last_type.is_empty() || last_extension != extension {
            *last_type = mime_guess::from_path(name)
                .first_raw()
                .unwrap_or("application/octet-stream");
            extension.clone_into(last_extension);
        }
        *last_type
    })
}

fn with_suffix(relative: &Path, suffix: &str) -> PathBuf {
    let mut name = relative.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn respond_with_file<B>(
    opened: Opened,
    req: &Request<B>,
    cache_control: Option<&HeaderValue>,
    head: bool,
) -> Response<Body> {
    let validators = Validators::new(opened.modified, opened.len, opened.encoding);
    // Room for every header a file answer can carry (finish_headers adds
    // Server and Connection), so the map is allocated once and never grown.
    let mut headers = HeaderMap::with_capacity(16);
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&validators.etag).expect("etag is ASCII"),
    );
    headers.insert(header::LAST_MODIFIED, validators.last_modified_value());
    if let Some(cache_control) = cache_control {
        headers.insert(header::CACHE_CONTROL, cache_control.clone());
    }
    if opened.varies {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if validators.not_modified(req.headers()) {
        let mut response = Response::new(body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        *response.headers_mut() = headers;
        return response;
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(opened.content_type),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(encoding) = opened.encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    let (status, start, len) = match conditional::range(req.headers(), &validators, opened.len) {
        RangeAnswer::Full => (StatusCode::OK, 0, opened.len),
        RangeAnswer::Partial { start, end } => {
            let range = format!("bytes {start}-{end}/{}", opened.len);
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&range).expect("ASCII"),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeAnswer::Unsatisfiable => {
            let mut response = body::plain(StatusCode::RANGE_NOT_SATISFIABLE, "");
            let range = format!("bytes */{}", opened.len);
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&range).expect("ASCII"),
            );
            return response;
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let body = if head || len == 0 {
        body::empty()
    } else if let Some(bytes) = opened.bytes {
        body::full(bytes.slice(start as usize..(start + len) as usize))
    } else if let Some(file) = opened.file {
        match chunks::FileChunks::new(file, start, len) {
            Ok(chunks) => chunks.boxed_unsync(),
            Err(err) => {
                tracing::warn!(%err, "static file seek failed");
                return body::plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the file could not be read",
                );
            }
        }
    } else {
        unreachable!("an answer from the cache always has its bytes")
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// `/dir` → 301 `/dir/`, keeping the query.
fn redirect_to_folder<B>(req: &Request<B>) -> Response<Body> {
    let mut location = format!("{}/", req.uri().path());
    if let Some(query) = req.uri().query() {
        location.push('?');
        location.push_str(query);
    }
    let mut response = body::plain(StatusCode::MOVED_PERMANENTLY, "");
    match HeaderValue::from_str(&location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => body::plain(StatusCode::NOT_FOUND, ""),
    }
}

/// Every answer carries `Server`, `Content-Length` and, on HTTP/1.x, `Connection`.
fn finish_headers<B>(response: &mut Response<Body>, req: &Request<B>) {
    let headers = response.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static("gatehouse"));
    if !headers.contains_key(header::CONTENT_LENGTH) {
        let len = http_body::Body::size_hint(response.body())
            .exact()
            .unwrap_or(0);
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let asked = |token: &str| {
        req.headers()
            .get_all(header::CONNECTION)
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("").split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let keep_alive = match req.version() {
        Version::HTTP_10 => asked("keep-alive"),
        Version::HTTP_11 => !asked("close"),
        _ => return, // HTTP/2 has no Connection header
    };
    let value = if keep_alive { "keep-alive" } else { "close" };
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static(value));
}

#[derive(Clone, Copy, Default)]
struct Encodings {
    br: bool,
    gzip: bool,
}

/// Which of our precompressed encodings the client takes (q=0 refuses).
fn accepted_encodings(headers: &HeaderMap) -> Encodings {
    let mut accepted = Encodings::default();
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        for item in value.to_str().unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            match name {
                _ if refused => {}
                "br" => accepted.br = true,
                "gzip" => accepted.gzip = true,
                _ => {}
            }
        }
    }
    accepted
}
