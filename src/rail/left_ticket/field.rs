//! [`Field`]: the text of one field of a leftTicket answer, without an allocation per field.
//!
//! A page holds a dozen texts per train (codes, stations, times, secretStr). Copying each into
//! its own `String` was most of the decoder's time and allocations. A field is now borrowed from
//! the body being decoded ([`super::decode_left_ticket`]); a page that must outlive its body
//! ([`super::decode_left_ticket_owned`], the client's) keeps short fields inline — telecodes,
//! times, codes, cells: nearly all of them — and only long ones (secretStr) in an allocation of
//! their own, shared by clones.
//!
//! It reads like a `&str` (`Deref`, `as_str`, `==` with string literals), so code written for
//! the former `String` fields keeps compiling.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// Longest text kept inline: a `Field` is as big as a `String` and a pointer.
const INLINE: usize = 30;

/// The text of one field; see the module doc.
#[derive(Clone)]
pub struct Field<'a>(Repr<'a>);

#[derive(Clone)]
enum Repr<'a> {
    Borrowed(&'a str),
    /// `bytes[..len]`, copied whole from a `str`.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Shared(Arc<str>),
}

impl<'a> Field<'a> {
    /// A field borrowed from the body it stands in.
    pub fn borrowed(text: &'a str) -> Field<'a> {
        Field(Repr::Borrowed(text))
    }

    /// A field with its own copy of `text`: inline when short, else one allocation.
    pub fn owned(text: &str) -> Field<'static> {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                Field(Repr::Inline { len, bytes })
            }
            _ => Field(Repr::Shared(Arc::from(text))),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Borrowed(s) => s,
            Repr::Inline { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)])
                .expect("inline text is copied whole from a str"),
            Repr::Shared(s) => s,
        }
    }
}

impl Default for Field<'_> {
    fn default() -> Self {
        Field::borrowed("")
    }
}

impl Deref for Field<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Field<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Field<'_> {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl<'a> From<&'a str> for Field<'a> {
    fn from(text: &'a str) -> Self {
        Field::borrowed(text)
    }
}

impl fmt::Debug for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Field<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Field<'_> {}

impl PartialEq<str> for Field<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Field<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Field<'_> {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Field<'_>> for &str {
    fn eq(&self, other: &Field<'_>) -> bool {
        *self == other.as_str()
    }
}

impl PartialOrd for Field<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Field<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// As `str` hashes, so that maps keyed by fields can be searched with a `&str`.
impl Hash for Field<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_text_is_inline_up_to_thirty_bytes_and_shared_beyond() {
        let short = Field::owned("23:00-06:00系统维护时间");
        assert!(matches!(short.0, Repr::Inline { len: 29, .. }));
        assert_eq!(short, "23:00-06:00系统维护时间");
        let long = "O".repeat(INLINE + 1);
        let field = Field::owned(&long);
        assert!(matches!(field.0, Repr::Shared(_)));
        assert_eq!(field, long);
        assert_eq!(Field::owned(""), "");
        assert_eq!(
            std::mem::size_of::<Field>(),
            32,
            "no bigger than a String and a pointer"
        );
    }

    #[test]
    fn fields_compare_order_and_hash_as_their_text_however_they_are_kept() {
        use std::collections::BTreeMap;
        let a = Field::borrowed("AOH");
        let b = Field::owned("AOH");
        assert_eq!(a, b);
        assert!(Field::borrowed("AAA") < b);
        let map: BTreeMap<Field, Field> = [(b, Field::borrowed("上海虹桥"))].into_iter().collect();
        assert_eq!(map["AOH"], "上海虹桥");
        assert_eq!(format!("{a} {a:?}"), "AOH \"AOH\"");
        assert_eq!(a.as_str().len(), a.len());
    }
}
