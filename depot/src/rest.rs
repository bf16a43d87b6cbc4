//! HouseDepot's web API as request semantics on `http` types, with no
//! socket: [`Depot::plan`] turns one request into a [`Plan`] — a finished
//! [`Answer`], a file to stream ([`ReadPlan`]) or an upload to feed
//! ([`UploadPlan`]). The caller (the proxy's depot backend) runs it on its
//! blocking pool and writes the answer.
//!
//! Where Gatehouse departs from the reference (each on purpose):
//! - errors are 4xx/5xx with the reference's words in a JSON body
//!   `{"error":"<words>"}`: 400 bad name, tag or parameter (also
//!   "Revision to delete not specified", which the reference answers 403),
//!   403 "Path not visible" (hidden by visibility, or the repository folder
//!   itself: 403 rather than 404, as the name is refused whether or not
//!   the file exists, so nothing is disclosed), 404 not found / "invalid
//!   revision" (also for a DELETE of a revision or tag that does not
//!   exist, which the reference silently accepts), 405 with `Allow`, 409
//!   deleting current/latest, 412 `If-Match`, 413 too large, 507 disk full;
//! - a decoded path holding `..` or `.` segments is 400, not a dropped
//!   connection;
//! - `ETag: "<revision>"` on file GETs and PUT answers, `If-None-Match` →
//!   304, `If-Match: "<revision>"` on PUT/POST/DELETE compares with the
//!   file's LATEST revision (412 otherwise);
//! - `PUT ?current=false` stages a revision (only `latest` moves);
//! - `GET <mount>/log/events` lists the audit events (see [`crate::Event`]);
//!   so `all`, `check` and `log` cannot name a repository.
//!
//! CORS: a request whose `Origin` differs from its `Host` is foreign. A
//! foreign GET is answered with `Access-Control-Allow-Origin: *`; a foreign
//! write is 403 unless the origin is in the repository's
//! `cors_write_origins`. A preflight (OPTIONS with
//! `Access-Control-Request-Method`) for GET is 204, for a write 204 only
//! for a listed origin, else 403.

use crate::error::DepotError;
use crate::journal::{Event, Journal};
use crate::names::FileName;
use crate::query::{content_type, param, parse_query, percent_decode};
use crate::store::{Change, DeleteTarget, Repo, Selector};
use crate::upload::{CommitOptions, Committed, Upload};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

const FILE_METHODS: &str = "GET, PUT, POST, DELETE, OPTIONS";
const READ_METHODS: &str = "GET, OPTIONS";
const RESERVED: [&str; 3] = ["all", "check", "log"];

/// One request, as the depot sees it.
#[derive(Clone, Copy, Debug)]
pub struct DepotRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path after the mount, still percent-encoded: `/all`, `/check`,
    /// `/log/events`, `/r/all`, `/r/g/all`, `/r/f`, `/r/g/f`.
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The request's headers (`Origin`, `Host`, `If-Match`, …).
    pub headers: &'a HeaderMap,
    /// The mount, as names in JSON answers start: `/depot`.
    pub mount: &'a str,
    /// Who asks, for the audit events (e.g. an authenticated user).
    pub user: Option<&'a str>,
}

/// A finished answer.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers (`Content-Type` when there is a body, CORS, `ETag`, `Allow`).
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// A revision to stream as a 200 answer.
#[derive(Debug)]
pub struct ReadPlan {
    /// Open on the revision; read `len` bytes from it.
    pub file: File,
    /// The length (also in `headers` as `Content-Length`).
    pub len: u64,
    /// From the file's extension.
    pub content_type: &'static str,
    /// `"<revision>"`.
    pub etag: String,
    /// The revision.
    pub revision: u64,
    /// Every header of the answer: `Content-Type`, `Content-Length`,
    /// `ETag`, CORS.
    pub headers: HeaderMap,
}

