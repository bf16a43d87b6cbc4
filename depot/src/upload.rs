//! A check-in as a stream: the body goes to a hidden temp file as it comes
//! (bounded by the repository's `max_file_size`), and only
//! [`Upload::commit`] makes it a revision — durably and atomically:
//!
//! 1. fsync the temp file (its mtime set first when a time is given);
//! 2. under the file's lock, compare with `latest`: equal bytes make no
//!    revision (HouseDepot compares with latest, not current);
//! 3. `link(2)` the temp file to `F~N`, N = highest + 1 (from entry
//!    names and tag links, no file's metadata); `link` never overwrites,
//!    so if another process took N we take N+1;
//! 4. replace `F~latest` (and, unless staged, `F~current` and `F`) by
//!    renaming a new link over each;
//! 5. fsync the folder, then answer.
//!
//! A crash before 5 leaves either nothing visible or a complete revision;
//! an error in 4 or 5 puts the links back and removes the revision (the
//! client was not told it exists); an `Upload` dropped without commit
//! removes its temp file.
//!
//! In a repository with a log ([`crate::wal`]) a body of at most
//! [`MAX_LOGGED_BODY`] skips both fsyncs: between 2 and 3 its record (the
//! bytes, N and the flags) is written to the log and `fdatasync`ed, one
//! flush; a number taken meanwhile voids the record and the next is
//! logged. After a crash, replay puts back whatever of 3 and 4 was lost.

use crate::error::DepotError;
use crate::journal::Action;
use crate::layout::{self, CURRENT, LATEST};
use crate::names::FileName;
use crate::store::Repo;
use crate::wal::{MAX_LOGGED_BODY, Revision};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a check-in is committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitOptions {
    /// The revision's time (unix seconds, `?time=`); now when `None`.
    pub time: Option<u64>,
    /// `true`: the revision becomes `current` too. `false` stages it
    /// (`?current=false`): only `latest` moves; `POST ?revision=latest`
    /// makes it current later.
    pub make_current: bool,
    /// Refuse (412) unless the file's LATEST revision is this one.
    pub if_match: Option<u64>,
    /// Recorded in the audit event.
    pub user: Option<String>,
}

impl Default for CommitOptions {
    fn default() -> Self {
        Self {
            time: None,
            make_current: true,
            if_match: None,
            user: None,
        }
    }
}

/// What a commit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The new revision, or `latest` when nothing changed.
    pub revision: u64,
    /// `false` when the bytes equal latest's and no revision was made.
    pub created: bool,
}

#[derive(Debug)]
enum State {
    Open(File),
    TooLarge,
    Failed,
}

/// A check-in under way; see the module's documentation.
#[derive(Debug)]
pub struct Upload {
    repo: Arc<Repo>,
    file: FileName,
    dir: PathBuf,
    temp: PathBuf,
    state: State,
    /// The bytes so far, while they may still go into the log.
    copy: Option<Vec<u8>>,
    written: u64,
    limit: u64,
    done: bool,
}

impl Upload {
    pub(crate) fn start(
        repo: Arc<Repo>,
        file: FileName,
        dir: PathBuf,
    ) -> Result<Upload, DepotError> {
        let temp = dir.join(layout::temp_name(file.name()));
        let out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        let limit = repo.options().max_file_size;
        let copy = repo.logged_folder(&file).map(|_| Vec::new());
        Ok(Upload {
            repo,
            file,
            dir,
            temp,
            state: State::Open(out),
            copy,
            written: 0,
            limit,
            done: false,
        })
    }

    /// The file being checked in.
    pub fn file(&self) -> &FileName {
        &self.file
    }

    /// Bytes taken so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The most bytes this upload may take.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Append `buf`. Past the limit: [`DepotError::TooLarge`] and the temp
    /// file is gone; so is it after any I/O error (507 for a full disk).
    pub fn write_all(&mut self, buf: &[u8]) -> Result<(), DepotError> {
        let out = match &mut self.state {
            State::Open(out) => out,
            State::TooLarge => return Err(DepotError::TooLarge { limit: self.limit }),
            State::Failed => {
                return Err(DepotError::Io(io::Error::other(
                    "the upload failed earlier",
                )));
            }
        };
        if self.written + buf.len() as u64 > self.limit {
            self.discard(State::TooLarge);
            return Err(DepotError::TooLarge { limit: self.limit });
        }
        if let Err(e) = out.write_all(buf) {
            self.discard(State::Failed);
            return Err(e.into());
        }
        if let Some(copy) = &mut self.copy {
            if copy.len() + buf.len() <= MAX_LOGGED_BODY {
                copy.extend_from_slice(buf);
            } else {
                self.copy = None;
            }
        }
        self.written += buf.len() as u64;
        Ok(())
    }

    fn discard(&mut self, state: State) {
        self.state = state;
        let _ = fs::remove_file(&self.temp);
    }

