//! `yupiao.toml` + `YUPIAO__SECTION__KEY` environment variables → [`Settings`], with every
//! problem reported at once, as the watch list does.
//!
//! The file is read with `toml_edit` (which keeps byte spans) against the schema, the one list
//! of every section, key and the kind of value it takes; the environment is read against the same
//! list. So a misspelt key gets a did-you-mean wherever it was written, an enum its allowed
//! values, a duration an example, and an environment variable is blamed by its own name
//! (`$YUPIAO__EMAIL__PASWORD: unknown key …`), never on the file. Only when nothing is wrong are
//! the values handed to serde to fill the typed [`Settings`].
//!
//! Secrets (`email.password`, `rail.cookie`, `juhe.key`, …) are never echoed: not in a type
//! error, not in a syntax error's excerpt, not from the environment. Each can also come from a
//! file, `<key>_file`, whose trimmed content is the value (so the service group can read it and
//! `sudo -u yupiao yupiao test-email` uses exactly what the daemon uses); setting both is an
//! error. `rail.cookie_file` stays a path: the 候补 poller re-reads it, so a refreshed cookie is
//! picked up without a restart.
//!
//! Paths written in the file (`store.path`, `daemon.watchlist`, `email.maildir`,
//! `email.ca_file`, every `<key>_file`) are relative to the file's directory; paths from the
//! environment are relative to the working directory, as paths typed in a shell are.
//!
//! This file runs the steps; each lives beside it: `schema` (the keys and their kinds), `value`
//! (one value checked by its kind), `loader` (the collector of values and problems), `file` and
//! `env` (the two sources), `resolve` (secret files and checks across keys).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value as Json, json};

use super::loader::Loader;
pub use super::resolve::SAFE_MIN_INTERVAL;
use super::{Settings, resolve};
use crate::diagnostic::{Diagnostic, Report, Severity};

