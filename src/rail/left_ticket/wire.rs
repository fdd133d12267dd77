//! The JSON around the rows, read in one pass without copying what the decoder keeps.
//!
//! Parsing the body into a `serde_json::Value` first copied every row and station name into its
//! own `String` and built a map per object; the decoder then copied them again. Here the body is
//! read straight into the few members the decoder looks at (`status`, `c_url`, `messages`,
//! `data.map`, `data.result`), rows and names borrowed from the body unless they carry JSON
//! escapes. Nothing is judged here: any JSON is accepted, and a member of a shape the decoder
//! does not expect is kept as a `Value` so that [`super`] can decide (and quote it) exactly as
//! before. Members the decoder ignores are still parsed the way a `Value` would be (numbers in
//! range, escapes valid, nesting bounded), so a body is JSON here exactly when it was before.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A whole body: an object, or any other JSON value.
pub(super) enum Top<'b> {
    Object(Envelope<'b>),
    NotObject,
}

/// The members of the top-level object the decoder reads; the last one wins when a member is
/// repeated, as in a `Value`.
#[derive(Default)]
pub(super) struct Envelope<'b> {
    pub status: Option<Value>,
    pub c_url: Option<Value>,
    pub messages: Option<Value>,
    /// `None`: no `data` member at all (which differs from `"data": null`).
    pub data: Option<Data<'b>>,
}

/// The `data` member.
pub(super) enum Data<'b> {
    /// `null`, a blank string or `[]`: no trains.
    Empty,
    Object {
        /// `data.map`'s members in body order: (telecode, name), the name `None` when it is not
        /// a string (such a member is no name, and hides an earlier one of the same code).
        names: Vec<(Cow<'b, str>, Option<Cow<'b, str>>)>,
        /// `None`: no `result` member.
        result: Option<Rows<'b>>,
    },
    Other(Value),
}

/// The `data.result` member.
pub(super) enum Rows<'b> {
    Null,
    List(Vec<Row<'b>>),
    Other(Value),
}

/// One element of `data.result`.
pub(super) enum Row<'b> {
    Text(Cow<'b, str>),
    Other(Value),
}

/// Reads a body (already trimmed). An error means the body is not JSON.
pub(super) fn parse(body: &str) -> Result<Top<'_>, serde_json::Error> {
    serde_json::from_str(body)
}

/// A shape the decoder expects for one member. The visitor below hands it the JSON value it
/// finds; every method a shape does not override keeps the value as a `Value`.
trait Shape<'b>: Sized {
    const EXPECTING: &'static str;

    /// Any value the shape does not read.
    fn other(value: Value) -> Self;

    fn borrowed_str(s: &'b str) -> Self {
        Self::transient_str(s)
    }
    /// A string that does not stand in the body as it is (it had escapes).
    fn transient_str(s: &str) -> Self {
        Self::other(Value::String(s.to_string()))
    }
    fn seq<A: SeqAccess<'b>>(seq: A) -> Result<Self, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Self::other)
    }
    fn map<A: MapAccess<'b>>(map: A) -> Result<Self, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Self::other)
    }
}

struct ShapeVisitor<T>(PhantomData<T>);

fn shaped<'b, D: Deserializer<'b>, T: Shape<'b>>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(ShapeVisitor(PhantomData))
}

impl<'b, T: Shape<'b>> Visitor<'b> for ShapeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        Ok(T::other(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Ok(T::other(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Ok(T::other(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Ok(T::other(Value::from(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::other(Value::Null))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'b str) -> Result<T, E> {
        Ok(T::borrowed_str(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::transient_str(v))
    }
    fn visit_seq<A: SeqAccess<'b>>(self, seq: A) -> Result<T, A::Error> {
        T::seq(seq)
    }
    fn visit_map<A: MapAccess<'b>>(self, map: A) -> Result<T, A::Error> {
        T::map(map)
    }
}

/// Implements `Deserialize` through [`Shape`].
macro_rules! deserialize_as_shape {
    ($($t:ident),*) => {$(
        impl<'de> Deserialize<'de> for $t<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                shaped(d)
            }
        }
    )*};
}

/// A value the decoder ignores, parsed (and so checked) as a `Value` would be, but not kept.
struct Skip;

impl<'b> Shape<'b> for Skip {
    const EXPECTING: &'static str = "any JSON value";
    fn other(_: Value) -> Self {
        Skip
    }
    fn transient_str(_: &str) -> Self {
        Skip
    }
    fn seq<A: SeqAccess<'b>>(mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn map<A: MapAccess<'b>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        shaped(d)
    }
}

