//! Which repository a git URL names, checked before anything runs: the
//! path below the mount, percent-decoded, split into the repository and
//! what git asks of it (`/info/refs`, `/git-upload-pack`, `/objects/…`).
//! No `.` or `..` segment, no empty one (`//` would make an absolute
//! path of the rest), no NUL: such a name is refused with 400 before the
//! disk is looked at. Where the name leads on disk is checked by
//! `mod.rs` (canonicalised, inside the root).

use crate::backends::cgi::env::percent_decode;

/// What `git http-backend` serves below a repository (its `services`
/// table); a repository is the path before the first of these.
const SERVICE_SUFFIXES: &[&str] = &[
    "/HEAD",
    "/info/refs",
    "/git-upload-pack",
    "/git-receive-pack",
    "/git-upload-archive",
];

/// A repository named in a request, relative to the root.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RepoName(pub(crate) String);

/// The repository `below` (the path under the mount, still encoded)
/// names: `Ok(None)` for a path git serves nothing at (http-backend
/// answers it), `Err` with the reason for a name that is refused.
pub(crate) fn repo_of(below: &str) -> Result<Option<RepoName>, String> {
    let decoded = percent_decode(below);
    let Ok(path) = String::from_utf8(decoded) else {
        return Err("the repository path is not UTF-8".to_owned());
    };
    if path.contains('\0') {
        return Err("the repository path holds a NUL byte".to_owned());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Ok(None);
    };
    for segment in rest.split('/') {
        match segment {
            ".." => {
                return Err(format!(
                    "`{path}` holds a `..` segment: name a repository below the root"
                ));
            }
            "." | "" => {
                return Err(format!(
                    "`{path}` holds an empty or `.` segment: name a repository as `<prefix>/<path>/<repo>.git`"
                ));
            }
            _ => {}
        }
    }
    let repo = match rest.find("/objects/") {
        Some(at) => Some(&rest[..at]),
        None => SERVICE_SUFFIXES
            .iter()
            .find_map(|suffix| rest.strip_suffix(suffix)),
    };
    Ok(repo
        .filter(|name| !name.is_empty())
        .map(|name| RepoName(name.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(below: &str) -> Option<String> {
        repo_of(below).unwrap().map(|r| r.0)
    }

    #[test]
    fn the_repository_is_what_comes_before_the_service() {
        assert_eq!(repo("/r.git/info/refs").as_deref(), Some("r.git"));
        assert_eq!(
            repo("/team/r.git/git-upload-pack").as_deref(),
            Some("team/r.git")
        );
        assert_eq!(repo("/r/git-receive-pack").as_deref(), Some("r"));
        assert_eq!(repo("/r.git/HEAD").as_deref(), Some("r.git"));
        assert_eq!(repo("/r.git/objects/ab/cdef").as_deref(), Some("r.git"));
        assert_eq!(repo("/a%20b.git/info/refs").as_deref(), Some("a b.git"));
        assert_eq!(repo("/r.git/description"), None);
        assert_eq!(repo("/info/refs"), None);
        assert_eq!(repo(""), None);
    }

    #[test]
    fn dot_segments_and_empty_ones_are_refused() {
        for below in [
            "/../r.git/info/refs",
            "/a/../../r/info/refs",
            "/%2e%2e/r/info/refs",
            "/a/%2E%2E/info/refs",
            "/./r/info/refs",
            "//etc/r/info/refs",
            "/a%2F..%2Fb/info/refs",
            "/r%00/info/refs",
        ] {
            assert!(repo_of(below).is_err(), "{below}");
        }
    }
}