/// A PUT under way: feed the body with [`UploadPlan::write`], then
/// [`UploadPlan::finish`]. Dropping it stores nothing.
#[derive(Debug)]
pub struct UploadPlan {
    upload: Upload,
    options: CommitOptions,
    headers: HeaderMap,
}

impl UploadPlan {
    /// Take the next body chunk. An `Err` is the answer to send at once
    /// (413 past the limit, 507 disk full); stop reading the body then.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), Box<Answer>> {
        self.upload
            .write_all(chunk)
            .map_err(|e| Box::new(error_answer(&e, self.headers.clone())))
    }

    /// The body is complete: commit it and get the answer (200, empty,
    /// with the `ETag` of the file's latest revision).
    pub fn finish(self) -> Answer {
        self.finish_committed().0
    }

    /// As [`UploadPlan::finish`], with what the commit did: `None` when it
    /// was refused, `created: false` when the bytes equal `latest`'s and
    /// no revision was made.
    pub fn finish_committed(self) -> (Answer, Option<Committed>) {
        let mut headers = self.headers;
        match self.upload.commit(self.options) {
            Ok(done) => {
                headers.insert(header::ETAG, etag_value(done.revision));
                let answer = Answer {
                    status: StatusCode::OK,
                    headers,
                    body: Vec::new(),
                };
                (answer, Some(done))
            }
            Err(e) => (error_answer(&e, headers), None),
        }
    }

    /// The most body bytes this upload may take.
    pub fn limit(&self) -> u64 {
        self.upload.limit()
    }
}

/// What to do with a request.
#[derive(Debug)]
pub enum Plan {
    /// Send this.
    Answer(Answer),
    /// Stream this revision.
    Read(ReadPlan),
    /// Feed the body into this upload.
    Upload(UploadPlan),
}

/// The repositories one mount serves.
#[derive(Debug)]
pub struct Depot {
    host: String,
    journal: Arc<Journal>,
    repos: BTreeMap<String, Arc<Repo>>,
}

impl Depot {
    /// A depot with no repository; `host` is the JSON answers' `host`.
    /// Repositories must be opened with the same `journal` so `check` and
    /// `log/events` see their changes.
    pub fn new(host: impl Into<String>, journal: Arc<Journal>) -> Self {
        Self {
            host: host.into(),
            journal,
            repos: BTreeMap::new(),
        }
    }

    /// Serve `repo` under its name. `all`, `check`, `log`, and names that
    /// are not a valid path segment are refused (400).
    pub fn insert(&mut self, repo: Arc<Repo>) -> Result<(), DepotError> {
        let name = repo.name();
        crate::names::check_segment(name)?;
        if RESERVED.contains(&name) {
            return Err(DepotError::BadRequest(
                "reserved repository name (all, check and log are depot paths)",
            ));
        }
        self.repos.insert(name.to_string(), repo);
        Ok(())
    }

    /// Stop serving a repository (its folder stays).
    pub fn remove(&mut self, name: &str) -> Option<Arc<Repo>> {
        self.repos.remove(name)
    }

    /// The repository served as `name`.
    pub fn repo(&self, name: &str) -> Option<&Arc<Repo>> {
        self.repos.get(name)
    }

    /// The journal of every change.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// Decide what to do with `req`. Blocking (it may fsync): call it from
    /// a blocking pool.
    pub fn plan(&self, req: &DepotRequest<'_>) -> Plan {
        let cors = cors_headers(req);
        match self.route(req, &cors) {
            Ok(plan) => plan,
            Err(e) => Plan::Answer(error_answer(&e, cors)),
        }
    }

