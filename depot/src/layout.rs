//! The on-disk format, exactly HouseDepot's, so folders move both ways.
//!
//! A repository is a folder. File `F` (at the top or in one group folder)
//! is kept as regular files `F~1`, `F~2`, … (one a revision) and symbolic
//! links in the same folder: `F~current`, `F~latest`, `F~<tag>` for each
//! user tag, each pointing at an `F~N`, and `F` pointing at the current
//! revision so any static server serves current versions. A file without
//! `F~current` is not part of the depot. The engine writes RELATIVE links
//! (`F~current -> F~3`) so a folder can be moved; it reads absolute ones
//! too (older HouseDepot wrote them) by looking only at the target's last
//! component.
//!
//! Hidden entries (leading `.`) are never listed. The engine's own temp
//! files and links are hidden (`.F~tmp-<pid>-<n>`), so a crash never leaves
//! a visible partial file; [`clean_temps`] removes them when a repository
//! is opened.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

pub(crate) const CURRENT: &str = "current";
pub(crate) const LATEST: &str = "latest";
const TEMP_MARK: &str = "~tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `F~N`: revision `rev` of `name`.
pub(crate) fn revision_file(name: &str, rev: u64) -> String {
    format!("{name}~{rev}")
}

/// `F~tag`: the link for `tag` (`current`, `latest` or a user tag).
pub(crate) fn tag_link(name: &str, tag: &str) -> String {
    format!("{name}~{tag}")
}

/// A fresh hidden name for a temp file or link next to `name`:
/// `.F~tmp-<pid>-<run>-<n>`. The pid and this process's run stamp say
/// whose it is, so a repository opened again (new options, a second
/// process) removes only what a process that is gone left behind.
pub(crate) fn temp_name(name: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        ".{name}{TEMP_MARK}{}-{:x}-{n}",
        std::process::id(),
        run_stamp()
    )
}

/// Tells this run of the process from an earlier one with the same pid (a
/// container's pid 1 after a restart).
fn run_stamp() -> u64 {
    static STAMP: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *STAMP.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    })
}

/// Whether the writer of temp entry `entry` may still be at work: this
/// very run, or another process that is still alive.
fn writer_alive(entry: &str) -> bool {
    let Some((_, owner)) = entry.split_once(TEMP_MARK) else {
        return false;
    };
    let mut parts = owner.split('-');
    let (Some(pid), Some(run)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if pid == std::process::id() {
        return u64::from_str_radix(run, 16) == Ok(run_stamp());
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether a folder entry is one of the engine's temp files.
pub(crate) fn is_temp(entry: &str) -> bool {
    entry.starts_with('.') && entry.contains(TEMP_MARK)
}

/// `N` for a string of ASCII digits only.
pub(crate) fn parse_number(s: &str) -> Option<u64> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// The revision a link target names (`F~N`, relative or absolute).
pub(crate) fn target_revision(target: &Path, name: &str) -> Option<u64> {
    let last = target.file_name()?.to_str()?;
    parse_number(last.strip_prefix(name)?.strip_prefix('~')?)
}

/// The revision `F~tag` points at; `None` when there is no such link.
pub(crate) fn read_tag(dir: &Path, name: &str, tag: &str) -> io::Result<Option<u64>> {
    match fs::read_link(dir.join(tag_link(name, tag))) {
        Ok(target) => Ok(target_revision(&target, name)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        // A regular file where a link was expected: not a tag.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A revision file's facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RevisionInfo {
    /// Its mtime, unix seconds.
    pub(crate) time: i64,
}

/// Everything on disk about one file.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) revisions: BTreeMap<u64, RevisionInfo>,
    /// Every `F~<tag>` link whose target reads as a revision, `current`
    /// and `latest` included.
    pub(crate) links: BTreeMap<String, u64>,
}

impl Scan {
    pub(crate) fn link(&self, tag: &str) -> Option<u64> {
        self.links.get(tag).copied()
    }
}

pub(crate) fn mtime_secs(md: &fs::Metadata) -> i64 {
    match md.modified().map(|t| t.duration_since(UNIX_EPOCH)) {
        Ok(Ok(d)) => d.as_secs() as i64,
        Ok(Err(before)) => -(before.duration().as_secs() as i64),
        Err(_) => 0,
    }
}

/// Read `dir` for `name`'s revisions and links. A missing folder is an
/// empty scan.
pub(crate) fn scan(dir: &Path, name: &str) -> io::Result<Scan> {
    let mut out = Scan::default();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    let prefix = format!("{name}~");
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(suffix) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let kind = entry.file_type()?;
        if let Some(n) = parse_number(suffix) {
            if kind.is_file() {
                let md = entry.metadata()?;
                out.revisions.insert(
                    n,
                    RevisionInfo {
                        time: mtime_secs(&md),
                    },
                );
            }
        } else if kind.is_symlink()
            && !suffix.contains('~')
            && let Some(n) = target_revision(&fs::read_link(entry.path())?, name)
        {
            out.links.insert(suffix.to_string(), n);
        }
    }
    Ok(out)
}

/// The highest revision number `name` has used that the folder still
/// shows, by a revision file or a tag naming one: entry names and a few
/// link reads, never a file's metadata.
pub(crate) fn highest_number(dir: &Path, name: &str) -> io::Result<u64> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let prefix = format!("{name}~");
    let mut highest = 0;
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(suffix) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let number = match parse_number(suffix) {
            Some(n) => Some(n),
            None if !suffix.contains('~') && entry.file_type()?.is_symlink() => {
                target_revision(&fs::read_link(entry.path())?, name)
            }
            None => None,
        };
        highest = highest.max(number.unwrap_or(0));
    }
    Ok(highest)
}

/// Point `dir/link` at `target` atomically: the new link is made under a
/// hidden name, then renamed over the old one, so a reader sees the old
/// link or the new one, never none.
pub(crate) fn replace_link(dir: &Path, link: &str, target: &str) -> io::Result<()> {
    replace_links(dir, &[link], target)
}

/// Point every one of `links` at `target`, each atomically (as
/// `replace_link`), with one symbolic link made and hard-linked under the
/// other names: to a reader each name is a symbolic link to `target`, as
/// HouseDepot writes them, but a check-in (`F~latest`, `F~current`, `F`)
/// allocates one inode, not three. Where inodes are dear — ext4 without a
/// journal scans past every recently freed inode for a new one — that is
/// most of a check-in's time.
pub(crate) fn replace_links(dir: &Path, links: &[&str], target: &str) -> io::Result<()> {
    let Some((last, others)) = links.split_last() else {
        return Ok(());
    };
    let made = dir.join(temp_name(last));
    std::os::unix::fs::symlink(target, &made)?;
    let placed = (|| {
        for link in others {
            // `link(2)` names the symbolic link itself, not its target.
            let name = dir.join(temp_name(link));
            fs::hard_link(&made, &name)?;
            if let Err(e) = fs::rename(&name, dir.join(link)) {
                let _ = fs::remove_file(&name);
                return Err(e);
            }
        }
        fs::rename(&made, dir.join(last))
    })();
    if placed.is_err() {
        let _ = fs::remove_file(&made);
    }
    placed
}

/// Remove `path` if it is there.
pub(crate) fn remove_if_present(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Make the folder's entries (new names, renames, removals) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// `create_dir_all`, and each folder it made is made durable in its
/// parent: a check-in through the log fsyncs nothing, and neither replay
/// nor the log itself is found in a folder a power cut lost.
pub(crate) fn create_dirs_durably(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at
        && !d.exists()
    {
        missing.push(d);
        at = d.parent();
    }
    fs::create_dir_all(dir)?;
    for made in missing.iter().rev() {
        match made.parent() {
            // `data` (relative): its parent is the working folder.
            Some(parent) if parent.as_os_str().is_empty() => sync_dir(Path::new("."))?,
            Some(parent) => sync_dir(parent)?,
            None => {}
        }
    }
    Ok(())
}

/// Whether file `path` holds exactly `body`; a missing file holds none.
/// One byte more than `body` is read, so a longer file is told apart
/// without reading it whole.
pub(crate) fn holds_bytes(path: &Path, body: &[u8]) -> io::Result<bool> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut read = Vec::with_capacity(body.len() + 1);
    file.take(body.len() as u64 + 1).read_to_end(&mut read)?;
    Ok(read == body)
}

/// A listed file: its name, current revision and that revision's time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) revision: u64,
    pub(crate) time: i64,
}