    /// Make the bytes a revision (see the module's documentation); returns
    /// once it is durable.
    pub fn commit(mut self, options: CommitOptions) -> Result<Committed, DepotError> {
        let out = match std::mem::replace(&mut self.state, State::Failed) {
            State::Open(out) => out,
            State::TooLarge => return Err(DepotError::TooLarge { limit: self.limit }),
            State::Failed => {
                return Err(DepotError::Io(io::Error::other(
                    "the upload failed earlier",
                )));
            }
        };
        let repo = self.repo.clone();
        // A small body goes into the log (one flush); a large one, or a
        // repository without a log, is fsynced where it lies.
        let logged = match (repo.logged_folder(&self.file), self.copy.take()) {
            (Some((wal, folder)), Some(body)) => Some((wal.clone(), folder, body)),
            _ => None,
        };
        let mtime = match options.time {
            Some(t) => {
                out.set_modified(UNIX_EPOCH + Duration::from_secs(t))?;
                t as i64
            }
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        };
        if logged.is_none() {
            out.sync_all()?;
        }
        drop(out);

        let lock = repo.file_lock(&self.file);
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        let name = self.file.name().to_string();
        let dir = self.dir.clone();
        Repo::check_if_match(&dir, &self.file, options.if_match)?;
        // Links and entry names say all a check-in needs: no revision's
        // metadata is read (thousands of revisions would cost each PUT a
        // `statx` apiece).
        let latest = layout::read_tag(&dir, &name, LATEST)?;
        let current = layout::read_tag(&dir, &name, CURRENT)?;
        if let Some(latest) = latest {
            let latest_file = dir.join(layout::revision_file(&name, latest));
            let same = match &logged {
                Some((_, _, body)) => layout::holds_bytes(&latest_file, body)?,
                None => same_bytes(&self.temp, &latest_file)?,
            };
            if same {
                return Ok(Committed {
                    revision: latest,
                    created: false,
                });
            }
        }
        // Numbers only grow: past every revision file and every tag the
        // folder shows (a HouseDepot folder may hold a tag whose file was
        // removed by hand), scanned once per file, then remembered; and
        // past `latest`, read afresh, which no other writer can lower. A
        // number taken meanwhile (another `Repo` on this folder, a crashed
        // check-in's revision) makes `link` fail, and the next is tried.
        let highest = match state.highest {
            Some(highest) => highest,
            None => layout::highest_number(&dir, &name)?,
        };
        let mut revision = highest.max(latest.unwrap_or(0)) + 1;
        // Logged: the record first, then the names; checkpoints wait until
        // the names are in place.
        let entry = match &logged {
            Some((wal, _, body)) => Some(wal.enter(body.len())?),
            None => None,
        };
        let mut seq = None;
        loop {
            if let (Some(entry), Some((_, folder, body))) = (&entry, &logged) {
                seq = Some(entry.log(Revision {
                    folder: folder.clone(),
                    name: name.clone(),
                    revision,
                    make_current: options.make_current,
                    mtime,
                    body: body.clone(),
                })?);
            }
            match fs::hard_link(&self.temp, dir.join(layout::revision_file(&name, revision))) {
                Ok(()) => break,
                Err(e) => {
                    if let (Some(entry), Some(seq)) = (&entry, seq) {
                        entry.void(seq)?;
                    }
                    if e.kind() != io::ErrorKind::AlreadyExists {
                        return Err(e.into());
                    }
                    revision += 1;
                }
            }
        }
        state.highest = Some(revision);
        // The revision is in place; the temp name is no longer needed.
        let _ = fs::remove_file(&self.temp);
        self.done = true;
        let target = layout::revision_file(&name, revision);
        let moved = (|| -> io::Result<()> {
            let (latest, current) = (
                layout::tag_link(&name, LATEST),
                layout::tag_link(&name, CURRENT),
            );
            if options.make_current {
                layout::replace_links(&dir, &[&latest, &current, &name], &target)?;
            } else {
                layout::replace_link(&dir, &latest, &target)?;
            }
            match entry {
                // The log holds it; the next checkpoint makes the names durable.
                Some(_) => Ok(()),
                None => layout::sync_dir(&dir),
            }
        })();
        if let Err(e) = moved {
            // Not acknowledged, so not kept: put the links back where they
            // were and remove the revision (best effort; a full disk still
            // lets names be removed).
            let before = [
                (layout::tag_link(&name, LATEST), latest),
                (layout::tag_link(&name, CURRENT), current),
                (name.clone(), current),
            ];
            for (link, old) in before {
                let _ = match old {
                    Some(n) => layout::replace_link(&dir, &link, &layout::revision_file(&name, n)),
                    None => layout::remove_if_present(&dir.join(&link)).map(drop),
                };
            }
            let _ = layout::remove_if_present(&dir.join(&target));
            if let (Some(entry), Some(seq)) = (&entry, seq) {
                let _ = entry.void(seq);
            }
            let _ = layout::sync_dir(&dir);
            return Err(e.into());
        }
        drop(entry);
        repo.record(
            &self.file,
            Action::Checkin,
            Some(revision),
            None,
            options.user.clone(),
        );
        repo.prune(&dir, &self.file, &options.user)?;
        Ok(Committed {
            revision,
            created: true,
        })
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Whether two files hold the same bytes; a missing `b` holds none.
fn same_bytes(a: &std::path::Path, b: &std::path::Path) -> io::Result<bool> {
    let mut fa = File::open(a)?;
    let mut fb = match File::open(b) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