    fn route(&self, req: &DepotRequest<'_>, cors: &HeaderMap) -> Result<Plan, DepotError> {
        let path = percent_decode(req.path, false)
            .ok_or(DepotError::BadRequest("invalid path encoding"))?;
        if path.contains('\0') {
            return Err(DepotError::BadRequest("invalid character in name"));
        }
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(&path).split('/').collect();
        if segments.iter().any(|s| *s == ".." || *s == ".") {
            return Err(DepotError::BadRequest(
                "invalid path: dot segments are refused",
            ));
        }
        let params = parse_query(req.query.unwrap_or(""))
            .ok_or(DepotError::BadRequest("invalid query encoding"))?;
        let method = req.method;
        if ![
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::DELETE,
            Method::OPTIONS,
        ]
        .contains(method)
        {
            return Err(DepotError::MethodNotAllowed {
                allow: FILE_METHODS,
            });
        }

        let repo = segments.first().and_then(|s| self.repos.get(*s));
        if *method == Method::OPTIONS {
            return preflight(req, repo.map(|r| r.as_ref()), cors);
        }
        if *method != Method::GET {
            check_write_origin(req, repo.map(|r| r.as_ref()))?;
        }

        match segments.as_slice() {
            [""] => Err(DepotError::NotFound("Not found")),
            ["all"] => {
                only_get(method)?;
                let repositories = self
                    .repos
                    .keys()
                    .map(|name| format!("{}/{name}", req.mount))
                    .collect();
                json(
                    &Repositories {
                        host: &self.host,
                        timestamp: now(),
                        repositories,
                    },
                    cors,
                )
            }
            ["check"] => {
                only_get(method)?;
                json(
                    &Check {
                        host: &self.host,
                        timestamp: now(),
                        updated: self.journal.updated(),
                    },
                    cors,
                )
            }
            ["log", "events"] => {
                only_get(method)?;
                let events = self
                    .journal
                    .events()
                    .iter()
                    .map(|e| EventJson::new(e, req.mount))
                    .collect();
                json(
                    &Events {
                        host: &self.host,
                        timestamp: now(),
                        events,
                    },
                    cors,
                )
            }
            [name, rest @ ..] => {
                let repo = self
                    .repos
                    .get(*name)
                    .ok_or(DepotError::NotFound("Not found"))?;
                self.in_repo(req, repo, rest, &params, cors)
            }
            [] => Err(DepotError::NotFound("Not found")),
        }
    }

    fn in_repo(
        &self,
        req: &DepotRequest<'_>,
        repo: &Arc<Repo>,
        rest: &[&str],
        params: &[(String, String)],
        cors: &HeaderMap,
    ) -> Result<Plan, DepotError> {
        let method = req.method;
        let visibility = &repo.options().visibility;
        let base = format!("{}/{}", req.mount, repo.name());
        match rest {
            [] | [""] => Err(DepotError::NotVisible),
            ["all"] => {
                only_get(method)?;
                let mut files: Vec<FileJson> = repo
                    .files(None)?
                    .into_iter()
                    .map(|f| FileJson::new(&base, f))
                    .collect();
                for group in repo.groups()? {
                    if visibility.shows(&group) {
                        files.extend(
                            repo.files(Some(&group))?
                                .into_iter()
                                .map(|f| FileJson::new(&base, f)),
                        );
                    }
                }
                self.listing(files, cors)
            }
            [group, "all"] => {
                only_get(method)?;
                crate::names::check_segment(group)?;
                if !visibility.shows(group) {
                    return Err(DepotError::NotVisible);
                }
                let files = repo
                    .files(Some(group))?
                    .into_iter()
                    .map(|f| FileJson::new(&base, f))
                    .collect();
                self.listing(files, cors)
            }
            [_, _, _, ..] => Err(DepotError::BadRequest("URI too deep")),
            _ => {
                let file = FileName::parse(&rest.join("/"))?;
                let first = file.group().unwrap_or(file.name());
                match *method {
                    Method::GET => {
                        if !visibility.shows(first) {
                            return Err(DepotError::NotVisible);
                        }
                        self.get_file(req, repo, &file, params, &base, cors)
                    }
                    Method::PUT => put_file(req, repo, &file, params, cors),
                    Method::POST => post_file(req, repo, &file, params, cors),
                    _ => delete_file(req, repo, &file, params, cors),
                }
            }
        }
    }

