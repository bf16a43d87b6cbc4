//! A repository in three numbers, for its `DepotRepo` status: how many
//! files it holds, how many bytes its revisions take, and when it last
//! changed. One pass over each folder (the top and each group), one
//! `statx` an entry, no file read: the cost grows with the entries, so the
//! caller (the proxy) keeps the answer and scans again only after a change.
//!
//! - **files**: files with an `F~current` link whose revision file exists,
//!   at the top and in groups: what `GET <repo>/all` lists, groups hidden
//!   from GETs included.
//! - **bytes**: the lengths of every revision file kept (`F~N`), current or
//!   not, staged ones included: what the repository's revisions take on
//!   disk, as `du --apparent-size` counts it (`depth` bounds it). Not the
//!   blocks allocated (filesystem-dependent, and a shared-extent copy
//!   would make two folders' sums disagree), nor the size of `current`
//!   alone (which says nothing about the volume filling up).
//! - **last change**: the newest of every revision file's mtime and every
//!   link's own time (`lstat`: a link is made new by each check-in, tag or
//!   move of `current`, so a revision checked in with an old `?time=` still
//!   shows the check-in's time through its `latest` link). A delete leaves
//!   nothing on disk to date it: the [`Repo`](crate::Repo) adds the time
//!   of the last change it recorded itself.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::Path;

use crate::layout::{self, CURRENT};

/// What a repository holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files with a current revision, at the top and in groups.
    pub files: u64,
    /// The lengths of every revision kept, summed.
    pub bytes: u64,
    /// When a file last changed (unix seconds); `None` for an empty
    /// repository nothing was ever recorded in.
    pub last_change: Option<i64>,
}

impl Summary {
    fn add(&mut self, other: Summary) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.last_change = self.last_change.max(other.last_change);
    }
}

/// The summary of the repository folder `root`; a missing folder is empty.
pub(crate) fn summarize(root: &Path) -> io::Result<Summary> {
    let mut out = summarize_dir(root)?;
    let groups = match layout::groups(root) {
        Ok(groups) => groups,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for group in groups {
        out.add(summarize_dir(&root.join(group))?);
    }
    Ok(out)
}

/// One folder's files, bytes and newest time.
fn summarize_dir(dir: &Path) -> io::Result<Summary> {
    let mut out = Summary::default();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    // `F~N` files seen, and each `F~current` link's revision.
    let mut revisions: HashSet<(String, u64)> = HashSet::new();
    let mut current: HashMap<String, u64> = HashMap::new();
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(text) = file_name.to_str() else {
            continue;
        };
        // Hidden: a check-in under way, never part of the depot.
        if text.starts_with('.') {
            continue;
        }
        // `F` (the plain link) and group folders have no `~`.
        let Some((name, suffix)) = text.split_once('~') else {
            continue;
        };
        if name.is_empty() || suffix.contains('~') {
            continue;
        }
        // `lstat`: a link's own time, not its target's.
        let md = match entry.metadata() {
            Ok(md) => md,
            // Removed since the folder was read: a change under way.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if let Some(n) = layout::parse_number(suffix) {
            if md.is_file() {
                out.bytes += md.len();
                out.last_change = out.last_change.max(Some(layout::mtime_secs(&md)));
                revisions.insert((name.to_owned(), n));
            }
        } else if md.is_symlink() {
            out.last_change = out.last_change.max(Some(layout::mtime_secs(&md)));
            if suffix == CURRENT
                && let Ok(target) = fs::read_link(entry.path())
                && let Some(n) = layout::target_revision(&target, name)
            {
                current.insert(name.to_owned(), n);
            }
        }
    }
    out.files = current
        .into_iter()
        .filter(|file| revisions.contains(file))
        .count() as u64;
    Ok(out)
}
