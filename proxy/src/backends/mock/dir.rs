//! The provisions folder (`--provisions-dir`), h1mock's way of loading a
//! mock: at start the provision named `initial` (a file or a symlink) is
//! active; afterwards the file last created, written or touched (`kubectl
//! cp`, `kubectl exec … touch`) is, replacing the previous one; the admin
//! API's `POST /app/v1/provision/<name>` writes a file and activates it.
//! A file that does not check is refused with every error (logged, or the
//! admin API's answer) and the last good provision keeps serving: unlike
//! h1mock, nothing restarts and nothing dies.
//!
//! Files are read on the watcher's thread, never on a worker. Names are
//! h1mock's (`[A-Za-z0-9._-]`, at most `MAX_NAME` bytes); hidden files
//! (`.name`, as editors and `cp` write temp files) are never activated.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use arc_swap::ArcSwap;
use gatehouse_mock::Provision;

use super::Served;
use super::journal::Journal;
use crate::support::locks::lock;

/// The `mock` label and admin name of the folder's provision.
pub(crate) const LABEL: &str = "provisions-dir";
/// The provision active at start.
pub(crate) const INITIAL: &str = "initial";
/// The longest provision name.
pub(crate) const MAX_NAME: usize = 128;
/// The largest provision file read.
pub(crate) const MAX_FILE: u64 = 4 << 20;
/// How long a file must stay quiet before it is read: a copy in progress
/// is read once, whole.
const SETTLE: Duration = Duration::from_millis(50);

pub struct ProvisionsDir {
    folder: PathBuf,
    active: ArcSwap<Active>,
    journal: Arc<Journal>,
    /// One activation at a time (the watcher's and the admin API's).
    activating: Mutex<()>,
}

/// The provision serving now and the file it came from.
pub(crate) struct Active {
    /// `None` before any file was loaded: h1mock's 404 help page answers.
    pub(crate) name: Option<String>,
    pub(crate) served: Arc<Served>,
}

/// Why a provision was not activated.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Not a name h1mock would take.
    BadName(String),
    /// No such file in the folder.
    Missing(String),
    /// The file could not be read or written.
    Io(String),
    /// The provision does not check: every error, one a line.
    Invalid(Vec<String>),
}

impl ProvisionsDir {
    /// Opens the folder (made when missing), copies the provisions of
    /// `seed` into it (`--provisions-from`), and activates `initial` when
    /// it is there. A bad `initial` is refused with its errors: the proxy
    /// does not start on a provision it cannot serve.
    pub fn open(folder: &Path, seed: Option<&Path>) -> anyhow::Result<Arc<ProvisionsDir>> {
        std::fs::create_dir_all(folder).map_err(|e| {
            anyhow::anyhow!(
                "--provisions-dir {}: cannot make the folder: {e}",
                folder.display()
            )
        })?;
        if let Some(seed) = seed {
            let copied = copy_provisions(seed, folder)?;
            tracing::info!(from = %seed.display(), ?copied, "mock provisions copied in");
        }
        let journal = Arc::new(Journal::default());
        let empty = Arc::new(Served::new(
            LABEL.into(),
            serde_json::Value::Null,
            Provision::empty(),
            journal.clone(),
        ));
        let dir = Arc::new(ProvisionsDir {
            folder: folder.to_owned(),
            active: ArcSwap::from_pointee(Active {
                name: None,
                served: empty,
            }),
            journal,
            activating: Mutex::new(()),
        });
        if folder.join(INITIAL).exists() {
            dir.activate(INITIAL).map_err(|refused| {
                anyhow::anyhow!(
                    "--provisions-dir {}: `{INITIAL}` cannot be served: {}",
                    folder.display(),
                    refused.describe()
                )
            })?;
        }
        Ok(dir)
    }

    pub(crate) fn folder(&self) -> &Path {
        &self.folder
    }

    /// The provision serving now.
    pub(crate) fn active(&self) -> Arc<Served> {
        self.active.load().served.clone()
    }

    /// The name of the file serving now, if any.
    pub(crate) fn active_name(&self) -> Option<String> {
        self.active.load().name.clone()
    }

