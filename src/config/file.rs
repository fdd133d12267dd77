//! The settings file: `yupiao.toml` read with `toml_edit` (which keeps byte spans) against the
//! schema, so every problem points at its `line:col`. Relative paths written in the file are
//! made relative to the file's directory.

use serde_json::Value as Json;
use toml_edit::{Item, TableLike, Value};

use super::loader::{Entry, Loader, Origin};
use super::schema::{Found, Kind, SCHEMA, SectionSpec, known_keys, lookup, section, suggestion};
use super::value::{check_list_item, check_text, in_range};
use crate::diagnostic::{
    Report, boolean_hint, nearest_key, span_start, syntax_message, with_article, wrong_element, wrong_type,
};

/// Reads the settings file's `text` into `loader`.
pub(super) fn read(loader: &mut Loader, text: &str) {
    let mut report = Report::new(&loader.file, text);
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            let excerpt = !line_may_hold_a_secret(report.line_text(at));
            report.error(at, syntax_message(&e, text, excerpt));
            loader.report = Some(report);
            return;
        }
    };
    loader.report = Some(report);
    let root = doc.as_table();
    for (name, item) in root.iter() {
        let key_at = span_start(root.key(name).and_then(|k| k.span()));
        if name == "channel" {
            super::channels::read_file(loader, item, key_at);
            continue;
        }
        let Some(spec) = section(name) else {
            let sections: Vec<&str> = SCHEMA.iter().map(|s| s.name).collect();
            let hint = nearest_key(name, &sections)
                .map(|s| format!(" (did you mean [{s}]?)"))
                .unwrap_or_else(|| format!(" (known: [{}])", sections.join("], [")));
            let what = if item.is_table_like() {
                format!("unknown section [{name}]")
            } else {
                format!("unknown top-level key \"{name}\"; keys belong in a section")
            };
            loader.error(&Origin::File(key_at), format!("{what}{hint}"));
            continue;
        };
        let Some(table) = item.as_table_like() else {
            loader.error(
                &Origin::File(span_start(item.span()).max(key_at)),
                format!(
                    "{name} must be a table ([{name}]), found {}",
                    with_article(item.type_name())
                ),
            );
            continue;
        };
        read_section(loader, spec, table);
    }
}

/// Whether a syntax error on this line could quote a secret: its key is a secret, or it is not
/// plainly `known_key = …` (a continuation of a multi-line string, say).
fn line_may_hold_a_secret(line: &str) -> bool {
    let Some((key, _)) = line.split_once('=') else {
        return !line.trim_start().starts_with('[');
    };
    let key = key.trim().trim_matches(['"', '\'']);
    let known = SCHEMA.iter().find_map(|s| lookup(s, key));
    known.is_none_or(|f| f.spec.kind.is_secret())
}

fn read_section(loader: &mut Loader, spec: &'static SectionSpec, table: &dyn TableLike) {
    for (key, item) in table.iter() {
        let key_at = span_start(table.key(key).and_then(|k| k.span()));
        let Some(found) = lookup(spec, key) else {
            let hint = suggestion(key, &known_keys(spec))
                .map(|k| format!(" (did you mean \"{k}\"?)"))
                .unwrap_or_default();
            loader.error(
                &Origin::File(key_at),
                format!("unknown key \"{key}\" in [{}]{hint}", spec.name),
            );
            continue;
        };
        let at = item.span().map_or(key_at, |s| s.start);
        if let Some(value) = file_value(loader, found, item, at) {
            let value = match (found.kind(), loader.base.as_ref(), value) {
                (Kind::Path, Some(base), Json::String(p)) => {
                    Json::String(base.join(&p).display().to_string())
                }
                (_, _, v) => v,
            };
            loader.values.insert(
                (found.section, found.name()),
                Entry {
                    value,
                    origin: Origin::File(at),
                },
            );
        }
    }
}

/// The value of one key in the file, checked; `None` (and a diagnostic) when it is wrong.
fn file_value(loader: &mut Loader, found: Found, item: &Item, at: usize) -> Option<Json> {
    let key = found.name();
    let kind = found.kind();
    let checked = match kind {
        Kind::Bool => item
            .as_bool()
            .map(Json::Bool)
            .ok_or_else(|| wrong_type(&key, "a boolean", item, &boolean_hint(&key, item))),
        Kind::Int { min, max } => file_integer(&key, item, min, max),
        Kind::Duration => file_duration(&key, item),
        Kind::Texts | Kind::Mailboxes => return file_list(loader, &key, kind, item, at),
        _ => file_text(&key, kind, item),
    };
    checked.map_err(|m| loader.error(&Origin::File(at), m)).ok()
}

fn file_integer(key: &str, item: &Item, min: i64, max: i64) -> Result<Json, String> {
    match (item.as_integer(), item.as_str()) {
        (Some(n), _) => in_range(key, n, min, max),
        (None, Some(s)) if s.trim().parse::<i64>().is_ok() => Err(wrong_type(
            key,
            "an integer",
            item,
            &format!(" (write {key} = {}, without quotes)", s.trim()),
        )),
        _ => Err(wrong_type(key, "an integer", item, "")),
    }
}

/// A duration: text with a unit, or a whole number of seconds.
fn file_duration(key: &str, item: &Item) -> Result<Json, String> {
    match (item.as_integer(), item.as_str()) {
        (Some(n), _) if n >= 0 => Ok(Json::from(n)),
        (_, Some(s)) => check_text(key, Kind::Duration, s),
        _ => Err(wrong_type(
            key,
            "a duration",
            item,
            &format!(" (write it with a unit: {key} = \"30s\")"),
        )),
    }
}

/// Every other kind is written as a string; a secret of the wrong type is named, never shown.
fn file_text(key: &str, kind: Kind, item: &Item) -> Result<Json, String> {
    if let Some(s) = item.as_str() {
        return check_text(key, kind, s);
    }
    let hint = match item.as_value() {
        _ if kind.is_secret() => format!(" (quote it: {key} = \"…\")"),
        Some(Value::Integer(_) | Value::Float(_) | Value::Boolean(_)) => {
            format!(" (quote it: {key} = \"{}\")", item.to_string().trim())
        }
        _ => String::new(),
    };
    Err(wrong_type(key, "a string", item, &hint))
}

/// An array of strings; each element that is wrong is reported at the element.
fn file_list(loader: &mut Loader, key: &str, kind: Kind, item: &Item, at: usize) -> Option<Json> {
    let Some(array) = item.as_array() else {
        let hint = item
            .as_str()
            .filter(|_| !kind.is_secret())
            .map(|s| format!(" (write {key} = [\"{s}\"])"))
            .unwrap_or_default();
        loader.error(
            &Origin::File(at),
            wrong_type(key, "an array of strings", item, &hint),
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for v in array.iter() {
        let checked = match v.as_str() {
            Some(s) => check_list_item(key, kind, s).map(Json::String),
            None => Err(wrong_element(key, "strings", v)),
        };
        match checked {
            Ok(s) => out.push(s),
            Err(m) => {
                ok = false;
                loader.error(&Origin::File(span_start(v.span())), m);
            }
        }
    }
    ok.then_some(Json::Array(out))
}
