//! The write-ahead log: a small check-in is durable after ONE flush of the
//! disk instead of two.
//!
//! Without it a check-in makes its bytes durable (fsync of the temp file)
//! and then its names (fsync of the folder): two flushes, each a round
//! trip to the disk, the second waiting for the first. With it the
//! check-in writes one record — folder, file, revision, flags and the bytes
//! — into a log file that was filled and fsynced when it was made, and
//! `fdatasync`s that: an overwrite inside allocated blocks, so one data
//! write and one flush, and nothing of the file system's metadata. The
//! revision is then put in place in the folder exactly as before (temp
//! file, link `F~N`, links renamed over), without fsync, and the client is
//! answered. Databases do the same (PostgreSQL's WAL, SQLite's journal).
//!
//! What makes that safe:
//! - **Replay.** When the proxy starts, before any repository is served,
//!   every record the last checkpoint did not cover is applied again: the
//!   revision file is rewritten (durably) unless it holds the record's
//!   bytes, and `latest`, `current` and `F` are moved forward to it — never
//!   back. A record is applied only when its checksum holds and it carries
//!   this log's current key (below), so a torn last record is ignored: its
//!   check-in was never answered.
//! - **Checkpoints.** A checkpoint `syncfs`es the data dir's file system
//!   while check-ins go on, then waits for the check-ins between their
//!   record and their links, holds new ones, and `syncfs`es again (only
//!   what was dirtied meanwhile: everything the records describe is now
//!   durable where it lies), then starts the log over with a new random
//!   key. It runs once a second while records come, when
//!   the log is three quarters full, when the proxy stops, and before
//!   moving `current` or deleting: replay only ever moves links forward,
//!   so a rollback must never find older records behind it. (Tags need
//!   none: replay leaves them alone.)
//! - **Errors.** After a failed write or sync of the log or a failed
//!   `syncfs` (which Linux reports from 5.8 on), the log takes no more
//!   check-ins, moves of `current` nor deletes, and never starts over
//!   (Linux reports a failed writeback once): the next start replays.
//!   Reads go on.
//! - **Depth.** Pruning after a check-in is not logged: replay brings a
//!   pruned revision back, whole, and the file's next check-in prunes it
//!   again. Replay never removes anything.
//! - **A key per lap.** Each record carries the key the header had when it
//!   was written; the header gets a new random key at every checkpoint. A
//!   record of an earlier lap, or a body that happens to look like a
//!   record (a client could upload one), never has the current key, so
//!   replay stops there.
//! - **One writer.** The data dir is locked (`flock`) while a process has
//!   it: a second proxy on the same data dir refuses to start and says so.
//! - **Made whole or not at all.** A new log is filled and fsynced under a
//!   temp name, then renamed into place.
//!
//! Bodies larger than [`MAX_LOGGED_BODY`] and check-ins in a repository
//! opened without a log take the two-flush path. Either way a check-in is
//! answered only once it is durable; a folder is HouseDepot's layout as
//! soon as the check-in is answered (the log only repairs what a crash
//! lost), and a proxy stopped cleanly leaves the log empty.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::layout::{self, CURRENT, LATEST};
use crate::store::FileLocks;

/// The log's name in the data dir (a namespace can never start with `.`).
pub const LOG_NAME: &str = ".gatehouse-depot.wal";

/// The largest body a check-in writes into the log; larger ones are
/// fsynced where they lie (a log record would only copy them once more).
pub const MAX_LOGGED_BODY: usize = 64 * 1024;

/// The log's size: records wrap to the start after a checkpoint.
pub const LOG_BYTES: u64 = 16 << 20;
/// The header: magic, version, key, crc; records start after it.
const HEADER_BYTES: u64 = 4096;
const HEADER_MAGIC: &[u8; 8] = b"GHDEPWAL";
const VERSION: u32 = 1;
const RECORD_MAGIC: u32 = 0x4C41_5747; // "GWAL"
/// magic, payload length, crc32 of the payload.
const RECORD_HEAD: usize = 12;
/// How often records are checkpointed while they come.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

const KIND_REVISION: u8 = 1;
const KIND_VOID: u8 = 2;

/// A check-in, as the log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Revision {
    /// The folder, relative to the data dir (`ns/repo` or `ns/repo/group`).
    pub(crate) folder: String,
    /// The file's name in it.
    pub(crate) name: String,
    pub(crate) revision: u64,
    pub(crate) make_current: bool,
    /// The revision's mtime, unix seconds.
    pub(crate) mtime: i64,
    pub(crate) body: Vec<u8>,
}