    fn listing(&self, files: Vec<FileJson>, cors: &HeaderMap) -> Result<Plan, DepotError> {
        json(
            &FileList {
                host: &self.host,
                timestamp: now(),
                files,
            },
            cors,
        )
    }

    fn get_file(
        &self,
        req: &DepotRequest<'_>,
        repo: &Repo,
        file: &FileName,
        params: &[(String, String)],
        base: &str,
        cors: &HeaderMap,
    ) -> Result<Plan, DepotError> {
        let selector = match param(params, "revision") {
            None => {
                // A plain GET of a missing file is "Not found".
                return match repo.open_revision(file, &Selector::Current) {
                    Err(DepotError::NotFound(_)) => Err(DepotError::NotFound("Not found")),
                    other => read_plan(req, file, other?, cors),
                };
            }
            Some("all") => {
                let history = repo.history(file)?;
                return json(
                    &HistoryJson {
                        host: &self.host,
                        timestamp: now(),
                        file: format!("{base}/{}", file.path()),
                        tags: history.tags,
                        history: (!history.revisions.is_empty()).then(|| {
                            history
                                .revisions
                                .into_iter()
                                .map(|(rev, time)| RevJson { rev, time })
                                .collect()
                        }),
                    },
                    cors,
                );
            }
            Some(s) => Selector::parse(s).ok_or(DepotError::NotFound("invalid revision"))?,
        };
        read_plan(req, file, repo.open_revision(file, &selector)?, cors)
    }
}

fn read_plan(
    req: &DepotRequest<'_>,
    file: &FileName,
    opened: crate::store::Opened,
    cors: &HeaderMap,
) -> Result<Plan, DepotError> {
    let mut headers = cors.clone();
    let etag = format!("\"{}\"", opened.revision);
    headers.insert(header::ETAG, etag_value(opened.revision));
    if let Some(inm) = req.headers.get(header::IF_NONE_MATCH)
        && etag_listed(inm, opened.revision)
    {
        return Ok(Plan::Answer(Answer {
            status: StatusCode::NOT_MODIFIED,
            headers,
            body: Vec::new(),
        }));
    }
    let ct = content_type(file.name());
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(opened.len));
    // A stored page runs, but in an origin of its own: its script cannot
    // write to the depot (or drive the web page) as a same-origin caller,
    // as GitHub's raw files and S3's buckets keep user content apart.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox allow-scripts allow-forms allow-popups"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(Plan::Read(ReadPlan {
        file: opened.file,
        len: opened.len,
        content_type: ct,
        etag,
        revision: opened.revision,
        headers,
    }))
}

fn put_file(
    req: &DepotRequest<'_>,
    repo: &Arc<Repo>,
    file: &FileName,
    params: &[(String, String)],
    cors: &HeaderMap,
) -> Result<Plan, DepotError> {
    let time = match param(params, "time") {
        None => None,
        Some(t) => Some(
            t.parse::<u64>()
                .map_err(|_| DepotError::BadRequest("invalid time"))?,
        ),
    };
    let make_current = match param(params, "current") {
        None | Some("true") | Some("1") | Some("yes") => true,
        Some("false") | Some("0") | Some("no") => false,
        Some(_) => return Err(DepotError::BadRequest("invalid current parameter")),
    };
    let if_match = if_match(req.headers)?;
    let limit = repo.options().max_file_size;
    if let Some(len) = req.headers.get(header::CONTENT_LENGTH)
        && len
            .to_str()
            .ok()
            .and_then(|l| l.parse::<u64>().ok())
            .is_some_and(|l| l > limit)
    {
        return Err(DepotError::TooLarge { limit });
    }
    // Checked again under the file's lock at commit; refusing here spares
    // reading a body that cannot be stored.
    Repo::check_if_match(&repo.dir(file), file, if_match)?;
    let upload = repo.begin_upload(file)?;
    Ok(Plan::Upload(UploadPlan {
        upload,
        options: CommitOptions {
            time,
            make_current,
            if_match,
            user: req.user.map(str::to_string),
        },
        headers: cors.clone(),
    }))
}

