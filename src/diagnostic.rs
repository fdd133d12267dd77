//! Problems found in the files users edit by hand, as `file:line:col: message`.
//!
//! `watchlist.toml` and `yupiao.toml` are both hand-written TOML that yupiao reads for weeks, so
//! both report the same way: every problem at once, each at the position of the offending key or
//! value (lines 1-based, columns in characters), with a suggestion where one can be made. This
//! module holds what the two readers share: the [`Diagnostic`] itself, the collector that turns
//! byte offsets into positions, the did-you-mean lookup and the wording of TOML syntax errors and
//! unreadable files. A value that is not in a file (an environment variable) has no position and
//! is named by itself (`$YUPIAO__EMAIL__PASWORD: …`).

use std::fmt;
use std::path::Path;

use crate::stations::levenshtein;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, printed as `file:line:col: message` (or `source: message` without a position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it, or the source that is not a file (`$YUPIAO__EMAIL__PORT`).
    pub file: String,
    /// 1-based; 0 when the problem has no position (an environment variable, a whole file).
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    /// A problem of a whole source (an environment variable), without a position.
    pub fn unplaced(source: &str, severity: Severity, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: source.to_string(),
            line: 0,
            col: 0,
            severity,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        if self.line == 0 {
            write!(f, "{}: {}{}", self.file, sev, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}{}",
                self.file, self.line, self.col, sev, self.message
            )
        }
    }
}

/// Turns byte offsets into 1-based line and character column and collects diagnostics.
pub(crate) struct Report {
    file: String,
    text: String,
    line_starts: Vec<usize>,
    diags: Vec<(usize, Diagnostic)>,
}

impl Report {
    pub(crate) fn new(file: &str, text: &str) -> Report {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Report {
            file: file.to_string(),
            text: text.to_string(),
            line_starts,
            diags: Vec::new(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let mut start = self.line_starts[line - 1];
        if start == 0 && self.text.starts_with('\u{feff}') && offset >= 3 {
            start = 3;
        }
        let col = self.text.get(start..offset).map_or(1, |s| s.chars().count() + 1);
        (line, col)
    }

    /// The text of the line holding byte `offset` (without its newline).
    pub(crate) fn line_text(&self, offset: usize) -> &str {
        let (line, _) = self.position(offset);
        let start = self.line_starts[line - 1];
        let end = self.line_starts.get(line).map_or(self.text.len(), |e| e - 1);
        self.text.get(start..end).unwrap_or("")
    }

    fn push(&mut self, severity: Severity, at: usize, message: String) {
        let (line, col) = self.position(at);
        let diag = Diagnostic {
            file: self.file.clone(),
            line,
            col,
            severity,
            message,
        };
        self.diags.push((at, diag));
    }

    pub(crate) fn error(&mut self, at: usize, message: impl Into<String>) {
        self.push(Severity::Error, at, message.into());
    }

    pub(crate) fn warning(&mut self, at: usize, message: impl Into<String>) {
        self.push(Severity::Warning, at, message.into());
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.diags.iter().any(|(_, d)| d.severity == Severity::Error)
    }

    /// Every diagnostic in file order (stable: same-position ones keep their order).
    pub(crate) fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|(at, _)| *at);
        self.diags.into_iter().map(|(_, d)| d).collect()
    }
}

pub(crate) fn span_start(span: Option<std::ops::Range<usize>>) -> usize {
    span.map_or(0, |s| s.start)
}

/// "a string", "an integer": type names as `toml_edit` spells them, with an article.
pub(crate) fn with_article(type_name: &str) -> String {
    let article = match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    };
    format!("{article} {type_name}")
}

/// `port must be an integer, found a string (write port = 587, without quotes)`: a value of the
/// wrong type, worded the same in both files. `hint` is empty or starts with a space.
pub(crate) fn wrong_type(key: &str, expected: &str, item: &toml_edit::Item, hint: &str) -> String {
    format!(
        "{key} must be {expected}, found {}{hint}",
        with_article(item.type_name())
    )
}

/// `notify must hold only strings, found an integer`: an array element of the wrong type.
pub(crate) fn wrong_element(key: &str, wanted: &str, element: &toml_edit::Value) -> String {
    format!(
        "{key} must hold only {wanted}, found {}",
        with_article(element.type_name())
    )
}

/// The hint for a boolean written as something else: a quoted `"true"` is told to lose its
/// quotes, anything else what a boolean is.
pub(crate) fn boolean_hint(key: &str, item: &toml_edit::Item) -> String {
    match item.as_str() {
        Some(s @ ("true" | "false")) => format!(" (write {key} = {s}, without quotes)"),
        _ => " (true or false)".to_string(),
    }
}