#[derive(Debug)]
enum Record {
    Revision(Revision),
    /// The record with this seq is void: its check-in did not happen.
    Void(u64),
}

/// What replay did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Records found after the last checkpoint.
    pub records: usize,
    /// Revision files written again (their bytes were lost or torn).
    pub rewritten: usize,
    /// Links moved forward (`latest`, `current`, `F`).
    pub links_moved: usize,
    /// Records skipped: their repository's folder is gone.
    pub skipped: usize,
}

struct Tail {
    key: u64,
    next_seq: u64,
    offset: u64,
    /// Records written since the last checkpoint.
    pending: u64,
}

/// The log of one data dir; see the module's documentation.
pub struct Wal {
    data_dir: PathBuf,
    file: File,
    /// The data dir, `flock`ed while the log is open, and for `syncfs`.
    dir: File,
    size: u64,
    tail: Mutex<Tail>,
    /// Every record with a lower seq is durable.
    synced: Mutex<u64>,
    /// Held shared by a check-in from its record to its last link;
    /// exclusively by a checkpoint.
    gate: RwLock<()>,
    stop: Arc<(Mutex<bool>, Condvar)>,
    /// Off: only the checkpoints a full log or a change needs run (tests
    /// leave records behind, as a crash would).
    timed: std::sync::atomic::AtomicBool,
    /// Why the log stopped taking check-ins (see `fail_on`).
    broken: Mutex<Option<String>>,
    locks: Arc<FileLocks>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

/// A check-in's hold on the log: checkpoints wait until it is dropped.
pub(crate) struct Entry<'a> {
    wal: &'a Wal,
    _held: RwLockReadGuard<'a, ()>,
}

