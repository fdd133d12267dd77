//! The environment: `YUPIAO__SECTION__KEY` variables, checked against the same schema as the
//! file and blamed by their own name (`$YUPIAO__EMAIL__PASWORD: unknown key …`). Lists are
//! comma-separated; booleans also take `1`/`0`, `yes`/`no`, `on`/`off`.

use serde_json::Value as Json;

use super::loader::{Entry, Loader, Origin};
use super::schema::{Found, Kind, SCHEMA, known_keys, lookup, section, suggestion};
use super::value::{check_list_item, check_text, in_range};
use crate::diagnostic::nearest_key;

/// Reads one `YUPIAO__…` variable into `loader`.
pub(super) fn read(loader: &mut Loader, var: &str, value: &str) {
    let origin = Origin::Env(var.to_string());
    if let Some(rest) = var.strip_prefix("YUPIAO__CHANNEL__") {
        return super::channels::read_env(loader, var, rest, value);
    }
    let found = match key_of(var) {
        Ok(found) => found,
        Err(m) => return loader.error(&origin, m),
    };
    let name = found.name();
    match env_value(&name, found.kind(), value) {
        Ok(v) => {
            loader
                .values
                .insert((found.section, name), Entry { value: v, origin });
        }
        Err(m) => loader.error(&origin, m),
    }
}

/// The key a variable names, or why it names none (with the nearest variable that would).
fn key_of(var: &str) -> Result<Found, String> {
    let rest = &var["YUPIAO__".len()..];
    let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    let [sec, key] = parts.as_slice() else {
        return Err("not a setting: write YUPIAO__SECTION__KEY, e.g. YUPIAO__EMAIL__PASSWORD".into());
    };
    let Some(spec) = section(sec) else {
        let sections: Vec<&str> = SCHEMA.iter().map(|s| s.name).collect();
        let hint = nearest_key(sec, &sections)
            .map(|s| {
                format!(
                    " (did you mean YUPIAO__{}__{}?)",
                    s.to_uppercase(),
                    key.to_uppercase()
                )
            })
            .unwrap_or_else(|| format!(" (known: {})", sections.join(", ")));
        return Err(format!("unknown section [{sec}]{hint}"));
    };
    lookup(spec, key).ok_or_else(|| {
        let hint = suggestion(key, &known_keys(spec))
            .map(|k| {
                format!(
                    " (did you mean YUPIAO__{}__{}?)",
                    spec.name.to_uppercase(),
                    k.to_uppercase()
                )
            })
            .unwrap_or_default();
        format!("unknown key \"{key}\" in [{}]{hint}", spec.name)
    })
}

/// A variable's text checked as `kind`: every value is text here, so booleans, numbers and lists
/// are read from it.
fn env_value(name: &str, kind: Kind, value: &str) -> Result<Json, String> {
    match kind {
        Kind::Bool => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Json::Bool(true)),
            "false" | "0" | "no" | "off" => Ok(Json::Bool(false)),
            _ => Err(format!("{name} = {value:?} is not true or false")),
        },
        Kind::Int { min, max } => match value.trim().parse::<i64>() {
            Ok(n) => in_range(name, n, min, max),
            Err(_) => Err(format!("{name} = {value:?} is not a whole number")),
        },
        Kind::Texts | Kind::Mailboxes => value
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| check_list_item(name, kind, x).map(Json::String))
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array),
        _ => check_text(name, kind, value),
    }
}
