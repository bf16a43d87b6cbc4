//! What the tests share: a temp folder, a depot over it, a client call, and
//! readers for the folder's layout.

use gatehouse_depot::{Depot, DepotRequest, Journal, Plan, Repo, RepoOptions};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) const HOST: &str = "test-host";
pub(crate) const MOUNT: &str = "/depot";

/// A fresh folder under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new() -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "gatehouse-depot-it-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn open_depot(root: &Path, repos: &[(String, RepoOptions)]) -> Depot {
    let journal = Arc::new(Journal::new());
    let mut depot = Depot::new(HOST, journal.clone());
    for (name, options) in repos {
        let repo = Repo::open(name, root.join(name), options.clone(), journal.clone()).unwrap();
        depot.insert(repo).unwrap();
    }
    depot
}

/// A depot serving repository `r` (folder `<tmp>/r`).
pub(crate) struct Fixture {
    pub(crate) tmp: TempDir,
    pub(crate) depot: Depot,
    repos: Vec<(String, RepoOptions)>,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        Self::with(RepoOptions::default())
    }

    pub(crate) fn with(options: RepoOptions) -> Self {
        Self::with_repos(&[("r", options)])
    }

    pub(crate) fn with_repos(repos: &[(&str, RepoOptions)]) -> Self {
        let tmp = TempDir::new();
        let repos: Vec<_> = repos
            .iter()
            .map(|(name, options)| (name.to_string(), options.clone()))
            .collect();
        let depot = open_depot(tmp.path(), &repos);
        Fixture { tmp, depot, repos }
    }

    /// A second depot on the same folders, beside this one.
    pub(crate) fn opened_again(&self) -> Depot {
        open_depot(self.tmp.path(), &self.repos)
    }

    /// The same folders opened afresh, as a restarted proxy would.
    pub(crate) fn reopen(&mut self) {
        self.depot = open_depot(self.tmp.path(), &self.repos);
    }

    /// The folder of repository `r`.
    pub(crate) fn root(&self) -> PathBuf {
        self.tmp.path().join("r")
    }

    pub(crate) fn get(&self, target: &str) -> Reply {
        call(&self.depot, Method::GET, target, &[], b"")
    }

    pub(crate) fn put(&self, target: &str, body: &[u8]) -> Reply {
        call(&self.depot, Method::PUT, target, &[], body)
    }

    pub(crate) fn post(&self, target: &str) -> Reply {
        call(&self.depot, Method::POST, target, &[], b"")
    }

    pub(crate) fn delete(&self, target: &str) -> Reply {
        call(&self.depot, Method::DELETE, target, &[], b"")
    }
}

/// What a client receives.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.text()))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Status and the `error` words of a refusal.
    pub(crate) fn refusal(&self) -> (u16, String) {
        assert_eq!(self.header("content-type"), Some("application/json"));
        let words = self.json()["error"].as_str().unwrap().to_string();
        (self.status.as_u16(), words)
    }

    /// `(status, body)` of an answer expected to be 200 with a body.
    pub(crate) fn ok_text(&self) -> String {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text());
        self.text()
    }
}

/// One request: `target` is the path after the mount, with its query.
pub(crate) fn call(
    depot: &Depot,
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let req = DepotRequest {
        method: &method,
        path,
        query,
        headers: &map,
        mount: MOUNT,
        user: Some("tester"),
    };
    match depot.plan(&req) {
        Plan::Answer(a) => Reply {
            status: a.status,
            headers: a.headers,
            body: a.body,
        },
        Plan::Read(mut r) => {
            let mut body = Vec::new();
            (&mut r.file).take(r.len).read_to_end(&mut body).unwrap();
            assert_eq!(body.len() as u64, r.len);
            Reply {
                status: StatusCode::OK,
                headers: r.headers,
                body,
            }
        }
        Plan::Upload(mut u) => {
            // Small chunks, as a chunked body arrives.
            for chunk in body.chunks(7) {
                if let Err(a) = u.write(chunk) {
                    return Reply {
                        status: a.status,
                        headers: a.headers,
                        body: a.body,
                    };
                }
            }
            let a = u.finish();
            Reply {
                status: a.status,
                headers: a.headers,
                body: a.body,
            }
        }
    }
}

/// Every symlink of `dir`: name → target, as `readlink` reads it.
pub(crate) fn links(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_symlink() {
            out.insert(
                e.file_name().into_string().unwrap(),
                fs::read_link(e.path())
                    .unwrap()
                    .into_os_string()
                    .into_string()
                    .unwrap(),
            );
        }
    }
    out
}

/// The regular files of `dir`, by name.
pub(crate) fn regular_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    out.sort();
    out
}

/// Every entry of `dir` whose name starts with `.`.
pub(crate) fn hidden(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// `pairs` as a map of owned strings, to compare with [`links`].
pub(crate) fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `s` with every number after `"timestamp":` or `"time":` replaced by `T`,
/// so an answer can be compared byte for byte.
pub(crate) fn times_masked(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let next = ["\"timestamp\":", "\"time\":"]
            .iter()
            .filter_map(|k| rest.find(k).map(|i| (i, k.len())))
            .min();
        let Some((i, len)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i + len]);
        rest = &rest[i + len..];
        let digits = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'-')
            .count();
        out.push('T');
        rest = &rest[digits..];
    }
}