impl Wal {
    /// Open (making it if needed) the log of `data_dir`, replay what the
    /// last run left in it, and start the checkpoints. A file system with
    /// no room for a new log is `ErrorKind::StorageFull` (and no log is
    /// left behind): check-ins can go without one.
    pub fn open(data_dir: &Path) -> io::Result<(Arc<Wal>, Replayed)> {
        layout::create_dirs_durably(data_dir)?;
        let dir = lock_data_dir(data_dir)?;
        let path = data_dir.join(LOG_NAME);
        let (file, bytes) = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(mut file) => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)?;
                if bytes.is_empty() {
                    // Emptied by hand: nothing to replay, a whole new log.
                    (make_log(data_dir, &dir)?, bytes)
                } else {
                    (file, bytes)
                }
            }
            // Only here is a full disk `StorageFull`: no log yet, nothing
            // to replay, so going without one loses nothing.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                (make_log(data_dir, &dir)?, Vec::new())
            }
            Err(e) => return Err(e),
        };
        // From here on every error stops the start: what the log holds
        // must be replayed before anything is served.
        let fatal =
            |what: &str, e: io::Error| io::Error::other(format!("{what} {}: {e}", path.display()));
        let replayed = if bytes.is_empty() {
            Replayed::default()
        } else {
            let key = read_header(&bytes).ok_or_else(|| {
                io::Error::other(format!(
                    "{} is not a Gatehouse depot log or its header is damaged; \
                     move it away to start (check-ins since the last checkpoint \
                     would not be replayed)",
                    path.display()
                ))
            })?;
            let records = read_records(&bytes, key);
            let replayed = replay(data_dir, &records).map_err(|e| fatal("replaying", e))?;
            if replayed.records > 0 {
                syncfs(&dir).map_err(|e| fatal("making the replay of", e))?;
            }
            replayed
        };
        // A log made larger by another version is kept as it is.
        let size = LOG_BYTES.max(bytes.len() as u64);
        let wal = Arc::new(Wal {
            data_dir: data_dir.to_path_buf(),
            file,
            dir,
            size,
            tail: Mutex::new(Tail {
                key: 0,
                next_seq: 1,
                offset: HEADER_BYTES,
                pending: 0,
            }),
            synced: Mutex::new(0),
            gate: RwLock::new(()),
            stop: Arc::new((Mutex::new(false), Condvar::new())),
            timed: std::sync::atomic::AtomicBool::new(true),
            broken: Mutex::new(None),
            locks: Arc::default(),
        });
        if !bytes.is_empty() && (bytes.len() as u64) < size {
            fill(&wal.file, bytes.len() as u64, size).map_err(|e| fatal("extending", e))?;
        }
        wal.start_over(&mut lock(&wal.tail))
            .map_err(|e| fatal("starting over", e))?;
        spawn_checkpointer(&wal);
        Ok((wal, replayed))
    }

    /// No checkpoint once a second nor when the log is dropped: what is
    /// logged stays for the next open to replay, as after a crash. For
    /// tests of replay.
    #[doc(hidden)]
    pub fn leave_records_for_replay(&self) {
        self.timed.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    fn timed(&self) -> bool {
        self.timed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The data dir the log belongs to.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A new key in the header, durably: every record written before is
    /// from now on not replayed.
    fn start_over(&self, tail: &mut Tail) -> io::Result<()> {
        let key = new_key(tail.key);
        self.fail_on(write_header(&self.file, key))?;
        tail.key = key;
        tail.offset = HEADER_BYTES;
        tail.pending = 0;
        Ok(())
    }

    /// After an error writing the log or syncing the data, nothing it
    /// says can be trusted to be on disk (Linux reports a failed
    /// writeback once, then calls the pages clean): no more check-ins
    /// through it and no more starting over; the next start replays.
    fn fail_on<T>(&self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            let mut broken = lock(&self.broken);
            if broken.is_none() {
                eprintln!(
                    "gatehouse-depot: the log {} failed ({e}): check-ins, moves of current and \
                     deletes are refused until a restart replays it",
                    self.data_dir.join(LOG_NAME).display()
                );
                *broken = Some(e.to_string());
            }
        }
        result
    }

    fn working(&self) -> io::Result<()> {
        match &*lock(&self.broken) {
            None => Ok(()),
            Some(why) => Err(io::Error::other(format!(
                "the depot log {} failed earlier ({why}): check the disk, then restart \
                 the proxy, which replays it",
                self.data_dir.join(LOG_NAME).display()
            ))),
        }
    }

    /// The per-file locks of every repository under this log.
    pub(crate) fn file_locks(&self) -> &Arc<FileLocks> {
        &self.locks
    }

    /// Hold the log for one check-in (after its file's lock is taken);
    /// checkpoints when the log is three quarters full.
    pub(crate) fn enter(&self, body_len: usize) -> io::Result<Entry<'_>> {
        let need = (RECORD_HEAD + 64 + body_len) as u64;
        // Past three quarters, a checkpoint first: the last quarter is room
        // for the check-ins that passed this test at the same time.
        let room = (self.size - HEADER_BYTES) * 3 / 4;
        loop {
            self.working()?;
            let held = self.gate.read().unwrap_or_else(|e| e.into_inner());
            if lock(&self.tail).offset - HEADER_BYTES + need <= room {
                return Ok(Entry {
                    wal: self,
                    _held: held,
                });
            }
            drop(held);
            self.checkpoint()?;
        }
    }

    /// Make everything the records describe durable where it lies, and
    /// start the log over. Waits for the check-ins under way.
    pub fn checkpoint(&self) -> io::Result<()> {
        if !self.has_pending() {
            return Ok(());
        }
        self.working()?;
        // Most of the writing first, while check-ins go on; then, with
        // them held, only what they dirtied meanwhile: a pause of a
        // fraction of the whole.
        self.fail_on(syncfs(&self.dir))?;
        let _all = self.gate.write().unwrap_or_else(|e| e.into_inner());
        let mut tail = lock(&self.tail);
        if tail.pending == 0 {
            return Ok(());
        }
        self.working()?;
        self.fail_on(syncfs(&self.dir))?;
        self.start_over(&mut tail)
    }

    /// Whether records wait for a checkpoint.
    pub(crate) fn has_pending(&self) -> bool {
        lock(&self.tail).pending > 0
    }

    fn append(&self, record: &Record) -> io::Result<u64> {
        let mut tail = lock(&self.tail);
        let seq = tail.next_seq;
        let bytes = encode(record, seq, tail.key);
        if tail.offset + bytes.len() as u64 > self.size {
            return Err(io::Error::other("the depot log is full"));
        }
        self.fail_on(self.file.write_all_at(&bytes, tail.offset))?;
        tail.offset += bytes.len() as u64;
        tail.next_seq += 1;
        tail.pending += 1;
        Ok(seq)
    }

    /// Every record up to `seq` durable: one `fdatasync` serves every
    /// check-in whose record was written before it began (group commit).
    fn sync_to(&self, seq: u64) -> io::Result<()> {
        let mut synced = lock(&self.synced);
        if *synced >= seq {
            return Ok(());
        }
        let written = lock(&self.tail).next_seq - 1;
        self.working()?;
        self.fail_on(self.file.sync_data())?;
        *synced = written;
        Ok(())
    }
}

