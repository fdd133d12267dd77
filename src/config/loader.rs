//! The collector both readers of the settings write into: each key's checked value with where it
//! came from (a place in the file, or an environment variable), and every problem, placed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value as Json;

use crate::diagnostic::{Diagnostic, Report, Severity};

/// Where a value was written: the place every diagnostic about it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Origin {
    /// Byte offset of the value in the settings file.
    File(usize),
    /// The environment variable that set it.
    Env(String),
}

/// One key's value, checked, in the form serde reads, with where it came from.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) value: Json,
    pub(super) origin: Origin,
}

/// Collects values (file first, then the environment on top) and every problem.
pub(super) struct Loader {
    /// `file:line:col` problems of the settings file.
    pub(super) report: Option<Report>,
    /// Problems of environment variables and of the whole result.
    pub(super) unplaced: Vec<Diagnostic>,
    /// (section, key as written: `password` or `password_file`) → value.
    pub(super) values: BTreeMap<(&'static str, String), Entry>,
    /// The settings file's directory, for relative paths written in it.
    pub(super) base: Option<PathBuf>,
    /// How the file is named in diagnostics.
    pub(super) file: String,
    /// `[[channel]]` tables as written (see `channels`).
    pub(super) channels: Vec<RawChannel>,
}

impl Loader {
    pub(super) fn error(&mut self, origin: &Origin, message: String) {
        self.push(origin, Severity::Error, message);
    }

    pub(super) fn warning(&mut self, origin: &Origin, message: String) {
        self.push(origin, Severity::Warning, message);
    }

    pub(super) fn push(&mut self, origin: &Origin, severity: Severity, message: String) {
        match (origin, self.report.as_mut()) {
            (Origin::File(at), Some(r)) => match severity {
                Severity::Error => r.error(*at, message),
                Severity::Warning => r.warning(*at, message),
            },
            (Origin::Env(var), _) => {
                self.unplaced
                    .push(Diagnostic::unplaced(&format!("${var}"), severity, message))
            }
            (Origin::File(_), None) => self
                .unplaced
                .push(Diagnostic::unplaced(&self.file, severity, message)),
        }
    }

    pub(super) fn entry(&self, section: &str, key: &str) -> Option<&Entry> {
        self.values
            .iter()
            .find(|((s, k), _)| *s == section && k == key)
            .map(|(_, e)| e)
    }

    /// `yupiao.toml:12:9` or `$YUPIAO__EMAIL__PASSWORD`, for messages that name a second place.
    pub(super) fn place(&self, origin: &Origin) -> String {
        match (origin, &self.report) {
            (Origin::File(at), Some(r)) => {
                let (line, col) = r.position(*at);
                format!("{}:{line}:{col}", self.file)
            }
            (Origin::File(_), None) => self.file.clone(),
            (Origin::Env(var), _) => format!("${var}"),
        }
    }
}

/// One `[[channel]]` as written (file, then environment on top).
#[derive(Debug, Clone, Default)]
pub(super) struct RawChannel {
    /// Where the table starts (problems about missing keys point here).
    pub(super) at: Option<Origin>,
    /// key as written (`url`, `url_file`) → (text, where).
    pub(super) values: BTreeMap<String, (String, Origin)>,
}

impl RawChannel {
    pub(super) fn name(&self) -> Option<&str> {
        self.values.get("name").map(|(v, _)| v.trim())
    }
}
