//! Small files kept in memory, per worker thread, as nginx's
//! `open_file_cache` keeps descriptors: a hit costs one `fstatat(2)` instead
//! of open, stat, read and close. An entry is used only while the path still
//! names the same inode with the same size, mtime and ctime, so a file that
//! is changed, replaced, renamed over, chmod'ed or deleted is read afresh
//! (and a path that now leads elsewhere, a symlink out of the root say, goes
//! back through `open_beneath` and is refused there). Files changed within
//! the last two seconds are not kept: a write in the same timestamp tick as
//! our read could otherwise go unseen ("racy git"). Entries of a site that
//! a new config dropped stay until the worker's map next starts over.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// Files larger than this are read from disk each time.
pub(super) const MAX_FILE: u64 = 16 * 1024;
/// Entries per worker thread; past this the cache starts over.
const MAX_ENTRIES: usize = 256;
/// How old a change must be before the file is kept.
const SETTLED: Duration = Duration::from_secs(2);

/// What identifies one version of a file, from `stat(2)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    pub(super) fn of(meta: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// A regular file's identity from `fstatat`; `None` for anything else.
    pub(super) fn of_stat(st: &libc::stat) -> Option<Identity> {
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return None;
        }
        Some(Identity {
            dev: st.st_dev,
            ino: st.st_ino,
            size: u64::try_from(st.st_size).ok()?,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        })
    }

    fn settled(&self) -> bool {
        let changed = UNIX_EPOCH + Duration::from_secs(self.ctime.0.max(0) as u64);
        SystemTime::now()
            .duration_since(changed)
            .is_ok_and(|age| age >= SETTLED)
    }
}

/// A kept file: its bytes and what its answer needs besides.
#[derive(Clone)]
pub(super) struct Cached {
    pub identity: Identity,
    pub bytes: Bytes,
    pub modified: SystemTime,
    pub content_type: &'static str,
}

/// Tells one `Site` from another in the per-thread maps (a new config
/// builds new sites; their entries must not meet the old ones').
pub(super) fn new_site_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Per worker thread: site id -> relative path -> file. FNV, not SipHash:
/// the keys are files that exist under a site's root, which a client can
/// look up but not choose, so flooding has nothing to aim at.
#[derive(Default)]
struct Files {
    sites: HashMap<u64, HashMap<OsString, Cached, fnv::FnvBuildHasher>, fnv::FnvBuildHasher>,
    entries: usize,
}

thread_local! {
    static FILES: RefCell<Files> = RefCell::new(Files::default());
}

/// The kept copy of `relative`, to be checked with `Identity` before use.
pub(super) fn get(site: u64, relative: &Path) -> Option<Cached> {
    FILES.with_borrow(|files| files.sites.get(&site)?.get(relative.as_os_str()).cloned())
}

/// Keeps `cached` for `relative` when it is small and has not changed lately.
pub(super) fn put(site: u64, relative: &Path, cached: Cached) {
    if cached.identity.size > MAX_FILE
        || cached.bytes.len() as u64 != cached.identity.size
        || !cached.identity.settled()
    {
        return;
    }
    FILES.with_borrow_mut(|files| {
        if files.entries >= MAX_ENTRIES {
            *files = Files::default();
        }
        let site = files.sites.entry(site).or_default();
        if site
            .insert(relative.as_os_str().to_owned(), cached)
            .is_none()
        {
            files.entries += 1;
        }
    });
}