impl Entry<'_> {
    /// Writes the check-in's record and waits until it is durable; returns
    /// its seq (to void it if the check-in fails after all).
    pub(crate) fn log(&self, revision: Revision) -> io::Result<u64> {
        let seq = self.wal.append(&Record::Revision(revision))?;
        self.wal.sync_to(seq)?;
        Ok(seq)
    }

    /// The check-in of record `seq` did not happen: replay must skip it.
    pub(crate) fn void(&self, seq: u64) -> io::Result<()> {
        let at = self.wal.append(&Record::Void(seq))?;
        self.wal.sync_to(at)
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *lock(stopped) = true;
        wake.notify_all();
        if !self.timed() {
            return;
        }
        if let Err(e) = self.checkpoint() {
            eprintln!(
                "gatehouse-depot: log {}: the last checkpoint failed ({e}); the next start replays it",
                self.data_dir.join(LOG_NAME).display()
            );
        }
    }
}

/// A new log, zero-filled and fsynced under a temp name, then renamed into
/// place: a crash while it is made leaves no log without a header.
fn make_log(data_dir: &Path, dir: &File) -> io::Result<File> {
    let temp = data_dir.join(format!("{LOG_NAME}.new"));
    let made = (|| {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        fill(&file, 0, LOG_BYTES)?;
        write_header(&file, new_key(0))?;
        fs::rename(&temp, data_dir.join(LOG_NAME))?;
        dir.sync_all()?;
        Ok(file)
    })();
    if made.is_err() {
        let _ = fs::remove_file(&temp);
    }
    made
}

