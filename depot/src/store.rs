//! Operations on one repository folder: list, history, read, tag, move
//! `current`, delete, and (with [`crate::upload`]) check in.
//!
//! Every change is durable when it returns: new entries are made under
//! hidden names, put in place by rename (links) or by a no-overwrite
//! hard link (revisions), and the folder is fsynced (or, for a small
//! check-in in a folder under a log, its record is: see [`crate::wal`]).
//!
//! Concurrency: changes to one file are serialised by an in-process lock
//! per file (a `Mutex` in a map keyed by the file's path, [`FileLocks`],
//! the `Repo`'s own or, under a log, the log's, so every `Repo` on a folder
//! shares it), and a revision is put in place with `link(2)`, which
//! fails rather than overwrite, so even two processes writing one folder
//! never clobber each other's revision (the loser takes the next number).
//! Reads take no lock: links are replaced atomically, so a reader sees the
//! old target or the new one.
//!
//! Revision numbers only grow, also after deletes: the next number is one
//! more than the highest of the `F~N` files and of every link's target
//! (`F~latest` included). `latest` can never be deleted, so the number of
//! a deleted revision is never given again (except when a person removes
//! `latest`'s own file by hand).

use crate::error::DepotError;
use crate::journal::{Action, Journal};
use crate::layout::{self, CURRENT, LATEST};
use crate::names::{self, FileName};
use crate::summary::{self, Summary};
use crate::upload::Upload;
use crate::wal::Wal;
use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many per-file locks a repository keeps before forgetting idle ones.
const LOCKS_KEPT: usize = 1024;

/// Bodies larger than this are refused (413) unless a repository says otherwise.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 << 20;

/// Which group folders (and top-level files) a GET may see. A name ending
/// in `.` is a prefix: `rail.` matches `railway`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Visibility {
    /// Everything is visible.
    #[default]
    All,
    /// Only the names listed.
    Allow(Vec<String>),
    /// All but the names listed.
    Deny(Vec<String>),
}

impl Visibility {
    /// Whether a GET may see the group or top-level file `name`.
    pub fn shows(&self, name: &str) -> bool {
        let listed = |list: &[String]| {
            list.iter().any(|entry| match entry.strip_suffix('.') {
                Some(prefix) => name.starts_with(prefix),
                None => entry == name,
            })
        };
        match self {
            Visibility::All => true,
            Visibility::Allow(list) => listed(list),
            Visibility::Deny(list) => !listed(list),
        }
    }
}

/// A repository's settings (a `DepotRepo`'s fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoOptions {
    /// After each check-in, revisions numbered ≤ latest − depth are removed
    /// (never current or latest). `None` keeps every revision.
    pub depth: Option<u32>,
    /// What a GET may see.
    pub visibility: Visibility,
    /// The largest body a PUT may store, in bytes.
    pub max_file_size: u64,
    /// Origins (e.g. `https://admin.example.com`) allowed to write from a
    /// browser; other foreign origins may only read.
    pub cors_write_origins: Vec<String>,
}

impl Default for RepoOptions {
    fn default() -> Self {
        Self {
            depth: None,
            visibility: Visibility::All,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            cors_write_origins: Vec::new(),
        }
    }
}

/// A revision, named as a request names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Revision `N`.
    Number(u64),
    /// What a plain GET returns.
    Current,
    /// The newest revision.
    Latest,
    /// A user tag.
    Tag(String),
}

impl Selector {
    /// `N`, `current`, `latest` or a tag; `None` for anything else (`all`
    /// is the caller's to handle before).
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(n) = layout::parse_number(s) {
            return Some(Selector::Number(n));
        }
        match s {
            CURRENT => Some(Selector::Current),
            LATEST => Some(Selector::Latest),
            _ if names::is_tag_text(s) && !s.as_bytes()[0].is_ascii_digit() => {
                Some(Selector::Tag(s.to_string()))
            }
            _ => None,
        }
    }

    fn link(&self) -> Option<&str> {
        match self {
            Selector::Number(_) => None,
            Selector::Current => Some(CURRENT),
            Selector::Latest => Some(LATEST),
            Selector::Tag(t) => Some(t),
        }
    }
}

