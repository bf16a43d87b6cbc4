//! Opens files below a root with the kernel's guarantee that nothing outside
//! it is reached: Linux `openat2(2)` with `RESOLVE_BENEATH` resolves the
//! whole path, symlinks included, in one race-free system call and refuses
//! (`EXDEV`) anything that would leave the root. Where the kernel lacks
//! openat2 (before 5.6), the path is canonicalised and prefix-checked instead.

// Allowed here: the `openat2` and `fstatat` system calls (SAFETY at each).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_BENEATH: u64 = 0x08;

/// Set once the kernel has said it has no openat2.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

#[derive(Debug)]
pub(super) struct Root {
    /// Canonical path of the root.
    path: PathBuf,
    /// The root itself, held open: paths are resolved from it.
    dir: OwnedFd,
}

/// Why a path was not opened.
#[derive(Debug)]
pub(super) enum Refusal {
    /// It does not exist.
    Missing,
    /// It would leave the root (a symlink pointing outside, say).
    Escapes,
    Io(io::Error),
}

impl Root {
    pub(super) fn open(path: &Path) -> io::Result<Root> {
        let path = path.canonicalize()?;
        let dir = File::open(&path)?;
        if !dir.metadata()?.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
        }
        Ok(Root {
            path,
            dir: dir.into(),
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `relative` (no leading `/`; empty for the root) for reading.
    pub(super) fn open_beneath(&self, relative: &Path) -> Result<File, Refusal> {
        let relative = if relative.as_os_str().is_empty() {
            Path::new(".")
        } else {
            relative
        };
        if !NO_OPENAT2.load(Ordering::Relaxed) {
            match self.openat2(relative) {
                Err(Refusal::Io(err)) if err.raw_os_error() == Some(libc::ENOSYS) => {
                    NO_OPENAT2.store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        self.open_checked(relative)
    }

    /// `fstatat(2)` of `relative` from the root, symlinks followed. Only
    /// for checking a file opened before through `open_beneath` is still the
    /// same inode (see `cache`): it does not keep a path inside the root.
    pub(super) fn stat(&self, relative: &Path) -> Option<libc::stat> {
        let name = CString::new(relative.as_os_str().as_bytes()).ok()?;
        // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `name` is a valid C string, `st` a valid out-pointer, and
        // the root descriptor stays open while `self` lives.
        let rc = unsafe { libc::fstatat(self.dir.as_raw_fd(), name.as_ptr(), &mut st, 0) };
        (rc == 0).then_some(st)
    }

    fn openat2(&self, relative: &Path) -> Result<File, Refusal> {
        let name = CString::new(relative.as_os_str().as_bytes()).map_err(|_| Refusal::Missing)?;
        let how = OpenHow {
            flags: (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY) as u64,
            mode: 0,
            resolve: RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        // SAFETY: `name` is a valid C string and `how` a valid open_how of
        // the size passed; the kernel returns a new descriptor or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.dir.as_raw_fd(),
                name.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd < 0 {
            let err = io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::ENOENT | libc::ENOTDIR) => Refusal::Missing,
                Some(libc::EXDEV | libc::ELOOP) => Refusal::Escapes,
                _ => Refusal::Io(err),
            });
        }
        // SAFETY: the kernel just returned this descriptor and nothing else owns it.
        Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// The fallback: resolve every symlink, then check the prefix.
    fn open_checked(&self, relative: &Path) -> Result<File, Refusal> {
        let real = match self.path.join(relative).canonicalize() {
            Ok(real) => real,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(Refusal::Missing),
            Err(err) => return Err(Refusal::Io(err)),
        };
        if !real.starts_with(&self.path) {
            return Err(Refusal::Escapes);
        }
        File::open(real).map_err(Refusal::Io)
    }
}