/// Who asks for a change, and on which revision they based it.
fn change_of(req: &DepotRequest<'_>) -> Result<Change, DepotError> {
    Ok(Change {
        if_match: if_match(req.headers)?,
        user: req.user.map(str::to_string),
    })
}

fn post_file(
    req: &DepotRequest<'_>,
    repo: &Repo,
    file: &FileName,
    params: &[(String, String)],
    cors: &HeaderMap,
) -> Result<Plan, DepotError> {
    let change = change_of(req)?;
    let revision = param(params, "revision");
    let tag = param(params, "tag");
    if revision == Some("all") {
        return Err(DepotError::BadRequest("invalid tag name"));
    }
    let selector = revision
        .map(|r| Selector::parse(r).ok_or(DepotError::NotFound("invalid revision")))
        .transpose()?;
    match (tag, selector) {
        (None, None) => {}
        (None, Some(sel)) => {
            repo.set_current(file, &sel, change)?;
        }
        (Some(tag), sel) => {
            repo.tag(file, tag, sel.as_ref(), change)?;
        }
    }
    Ok(empty(StatusCode::OK, cors))
}

fn delete_file(
    req: &DepotRequest<'_>,
    repo: &Repo,
    file: &FileName,
    params: &[(String, String)],
    cors: &HeaderMap,
) -> Result<Plan, DepotError> {
    let change = change_of(req)?;
    let target = match param(params, "revision") {
        None | Some("") => {
            return Err(DepotError::BadRequest("Revision to delete not specified"));
        }
        Some("all") => DeleteTarget::All,
        Some(r) => match Selector::parse(r) {
            Some(Selector::Number(n)) => DeleteTarget::Revision(n),
            _ => DeleteTarget::Tag(r.to_string()),
        },
    };
    repo.delete(file, &target, change)?;
    Ok(empty(StatusCode::OK, cors))
}

/// `If-Match: "N"` (or `W/"N"`); anything else can never match: 412.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, DepotError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Some)
        .ok_or(DepotError::PreconditionFailed { latest: None })
}

fn etag_listed(value: &HeaderValue, revision: u64) -> bool {
    let Ok(list) = value.to_str() else {
        return false;
    };
    let want = format!("\"{revision}\"");
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == want)
}

fn etag_value(revision: u64) -> HeaderValue {
    HeaderValue::try_from(format!("\"{revision}\"")).expect("digits and quotes are a valid header")
}

fn only_get(method: &Method) -> Result<(), DepotError> {
    if *method == Method::GET {
        Ok(())
    } else {
        Err(DepotError::MethodNotAllowed {
            allow: READ_METHODS,
        })
    }
}

/// The request's `Origin` when it differs from its `Host`.
fn foreign_origin<'a>(req: &DepotRequest<'a>) -> Option<&'a str> {
    let origin = req.headers.get(header::ORIGIN)?.to_str().ok()?;
    let host = req
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
    if !host.is_empty() && authority.eq_ignore_ascii_case(host) {
        None
    } else {
        Some(origin)
    }
}

fn write_allowed(origin: &str, repo: Option<&Repo>) -> bool {
    repo.is_some_and(|r| r.options().cors_write_origins.iter().any(|o| o == origin))
}

fn check_write_origin(req: &DepotRequest<'_>, repo: Option<&Repo>) -> Result<(), DepotError> {
    match foreign_origin(req) {
        Some(origin) if !write_allowed(origin, repo) => Err(DepotError::Forbidden(
            "cross-origin write refused: the origin is not in the repository's cors_write_origins",
        )),
        _ => Ok(()),
    }
}