/// Zeroes from `from` to `size`, durably: later records are overwrites of
/// allocated blocks, which `fdatasync` flushes without touching the file
/// system's metadata.
fn fill(file: &File, from: u64, size: u64) -> io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = from;
    while at < size {
        let n = (size - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_all()
}

fn write_header(file: &File, key: u64) -> io::Result<()> {
    let mut header = [0u8; 512];
    header[..8].copy_from_slice(HEADER_MAGIC);
    header[8..12].copy_from_slice(&VERSION.to_le_bytes());
    header[12..20].copy_from_slice(&key.to_le_bytes());
    let crc = crc32(&header[..20]);
    header[20..24].copy_from_slice(&crc.to_le_bytes());
    file.write_all_at(&header, 0)?;
    file.sync_data()
}

/// Checkpoints once a second while records come; ends with the log.
fn spawn_checkpointer(wal: &Arc<Wal>) {
    let weak: Weak<Wal> = Arc::downgrade(wal);
    let stop = wal.stop.clone();
    let spawned = std::thread::Builder::new()
        .name("depot-checkpoint".into())
        .spawn(move || {
            let (stopped, wake) = &*stop;
            loop {
                let guard = lock(stopped);
                let (guard, _) = wake
                    .wait_timeout(guard, CHECKPOINT_EVERY)
                    .unwrap_or_else(|e| e.into_inner());
                if *guard {
                    return;
                }
                drop(guard);
                let Some(wal) = weak.upgrade() else { return };
                if wal.timed()
                    && wal.has_pending()
                    && wal.working().is_ok()
                    && let Err(e) = wal.checkpoint()
                {
                    warn_checkpoint_failed(&wal, &e);
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!(
            "gatehouse-depot: no checkpoint thread ({e}); checkpoints run when the log fills"
        );
    }
}

fn warn_checkpoint_failed(wal: &Wal, e: &io::Error) {
    // The engine has no logger of its own; stderr reaches the proxy's log.
    eprintln!(
        "gatehouse-depot: log {}: checkpoint failed ({e}); retrying in a second",
        wal.data_dir.join(LOG_NAME).display()
    );
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The data dir's lock: one process at a time keeps depot data in it.
/// Held while the returned handle lives.
pub fn lock_data_dir(data_dir: &Path) -> io::Result<File> {
    let dir = File::open(data_dir)?;
    match dir.try_lock() {
        Ok(()) => Ok(dir),
        Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "another process keeps depot data in {}: give each proxy its own \
                 --data-dir, or let the others forward with --data-writer",
                data_dir.display()
            ),
        )),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

// Allowed here: std has no `syncfs`.
#[allow(unsafe_code)]
fn syncfs(dir: &File) -> io::Result<()> {
    // SAFETY: syncfs takes a file descriptor, which `dir` owns and keeps
    // open for the call; no memory is passed.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A random key, never the one before.
fn new_key(old: u64) -> u64 {
    let mut buf = [0u8; 8];
    let random = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    let mut key = u64::from_le_bytes(buf);
    if random.is_err() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        key = now ^ (u64::from(std::process::id()) << 32);
    }
    if key == old || key == 0 {
        key ^ 0x9E37_79B9_7F4A_7C15
    } else {
        key
    }
}

fn read_header(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < 24 || &bytes[..8] != HEADER_MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[20..24].try_into().ok()?);
    if crc32(&bytes[..20]) != crc || u32::from_le_bytes(bytes[8..12].try_into().ok()?) != VERSION {
        return None;
    }
    Some(u64::from_le_bytes(bytes[12..20].try_into().ok()?))
}

fn encode(record: &Record, seq: u64, key: u64) -> Vec<u8> {
    let mut p = Vec::with_capacity(64);
    p.extend_from_slice(&key.to_le_bytes());
    p.extend_from_slice(&seq.to_le_bytes());
    match record {
        Record::Void(voided) => {
            p.push(KIND_VOID);
            p.extend_from_slice(&voided.to_le_bytes());
        }
        Record::Revision(r) => {
            p.push(KIND_REVISION);
            p.push(u8::from(r.make_current));
            p.extend_from_slice(&r.revision.to_le_bytes());
            p.extend_from_slice(&r.mtime.to_le_bytes());
            p.extend_from_slice(&(r.folder.len() as u32).to_le_bytes());
            p.extend_from_slice(&(r.name.len() as u32).to_le_bytes());
            p.extend_from_slice(&(r.body.len() as u32).to_le_bytes());
            p.extend_from_slice(r.folder.as_bytes());
            p.extend_from_slice(r.name.as_bytes());
            p.extend_from_slice(&r.body);
        }
    }
    let mut out = Vec::with_capacity(RECORD_HEAD + p.len());
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(&p).to_le_bytes());
    out.extend_from_slice(&p);
    out
}

/// The records of the current lap, in order, up to the first that is
/// torn, of another lap, or not a record at all.
fn read_records(bytes: &[u8], key: u64) -> Vec<(u64, Record)> {
    let mut out = Vec::new();
    let mut at = HEADER_BYTES as usize;
    let mut last_seq = 0;
    while let Some(head) = bytes.get(at..at + RECORD_HEAD) {
        let word = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().unwrap_or_default());
        if word(0) != RECORD_MAGIC {
            break;
        }
        let len = word(4) as usize;
        let Some(payload) = bytes.get(at + RECORD_HEAD..at + RECORD_HEAD + len) else {
            break;
        };
        if crc32(payload) != word(8) {
            break;
        }
        let Some((record_key, seq, record)) = decode(payload) else {
            break;
        };
        if record_key != key || seq <= last_seq {
            break;
        }
        last_seq = seq;
        out.push((seq, record));
        at += RECORD_HEAD + len;
    }
    out
}

fn decode(p: &[u8]) -> Option<(u64, u64, Record)> {
    let mut r = Reader { p, at: 0 };
    let key = r.u64()?;
    let seq = r.u64()?;
    let record = match r.u8()? {
        KIND_VOID => Record::Void(r.u64()?),
        KIND_REVISION => {
            let make_current = r.u8()? == 1;
            let revision = r.u64()?;
            let mtime = r.u64()? as i64;
            let (folder_len, name_len, body_len) = (r.u32()?, r.u32()?, r.u32()?);
            let folder = String::from_utf8(r.take(folder_len as usize)?.to_vec()).ok()?;
            let name = String::from_utf8(r.take(name_len as usize)?.to_vec()).ok()?;
            let body = r.take(body_len as usize)?.to_vec();
            Record::Revision(Revision {
                folder,
                name,
                revision,
                make_current,
                mtime,
                body,
            })
        }
        _ => return None,
    };
    Some((key, seq, record))
}

struct Reader<'a> {
    p: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.p.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Apply the records again (see the module's documentation).
fn replay(data_dir: &Path, records: &[(u64, Record)]) -> io::Result<Replayed> {
    let mut done = Replayed {
        records: records.len(),
        ..Replayed::default()
    };
    let voided: HashSet<u64> = records
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Void(seq) => Some(*seq),
            Record::Revision(_) => None,
        })
        .collect();
    let revisions: Vec<&Revision> = records
        .iter()
        .filter(|(seq, _)| !voided.contains(seq))
        .filter_map(|(_, r)| match r {
            Record::Revision(r) => Some(r),
            Record::Void(_) => None,
        })
        .collect();
    let mut touched: HashSet<(&str, &str)> = HashSet::new();
    for r in &revisions {
        let Some(dir) = folder_of(data_dir, r)? else {
            done.skipped += 1;
            continue;
        };
        touched.insert((&r.folder, &r.name));
        // Every record is applied, also one whose revision `depth` pruned
        // since: it comes back whole (never as the empty file a prune cut
        // short could leave), and the file's next check-in prunes it again.
        let target = layout::revision_file(&r.name, r.revision);
        let path = dir.join(&target);
        let whole = fs::symlink_metadata(&path).is_ok_and(|md| md.is_file())
            && layout::holds_bytes(&path, &r.body).unwrap_or(false);
        if !whole {
            rewrite(&dir, &r.name, &target, r)?;
            done.rewritten += 1;
        }
        if layout::read_tag(&dir, &r.name, LATEST)?.is_none_or(|l| l < r.revision) {
            layout::replace_link(&dir, &layout::tag_link(&r.name, LATEST), &target)?;
            done.links_moved += 1;
        }
        if r.make_current
            && layout::read_tag(&dir, &r.name, CURRENT)?.is_none_or(|c| c < r.revision)
        {
            let current = layout::tag_link(&r.name, CURRENT);
            layout::replace_links(&dir, &[&current, &r.name], &target)?;
            done.links_moved += 1;
        }
    }
    // `F` follows `current`, whichever of the two a crash kept.
    for (folder, name) in touched {
        let dir = data_dir.join(folder);
        if let Some(current) = layout::read_tag(&dir, name, CURRENT)? {
            let plain = fs::read_link(dir.join(name)).ok();
            if plain.and_then(|t| layout::target_revision(&t, name)) != Some(current) {
                layout::replace_link(&dir, name, &layout::revision_file(name, current))?;
                done.links_moved += 1;
            }
        }
    }
    Ok(done)
}