/// Reads the settings file at `path` (if any) and the `YUPIAO__…` variables of `env`. `Ok`
/// carries the settings and their warnings; `Err` every diagnostic, at least one an error.
pub fn load(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(Settings, Vec<Diagnostic>), Vec<Diagnostic>> {
    let file = path.map_or_else(|| "settings".to_string(), |p| p.display().to_string());
    let mut loader = Loader {
        report: None,
        unplaced: Vec::new(),
        values: BTreeMap::new(),
        base: path.map(|p| p.parent().map(Path::to_path_buf).unwrap_or_default()),
        file: file.clone(),
        channels: Vec::new(),
    };
    if let Some(p) = path {
        let text = match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(vec![Diagnostic::unplaced(
                    &file,
                    Severity::Error,
                    "settings file not found (pass --config PATH, or remove it to use the built-in defaults)",
                )]);
            }
            Err(e) => {
                return Err(vec![Diagnostic::unplaced(
                    &file,
                    Severity::Error,
                    crate::diagnostic::unreadable(p, "the settings file", &e),
                )]);
            }
        };
        super::file::read(&mut loader, &text);
    }
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("YUPIAO__"))
        .collect();
    env.sort();
    for (var, value) in env {
        super::env::read(&mut loader, &var, &value);
    }
    resolve::secret_files(&mut loader);
    resolve::cross_checks(&mut loader);
    let channels = super::channels::finish(&mut loader);
    let mut diags = loader.report.take().map(Report::finish).unwrap_or_default();
    diags.append(&mut loader.unplaced);
    if diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(diags);
    }
    let mut tree = serde_json::Map::new();
    for ((section, key), entry) in &loader.values {
        let sec = tree.entry(section.to_string()).or_insert_with(|| json!({}));
        sec[key.as_str()] = entry.value.clone();
    }
    match serde_json::from_value::<Settings>(Json::Object(tree)) {
        Ok(settings) => Ok((Settings { channels, ..settings }, diags)),
        // Every value was checked above; this only guards a schema that drifted from the types.
        Err(e) => Err(vec![Diagnostic::unplaced(
            &file,
            Severity::Error,
            format!("settings do not fit: {e}"),
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::io::Write;
    use std::path::PathBuf;
    use std::time::Duration;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn errors(text: &str, env: &[(&str, &str)]) -> Vec<String> {
        let f = file(text);
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        match load(Some(f.path()), env) {
            Ok(_) => Vec::new(),
            Err(d) => d
                .iter()
                .map(|d| {
                    d.to_string()
                        .replace(&f.path().display().to_string(), "yupiao.toml")
                })
                .collect(),
        }
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_line_and_column() {
        let text =
            "[email]\nhots = \"x\"\nsecurity = \"ssl\"\ntimeout = \"soon\"\nport = \"587\"\n[upstreams]\n";
        let e = errors(text, &[]);
        assert_eq!(
            e,
            [
                "yupiao.toml:2:1: unknown key \"hots\" in [email] (did you mean \"host\"?)",
                "yupiao.toml:3:12: security = \"ssl\" is not allowed (allowed: starttls, tls, none)",
                "yupiao.toml:4:11: timeout = \"soon\" is not a duration (expected number at 0); write e.g. \"3s\", \"10m\", \"1h\"",
                "yupiao.toml:5:8: port must be an integer, found a string (write port = 587, without quotes)",
                "yupiao.toml:6:2: unknown section [upstreams] (did you mean [upstream]?)",
            ],
            "{e:#?}"
        );
    }

    #[test]
    fn an_environment_override_is_blamed_by_its_own_name() {
        let e = errors(
            "[email]\nhost = \"mail.example.com\"\n",
            &[
                ("YUPIAO__EMAIL__PASWORD", "hunter2"),
                ("YUPIAO__EMAIL__PORT", "abc"),
                ("YUPIAO__EMAIL__SECURITY", "TLS"),
            ],
        );
        assert_eq!(
            e,
            [
                "$YUPIAO__EMAIL__PASWORD: unknown key \"pasword\" in [email] (did you mean YUPIAO__EMAIL__PASSWORD?)",
                "$YUPIAO__EMAIL__PORT: port = \"abc\" is not a whole number",
                "$YUPIAO__EMAIL__SECURITY: security = \"TLS\" is not allowed (allowed: starttls, tls, none); did you mean \"tls\"?",
            ],
            "{e:#?}"
        );
        assert!(e.iter().all(|l| !l.contains("hunter2")));
    }

    #[test]
    fn the_push_receivers_limits_are_read_and_checked_like_every_other_key() {
        let f = file("[callback]\nmax_connections = 8\nidle_timeout = \"3s\"\n");
        let (s, _) = load(Some(f.path()), Vec::new()).unwrap();
        assert_eq!(s.callback.max_connections, 8);
        assert_eq!(s.callback.idle_timeout, Duration::from_secs(3));
        let (s, _) = load(None, Vec::new()).unwrap();
        assert_eq!(s.callback.max_connections, 64, "the default");
        assert_eq!(s.callback.idle_timeout, Duration::from_secs(10), "the default");

        let e = errors(
            "[callback]\nmax_conections = 8\nmax_connections = 0\nidle_timeout = \"soon\"\n",
            &[("YUPIAO__CALLBACK__MAX_CONNECTIONS", "many")],
        );
        assert_eq!(
            e,
            [
                "yupiao.toml:2:1: unknown key \"max_conections\" in [callback] (did you mean \"max_connections\"?)",
                "yupiao.toml:3:19: max_connections = 0 must be between 1 and 4096 (each is a file descriptor; pushes come a few a day)",
                "yupiao.toml:4:16: idle_timeout = \"soon\" is not a duration (expected number at 0); write e.g. \"3s\", \"10m\", \"1h\"",
                "$YUPIAO__CALLBACK__MAX_CONNECTIONS: max_connections = \"many\" is not a whole number",
            ],
            "{e:#?}"
        );
        let e = errors("[callback]\nidle_timeout = 0\n", &[]);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("yupiao.toml:2:16: idle_timeout must be more than 0s"),
            "{e:?}"
        );
    }

    #[test]
    fn the_night_window_is_parsed_once_at_load_into_a_typed_window() {
        let hm = |h, m| chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let (s, _) = load(None, Vec::new()).unwrap();
        assert_eq!(s.daemon.night_window.to_string(), "01:00-05:00", "the default");
        let f = file("[daemon]\nnight_window = \"23:30-04:15\"\n");
        let (s, _) = load(Some(f.path()), Vec::new()).unwrap();
        let w = s.daemon.night_window;
        assert_eq!((w.start, w.end), (hm(23, 30), hm(4, 15)));
        assert!(
            w.contains(hm(0, 0)) && !w.contains(hm(12, 0)),
            "it wraps past midnight"
        );
        assert_eq!(s.daemon.night_window(), Some(w), "the old accessor agrees");
        let env = vec![(
            "YUPIAO__DAEMON__NIGHT_WINDOW".to_string(),
            " 02:00 - 03:00 ".to_string(),
        )];
        let (s, _) = load(Some(f.path()), env).unwrap();
        assert_eq!(s.daemon.night_window.to_string(), "02:00-03:00");

        let e = errors(
            "[daemon]\nnight_window = \"1am-5am\"\n",
            &[("YUPIAO__DAEMON__NIGHT_WINDOW", "01:00")],
        );
        assert_eq!(
            e,
            [
                "yupiao.toml:2:16: night_window = \"1am-5am\" must look like \"01:00-05:00\" (Beijing time)",
                "$YUPIAO__DAEMON__NIGHT_WINDOW: night_window = \"01:00\" must look like \"01:00-05:00\" (Beijing time)",
            ],
            "{e:#?}"
        );
    }

    #[test]
    fn a_fast_min_interval_is_a_warning_that_says_what_12306_does() {
        let f = file("[upstream]\nmin_interval = \"500ms\"\n");
        let (s, warnings) = load(Some(f.path()), Vec::new()).unwrap();
        assert_eq!(s.upstream.min_interval, Duration::from_millis(500));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let w = warnings[0].to_string();
        assert!(
            w.contains(":2:16: warning: min_interval = 500ms is below 3s"),
            "{w}"
        );
        assert!(w.contains("12306 throttles fast clients"), "{w}");
    }

    #[test]
    fn syntax_errors_on_secret_lines_show_the_position_never_the_value() {
        for (text, secret) in [
            ("[email]\npassword = SMTPPASS4711xyz\n", "SMTPPASS4711xyz"),
            ("[rail]\ncookie = \"JSESSIONID=abc\" tk=zzz9\n", "tk=zzz9"),
            ("[juhe]\nkey = \"k3y-s3cr3t\n", "k3y-s3cr3t"),
        ] {
            let e = errors(text, &[]);
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(e[0].starts_with("yupiao.toml:2:"), "{e:?}");
            assert!(e[0].contains("TOML syntax error"), "{e:?}");
            assert!(!e[0].contains(secret), "{e:?}");
            assert!(!e[0].contains("JSESSIONID"), "{e:?}");
        }
        // A secret of the wrong type: named, not shown.
        let e = errors("[email]\npassword = 12345678\n", &[]);
        assert_eq!(
            e,
            ["yupiao.toml:2:12: password must be a string, found an integer (quote it: password = \"…\")"]
        );
        // Ordinary keys keep their excerpt.
        let e = errors("[email]\nport = 5x87\n", &[]);
        assert!(e[0].contains("(at `5x87`)"), "{e:?}");
    }

    #[test]
    fn every_secret_can_come_from_a_file_and_both_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in [
            ("smtp-password", "hunter2\n"),
            ("juhe-key", "  abc123key \n"),
            ("cellphone", "13800138000"),
            ("token", "t0k"),
            ("account-password", "pw"),
        ] {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let settings = dir.path().join("yupiao.toml");
        std::fs::write(
            &settings,
            "[email]\npassword_file = \"smtp-password\"\n[juhe]\nkey_file = \"juhe-key\"\n\
             cellphone_file = \"cellphone\"\naccount_password_file = \"account-password\"\n\
             [callback]\ntoken_file = \"token\"\n[rail]\ncookie_file = \"cookie\"\n",
        )
        .unwrap();
        let (s, _) = load(Some(&settings), Vec::new()).unwrap();
        assert_eq!(s.email.password.unwrap().expose_secret(), "hunter2");
        assert_eq!(s.juhe.key.unwrap().expose_secret(), "abc123key");
        assert_eq!(s.juhe.cellphone.unwrap().expose_secret(), "13800138000");
        assert_eq!(s.juhe.account_password.unwrap().expose_secret(), "pw");
        assert_eq!(s.callback.token.unwrap().expose_secret(), "t0k");
        // The cookie file is re-read at every poll: it stays a path, relative to the file.
        assert_eq!(s.rail.cookie_file, Some(dir.path().join("cookie")));
        assert!(s.rail.cookie.is_none());

        let env = vec![("YUPIAO__EMAIL__PASSWORD".to_string(), "hunter2".to_string())];
        let e = load(Some(&settings), env).unwrap_err();
        let text: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].contains(":2:17: email.password_file and email.password are both set (the other at $YUPIAO__EMAIL__PASSWORD): keep one"),
            "{text:?}"
        );
        assert!(!text[0].contains("hunter2"));

        std::fs::write(dir.path().join("smtp-password"), "\n").unwrap();
        let e = load(Some(&settings), Vec::new()).unwrap_err();
        assert!(
            e[0].to_string().contains("is empty; put the password in it"),
            "{e:?}"
        );
    }

    #[test]
    fn paths_in_the_file_are_relative_to_it_and_the_watch_list_can_be_named_there() {
        let dir = tempfile::tempdir().unwrap();
        let settings = dir.path().join("yupiao.toml");
        std::fs::write(
            &settings,
            "[daemon]\nwatchlist = \"watches.toml\"\n[store]\npath = \"/var/lib/yupiao/yupiao.db\"\n[email]\nmaildir = \"mail\"\n",
        )
        .unwrap();
        let (s, _) = load(Some(&settings), Vec::new()).unwrap();
        assert_eq!(s.daemon.watchlist, Some(dir.path().join("watches.toml")));
        assert_eq!(s.store.path, PathBuf::from("/var/lib/yupiao/yupiao.db"));
        assert_eq!(s.email.maildir, dir.path().join("mail"));
        let env = vec![("YUPIAO__DAEMON__WATCHLIST".to_string(), "w.toml".to_string())];
        let (s, _) = load(Some(&settings), env).unwrap();
        assert_eq!(
            s.daemon.watchlist,
            Some(PathBuf::from("w.toml")),
            "the shell's directory"
        );
    }
}