/// What a DELETE removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteTarget {
    /// Revision `N` and every user tag on it.
    Revision(u64),
    /// A user tag only (`current` and `latest` are refused).
    Tag(String),
    /// The file, all its revisions and tags.
    All,
}

/// Who asks for a change, and on which condition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Refuse (412) unless the file's LATEST revision is this one.
    pub if_match: Option<u64>,
    /// Recorded in the audit event.
    pub user: Option<String>,
}

/// A file in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// `f` or `g/f`.
    pub name: String,
    /// The current revision.
    pub revision: u64,
    /// The current revision's time (unix seconds).
    pub time: i64,
}

/// A file's tags and revisions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Every tag, `current` and `latest` included, sorted by name.
    pub tags: Vec<(String, u64)>,
    /// Every revision, ascending, with its time (unix seconds).
    pub revisions: Vec<(u64, i64)>,
}

/// A revision opened for reading; the caller streams `file`.
#[derive(Debug)]
pub struct Opened {
    /// Open on the revision's own file (`F~N`), so a later change of
    /// `current` does not change what is being read.
    pub file: File,
    /// The revision number.
    pub revision: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Its time (unix seconds).
    pub time: i64,
}

/// What a file's lock remembers between two changes to it.
#[derive(Debug, Default)]
pub(crate) struct FileState {
    /// The highest revision number this process has seen the file use,
    /// once a check-in has scanned its folder: later check-ins take the
    /// next number without reading the folder again (a folder of
    /// thousands of revisions would cost every PUT a full `getdents`).
    /// Forgotten with the lock (see `LOCKS_KEPT`) and when the file is
    /// deleted whole.
    pub(crate) highest: Option<u64>,
}

/// The per-file locks of the repositories that share them: a `Repo`'s
/// own, or, for folders under a log, the log's, so two `Repo`s on one
/// folder (one opened again with new options while the other finishes
/// its requests) take the same lock and the same remembered numbers.
#[derive(Debug, Default)]
pub(crate) struct FileLocks(Mutex<HashMap<PathBuf, Arc<Mutex<FileState>>>>);

impl FileLocks {
    fn get(&self, file: PathBuf) -> Arc<Mutex<FileState>> {
        let mut locks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if locks.len() >= LOCKS_KEPT {
            // Forget the locks nobody holds, so the map stays bounded by
            // the files being changed at once, not every file ever written.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        locks.entry(file).or_default().clone()
    }
}

/// One repository folder, shared by `Arc` between every request on it.
#[derive(Debug)]
pub struct Repo {
    name: String,
    root: PathBuf,
    options: RepoOptions,
    locks: Arc<FileLocks>,
    journal: Arc<Journal>,
    /// Changes recorded through this `Repo`: a summary taken at one count
    /// still holds while the count is the same.
    changes: AtomicU64,
    /// When this `Repo` last recorded a change (unix seconds; `i64::MIN`
    /// before any): what a delete leaves no trace of on disk.
    recorded: AtomicI64,
    /// The data dir's log, when check-ins go through it, with this
    /// folder's path relative to the data dir.
    wal: Option<(Arc<Wal>, String)>,
}

impl Repo {
    /// Open (creating it if needed) the folder `root` as repository `name`,
    /// and remove the temp files a crashed writer left there.
    pub fn open(
        name: &str,
        root: impl Into<PathBuf>,
        options: RepoOptions,
        journal: Arc<Journal>,
    ) -> Result<Arc<Repo>, DepotError> {
        Repo::open_with(name, root.into(), options, journal, None)
    }

    /// As [`Repo::open`], for a folder under `wal`'s data dir: small
    /// check-ins are made durable through the log (see [`crate::wal`]).
    pub fn open_logged(
        name: &str,
        root: impl Into<PathBuf>,
        options: RepoOptions,
        journal: Arc<Journal>,
        wal: Arc<Wal>,
    ) -> Result<Arc<Repo>, DepotError> {
        Repo::open_with(name, root.into(), options, journal, Some(wal))
    }

