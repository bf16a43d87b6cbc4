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

use crate::error::DepotError;
use crate::journal::Action;
use crate::layout::{self, CURRENT, LATEST};
use crate::names::FileName;
use crate::store::Repo;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

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
        Ok(Upload {
            repo,
            file,
            dir,
            temp,
            state: State::Open(out),
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
        if let Some(t) = options.time {
            out.set_modified(UNIX_EPOCH + Duration::from_secs(t))?;
        }
        out.sync_all()?;
        drop(out);

        let repo = self.repo.clone();
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
        if let Some(latest) = latest
            && same_bytes(&self.temp, &dir.join(layout::revision_file(&name, latest)))?
        {
            return Ok(Committed {
                revision: latest,
                created: false,
            });
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
        loop {
            match fs::hard_link(&self.temp, dir.join(layout::revision_file(&name, revision))) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => revision += 1,
                Err(e) => return Err(e.into()),
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
            layout::sync_dir(&dir)
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
            let _ = layout::sync_dir(&dir);
            return Err(e.into());
        }
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
