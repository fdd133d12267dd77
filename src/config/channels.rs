//! `[[channel]]` tables: the push channels `notify` lists name, read into
//! [`crate::push::ChannelSpec`]s with every problem at its `line:col`.
//!
//! Unlike the sections, `[[channel]]` is a list of tables, so it is read here beside the
//! section reader: each key of a table is checked as it is written, then the channel is judged
//! whole by [`ChannelSpec::validate`] and each of its problems is placed at the key it is about
//! (or at the table, for a key that is missing). `url`, `secret` and `token` are secrets: never
//! echoed in a message; each may also come from `<key>_file` (its trimmed content) or from
//! `YUPIAO__CHANNEL__<NAME>__<KEY>` (the name upper-cased, `-` written `_`) for a channel the
//! file declares.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use toml_edit::{Item, Table};

use super::loader::{Loader, Origin, RawChannel};
use crate::diagnostic::{nearest_key, span_start};
use crate::push::{ChannelKind, ChannelSpec, QuietHours, SpecField};

/// Keys a `[[channel]]` takes.
const KEYS: &[&str] = &["name", "kind", "url", "secret", "token", "chat_id", "quiet"];
/// Keys that are secrets (never shown; may come from `<key>_file`).
const SECRETS: &[&str] = &["url", "secret", "token"];

fn known_keys() -> Vec<String> {
    let mut keys: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    keys.extend(SECRETS.iter().map(|k| format!("{k}_file")));
    keys
}

/// Reads the `channel` item of the settings file (`key_at`: where `channel` is written).
pub(super) fn read_file(loader: &mut Loader, item: &Item, key_at: usize) {
    let Some(tables) = item.as_array_of_tables() else {
        loader.error(
            &Origin::File(span_start(item.span()).max(key_at)),
            "channel must be a list of tables: write each channel as [[channel]] with name, kind and url"
                .to_string(),
        );
        return;
    };
    for table in tables.iter() {
        read_table(loader, table, key_at);
    }
}

fn read_table(loader: &mut Loader, table: &Table, key_at: usize) {
    let mut raw = RawChannel {
        at: Some(Origin::File(span_start(table.span()).max(key_at))),
        ..RawChannel::default()
    };
    let known = known_keys();
    for (key, item) in table.iter() {
        let at = span_start(table.key(key).and_then(|k| k.span()));
        if !known.iter().any(|k| k == key) {
            let refs: Vec<&str> = known.iter().map(String::as_str).collect();
            let hint = nearest_key(key, &refs)
                .map(|k| format!(" (did you mean \"{k}\"?)"))
                .unwrap_or_else(|| format!(" (known: {})", KEYS.join(", ")));
            loader.error(
                &Origin::File(at),
                format!("unknown key \"{key}\" in [[channel]]{hint}"),
            );
            continue;
        }
        let value_at = item.span().map_or(at, |s| s.start);
        let Some(text) = item.as_str() else {
            let secret = is_secret(key);
            let hint = if secret {
                format!(" (quote it: {key} = \"…\")")
            } else {
                String::new()
            };
            loader.error(
                &Origin::File(value_at),
                format!("[[channel]] {key} must be a string{hint}"),
            );
            continue;
        };
        let text = match (key.ends_with("_file"), loader.base.as_ref()) {
            (true, Some(base)) => base.join(text).display().to_string(),
            _ => text.to_string(),
        };
        raw.values.insert(key.to_string(), (text, Origin::File(value_at)));
    }
    loader.channels.push(raw);
}

fn is_secret(key: &str) -> bool {
    SECRETS.contains(&key.trim_end_matches("_file"))
}

/// Reads `YUPIAO__CHANNEL__<NAME>__<KEY>` (`rest`: what follows `YUPIAO__CHANNEL__`).
pub(super) fn read_env(loader: &mut Loader, var: &str, rest: &str, value: &str) {
    let origin = Origin::Env(var.to_string());
    let Some((name, key)) = rest.rsplit_once("__") else {
        loader.error(
            &origin,
            "not a channel setting: write YUPIAO__CHANNEL__<NAME>__<KEY>, e.g. YUPIAO__CHANNEL__IPHONE__URL"
                .to_string(),
        );
        return;
    };
    let key = key.to_ascii_lowercase();
    if !known_keys().contains(&key) || key == "name" {
        loader.error(
            &origin,
            format!(
                "unknown channel key \"{key}\" (the environment can set: kind, url, secret, token, chat_id, \
                 quiet and url_file, secret_file, token_file)"
            ),
        );
        return;
    }
    let wanted = name.to_ascii_lowercase();
    let found = loader.channels.iter_mut().find(|c| {
        c.name()
            .is_some_and(|n| n.to_ascii_lowercase().replace('-', "_") == wanted)
    });
    let Some(channel) = found else {
        loader.error(
            &origin,
            format!(
                "no [[channel]] named \"{}\" in the settings file: declare it there (name and kind); the \
                 environment can then set its url, secret or token",
                wanted
            ),
        );
        return;
    };
    // The environment replaces what the file wrote, `_file` variant included.
    let base = key.trim_end_matches("_file").to_string();
    channel.values.remove(&base);
    channel.values.remove(&format!("{base}_file"));
    channel.values.insert(key, (value.to_string(), origin));
}

