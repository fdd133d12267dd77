//! One TOML table of the watch list read with positions: the typed getters step one is built from.
//!
//! Every value comes out as a [`Spanned`] (the value and the byte offset it was written at), so
//! that step two can point at it. A value of the wrong type is reported here, at the value, with
//! the fix where there is an obvious one (`every = 30` → write it with a unit, `"true"` → without
//! quotes), and becomes `None`; so does an array with a wrong element, each wrong element reported
//! at its own position.

use toml_edit::{Item, TableLike, Value};

use crate::diagnostic::{Report, boolean_hint, nearest_key, span_start, wrong_element, wrong_type};
use crate::identity::IdNumber;

/// A value and the byte offset where it was written.
#[derive(Debug, Clone)]
pub(super) struct Spanned<T> {
    pub(super) value: T,
    pub(super) at: usize,
}

/// An array of strings, each with its position, and where the array starts.
pub(super) type RawList = Spanned<Vec<Spanned<String>>>;

/// A table being read: knows its keys and how to report type errors at the right place.
pub(super) struct Section<'t> {
    table: &'t dyn TableLike,
    name: &'static str,
    known: &'static [&'static str],
}

impl<'t> Section<'t> {
    pub(super) fn new(table: &'t dyn TableLike, name: &'static str, known: &'static [&'static str]) -> Self {
        Section { table, name, known }
    }

    pub(super) fn key_at(&self, key: &str) -> usize {
        span_start(self.table.key(key).and_then(|k| k.span()))
    }

    /// Where a value was written (the key for implicit tables, which have no value text).
    pub(super) fn value_at(&self, key: &str, item: &Item) -> usize {
        item.span().map_or_else(|| self.key_at(key), |s| s.start)
    }

    pub(super) fn check_keys(&self, r: &mut Report) {
        for (key, _) in self.table.iter() {
            if self.known.contains(&key) {
                continue;
            }
            let hint = nearest_key(key, self.known)
                .map(|k| format!(" (did you mean \"{k}\"?)"))
                .unwrap_or_default();
            r.error(
                self.key_at(key),
                format!("unknown key \"{key}\" in {}{hint}", self.name),
            );
        }
    }

    fn wrong_type(&self, key: &str, item: &Item, expected: &str, hint: String, r: &mut Report) {
        r.error(self.value_at(key, item), wrong_type(key, expected, item, &hint));
    }

    /// What is written for `key`, if anything.
    pub(super) fn get(&self, key: &str) -> Option<&'t Item> {
        self.table.get(key)
    }

    pub(super) fn string(&self, key: &str, r: &mut Report) -> Option<Spanned<String>> {
        let item = self.get(key)?;
        match item.as_str() {
            Some(v) => Some(Spanned {
                value: v.to_string(),
                at: self.value_at(key, item),
            }),
            None => {
                let hint = match item.as_value() {
                    // A duration needs its unit: `every = 30` means `every = "30s"`.
                    Some(Value::Integer(_) | Value::Float(_)) if matches!(key, "every" | "close_time") => {
                        format!(
                            " (write it with a unit: {key} = \"{}s\")",
                            item.to_string().trim()
                        )
                    }
                    Some(Value::Integer(_) | Value::Float(_)) => {
                        format!(" (quote it: {key} = \"{}\")", item.to_string().trim())
                    }
                    _ => String::new(),
                };
                self.wrong_type(key, item, "a string", hint, r);
                None
            }
        }
    }

    /// Where an entry starts: its value, or for an array of tables the first table's header.
    pub(super) fn entry_at(&self, key: &str, item: &Item) -> usize {
        match item {
            Item::ArrayOfTables(aot) => aot
                .iter()
                .next()
                .and_then(|t| t.span())
                .map_or_else(|| self.key_at(key), |s| s.start),
            _ => self.value_at(key, item),
        }
    }

    pub(super) fn boolean(&self, key: &str, r: &mut Report) -> Option<bool> {
        self.boolean_at(key, r).map(|b| b.value)
    }

    pub(super) fn boolean_at(&self, key: &str, r: &mut Report) -> Option<Spanned<bool>> {
        let item = self.get(key)?;
        if let Some(v) = item.as_bool() {
            return Some(Spanned {
                value: v,
                at: self.value_at(key, item),
            });
        }
        self.wrong_type(key, item, "a boolean", boolean_hint(key, item), r);
        None
    }

    pub(super) fn integer(&self, key: &str, r: &mut Report) -> Option<Spanned<i64>> {
        let item = self.get(key)?;
        if let Some(v) = item.as_integer() {
            return Some(Spanned {
                value: v,
                at: self.value_at(key, item),
            });
        }
        let hint = match item.as_str().map(|s| s.trim().parse::<i64>()) {
            Some(Ok(n)) => format!(" (write {key} = {n}, without quotes)"),
            _ => String::new(),
        };
        self.wrong_type(key, item, "an integer", hint, r);
        None
    }

    /// A string, or a TOML date or local date-time written without quotes (as `YYYY-MM-DD` or
    /// `YYYY-MM-DDTHH:MM:SS`).
    pub(super) fn string_or_datetime(&self, key: &str, r: &mut Report) -> Option<Spanned<String>> {
        let item = self.get(key)?;
        match item.as_value() {
            Some(Value::Datetime(d)) if d.value().offset.is_none() => Some(Spanned {
                value: d.value().to_string(),
                at: self.value_at(key, item),
            }),
            _ => self.string(key, r),
        }
    }

    /// An ID number: a string (digits written as a TOML integer are refused without echoing them).
    pub(super) fn id_number(&self, key: &str, r: &mut Report) -> Option<Spanned<IdNumber>> {
        let item = self.get(key)?;
        match item.as_str() {
            Some(v) => Some(Spanned {
                value: IdNumber::new(v),
                at: self.value_at(key, item),
            }),
            None => {
                let hint = " (quote it: id_no = \"…\")".to_string();
                self.wrong_type(key, item, "a string", hint, r);
                None
            }
        }
    }

    /// An array of tables (`[[watch.passenger]]`) or an array of inline tables.
    pub(super) fn tables(
        &self,
        key: &str,
        header: &str,
        r: &mut Report,
    ) -> Option<Vec<(usize, &'t dyn TableLike)>> {
        let item = self.get(key)?;
        match item {
            Item::ArrayOfTables(aot) => Some(
                aot.iter()
                    .map(|t| {
                        (
                            t.span().map_or_else(|| self.key_at(key), |s| s.start),
                            t as &dyn TableLike,
                        )
                    })
                    .collect(),
            ),
            Item::Value(Value::Array(a)) if a.iter().all(|v| v.as_inline_table().is_some()) => Some(
                a.iter()
                    .filter_map(|v| {
                        v.as_inline_table()
                            .map(|t| (span_start(v.span()), t as &dyn TableLike))
                    })
                    .collect(),
            ),
            _ => {
                let hint = format!(" (write one {header} table per person)");
                self.wrong_type(key, item, &format!("an array of tables ({header})"), hint, r);
                None
            }
        }
    }

    /// An array of strings; elements of other types are reported one by one.
    pub(super) fn strings(&self, key: &str, r: &mut Report) -> Option<RawList> {
        self.list(key, "an array of strings", r, |v| v.as_str().map(str::to_string))
    }

    /// `dates`: strings, or TOML local dates written without quotes.
    pub(super) fn dates(&self, r: &mut Report) -> Option<RawList> {
        self.list("dates", "an array of dates", r, |v| match v {
            Value::String(s) => Some(s.value().clone()),
            Value::Datetime(d) => {
                let d = d.value();
                (d.time.is_none() && d.offset.is_none()).then(|| d.to_string())
            }
            _ => None,
        })
    }

    fn list(
        &self,
        key: &str,
        expected: &str,
        r: &mut Report,
        element: impl Fn(&Value) -> Option<String>,
    ) -> Option<RawList> {
        let item = self.get(key)?;
        let Some(array) = item.as_array() else {
            let hint = item
                .as_str()
                .map(|s| format!(" (write {key} = [\"{s}\"])"))
                .unwrap_or_default();
            self.wrong_type(key, item, expected, hint, r);
            return None;
        };
        let mut values = Vec::new();
        let mut ok = true;
        for v in array.iter() {
            let at = span_start(v.span());
            match element(v) {
                Some(value) => values.push(Spanned { value, at }),
                None => {
                    ok = false;
                    let wanted = expected.trim_start_matches("an array of ");
                    r.error(at, wrong_element(key, wanted, v));
                }
            }
        }
        ok.then(|| Spanned {
            value: values,
            at: self.value_at(key, item),
        })
    }
}
