//! A small file beside the database where the daemon says what it cannot write *into* it.
//!
//! `yupiao status` reads the database. When the disk is full the daemon cannot record there that
//! it cannot record anything, and `status` would go on showing the last "ok" as if all were well.
//! So the daemon keeps `<database>.health`: created at start at a fixed size (4 KiB of spaces) and
//! afterwards only overwritten in place, which needs no new blocks on ext4, xfs or tmpfs — it can
//! be written when nothing else can. (On copy-on-write filesystems such as btrfs even an in-place
//! write may need space; there a full disk shows in the log only.)
//!
//! The content is one JSON object ([`DbFault`]); `status` shows it only while the daemon that
//! wrote it holds the database lock, so a file left by a stopped daemon says nothing.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// Fixed size of the file: the JSON, padded with spaces.
pub const SIZE: usize = 4096;

/// What the daemon could not write to the database, while it lasts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbFault {
    /// The daemon that wrote this.
    pub pid: u32,
    /// The last write error (`None`: writes succeed).
    pub error: Option<String>,
    /// When writes started failing.
    pub since: Option<DateTime<FixedOffset>>,
    /// Email deliveries whose outcome (sent, failed, retry) is known only in the daemon's memory;
    /// while there are any, no further email is sent.
    pub unrecorded_emails: usize,
}

/// `<database>.health`.
pub fn path_for(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".health");
    PathBuf::from(name)
}

/// The open health file of a running daemon.
#[derive(Debug)]
pub struct HealthFile {
    file: File,
}

impl HealthFile {
    /// Creates (or reuses) the file beside `db` at its full size, and writes `fault` into it.
    pub fn create(db: &Path, fault: &DbFault) -> std::io::Result<HealthFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path_for(db))?;
        let mut h = HealthFile { file };
        // Real blocks, not a sparse file: later writes must not need new space.
        h.write_at_start(&[b' '; SIZE])?;
        h.file.sync_all()?;
        h.write(fault)?;
        Ok(h)
    }

    /// Overwrites the content in place (never grows the file).
    pub fn write(&mut self, fault: &DbFault) -> std::io::Result<()> {
        self.write_at_start(&render(fault))
    }

    fn write_at_start(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt as _;
            self.file.write_all_at(bytes, 0)
        }
        #[cfg(not(unix))]
        {
            use std::io::{Seek as _, SeekFrom, Write as _};
            self.file.seek(SeekFrom::Start(0))?;
            self.file.write_all(bytes)
        }
    }
}

/// The JSON of `fault`, padded to [`SIZE`] with spaces; an over-long error text is shortened.
pub fn render(fault: &DbFault) -> Vec<u8> {
    let mut f = fault.clone();
    loop {
        let mut json = serde_json::to_vec(&f).expect("a DbFault serializes");
        if json.len() < SIZE {
            json.resize(SIZE, b' ');
            return json;
        }
        let e = f.error.take().unwrap_or_default();
        let keep: String = e.chars().take(e.chars().count() / 2).collect();
        f.error = Some(format!("{keep}…"));
    }
}

/// What the health file beside `db` says, if it exists and is readable.
pub fn read(db: &Path) -> Option<DbFault> {
    let text = std::fs::read_to_string(path_for(db)).ok()?;
    serde_json::from_str(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_keeps_its_size_and_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("yupiao.db");
        let mut h = HealthFile::create(&db, &DbFault::default()).unwrap();
        assert_eq!(read(&db), Some(DbFault::default()));
        let fault = DbFault {
            pid: 42,
            error: Some("database or disk is full".into()),
            since: Some(crate::clock::now()),
            unrecorded_emails: 1,
        };
        h.write(&fault).unwrap();
        assert_eq!(read(&db), Some(fault));
        h.write(&DbFault {
            pid: 42,
            ..DbFault::default()
        })
        .unwrap();
        assert_eq!(read(&db).unwrap().error, None, "a shorter text leaves no tail");
        assert_eq!(std::fs::metadata(path_for(&db)).unwrap().len(), SIZE as u64);
    }

    #[test]
    fn a_huge_error_text_is_shortened_to_fit() {
        let fault = DbFault {
            error: Some("x".repeat(10_000)),
            ..DbFault::default()
        };
        let bytes = render(&fault);
        assert_eq!(bytes.len(), SIZE);
        let back: DbFault = serde_json::from_slice(&bytes).unwrap();
        assert!(back.error.unwrap().ends_with('…'));
    }
}