/// The depot files of one folder (those with an `F~current` link whose
/// revision file exists), sorted by name.
pub(crate) fn files(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(name) = file_name
            .to_str()
            .and_then(|f| f.strip_suffix(&format!("~{CURRENT}")))
        else {
            continue;
        };
        if name.is_empty() || name.starts_with('.') || name.contains('~') {
            continue;
        }
        if !entry.file_type()?.is_symlink() {
            continue;
        }
        let Some(revision) = target_revision(&fs::read_link(entry.path())?, name) else {
            continue;
        };
        let Ok(md) = fs::symlink_metadata(dir.join(revision_file(name, revision))) else {
            continue;
        };
        if md.is_file() {
            out.push(Entry {
                name: name.to_string(),
                revision,
                time: mtime_secs(&md),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The group folders of a repository: its non-hidden sub-folders, sorted.
pub(crate) fn groups(root: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if let Some(name) = entry.file_name().to_str()
            && !name.starts_with('.')
            && !name.contains('~')
        {
            out.push(name.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// Remove the temp files a crashed writer left, at the top and in groups;
/// a live writer's (an upload under way) stay.
pub(crate) fn clean_temps(root: &Path) -> io::Result<()> {
    let mut dirs = vec![root.to_path_buf()];
    for g in groups(root)? {
        dirs.push(root.join(g));
    }
    for dir in dirs {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let stale = entry
                .file_name()
                .to_str()
                .is_some_and(|name| is_temp(name) && !writer_alive(name));
            if stale && !entry.file_type()?.is_dir() {
                remove_if_present(&entry.path())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn names_and_targets() {
        assert_eq!(revision_file("f.json", 3), "f.json~3");
        assert_eq!(tag_link("f.json", "prod"), "f.json~prod");
        let t = temp_name("f");
        assert!(t.starts_with(".f~tmp-") && is_temp(&t), "{t}");
        assert!(writer_alive(&t), "this run's own temp is live");
        let earlier_run = format!(".f~tmp-{}-1-0", std::process::id());
        assert!(
            !writer_alive(&earlier_run),
            "an earlier run with this pid is gone"
        );
        assert!(!writer_alive(".f~tmp-4294967295-1-0"), "no such process");
        assert!(!is_temp("f~1"));
        assert_eq!(target_revision(Path::new("f~12"), "f"), Some(12));
        assert_eq!(
            target_revision(&PathBuf::from("/var/lib/depot/r/f~7"), "f"),
            Some(7)
        );
        assert_eq!(target_revision(Path::new("g~1"), "f"), None);
        assert_eq!(target_revision(Path::new("f~x"), "f"), None);
        assert_eq!(parse_number("012"), Some(12));
        assert_eq!(parse_number("1a"), None);
        assert_eq!(parse_number(""), None);
    }
}