    fn open_with(
        name: &str,
        root: PathBuf,
        options: RepoOptions,
        journal: Arc<Journal>,
        wal: Option<Arc<Wal>>,
    ) -> Result<Arc<Repo>, DepotError> {
        layout::create_dirs_durably(&root)?;
        layout::clean_temps(&root)?;
        // A checkpoint syncs the data dir's file system: a folder mounted
        // from another one fsyncs its own check-ins instead.
        let same_disk = |wal: &Wal| {
            use std::os::unix::fs::MetadataExt;
            match (fs::metadata(&root), fs::metadata(wal.data_dir())) {
                (Ok(a), Ok(b)) => a.dev() == b.dev(),
                _ => false,
            }
        };
        let wal = match wal.filter(|wal| same_disk(wal)) {
            None => None,
            Some(wal) => {
                let rel = root
                    .strip_prefix(wal.data_dir())
                    .ok()
                    .and_then(|rel| rel.to_str())
                    .filter(|rel| !rel.is_empty())
                    .ok_or_else(|| {
                        DepotError::Io(std::io::Error::other(format!(
                            "{} is not under the log's data dir {}",
                            root.display(),
                            wal.data_dir().display()
                        )))
                    })?
                    .to_string();
                Some((wal, rel))
            }
        };
        let locks = match &wal {
            Some((wal, _)) => wal.file_locks().clone(),
            None => Arc::default(),
        };
        Ok(Arc::new(Repo {
            name: name.to_string(),
            root,
            options,
            locks,
            journal,
            changes: AtomicU64::new(0),
            recorded: AtomicI64::new(i64::MIN),
            wal,
        }))
    }

    /// The log and `file`'s folder relative to its data dir, when check-ins
    /// go through a log.
    pub(crate) fn logged_folder(&self, file: &FileName) -> Option<(&Arc<Wal>, String)> {
        let (wal, rel) = self.wal.as_ref()?;
        Some(match file.group() {
            Some(g) => (wal, format!("{rel}/{g}")),
            None => (wal, rel.clone()),
        })
    }

    /// Before a change that is not a check-in: replay moves links only
    /// forward, so no record may be left behind a rollback or a delete.
    fn settle_log(&self) -> Result<(), DepotError> {
        if let Some((wal, _)) = &self.wal
            && wal.has_pending()
        {
            wal.checkpoint()?;
        }
        Ok(())
    }

    /// The repository's name (its path segment under the mount).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The settings.
    pub fn options(&self) -> &RepoOptions {
        &self.options
    }

    /// The journal changes are recorded in.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    pub(crate) fn dir(&self, file: &FileName) -> PathBuf {
        match file.group() {
            Some(g) => self.root.join(g),
            None => self.root.clone(),
        }
    }

    /// The lock that serialises changes to `file` in this process, and
    /// what it remembers of the file between changes.
    pub(crate) fn file_lock(&self, file: &FileName) -> Arc<Mutex<FileState>> {
        self.locks.get(self.root.join(file.path()))
    }