/// The known key closest to `key`, when it is close enough to be a likely typo. Two swapped
/// neighbours (`hots` for `host`) count as one slip, as they are typed.
pub(crate) fn nearest_key<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = (key.chars().count() / 4).max(1);
    known
        .iter()
        .map(|k| {
            let d = if swapped_neighbours(key, k) {
                1
            } else {
                levenshtein(key, k)
            };
            (d, *k)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// `a` is `b` with exactly two adjacent characters exchanged.
fn swapped_neighbours(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len() != b.len() {
        return false;
    }
    let diff: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    matches!(diff.as_slice(), [i, j] if *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i])
}

/// `TOML syntax error: <what toml_edit says>`, with a short excerpt of the offending text when
/// `excerpt` allows it. The caller refuses the excerpt where it could be a secret; an excerpt
/// with a long run of digits (an ID or phone number) is always left out.
pub(crate) fn syntax_message(e: &toml_edit::TomlError, text: &str, excerpt: bool) -> String {
    let what = e
        .span()
        .filter(|_| excerpt)
        .filter(|s| !s.is_empty() && s.len() <= 60)
        .and_then(|s| text.get(s))
        .filter(|s| !s.as_bytes().windows(6).any(|w| w.iter().all(u8::is_ascii_digit)))
        .map(|s| format!(" (at `{s}`)"))
        .unwrap_or_default();
    format!("TOML syntax error: {}{what}", e.message())
}

/// Why `path` (a `what`: "the settings file", "the watch list"…) cannot be read, and what to do:
/// a file that exists but is not ours to read says so, never "not found".
pub fn unreadable(path: &Path, what: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => format!(
            "cannot read {what} {} (permission denied): {}",
            path.display(),
            who_may_read(path)
        ),
        std::io::ErrorKind::NotFound => format!("{what} {} does not exist", path.display()),
        _ => format!("cannot read {what} {} ({e})", path.display()),
    }
}

/// `run as a member of group yupiao or with sudo`, naming the file's (or its directory's) group.
fn who_may_read(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let gid = std::fs::metadata(path)
            .or_else(|_| std::fs::metadata(path.parent().unwrap_or(path)))
            .map(|m| m.gid())
            .ok();
        match gid.map(|g| (g, group_name(g))) {
            Some((0, _)) | None => "run it with sudo".to_string(),
            Some((_, Some(name))) => format!("run as a member of group {name} or with sudo"),
            Some((g, None)) => format!("run as a member of group {g} or with sudo"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        "run it as a user who may read it".to_string()
    }
}

/// The name of group `gid` from `/etc/group`.
#[cfg(unix)]
fn group_name(gid: u32) -> Option<String> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        (f.next()?.parse::<u32>().ok()? == gid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_without_a_position_names_its_source_only() {
        let d = Diagnostic::unplaced("$YUPIAO__EMAIL__PASWORD", Severity::Error, "unknown key");
        assert_eq!(d.to_string(), "$YUPIAO__EMAIL__PASWORD: unknown key");
        let w = Diagnostic {
            line: 3,
            col: 7,
            ..Diagnostic::unplaced("yupiao.toml", Severity::Warning, "slow down")
        };
        assert_eq!(w.to_string(), "yupiao.toml:3:7: warning: slow down");
    }

    #[test]
    fn a_missing_file_and_a_forbidden_one_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.toml");
        let nf = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(unreadable(&p, "the settings file", &nf).ends_with("does not exist"));
        let pd = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let m = unreadable(&p, "the settings file", &pd);
        assert!(m.contains("(permission denied)"), "{m}");
        assert!(m.contains("sudo"), "{m}");
        assert!(!m.contains("not found") && !m.contains("does not exist"), "{m}");
    }

    #[test]
    fn a_swap_of_two_neighbours_is_one_typo() {
        assert_eq!(nearest_key("hots", &["host", "port"]), Some("host"));
        assert_eq!(nearest_key("pasword", &["password", "port"]), Some("password"));
        assert_eq!(nearest_key("colour", &["name", "from"]), None);
    }

    #[test]
    fn line_text_is_the_whole_line_of_an_offset() {
        let r = Report::new("f", "a = 1\npassword = x\n");
        assert_eq!(r.line_text(8), "password = x");
        assert_eq!(r.line_text(0), "a = 1");
    }
}
