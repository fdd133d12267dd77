//! The SQLite connection behind [`Store`]: opening (for the writer, for an existing file, or
//! read-only), identity and schema checks, migrations, and the transaction helpers every
//! table's file uses.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::error::{BUSY_TIMEOUT, StoreError, no_space};
use super::lock;
use super::schema::{MIGRATIONS, SCHEMA_VERSION};

/// `PRAGMA application_id` of a yupiao database ("YUPI"), so we never migrate someone else's file.
const APPLICATION_ID: i32 = 0x5955_5049;

/// Pages SQLite keeps in memory: the whole working set of a poll cycle is a few hundred pages
/// (seat state and poll status of 1,000 watches), and every read is served by the OS cache too;
/// SQLite's default (2 MB) mostly held pages read once at start.
const CACHE_KIB: i64 = 512;

/// The open database. One writer (the daemon) at a time; see [`Store::lock_for_daemon`].
pub struct Store {
    pub(super) conn: Connection,
    path: PathBuf,
}

/// Held by the running daemon; dropping it (or the process dying) releases the lock.
pub type DaemonLock = lock::FileLock;

/// `file:/var/lib/yupiao/yupiao.db?mode=ro`: SQLite's URI form of `path` (`%`, `?` and `#`
/// escaped, the rest as is).
fn sqlite_uri(path: &Path, query: &str) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    format!("{uri}?{query}")
}