/// A string, borrowed from the body when it has no escapes; any other value is `None`.
struct Str<'b>(Option<Cow<'b, str>>);

impl<'b> Shape<'b> for Str<'b> {
    const EXPECTING: &'static str = "a string";
    fn other(_: Value) -> Self {
        Str(None)
    }
    fn borrowed_str(s: &'b str) -> Self {
        Str(Some(Cow::Borrowed(s)))
    }
    fn transient_str(s: &str) -> Self {
        Str(Some(Cow::Owned(s.to_string())))
    }
    fn seq<A: SeqAccess<'b>>(seq: A) -> Result<Self, A::Error> {
        Skip::seq(seq).map(|_| Str(None))
    }
    fn map<A: MapAccess<'b>>(map: A) -> Result<Self, A::Error> {
        Skip::map(map).map(|_| Str(None))
    }
}

/// `data.map`'s members; not an object reads as no names.
struct Names<'b>(Vec<(Cow<'b, str>, Option<Cow<'b, str>>)>);

impl<'b> Shape<'b> for Names<'b> {
    const EXPECTING: &'static str = "the station map";
    fn other(_: Value) -> Self {
        Names(Vec::new())
    }
    fn seq<A: SeqAccess<'b>>(seq: A) -> Result<Self, A::Error> {
        Skip::seq(seq).map(|_| Names(Vec::new()))
    }
    fn map<A: MapAccess<'b>>(mut map: A) -> Result<Self, A::Error> {
        let mut names = Vec::new();
        while let Some((code, name)) = map.next_entry::<Str, Str>()? {
            if let Some(code) = code.0 {
                names.push((code, name.0));
            }
        }
        Ok(Names(names))
    }
}

impl<'b> Shape<'b> for Row<'b> {
    const EXPECTING: &'static str = "a leftTicket row";
    fn other(value: Value) -> Self {
        Row::Other(value)
    }
    fn borrowed_str(s: &'b str) -> Self {
        Row::Text(Cow::Borrowed(s))
    }
    fn transient_str(s: &str) -> Self {
        Row::Text(Cow::Owned(s.to_string()))
    }
}

impl<'b> Shape<'b> for Rows<'b> {
    const EXPECTING: &'static str = "the list of rows";
    fn other(value: Value) -> Self {
        match value {
            Value::Null => Rows::Null,
            other => Rows::Other(other),
        }
    }
    fn seq<A: SeqAccess<'b>>(mut seq: A) -> Result<Self, A::Error> {
        let mut rows = Vec::new();
        while let Some(row) = seq.next_element::<Row>()? {
            rows.push(row);
        }
        Ok(Rows::List(rows))
    }
}

impl<'b> Shape<'b> for Data<'b> {
    const EXPECTING: &'static str = "the data object";
    fn other(value: Value) -> Self {
        match value {
            Value::Null => Data::Empty,
            Value::String(s) if s.trim().is_empty() => Data::Empty,
            Value::Array(a) if a.is_empty() => Data::Empty,
            other => Data::Other(other),
        }
    }
    fn map<A: MapAccess<'b>>(mut map: A) -> Result<Self, A::Error> {
        let (mut names, mut result) = (Vec::new(), None);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Map => names = map.next_value::<Names>()?.0,
                Key::Result => result = Some(map.next_value::<Rows>()?),
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Data::Object { names, result })
    }
}

impl<'b> Shape<'b> for Top<'b> {
    const EXPECTING: &'static str = "a leftTicket answer";
    fn other(_: Value) -> Self {
        Top::NotObject
    }
    fn seq<A: SeqAccess<'b>>(seq: A) -> Result<Self, A::Error> {
        Skip::seq(seq).map(|_| Top::NotObject)
    }
    fn map<A: MapAccess<'b>>(mut map: A) -> Result<Self, A::Error> {
        let mut e = Envelope::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Status => e.status = Some(map.next_value()?),
                Key::CUrl => e.c_url = Some(map.next_value()?),
                Key::Messages => e.messages = Some(map.next_value()?),
                Key::Data => e.data = Some(map.next_value::<Data>()?),
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Top::Object(e))
    }
}

deserialize_as_shape!(Top, Data, Rows, Row, Names, Str);

/// An object key, as one of the few names the decoder looks for.
enum Key {
    Status,
    CUrl,
    Messages,
    Data,
    Map,
    Result,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "status" => Key::Status,
                    "c_url" => Key::CUrl,
                    "messages" => Key::Messages,
                    "data" => Key::Data,
                    "map" => Key::Map,
                    "result" => Key::Result,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}
