//! Where the settings file and the watch list are: one rule for every command and for the unit.
//!
//! The daemon runs from `/etc/yupiao` and a state directory; the user runs `yupiao status` or
//! `yupiao orders cancel …` (from an email) in whatever directory they are in. Both must land
//! on the same files without flags, so the settings file is found in this order: `--config`,
//! `$YUPIAO_CONFIG`, `./yupiao.toml`, `/etc/yupiao/yupiao.toml`, else the built-in defaults; and
//! the watch list is `--watchlist`, else `[daemon] watchlist` in the settings, else
//! `./watchlist.toml`. A file that exists but cannot be read counts as found, so the user is
//! told "permission denied", never "not found" or silently handed the defaults.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::Settings;

/// The system-wide settings directory.
pub const ETC_DIR: &str = "/etc/yupiao";

/// Overrides [`ETC_DIR`]; only for tests, which install into a temporary root.
pub const ETC_DIR_VAR: &str = "YUPIAO_ETC_DIR";

/// How the settings file was chosen (for `check` and error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    EnvVar,
    WorkingDirectory,
    System,
    /// No file: the built-in defaults.
    Defaults,
}

/// The settings file to read, if any, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: Option<PathBuf>,
    pub source: Source,
}

impl Found {
    /// `built-in defaults`, or the path.
    pub fn describe(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "built-in defaults".to_string(), |p| p.display().to_string())
    }
}

/// Applies the rule to the process's flag, environment and directories.
pub fn settings_file(flag: Option<&Path>) -> Found {
    settings_file_in(
        flag,
        std::env::var_os("YUPIAO_CONFIG"),
        std::env::var_os(ETC_DIR_VAR),
    )
}

/// The rule (pure but for looking at `./yupiao.toml` and the system file).
pub fn settings_file_in(
    flag: Option<&Path>,
    env_config: Option<OsString>,
    etc_override: Option<OsString>,
) -> Found {
    if let Some(p) = flag {
        return Found {
            path: Some(p.to_path_buf()),
            source: Source::Flag,
        };
    }
    if let Some(p) = env_config.filter(|v| !v.is_empty()) {
        return Found {
            path: Some(PathBuf::from(p)),
            source: Source::EnvVar,
        };
    }
    let local = PathBuf::from("yupiao.toml");
    // Only a file we can see: `sudo -u yupiao yupiao …` run from someone's private home
    // directory must go on to the system file, not stop at a directory it may not look into.
    if local.try_exists().unwrap_or(false) {
        return Found {
            path: Some(local),
            source: Source::WorkingDirectory,
        };
    }
    let etc = etc_override
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(ETC_DIR), PathBuf::from)
        .join("yupiao.toml");
    if present(&etc) {
        return Found {
            path: Some(etc),
            source: Source::System,
        };
    }
    Found {
        path: None,
        source: Source::Defaults,
    }
}

/// Exists, or cannot even be looked at because its directory (which exists) is closed to us:
/// either way it is there for the user, who must hear why it cannot be read.
fn present(path: &Path) -> bool {
    path.try_exists()
        .unwrap_or_else(|_| path.parent().is_some_and(|d| d.try_exists().unwrap_or(true)))
}

/// The watch list: `--watchlist`, else `[daemon] watchlist`, else `./watchlist.toml`.
pub fn watchlist_file(flag: Option<&Path>, settings: &Settings) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| settings.daemon.watchlist.clone())
        .unwrap_or_else(|| PathBuf::from("watchlist.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_then_the_variable_then_the_system_file_then_defaults() {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        let etc_var = Some(etc.clone().into_os_string());
        let flag = Path::new("/x/flag.toml");
        assert_eq!(
            settings_file_in(Some(flag), Some("/x/env.toml".into()), etc_var.clone()).source,
            Source::Flag
        );
        let found = settings_file_in(None, Some("/x/env.toml".into()), etc_var.clone());
        assert_eq!(found.path, Some(PathBuf::from("/x/env.toml")));
        // An empty $YUPIAO_CONFIG is unset; no system file yet: the defaults.
        let found = settings_file_in(None, Some("".into()), etc_var.clone());
        assert_eq!(found.source, Source::Defaults, "{found:?}");
        assert_eq!(found.describe(), "built-in defaults");
        std::fs::write(etc.join("yupiao.toml"), "").unwrap();
        let found = settings_file_in(None, None, etc_var);
        assert_eq!(found.path, Some(etc.join("yupiao.toml")));
        assert_eq!(found.source, Source::System);
    }

    #[test]
    fn the_watch_list_flag_wins_over_the_settings_which_win_over_the_default() {
        let mut s = Settings::default();
        assert_eq!(watchlist_file(None, &s), PathBuf::from("watchlist.toml"));
        s.daemon.watchlist = Some("/etc/yupiao/watchlist.toml".into());
        assert_eq!(
            watchlist_file(None, &s),
            PathBuf::from("/etc/yupiao/watchlist.toml")
        );
        assert_eq!(
            watchlist_file(Some(Path::new("mine.toml")), &s),
            PathBuf::from("mine.toml")
        );
    }
}
