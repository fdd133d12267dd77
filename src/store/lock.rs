//! The single-instance lock: one `yupiao run` per database *file*, whatever path reaches it.
//!
//! A lock file named after the path (`yupiao.db.lock`) let a second daemon start on a symlink or a
//! hard link of the running database; the hard link even got its own `-wal`, which SQLite
//! documents as a way to corrupt the file. So the lock is taken on the database file itself: an
//! exclusive `flock(2)` on it, which every path to the same inode shares. SQLite never uses
//! `flock` (its locks are `fcntl` byte ranges), so the two do not interfere.
//!
//! One trap shapes this module: closing *any* descriptor of a file drops every `fcntl` lock the
//! process holds on it — SQLite's included (SQLite's "How To Corrupt" §2.2). The descriptors
//! opened here are therefore kept for the life of the process, one per (device, inode) and use,
//! and files are identified by `stat` on the path, never by opening and closing them.
//!
//! The holder's pid is read from `/proc/locks` (the kernel's own record), so nothing needs to be
//! written next to the database to say who holds it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// A database file, by identity: (device, inode).
type FileId = (u64, u64);

/// Descriptors of one database file, kept open until the process ends (see the module docs).
#[derive(Default)]
struct Handles {
    /// Read-write descriptor that takes the exclusive lock.
    lock: Option<File>,
    /// Read-only descriptor that probes the lock (a different open file description, so it sees
    /// this very process's lock as a conflict too).
    probe: Option<File>,
    /// This process holds the lock (a second `lock` in the same process is refused here: `flock`
    /// on the same descriptor would just succeed again).
    held: bool,
}

fn registry() -> MutexGuard<'static, HashMap<FileId, Handles>> {
    static REGISTRY: OnceLock<Mutex<HashMap<FileId, Handles>>> = OnceLock::new();
    REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process (or this one) holds it; its pid when the kernel says.
    Held {
        pid: Option<u32>,
    },
    Io(std::io::Error),
}

impl From<std::io::Error> for LockError {
    fn from(e: std::io::Error) -> Self {
        LockError::Io(e)
    }
}

/// Held while the daemon runs; dropping it releases the lock (the descriptor stays open).
#[derive(Debug)]
pub struct FileLock {
    id: FileId,
    path: PathBuf,
}

impl FileLock {
    /// The path the lock was taken through.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let mut reg = registry();
        if let Some(h) = reg.get_mut(&self.id) {
            if let Some(f) = &h.lock {
                let _ = f.unlock();
            }
            h.held = false;
        }
    }
}

fn file_id(path: &Path) -> std::io::Result<FileId> {
    let meta = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Ok((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        use std::hash::{Hash as _, Hasher as _};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::fs::canonicalize(path)?.hash(&mut h);
        Ok((0, h.finish()))
    }
}

/// Takes the exclusive lock on the database file at `path`, creating an empty file when there
/// is none yet (SQLite treats an empty file as a new database).
pub fn lock(path: &Path) -> Result<FileLock, LockError> {
    let created = match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
        Err(e) => return Err(e.into()),
    };
    let id = file_id(path)?;
    let mut reg = registry();
    let handles = reg.entry(id).or_default();
    if handles.held {
        return Err(LockError::Held {
            pid: Some(std::process::id()),
        });
    }
    if handles.lock.is_none() {
        handles.lock = Some(match created {
            Some(f) => f,
            None => OpenOptions::new().read(true).write(true).open(path)?,
        });
    }
    let file = handles.lock.as_ref().expect("just set");
    match file.try_lock() {
        Ok(()) => {
            handles.held = true;
            Ok(FileLock {
                id,
                path: path.to_path_buf(),
            })
        }
        Err(TryLockError::WouldBlock) => Err(LockError::Held { pid: holder_pid(id) }),
        Err(TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Whether some process holds the lock of the database file at `path`, and its pid when known.
/// Takes a shared lock for an instant through its own descriptor and writes nothing.
pub fn is_held(path: &Path) -> (bool, Option<u32>) {
    let Ok(id) = file_id(path) else {
        return (false, None);
    };
    let mut reg = registry();
    let handles = reg.entry(id).or_default();
    if handles.probe.is_none() {
        match File::open(path) {
            Ok(f) => handles.probe = Some(f),
            Err(_) => return (false, None),
        }
    }
    let probe = handles.probe.as_ref().expect("just set");
    match probe.try_lock_shared() {
        Ok(()) => {
            let _ = probe.unlock();
            (false, None)
        }
        Err(TryLockError::WouldBlock) => (true, holder_pid(id)),
        Err(TryLockError::Error(_)) => (false, None),
    }
}

/// The pid holding an exclusive `flock` on the file, from `/proc/locks` (Linux).
///
/// `/proc/locks` is produced a page at a time while other processes take and drop their own
/// (SQLite's POSIX) locks, so one read can miss a line that was there all along: read it a few
/// times before saying the pid is unknown.
fn holder_pid(id: FileId) -> Option<u32> {
    (0..5).find_map(|attempt| {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let text = std::fs::read_to_string("/proc/locks").ok()?;
        holder_in_proc_locks(&text, id)
    })
}

/// Finds `FLOCK … WRITE pid MAJ:MIN:INODE` for `id` in the text of `/proc/locks` (pure).
/// Major and minor are hexadecimal there, the inode decimal.
pub fn holder_in_proc_locks(text: &str, (dev, ino): FileId) -> Option<u32> {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let wanted = format!("{major:02x}:{minor:02x}:{ino}");
    text.lines().filter(|l| !l.contains("->")).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // "1:" "FLOCK" "ADVISORY" "WRITE" pid dev:ino start end
        (f.len() >= 6 && f[1] == "FLOCK" && f[3] == "WRITE" && f[5] == wanted)
            .then(|| f[4].parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_found_by_device_and_inode_in_proc_locks() {
        let text = "1: POSIX  ADVISORY  WRITE 77 08:01:1234 1073741824 1073741824\n\
                    2: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF\n\
                    3: FLOCK  ADVISORY  WRITE 99 08:01:99 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 5 08:01:1234 0 EOF\n";
        let dev = (8 << 8) | 1;
        assert_eq!(holder_in_proc_locks(text, (dev, 1234)), Some(4242));
        assert_eq!(holder_in_proc_locks(text, (dev, 5)), None);
        // Large device numbers split their bits: major 0x103, minor 0x1a5.
        let big = "9: FLOCK  ADVISORY  WRITE 7 103:1a5:42 0 EOF\n";
        let dev = ((0x103 & 0xfff) << 8) | 0xa5 | ((0x1a5 & !0xff) << 12);
        assert_eq!(holder_in_proc_locks(big, (dev, 42)), Some(7));
    }

    #[test]
    fn every_path_to_the_file_meets_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("yupiao.db");
        let held = lock(&db).unwrap();
        let sym = dir.path().join("sym.db");
        std::os::unix::fs::symlink(&db, &sym).unwrap();
        let hard = dir.path().join("hard.db");
        std::fs::hard_link(&db, &hard).unwrap();
        for other in [&db, &sym, &hard] {
            match lock(other) {
                Err(LockError::Held { pid }) => assert_eq!(pid, Some(std::process::id())),
                other => panic!("{other:?}"),
            }
            assert_eq!(is_held(other), (true, Some(std::process::id())));
        }
        drop(held);
        assert_eq!(is_held(&hard), (false, None));
        let again = lock(&hard).expect("free again");
        assert_eq!(again.path(), hard);
    }
}
