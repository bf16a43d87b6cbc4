//! One error type for the engine, each variant knowing its HTTP status, so
//! the request layer and a direct caller of the store answer alike. The
//! messages keep HouseDepot's words where it has some, so people who know
//! the reference recognise them.

use http::StatusCode;
use std::io;

/// What went wrong, and (through [`DepotError::status`]) how to answer it.
#[derive(Debug, thiserror::Error)]
pub enum DepotError {
    /// 400: a bad name, tag, path or parameter (the reference's words).
    #[error("{0}")]
    BadRequest(&'static str),
    /// 403: a refused cross-origin write or preflight.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 403: hidden by the repository's group visibility, or the repository
    /// folder itself ("Path not visible").
    #[error("Path not visible")]
    NotVisible,
    /// 404: no such repository, file or revision ("Not found", "invalid revision").
    #[error("{0}")]
    NotFound(&'static str),
    /// 405: the method is not served on this path.
    #[error("Method Not Allowed")]
    MethodNotAllowed {
        /// The `Allow` header's value.
        allow: &'static str,
    },
    /// 409: deleting `current` or `latest`, or a name that is both a file and a group.
    #[error("{0}")]
    Conflict(&'static str),
    /// 412: `If-Match` named another revision than the file's latest.
    #[error("precondition failed: the latest revision is {}", match .latest { Some(n) => n.to_string(), None => "none".to_string() })]
    PreconditionFailed {
        /// The file's latest revision when the request was refused.
        latest: Option<u64>,
    },
    /// 413: the body is larger than the repository's `max_file_size`.
    #[error("file too large: the limit is {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// 507: the disk (or quota) is full; nothing half-written is visible.
    #[error(
        "insufficient storage: the data dir's disk is full ({0}); nothing was stored. Free space, or keep fewer revisions (depth)"
    )]
    InsufficientStorage(io::Error),
    /// 500: any other I/O error.
    #[error("I/O error: {0}")]
    Io(io::Error),
}

impl DepotError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            DepotError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DepotError::Forbidden(_) | DepotError::NotVisible => StatusCode::FORBIDDEN,
            DepotError::NotFound(_) => StatusCode::NOT_FOUND,
            DepotError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            DepotError::Conflict(_) => StatusCode::CONFLICT,
            DepotError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            DepotError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            DepotError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            DepotError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<io::Error> for DepotError {
    /// `ENOSPC` and `EDQUOT` become [`DepotError::InsufficientStorage`]
    /// (507), anything else [`DepotError::Io`] (500).
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => DepotError::InsufficientStorage(e),
            _ if e.kind() == io::ErrorKind::StorageFull => DepotError::InsufficientStorage(e),
            _ => DepotError::Io(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full_is_507_with_its_words() {
        let e = DepotError::from(io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(e.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert!(e.to_string().starts_with("insufficient storage: "), "{e}");
        let q = DepotError::from(io::Error::from_raw_os_error(libc::EDQUOT));
        assert_eq!(q.status(), StatusCode::INSUFFICIENT_STORAGE);
        let other = DepotError::from(io::Error::from_raw_os_error(libc::EIO));
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