/// Refuses files that are not ours, or are from a newer yupiao.
fn check_identity(path: &Path, app_id: i32, version: i64, objects: i64) -> Result<(), StoreError> {
    let path = path.display().to_string();
    let empty = app_id == 0 && version == 0 && objects == 0;
    if app_id != APPLICATION_ID && !empty {
        return Err(StoreError::NotADatabase {
            path,
            detail: format!("application_id {app_id:#x} is not yupiao's"),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path,
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`, for the one writer.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_writable(path, true)
    }

    /// Opens an existing database for writing (`orders cancel`, `orders refund`): a command
    /// that acts on what the daemon stored must never start an empty database of its own.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        if !path.try_exists().unwrap_or(true) {
            return Err(StoreError::Missing {
                path: path.display().to_string(),
            });
        }
        Store::open_writable(path, false)
    }

    fn open_writable(path: &Path, create: bool) -> Result<Store, StoreError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut store = Store::connect(path, None, flags)?;
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| store.open_error(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                source: rusqlite::Error::InvalidParameterName(format!(
                    "journal_mode stays {mode:?}, WAL needed (is the file on a network share?)"
                )),
            });
        }
        // FULL: a commit survives power loss, so a sent email is never re-sent because its
        // `sent` mark vanished. A poll cycle is one commit, so the fsync is cheap at that rate.
        store.conn.execute_batch("PRAGMA synchronous = FULL;")?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing database without writing to it (`status`, `orders`), while the daemon
    /// runs or not, by a user who may read the files but not write the directory.
    ///
    /// A WAL database opened read-only needs its `-shm` index: SQLite uses the daemon's when it
    /// runs (it exists while a writer is connected, and reading it is enough), and otherwise
    /// would have to create one, which fails in a directory we may not write. With no `-wal`
    /// file there is no writer and nothing outside the main file, so the file is then opened as
    /// `immutable`, which needs no index at all.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let display = path.display().to_string();
        match std::fs::File::open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing { path: display });
            }
            Err(e) => {
                return Err(StoreError::Unreadable(crate::diagnostic::unreadable(
                    path,
                    "the database",
                    &e,
                )));
            }
        }
        let flags =
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let opened = Store::connect(path, Some(&sqlite_uri(path, "mode=ro")), flags)
            .and_then(|s| s.identity().map_err(|e| s.open_error(e)).map(|id| (s, id)));
        let (store, (app_id, version, objects)) = match opened {
            Ok(ok) => ok,
            Err(first) => {
                let mut wal = path.as_os_str().to_owned();
                wal.push("-wal");
                if PathBuf::from(&wal).try_exists().unwrap_or(true) {
                    return Err(first);
                }
                let s = Store::connect(path, Some(&sqlite_uri(path, "mode=ro&immutable=1")), flags)?;
                let id = s.identity().map_err(|e| s.open_error(e))?;
                (s, id)
            }
        };
        check_identity(path, app_id, version, objects)?;
        if version == 0 {
            return Err(StoreError::Missing { path: display });
        }
        if version < SCHEMA_VERSION {
            return Err(StoreError::OlderSchema {
                path: display,
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        Ok(store)
    }

    /// Takes the daemon lock on the database file itself (see [`lock`]): a second
    /// daemon on the same file — through this path, a symlink or a hard link — gets
    /// [`StoreError::Locked`] naming the holder; readers are not affected. Creates an empty file
    /// when there is none yet. The lock goes with the returned value or the process.
    pub fn lock_for_daemon(path: &Path) -> Result<DaemonLock, StoreError> {
        lock::lock(path).map_err(|e| match e {
            lock::LockError::Held { pid } => StoreError::Locked {
                path: path.display().to_string(),
                pid,
            },
            lock::LockError::Io(source) => StoreError::LockFile {
                path: path.display().to_string(),
                source,
            },
        })
    }

    /// Whether a `yupiao run` holds the daemon lock of the database at `path` (and its pid).
    /// Takes only a shared lock for an instant and writes nothing.
    pub fn daemon_running(path: &Path) -> (bool, Option<u32>) {
        lock::is_held(path)
    }

    /// Opens `path` (or the SQLite URI `uri` naming it, for read-only opens) and sets the
    /// connection up: busy timeout, page cache size.
    fn connect(path: &Path, uri: Option<&str>, flags: OpenFlags) -> Result<Store, StoreError> {
        let opened = match uri {
            Some(u) => Connection::open_with_flags(u, flags),
            None => Connection::open_with_flags(path, flags),
        };
        let conn = opened.map_err(|source| {
            let full = if uri.is_none() {
                no_space(path, &source)
            } else {
                None
            };
            full.unwrap_or_else(|| StoreError::Open {
                path: path.display().to_string(),
                source,
            })
        })?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store
            .conn
            .busy_timeout(BUSY_TIMEOUT)
            .and_then(|()| {
                store
                    .conn
                    .execute_batch(&format!("PRAGMA cache_size = -{CACHE_KIB};"))
            })
            .map_err(|e| store.open_error(e))?;
        Ok(store)
    }

    fn open_error(&self, e: rusqlite::Error) -> StoreError {
        let path = self.path.display().to_string();
        if is_not_a_database(&e) {
            StoreError::NotADatabase {
                path,
                detail: e.to_string(),
            }
        } else if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy)) {
            StoreError::Busy(e)
        } else if let Some(full) = no_space(&self.path, &e) {
            full
        } else {
            StoreError::Open { path, source: e }
        }
    }

    /// (application_id, user_version, number of schema objects).
    fn identity(&self) -> rusqlite::Result<(i32, i64, i64)> {
        let app_id = self.conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let version = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let objects = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        Ok((app_id, version, objects))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        // IMMEDIATE: two processes opening a fresh file at once must not both run step 1.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| {
                if is_not_a_database(&e) {
                    StoreError::NotADatabase {
                        path: self.path.display().to_string(),
                        detail: e.to_string(),
                    }
                } else {
                    e.into()
                }
            })?;
        let identity = (|| -> rusqlite::Result<(i32, i64, i64)> {
            Ok((
                tx.query_row("PRAGMA application_id", [], |r| r.get(0))?,
                tx.query_row("PRAGMA user_version", [], |r| r.get(0))?,
                tx.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?,
            ))
        })();
        let (app_id, version, objects) = identity.map_err(|e| StoreError::NotADatabase {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        })?;
        check_identity(&self.path, app_id, version, objects)?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        for step in &MIGRATIONS[version as usize..] {
            tx.execute_batch(step)?;
        }
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
        ))?;
        tx.commit()?;
        Ok(())
    }

    /// `PRAGMA quick_check`: every page readable and well-formed (skips the index-content
    /// comparison of `integrity_check`, so it reads the file once). The daemon runs it at start:
    /// a damaged page would otherwise let it start and then fail every poll that touches it.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            path: self.path.display().to_string(),
            detail: format!("quick_check: {detail}"),
        };
        let mut stmt = self
            .conn
            .prepare("PRAGMA quick_check")
            .map_err(|e| corrupt(e.to_string()))?;
        let lines = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(|e| corrupt(e.to_string()))?;
        if lines.len() == 1 && lines[0] == "ok" {
            return Ok(());
        }
        let shown: Vec<&str> = lines.iter().take(3).map(String::as_str).collect();
        let more = lines.len().saturating_sub(3);
        let mut detail = shown.join("; ");
        if more > 0 {
            detail.push_str(&format!(" … and {more} more"));
        }
        Err(corrupt(detail))
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Copies the whole database (consistently, even while written) to `dest`, e.g. for backups.
    pub fn vacuum_into(&self, dest: &Path) -> Result<(), StoreError> {
        self.conn.execute("VACUUM INTO ?1", [dest.to_string_lossy()])?;
        Ok(())
    }

    /// Runs `f` in one IMMEDIATE transaction (the write lock taken at once, so two writers never
    /// deadlock on an upgrade): all of it is written, or none.
    pub(super) fn write_tx<R>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let r = f(&tx)?;
        tx.commit()?;
        Ok(r)
    }

    /// Runs `f` in one read transaction: a consistent view across several statements.
    pub(super) fn read_tx<R>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let r = f(&tx)?;
        tx.finish()?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seat::SeatClass;
    use crate::store::WatchStatus;
    use crate::store::fixtures::{count, db, poll, seat, train};
    use crate::store::status::JobKey;

    #[test]
    fn opening_twice_migrates_once_and_sets_user_version() {
        let (_dir, path) = db();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let objects = count(&store, "sqlite_schema");
        drop(store);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(count(&store, "sqlite_schema"), objects);
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_database_from_a_newer_yupiao_is_refused_with_a_clear_message() {
        let (_dir, path) = db();
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        for result in [Store::open(&path), Store::open_read_only(&path)] {
            let e = result.err().unwrap();
            assert!(matches!(e, StoreError::NewerSchema { found: 99, .. }), "{e:?}");
            assert!(e.to_string().contains("newer yupiao"), "{e}");
        }
    }

    #[test]
    fn garbage_and_foreign_databases_are_refused_not_migrated() {
        let (dir, path) = db();
        std::fs::write(&path, "this is not sqlite, it is a shopping list\n".repeat(200)).unwrap();
        let e = Store::open(&path).err().unwrap();
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e:?}");
        assert!(e.to_string().contains("move it aside"), "{e}");

        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let e = Store::open(&other).err().unwrap();
        assert!(matches!(e, StoreError::NotADatabase { .. }), "{e:?}");
    }

    #[test]
    fn read_only_open_of_a_missing_file_says_what_creates_it() {
        let (_dir, path) = db();
        let e = Store::open_read_only(&path).err().unwrap();
        assert!(matches!(e, StoreError::Missing { .. }), "{e:?}");
        assert!(e.to_string().contains("yupiao run"), "{e}");
        assert!(!path.exists(), "a reader must not create the file");
    }

    #[test]
    fn a_second_daemon_is_refused_while_readers_still_work() {
        let (_dir, path) = db();
        let lock = Store::lock_for_daemon(&path).unwrap();
        let mut writer = Store::open(&path).unwrap();
        poll(
            &mut writer,
            0,
            &[train("G1", vec![seat(SeatClass::Second, "有")])],
        );

        let e = Store::lock_for_daemon(&path).unwrap_err();
        match &e {
            StoreError::Locked { pid, .. } => assert_eq!(*pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "another yupiao run (pid {}) is using ",
                std::process::id()
            )),
            "{msg}"
        );
        assert!(msg.contains("systemctl stop yupiao"), "{msg}");

        let mut reader = Store::open_read_only(&path).unwrap();
        assert_eq!(reader.current_seats("w").unwrap().len(), 1);
        assert!(
            reader
                .set_watch_status(&WatchStatus::new(JobKey::watch("x")))
                .is_err()
        );
        drop(reader);

        drop(writer); // last connection: WAL checkpointed, -wal/-shm removed
        let reader = Store::open_read_only(&path).unwrap();
        assert_eq!(reader.history_rows().unwrap(), 1);
        drop(lock);
        Store::lock_for_daemon(&path).expect("released on drop");
    }
}