    /// Reads the file `name` and makes it the active provision. The same
    /// text as the active one's keeps it, state and all.
    pub(crate) fn activate(&self, name: &str) -> Result<(), Refused> {
        check_name(name)?;
        let path = self.folder.join(name);
        let text = read_provision(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Refused::Missing(name.to_owned()),
            _ => Refused::Io(format!("{}: {e}", path.display())),
        })?;
        self.install(name, &text)
    }

    /// Checks `text`, writes it to the file `name` (temp file, fsync,
    /// rename) and activates it. Nothing is written when it does not
    /// check. Slow (fsync): call it off the workers.
    pub(crate) fn load(&self, name: &str, text: &str) -> Result<(), Refused> {
        check_name(name)?;
        parse(name, text)?;
        let path = self.folder.join(name);
        write_durably(&path, text.as_bytes())
            .map_err(|e| Refused::Io(format!("{}: {e}", path.display())))?;
        self.install(name, text)
    }

    fn install(&self, name: &str, text: &str) -> Result<(), Refused> {
        let _one = lock(&self.activating);
        let source = serde_json::Value::String(text.to_owned());
        let current = self.active.load();
        if current.name.as_deref() == Some(name) && current.served.source == source {
            return Ok(());
        }
        let provision = parse(name, text)?;
        self.active.store(Arc::new(Active {
            name: Some(name.to_owned()),
            served: Arc::new(Served::new(
                LABEL.into(),
                source,
                provision,
                self.journal.clone(),
            )),
        }));
        tracing::info!(provision = name, folder = %self.folder.display(), "mock provision active");
        Ok(())
    }

    /// Watches the folder on a thread of its own: a file created, written
    /// or touched becomes the active provision once it has been quiet for
    /// `SETTLE`. The watcher lives as long as the returned handle.
    pub fn watch(self: &Arc<Self>) -> anyhow::Result<notify::RecommendedWatcher> {
        use notify::{EventKind, RecursiveMode, Watcher};
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if !matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_)) {
                    return;
                }
                for path in event.paths {
                    if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                        let _ = tx.send(name.to_owned());
                    }
                }
            })?;
        watcher.watch(&self.folder, RecursiveMode::NonRecursive)?;
        let dir = self.clone();
        std::thread::Builder::new()
            .name("provisions-dir".into())
            .spawn(move || dir.follow(rx))?;
        Ok(watcher)
    }

    /// Activates each name the watcher reports, once it is quiet.
    fn follow(&self, rx: std::sync::mpsc::Receiver<String>) {
        while let Ok(mut name) = rx.recv() {
            // Events of one copy come in a burst; read once it is over.
            // Another file's event within the burst wins: the last wins.
            while let Ok(next) = rx.recv_timeout(SETTLE) {
                name = next;
            }
            if name.starts_with('.') || check_name(&name).is_err() {
                continue;
            }
            match self.activate(&name) {
                Ok(()) => {}
                Err(Refused::Missing(_)) => {} // renamed or removed since
                Err(refused) => tracing::error!(
                    provision = %name,
                    folder = %self.folder.display(),
                    "mock provision refused, the last good one keeps serving: {}",
                    refused.describe()
                ),
            }
        }
    }
}

impl Refused {
    /// What went wrong, in one text.
    pub(crate) fn describe(&self) -> String {
        match self {
            Refused::BadName(why) | Refused::Io(why) => why.clone(),
            Refused::Missing(name) => format!("there is no provision `{name}` in the folder"),
            Refused::Invalid(errors) => errors.join("\n"),
        }
    }
}

/// h1mock's names: `[A-Za-z0-9._-]`, not `.`/`..`, at most `MAX_NAME` bytes.
pub(crate) fn check_name(name: &str) -> Result<(), Refused> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(allowed) || name.contains("..")
    {
        return Err(Refused::BadName(format!(
            "`{}` is not a provision name: use 1 to {MAX_NAME} of A-Z a-z 0-9 . _ - (no `..`)",
            name.escape_default()
        )));
    }
    Ok(())
}

/// Copies every provision file of `seed` (symbolic links followed, as a
/// ConfigMap mount's names are) into `folder`, each written under a hidden
/// name and renamed into place, so the watcher never reads half a file.
/// Returns the names copied, sorted.
fn copy_provisions(seed: &Path, folder: &Path) -> anyhow::Result<Vec<String>> {
    let context = |what: &str, path: &Path, e: std::io::Error| {
        anyhow::anyhow!(
            "--provisions-from {}: cannot {what} {}: {e}",
            seed.display(),
            path.display()
        )
    };
    let entries = std::fs::read_dir(seed).map_err(|e| context("read", seed, e))?;
    let mut copied = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| context("read", seed, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let from = entry.path();
        // `..data` and the timestamped folder of a ConfigMap mount, editors'
        // temp files, and sub-folders are not provisions.
        if name.starts_with('.') || check_name(&name).is_err() || !from.is_file() {
            continue;
        }
        let text = read_provision(&from).map_err(|e| context("read", &from, e))?;
        let temp = folder.join(format!(".{name}.copying"));
        let to = folder.join(&name);
        std::fs::write(&temp, text).map_err(|e| context("write", &temp, e))?;
        std::fs::rename(&temp, &to).map_err(|e| context("write", &to, e))?;
        copied.push(name);
    }
    copied.sort();
    Ok(copied)
}

fn parse(name: &str, text: &str) -> Result<Provision, Refused> {
    Provision::parse(name, text)
        .map_err(|errors| Refused::Invalid(errors.iter().map(ToString::to_string).collect()))
}

/// A provision file's text, refused when it is too large or not UTF-8.
fn read_provision(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    let read = file.take(MAX_FILE + 1).read_to_string(&mut text)?;
    if read as u64 > MAX_FILE {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB",
            MAX_FILE >> 20
        )));
    }
    Ok(text)
}

/// Temp file, fsync, rename over `path`, fsync the folder.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let folder = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("p");
    let temp = folder.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(folder)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