/// The record's folder, if it is a plain path under the data dir and its
/// repository's folder is there (a repository removed by hand is not
/// brought back). A group folder a crash lost is made again: the check-in
/// that made it may have been answered before its folder was durable.
fn folder_of(data_dir: &Path, r: &Revision) -> io::Result<Option<PathBuf>> {
    let rel = Path::new(&r.folder);
    let parts: Vec<Component<'_>> = rel.components().collect();
    let plain = parts.iter().all(|c| matches!(c, Component::Normal(_)));
    let name_ok = !r.name.is_empty()
        && !r.name.starts_with('.')
        && !r.name.contains('/')
        && !r.name.contains('\0');
    if !plain || !name_ok || !(2..=3).contains(&parts.len()) {
        return Ok(None);
    }
    let dir = data_dir.join(rel);
    if dir.is_dir() {
        return Ok(Some(dir));
    }
    match dir.parent() {
        Some(repo) if parts.len() == 3 && repo.is_dir() => {
            fs::create_dir(&dir)?;
            layout::sync_dir(repo)?;
            Ok(Some(dir))
        }
        _ => Ok(None),
    }
}

/// The revision's bytes, durably, in place of whatever a crash left.
fn rewrite(dir: &Path, name: &str, target: &str, r: &Revision) -> io::Result<()> {
    let temp = dir.join(layout::temp_name(name));
    let written = (|| {
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        out.write_all(&r.body)?;
        out.set_modified(UNIX_EPOCH + Duration::from_secs(r.mtime.max(0) as u64))?;
        out.sync_all()?;
        fs::rename(&temp, dir.join(target))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// CRC-32 (IEEE), as zlib computes it.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for b in bytes {
        crc = TABLE[((crc ^ u32::from(*b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}