/// CORS headers every answer carries: `*` for a GET with an `Origin`, the
/// origin itself for an allowed write.
fn cors_headers(req: &DepotRequest<'_>) -> HeaderMap {
    let mut h = HeaderMap::new();
    let Some(origin) = req.headers.get(header::ORIGIN) else {
        return h;
    };
    if *req.method == Method::GET {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else if *req.method != Method::OPTIONS {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    h
}

fn preflight(
    req: &DepotRequest<'_>,
    repo: Option<&Repo>,
    cors: &HeaderMap,
) -> Result<Plan, DepotError> {
    let Some(asked) = req.headers.get(header::ACCESS_CONTROL_REQUEST_METHOD) else {
        let mut headers = cors.clone();
        headers.insert(header::ALLOW, HeaderValue::from_static(FILE_METHODS));
        return Ok(Plan::Answer(Answer {
            status: StatusCode::NO_CONTENT,
            headers,
            body: Vec::new(),
        }));
    };
    let mut headers = cors.clone();
    let reads = asked == "GET" || asked == "HEAD";
    match foreign_origin(req) {
        _ if reads => {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET"),
            );
        }
        Some(origin) if !write_allowed(origin, repo) => {
            return Err(DepotError::Forbidden(
                "cross-origin write refused: the origin is not in the repository's cors_write_origins",
            ));
        }
        _ => {
            if let Some(origin) = req.headers.get(header::ORIGIN) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                headers.insert(header::VARY, HeaderValue::from_static("Origin"));
            }
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, PUT, POST, DELETE"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Content-Type, If-Match"),
            );
        }
    }
    Ok(Plan::Answer(Answer {
        status: StatusCode::NO_CONTENT,
        headers,
        body: Vec::new(),
    }))
}

fn empty(status: StatusCode, cors: &HeaderMap) -> Plan {
    Plan::Answer(Answer {
        status,
        headers: cors.clone(),
        body: Vec::new(),
    })
}

fn json<T: Serialize>(value: &T, cors: &HeaderMap) -> Result<Plan, DepotError> {
    let mut headers = cors.clone();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_vec(value).map_err(|e| DepotError::Io(e.into()))?;
    Ok(Plan::Answer(Answer {
        status: StatusCode::OK,
        headers,
        body,
    }))
}

fn error_answer(e: &DepotError, mut headers: HeaderMap) -> Answer {
    if let DepotError::MethodNotAllowed { allow } = e {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.remove(HeaderName::from_static("etag"));
    Answer {
        status: e.status(),
        headers,
        body: serde_json::json!({ "error": e.to_string() })
            .to_string()
            .into_bytes(),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Serialize)]
struct Repositories<'a> {
    host: &'a str,
    timestamp: i64,
    repositories: Vec<String>,
}

#[derive(Serialize)]
struct Check<'a> {
    host: &'a str,
    timestamp: i64,
    updated: u64,
}

#[derive(Serialize)]
struct FileList<'a> {
    host: &'a str,
    timestamp: i64,
    files: Vec<FileJson>,
}

#[derive(Serialize)]
struct FileJson {
    name: String,
    /// A string here, as the reference writes it.
    rev: String,
    time: i64,
}

impl FileJson {
    fn new(base: &str, f: crate::store::Listed) -> Self {
        Self {
            name: format!("{base}/{}", f.name),
            rev: f.revision.to_string(),
            time: f.time,
        }
    }
}

#[derive(Serialize)]
struct HistoryJson<'a> {
    host: &'a str,
    timestamp: i64,
    file: String,
    tags: Vec<(String, u64)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<RevJson>>,
}

#[derive(Serialize)]
struct RevJson {
    rev: u64,
    time: i64,
}

#[derive(Serialize)]
struct Events<'a> {
    host: &'a str,
    timestamp: i64,
    events: Vec<EventJson>,
}

#[derive(Serialize)]
struct EventJson {
    time: i64,
    file: String,
    action: crate::journal::Action,
    revision: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
    user: Option<String>,
}

impl EventJson {
    fn new(e: &Event, mount: &str) -> Self {
        Self {
            time: e.time,
            file: format!("{mount}/{}", e.file),
            action: e.action,
            revision: e.revision,
            tag: e.tag.clone(),
            user: e.user.clone(),
        }
    }
}
