//! Writing an output file whole or not at all, safely:
//! [`write_atomically`], and the registry of its temporary files that a
//! signal handler empties ([`remove_temporaries`]).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Where an output goes once links are followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A regular file, or nothing yet: written to a temporary beside it
    /// and renamed over it.
    File(PathBuf),
    /// A FIFO or a character device: written directly, never renamed over.
    Stream(PathBuf),
}

/// The most links followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Follows `path` through symbolic links to what an output there must
/// replace, and refuses what must not be written to.
pub fn output_target(path: &Path) -> io::Result<Target> {
    let refused = |path: &Path, what: &str| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{} is {what}; give a file to write", path.display()))
    };
    let mut path = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::File(path)),
            Err(e) => return Err(e),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let to = fs::read_link(&path)?;
            // A relative link is relative to the folder that holds it.
            path = match path.parent() {
                Some(dir) if to.is_relative() => dir.join(to),
                _ => to,
            };
            continue;
        }
        if kind.is_file() {
            return Ok(Target::File(path));
        }
        if kind.is_dir() {
            return Err(refused(&path, "a directory"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if kind.is_fifo() || kind.is_char_device() {
                return Ok(Target::Stream(path));
            }
            if kind.is_block_device() {
                return Err(refused(&path, "a block device"));
            }
            if kind.is_socket() {
                return Err(refused(&path, "a socket"));
            }
        }
        return Err(refused(&path, "not a regular file"));
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: more than {MAX_LINKS} symbolic links in a row", path.display()),
    ))
}

/// Writes `text` to `path` so that `path` ends up either unchanged or with
/// all of `text`.
///
/// The text goes to a hidden temporary file beside the target (same file
/// system, so the rename is atomic), renamed over the target. What it will
/// not do:
///
/// - replace a symbolic link by a file: the link is followed to the file it
///   names, which is replaced (keeping its permissions), and the link keeps
///   pointing at it, as editors save through a link;
/// - rename over anything but a regular file: a FIFO or a character device
///   (`/dev/null`, `/dev/stdout`, a shell's `>(…)`) is a stream, written
///   directly; a directory, a block device or a socket is refused;
/// - leave its temporary behind when the process is stopped: every
///   temporary is registered while it exists, so that a signal handler can
///   call [`remove_temporaries`] before the process exits.
///
/// ```
/// use deeplog_circuits::formats::write_atomically;
///
/// let dir = std::env::temp_dir().join(format!("deeplog-write-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// write_atomically(&dir.join("out.json"), "{}").unwrap();
/// assert_eq!(std::fs::read_to_string(dir.join("out.json")).unwrap(), "{}");
/// let err = write_atomically(&dir, "{}").unwrap_err();
/// assert!(err.to_string().contains("is a directory"), "{err}");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let path = match output_target(path)? {
        Target::Stream(path) => return fs::OpenOptions::new().write(true).open(path)?.write_all(text.as_bytes()),
        Target::File(path) => path,
    };
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let unique =
        format!(".{}.{}.{}.tmp", name.to_string_lossy(), std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let temp = dir.join(unique);
    let mut file = TEMPORARIES.create(&temp)?;
    let result = (|| {
        // The file keeps its permissions, as an editor's save does.
        if let Ok(meta) = fs::metadata(&path) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, &path)
    })();
    if result.is_err() {
        // Nothing to report when the temporary is already gone.
        let _ = fs::remove_file(&temp);
    }
    TEMPORARIES.forget(&temp);
    result
}

/// Removes every temporary file a write has open, and makes every later
/// write fail: for a signal handler, just before the process exits.
/// Returns how many files it removed.
pub fn remove_temporaries() -> usize {
    TEMPORARIES.remove_all()
}

/// The temporary files that exist now, so that they can be removed when
/// the process is stopped mid-write.
struct Temporaries {
    /// The paths, and whether the set is closed (no new temporaries).
    state: Mutex<(Vec<PathBuf>, bool)>,
}

static TEMPORARIES: Temporaries = Temporaries::new();