    pub(crate) fn record(
        &self,
        file: &FileName,
        action: Action,
        revision: Option<u64>,
        tag: Option<String>,
        user: Option<String>,
    ) {
        let name = format!("{}/{}", self.name, file.path());
        let time = self.journal.record(name, action, revision, tag, user);
        self.recorded.fetch_max(time, Ordering::SeqCst);
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// How many changes this `Repo` has recorded (check-ins, moves of
    /// `current`, tags, deletes, prunes): a [`Repo::summary`] taken when
    /// the count was the same still holds, unless another process (or a
    /// person) changed the folder.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// Files, bytes and last change (see [`Summary`]): one pass over the
    /// folders, a `statx` an entry; run it off any async worker, and keep
    /// it while [`Repo::changes`] stays the same.
    pub fn summary(&self) -> Result<Summary, DepotError> {
        let mut out = summary::summarize(&self.root)?;
        let recorded = self.recorded.load(Ordering::SeqCst);
        if recorded != i64::MIN {
            out.last_change = out.last_change.max(Some(recorded));
        }
        Ok(out)
    }

    /// The group folders, sorted.
    pub fn groups(&self) -> Result<Vec<String>, DepotError> {
        Ok(layout::groups(&self.root)?)
    }

    /// The depot files at the top (`None`) or in a group, sorted by name.
    pub fn files(&self, group: Option<&str>) -> Result<Vec<Listed>, DepotError> {
        let dir = match group {
            Some(g) => {
                names::check_segment(g)?;
                self.root.join(g)
            }
            None => self.root.clone(),
        };
        Ok(layout::files(&dir)?
            .into_iter()
            .map(|e| Listed {
                name: match group {
                    Some(g) => format!("{g}/{}", e.name),
                    None => e.name,
                },
                revision: e.revision,
                time: e.time,
            })
            .collect())
    }

    /// Tags (sorted by name) and revisions (ascending). A missing file has neither.
    pub fn history(&self, file: &FileName) -> Result<History, DepotError> {
        let scan = layout::scan(&self.dir(file), file.name())?;
        Ok(History {
            tags: scan
                .links
                .into_iter()
                .filter(|(_, rev)| scan.revisions.contains_key(rev))
                .collect(),
            revisions: scan
                .revisions
                .into_iter()
                .map(|(n, info)| (n, info.time))
                .collect(),
        })
    }

    /// The file's latest revision, if it has one.
    pub fn latest(&self, file: &FileName) -> Result<Option<u64>, DepotError> {
        Ok(layout::read_tag(&self.dir(file), file.name(), LATEST)?)
    }

    /// The revision `selector` names, if its file exists; else 404 "invalid revision".
    pub fn resolve(&self, file: &FileName, selector: &Selector) -> Result<u64, DepotError> {
        let dir = self.dir(file);
        let rev = match selector.link() {
            None => match selector {
                Selector::Number(n) => Some(*n),
                _ => None,
            },
            Some(tag) => layout::read_tag(&dir, file.name(), tag)?,
        };
        match rev {
            Some(n) if self.revision_exists(&dir, file, n)? => Ok(n),
            _ => Err(DepotError::NotFound("invalid revision")),
        }
    }

    fn revision_exists(&self, dir: &Path, file: &FileName, n: u64) -> Result<bool, DepotError> {
        match fs::symlink_metadata(dir.join(layout::revision_file(file.name(), n))) {
            Ok(md) => Ok(md.is_file()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Open the revision `selector` names for reading.
    pub fn open_revision(
        &self,
        file: &FileName,
        selector: &Selector,
    ) -> Result<Opened, DepotError> {
        // A tag can move between resolving and opening; retry once on the
        // new target rather than answer 404 for a file that exists.
        let mut tries = 0;
        loop {
            let revision = self.resolve(file, selector)?;
            let path = self
                .dir(file)
                .join(layout::revision_file(file.name(), revision));
            match File::open(&path) {
                Ok(f) => {
                    let md = f.metadata()?;
                    return Ok(Opened {
                        file: f,
                        revision,
                        len: md.len(),
                        time: layout::mtime_secs(&md),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries == 0 => tries += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(DepotError::NotFound("invalid revision"));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Start a check-in of `file`: bytes go to a hidden temp file until
    /// [`Upload::commit`]. A group folder is made if needed.
    pub fn begin_upload(self: &Arc<Self>, file: &FileName) -> Result<Upload, DepotError> {
        let dir = self.dir(file);
        if file.group().is_some() {
            match fs::create_dir(&dir) {
                Ok(()) => layout::sync_dir(&self.root)?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if !fs::symlink_metadata(&dir)?.is_dir() {
                        return Err(DepotError::Conflict(
                            "a file has this group's name: it cannot be a group",
                        ));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        if fs::symlink_metadata(dir.join(file.name())).is_ok_and(|md| md.is_dir()) {
            return Err(DepotError::Conflict(
                "a group has this file's name: it cannot be a file",
            ));
        }
        Upload::start(self.clone(), file.clone(), dir)
    }

    pub(crate) fn check_if_match(
        dir: &Path,
        file: &FileName,
        if_match: Option<u64>,
    ) -> Result<(), DepotError> {
        if let Some(want) = if_match {
            let latest = layout::read_tag(dir, file.name(), LATEST)?;
            if latest != Some(want) {
                return Err(DepotError::PreconditionFailed { latest });
            }
        }
        Ok(())
    }

    /// Move `current` (and the `F` link) to the revision `selector` names.
    pub fn set_current(
        &self,
        file: &FileName,
        selector: &Selector,
        change: Change,
    ) -> Result<u64, DepotError> {
        let lock = self.file_lock(file);
        let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
        self.settle_log()?;
        let dir = self.dir(file);
        Self::check_if_match(&dir, file, change.if_match)?;
        let rev = self.resolve(file, selector)?;
        let target = layout::revision_file(file.name(), rev);
        let current = layout::tag_link(file.name(), CURRENT);
        layout::replace_links(&dir, &[&current, file.name()], &target)?;
        layout::sync_dir(&dir)?;
        self.record(file, Action::Current, Some(rev), None, change.user);
        Ok(rev)
    }

    /// Point user tag `tag` at the revision `at` names (at `current` when `None`).
    pub fn tag(
        &self,
        file: &FileName,
        tag: &str,
        at: Option<&Selector>,
        change: Change,
    ) -> Result<u64, DepotError> {
        names::check_tag(tag)?;
        let lock = self.file_lock(file);
        let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
        let dir = self.dir(file);
        Self::check_if_match(&dir, file, change.if_match)?;
        let rev = self.resolve(file, at.unwrap_or(&Selector::Current))?;
        let target = layout::revision_file(file.name(), rev);
        layout::replace_link(&dir, &layout::tag_link(file.name(), tag), &target)?;
        layout::sync_dir(&dir)?;
        self.record(
            file,
            Action::Tag,
            Some(rev),
            Some(tag.to_string()),
            change.user,
        );
        Ok(rev)
    }

    /// Delete a revision, a user tag, or the whole file.
    pub fn delete(
        &self,
        file: &FileName,
        target: &DeleteTarget,
        change: Change,
    ) -> Result<(), DepotError> {
        let lock = self.file_lock(file);
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        self.settle_log()?;
        let dir = self.dir(file);
        let name = file.name();
        Self::check_if_match(&dir, file, change.if_match)?;
        match target {
            DeleteTarget::Revision(n) => {
                let scan = layout::scan(&dir, name)?;
                if scan.link(CURRENT) == Some(*n) {
                    return Err(DepotError::Conflict("Cannot delete current"));
                }
                if scan.link(LATEST) == Some(*n) {
                    return Err(DepotError::Conflict("Cannot delete latest"));
                }
                if !scan.revisions.contains_key(n) {
                    return Err(DepotError::NotFound("invalid revision"));
                }
                remove_revision(&dir, name, *n, &scan)?;
                layout::sync_dir(&dir)?;
                self.record(file, Action::Delete, Some(*n), None, change.user);
            }
            DeleteTarget::Tag(tag) => {
                match tag.as_str() {
                    CURRENT => return Err(DepotError::Conflict("Cannot delete current")),
                    LATEST => return Err(DepotError::Conflict("Cannot delete latest")),
                    _ => {}
                }
                if !names::is_tag_text(tag) || tag.as_bytes()[0].is_ascii_digit() || tag == "all" {
                    return Err(DepotError::BadRequest("invalid tag name"));
                }
                let link = dir.join(layout::tag_link(name, tag));
                let rev = layout::read_tag(&dir, name, tag)?;
                if rev.is_none() || !layout::remove_if_present(&link)? {
                    return Err(DepotError::NotFound("invalid revision"));
                }
                layout::sync_dir(&dir)?;
                self.record(file, Action::Untag, rev, Some(tag.clone()), change.user);
            }
            DeleteTarget::All => {
                if layout::read_tag(&dir, name, CURRENT)?.is_none() {
                    return Err(DepotError::NotFound("Not found"));
                }
                // The plain name and `F~current` first: from then on the
                // file is out of the depot, even if a crash stops us here.
                let plain = dir.join(name);
                if fs::symlink_metadata(&plain).is_ok_and(|md| md.is_symlink()) {
                    layout::remove_if_present(&plain)?;
                }
                layout::remove_if_present(&dir.join(layout::tag_link(name, CURRENT)))?;
                let scan = layout::scan(&dir, name)?;
                for tag in scan.links.keys() {
                    layout::remove_if_present(&dir.join(layout::tag_link(name, tag)))?;
                }
                for n in scan.revisions.keys() {
                    layout::remove_if_present(&dir.join(layout::revision_file(name, *n)))?;
                }
                layout::sync_dir(&dir)?;
                // A file put there again starts afresh, as it would in a
                // folder this process never saw.
                state.highest = None;
                self.record(file, Action::DeleteAll, None, None, change.user);
            }
        }
        Ok(())
    }

    /// Depth pruning after a check-in (the file lock held): revisions
    /// numbered ≤ latest − depth go, with their user tags; never current
    /// or latest.
    pub(crate) fn prune(
        &self,
        dir: &Path,
        file: &FileName,
        user: &Option<String>,
    ) -> Result<(), DepotError> {
        let Some(depth) = self.options.depth else {
            return Ok(());
        };
        let name = file.name();
        let scan = layout::scan(dir, name)?;
        let Some(latest) = scan.link(LATEST) else {
            return Ok(());
        };
        let current = scan.link(CURRENT);
        let floor = latest.saturating_sub(u64::from(depth));
        let doomed: Vec<u64> = scan
            .revisions
            .range(..=floor)
            .map(|(n, _)| *n)
            .filter(|n| Some(*n) != current && *n != latest)
            .collect();
        if doomed.is_empty() {
            return Ok(());
        }
        for n in &doomed {
            remove_revision(dir, name, *n, &scan)?;
        }
        layout::sync_dir(dir)?;
        for n in doomed {
            self.record(file, Action::Prune, Some(n), None, user.clone());
        }
        Ok(())
    }
}

/// Remove revision `n` and the user tags on it (tags first: a tag never
/// points at nothing).
pub(crate) fn remove_revision(
    dir: &Path,
    name: &str,
    n: u64,
    scan: &layout::Scan,
) -> Result<(), DepotError> {
    for (tag, rev) in &scan.links {
        if *rev == n && tag != CURRENT && tag != LATEST {
            layout::remove_if_present(&dir.join(layout::tag_link(name, tag)))?;
        }
    }
    layout::remove_if_present(&dir.join(layout::revision_file(name, n)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_lists_and_prefixes() {
        let allow = Visibility::Allow(vec!["rail.".into(), "home".into()]);
        assert!(allow.shows("railway") && allow.shows("rail") && allow.shows("home"));
        assert!(!allow.shows("homes") && !allow.shows("x"));
        let deny = Visibility::Deny(vec!["secret".into()]);
        assert!(!deny.shows("secret") && deny.shows("secrets"));
        assert!(Visibility::All.shows("anything"));
    }

    #[test]
    fn selectors() {
        assert_eq!(Selector::parse("3"), Some(Selector::Number(3)));
        assert_eq!(Selector::parse("current"), Some(Selector::Current));
        assert_eq!(Selector::parse("latest"), Some(Selector::Latest));
        assert_eq!(Selector::parse("prod"), Some(Selector::Tag("prod".into())));
        assert_eq!(Selector::parse("3a"), None);
        assert_eq!(Selector::parse("a/b"), None);
        assert_eq!(Selector::parse(""), None);
    }
}
