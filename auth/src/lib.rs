//! Gatehouse's users: who may log in on a Route rule, from Kubernetes
//! Secrets, and the edits `gatehouse-operator users` makes to them.
//!
//! - [`Users`]: an htpasswd text (bcrypt, APR1-MD5 or `{SHA}`; plain text and
//!   crypt(3) DES refused, each error with its line and the fix) or a
//!   kubernetes.io/basic-auth pair, plus an optional Apache `AuthGroupFile`
//!   text; `verify` for each request.
//! - [`HtpasswdFile`], [`GroupsFile`]: the same texts as editable documents
//!   that keep comments and order.
//! - [`hash_bcrypt`], [`generate_password`]: what the CLI writes.
//!
//! No sockets, no async: `verify` is CPU-bound (bcrypt, on purpose), and
//! the proxy runs it off its workers.

mod error;
mod groups;
mod hash;
mod htpasswd;
mod names;
mod text;
mod users;

pub use error::AuthFileError;
pub use groups::GroupsFile;
pub use hash::{BCRYPT_COSTS, generate_password, hash_bcrypt};
pub use htpasswd::HtpasswdFile;
pub use names::{MAX_NAME_LEN, group_name_problem, user_name_problem};
pub use text::MAX_TEXT_BYTES;
pub use users::Users;

/// A user or group name an edit refused, with why and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidName(pub String);