impl Temporaries {
    const fn new() -> Temporaries {
        Temporaries { state: Mutex::new((Vec::new(), false)) }
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<PathBuf>, bool)> {
        // A panic elsewhere while holding the lock leaves the list intact.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates `path` (which must not exist) and registers it. The file is
    /// created under the lock, so that [`Temporaries::remove_all`] either
    /// sees it or runs before it exists and stops it from being made.
    fn create(&self, path: &Path) -> io::Result<fs::File> {
        let mut state = self.lock();
        if state.1 {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "the process is stopping"));
        }
        let file = fs::OpenOptions::new().write(true).create_new(true).open(path)?;
        state.0.push(path.to_path_buf());
        Ok(file)
    }

    /// Unregisters `path`: it was renamed or removed.
    fn forget(&self, path: &Path) {
        self.lock().0.retain(|p| p != path);
    }

    fn remove_all(&self) -> usize {
        let mut state = self.lock();
        state.1 = true;
        state.0.drain(..).filter(|p| fs::remove_file(p).is_ok()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("deeplog-write-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn hidden_files(dir: &Path) -> Vec<String> {
        let names = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
        names.filter(|n| n.starts_with('.')).collect()
    }

    #[test]
    fn removing_the_temporaries_removes_each_file_and_stops_new_ones() {
        let dir = temp_dir("registry");
        let set = Temporaries::new();
        let (a, b) = (dir.join(".a.tmp"), dir.join(".b.tmp"));
        let _open = set.create(&a).unwrap();
        set.create(&b).unwrap();
        set.forget(&b);
        fs::remove_file(&b).unwrap();
        assert_eq!(set.remove_all(), 1);
        assert!(hidden_files(&dir).is_empty(), "{:?}", hidden_files(&dir));
        let late = set.create(&dir.join(".c.tmp")).unwrap_err();
        assert_eq!(late.kind(), io::ErrorKind::Interrupted);
        assert!(hidden_files(&dir).is_empty());
    }

    #[test]
    fn a_write_leaves_no_temporary_registered_or_on_disk() {
        let dir = temp_dir("clean");
        write_atomically(&dir.join("out.json"), "{}").unwrap();
        assert!(write_atomically(&dir.join("no/such/dir.json"), "x").is_err());
        assert!(hidden_files(&dir).is_empty());
        assert!(TEMPORARIES.lock().0.iter().all(|p| !p.starts_with(&dir)));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_is_written_through_and_kept() {
        let dir = temp_dir("link");
        fs::create_dir_all(dir.join("real")).unwrap();
        fs::write(dir.join("real/out.json"), "old").unwrap();
        std::os::unix::fs::symlink("real/out.json", dir.join("link.json")).unwrap();
        std::os::unix::fs::symlink("link.json", dir.join("link2.json")).unwrap();
        write_atomically(&dir.join("link2.json"), "new").unwrap();
        assert!(fs::symlink_metadata(dir.join("link.json")).unwrap().file_type().is_symlink());
        assert!(fs::symlink_metadata(dir.join("link2.json")).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(dir.join("real/out.json")).unwrap(), "new");
        // A dangling link: the file it names is created.
        std::os::unix::fs::symlink("real/new.json", dir.join("dangling.json")).unwrap();
        write_atomically(&dir.join("dangling.json"), "made").unwrap();
        assert_eq!(fs::read_to_string(dir.join("real/new.json")).unwrap(), "made");
        // A loop is an error, not a hang.
        std::os::unix::fs::symlink("loop_b", dir.join("loop_a")).unwrap();
        std::os::unix::fs::symlink("loop_a", dir.join("loop_b")).unwrap();
        let err = write_atomically(&dir.join("loop_a"), "x").unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn permissions_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("mode");
        let path = dir.join("out.json");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&path, "new").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_a_stream_and_a_socket_is_refused() {
        let dir = temp_dir("special");
        let fifo = dir.join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read_to_string(fifo).unwrap())
        };
        write_atomically(&fifo, "through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert_eq!(output_target(&fifo).unwrap(), Target::Stream(fifo.clone()));

        let socket = dir.join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let err = write_atomically(&socket, "x").unwrap_err();
        assert!(err.to_string().contains("is a socket"), "{err}");
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::symlink_metadata(&socket).unwrap().file_type().is_socket());
        assert!(hidden_files(&dir).is_empty());
    }
}