/// Judges every channel: secret files read, kinds and quiet hours parsed, each spec validated,
/// names unique. Every problem goes to `loader`; the channels without one are returned.
pub(super) fn finish(loader: &mut Loader) -> Vec<ChannelSpec> {
    let raws = std::mem::take(&mut loader.channels);
    let mut specs: Vec<ChannelSpec> = Vec::new();
    let mut seen: Vec<(String, Origin)> = Vec::new();
    for raw in &raws {
        let Some(spec) = judge(loader, raw) else {
            continue;
        };
        let name_origin = origin_of(raw, "name");
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == spec.name) {
            let first = loader.place(first);
            loader.error(
                &name_origin,
                format!(
                    "a second channel named \"{}\" (the first at {first}): channel names must be unique",
                    spec.name
                ),
            );
            continue;
        }
        seen.push((spec.name.clone(), name_origin));
        specs.push(spec);
    }
    loader.channels = raws;
    specs
}

/// Where `key` (or its `_file` variant) was written, else where the table starts.
fn origin_of(raw: &RawChannel, key: &str) -> Origin {
    raw.values
        .get(key)
        .or_else(|| raw.values.get(&format!("{key}_file")))
        .map(|(_, o)| o.clone())
        .or_else(|| raw.at.clone())
        .unwrap_or(Origin::File(0))
}

/// One channel as a spec, or `None` after reporting what is wrong with it.
fn judge(loader: &mut Loader, raw: &RawChannel) -> Option<ChannelSpec> {
    let table = raw.at.clone().unwrap_or(Origin::File(0));
    let mut ok = true;
    let name = match raw.name() {
        Some(n) => n.to_string(),
        None => {
            loader.error(
                &table,
                "[[channel]] has no name: add name = \"…\" (what `notify` lists call it)".to_string(),
            );
            ok = false;
            String::new()
        }
    };
    let kind = match raw.values.get("kind") {
        None => {
            loader.error(
                &table,
                format!(
                    "[[channel]] \"{name}\" has no kind: add kind = \"…\" ({})",
                    ChannelKind::allowed()
                ),
            );
            ok = false;
            None
        }
        Some((text, origin)) => match text.parse::<ChannelKind>() {
            Ok(k) => Some(k),
            Err(e) => {
                loader.error(origin, e.to_string());
                ok = false;
                None
            }
        },
    };
    let mut secrets: BTreeMap<&str, SecretString> = BTreeMap::new();
    for key in SECRETS {
        match secret_value(loader, raw, key) {
            Ok(Some(v)) => {
                secrets.insert(key, v);
            }
            Ok(None) => {}
            Err(()) => ok = false,
        }
    }
    let quiet = match raw.values.get("quiet") {
        None => None,
        Some((text, origin)) => match text.parse::<QuietHours>() {
            Ok(q) => Some(q),
            Err(e) => {
                loader.error(origin, e.to_string());
                ok = false;
                None
            }
        },
    };
    let kind = kind?;
    let spec = ChannelSpec {
        name,
        kind,
        url: secrets.remove("url"),
        secret: secrets.remove("secret"),
        token: secrets.remove("token"),
        chat_id: raw.values.get("chat_id").map(|(v, _)| v.clone()),
        quiet,
    };
    if let Err(errors) = spec.validate() {
        for e in errors {
            let origin = match e.field() {
                SpecField::Name => origin_of(raw, "name"),
                field => origin_of(raw, field.key()),
            };
            let shown = if spec.name.is_empty() {
                "[[channel]]".to_string()
            } else {
                format!("channel \"{}\"", spec.name)
            };
            loader.error(&origin, format!("{shown}: {e}"));
        }
        ok = false;
    }
    ok.then_some(spec)
}

/// A secret key's value: written directly, or read from `<key>_file` (both is an error).
fn secret_value(loader: &mut Loader, raw: &RawChannel, key: &str) -> Result<Option<SecretString>, ()> {
    let file_key = format!("{key}_file");
    match (raw.values.get(key), raw.values.get(&file_key)) {
        (None, None) => Ok(None),
        (Some((v, _)), None) => Ok(Some(SecretString::from(v.trim().to_string()))),
        (Some((_, direct)), Some((_, from_file))) => {
            let other = loader.place(direct);
            loader.error(
                from_file,
                format!("[[channel]] {file_key} and {key} are both set (the other at {other}): keep one"),
            );
            Err(())
        }
        (None, Some((path, origin))) => {
            let path = PathBuf::from(path);
            match std::fs::read_to_string(&path) {
                Ok(content) if content.trim().is_empty() => {
                    loader.error(
                        origin,
                        format!(
                            "{file_key}: {} is empty; put the {key} in it, or remove {file_key}",
                            path.display()
                        ),
                    );
                    Err(())
                }
                Ok(content) => Ok(Some(SecretString::from(content.trim().to_string()))),
                Err(e) => {
                    loader.error(
                        origin,
                        format!(
                            "{file_key}: {}",
                            crate::diagnostic::unreadable(&path, "the file", &e)
                        ),
                    );
                    Err(())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use secrecy::ExposeSecret;

    use super::super::load::load;
    use crate::diagnostic::Diagnostic;
    use crate::push::ChannelKind;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn errors(text: &str, vars: &[(&str, &str)]) -> Vec<Diagnostic> {
        let f = file(text);
        load(Some(f.path()), env(vars)).expect_err("the settings have errors")
    }

    #[test]
    fn channel_tables_become_specs_with_secrets_from_the_file_a_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ding.secret"), "SECfromfile123\n").unwrap();
        let text = "[email]\nfrom = \"me@example.com\"\n\n\
            [[channel]]\nname = \"iphone\"\nkind = \"bark\"\nurl = \"https://api.day.app/KEYinfile42\"\nquiet = \"23:00-07:00\"\n\n\
            [[channel]]\nname = \"team-robot\"\nkind = \"dingtalk\"\n\
            url = \"https://oapi.dingtalk.com/robot/send?access_token=tokfile999\"\nsecret_file = \"ding.secret\"\n";
        let path = dir.path().join("yupiao.toml");
        std::fs::write(&path, text).unwrap();
        let vars = env(&[(
            "YUPIAO__CHANNEL__TEAM_ROBOT__URL",
            "https://oapi.dingtalk.com/robot/send?access_token=tokenv777",
        )]);
        let (settings, warnings) = load(Some(&path), vars).expect("valid settings");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.channel_names(), ["iphone", "team-robot"]);
        let iphone = settings.channel("iphone").unwrap();
        assert_eq!(iphone.kind, ChannelKind::Bark);
        assert_eq!(
            iphone.url.as_ref().unwrap().expose_secret(),
            "https://api.day.app/KEYinfile42"
        );
        assert_eq!(iphone.quiet.unwrap().to_string(), "23:00-07:00");
        let robot = settings.channel("team-robot").unwrap();
        assert_eq!(robot.secret.as_ref().unwrap().expose_secret(), "SECfromfile123");
        assert!(
            robot.url.as_ref().unwrap().expose_secret().ends_with("tokenv777"),
            "the environment replaces the file's url"
        );
        assert_eq!(robot.redacted_url(), "https://oapi.dingtalk.com/***");
        assert!(
            !format!("{settings:?}").contains("KEYinfile42"),
            "Debug never shows a secret"
        );
    }

    #[test]
    fn channel_problems_are_placed_at_their_key_and_never_show_a_secret() {
        let text = "[[channel]]\nname = \"a\"\nkind = \"bork\"\nurl = \"https://x.example/SECRETKEY1\"\n\n\
            [[channel]]\nname = \"b\"\nkind = \"dingtalk\"\nurl = \"https://oapi.dingtalk.com/robot/send?access_token=SECRETKEY2\"\n\
            secret = \"notsigned-SECRETKEY3\"\ncolour = \"red\"\n\n\
            [[channel]]\nname = \"c\"\nkind = \"telegram\"\n\n\
            [[channel]]\nname = \"a\"\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/topic\"\nquiet = \"late\"\n";
        let diags = errors(
            text,
            &[("YUPIAO__CHANNEL__NOPE__URL", "https://x.example/SECRETKEY4")],
        );
        let found: Vec<(usize, usize, &str)> = diags
            .iter()
            .map(|d| (d.line, d.col, d.message.as_str()))
            .collect();
        let at = |line: usize, col: usize, text: &str| {
            assert!(
                found
                    .iter()
                    .any(|(l, c, m)| (*l, *c) == (line, col) && m.contains(text)),
                "no error at {line}:{col} containing {text:?} in {found:#?}"
            );
        };
        at(3, 8, "unknown channel kind \"bork\"");
        at(10, 10, "does not start with \"SEC\"");
        at(11, 1, "unknown key \"colour\" in [[channel]]");
        at(13, 1, "`url` is missing");
        at(13, 1, "`chat_id` is missing");
        at(21, 9, "quiet hours \"late\"");
        let all = diags
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all.contains("$YUPIAO__CHANNEL__NOPE__URL"), "{all}");
        assert!(all.contains("no [[channel]] named \"nope\""), "{all}");
        for secret in ["SECRETKEY1", "SECRETKEY2", "SECRETKEY3", "SECRETKEY4"] {
            assert!(!all.contains(secret), "{secret} shown in:\n{all}");
        }
    }

    #[test]
    fn a_second_channel_of_the_same_name_points_at_the_first() {
        let text = "[[channel]]\nname = \"a\"\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/t1\"\n\
            [[channel]]\nname = \"a\"\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/t2\"\n";
        let diags = errors(text, &[]);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!((diags[0].line, diags[0].col), (6, 8));
        assert!(diags[0].message.contains("the first at"), "{}", diags[0]);
        assert!(diags[0].message.contains(":2:8"), "{}", diags[0]);
    }
}
