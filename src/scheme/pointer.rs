//! Finding one value in a JSON body without building a `serde_json::Value`.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Deepest pointer accepted; bodies are nested at most 128 levels anyway
/// (serde_json's recursion limit).
const MAX_POINTER_DEPTH: usize = 32;

/// A JSON pointer (RFC 6901) such as `/type` or `/event/type`, used to find an
/// event name, a delivery id or the payload inside a body.
///
/// Looking a value up reads the body once, skips what it does not need and
/// allocates only the string it returns.
///
/// ```
/// use actix_webhook::scheme::JsonPointer;
///
/// let pointer = JsonPointer::new("/event/type").unwrap();
/// let body = br#"{"token":"x","event":{"type":"app_mention","text":"hi"}}"#;
/// assert_eq!(pointer.string_in(body).unwrap().as_deref(), Some("app_mention"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct JsonPointer {
    text: Box<str>,
    tokens: Box<[String]>,
}

impl JsonPointer {
    /// Parses a pointer: empty (the whole document) or `/`-separated tokens
    /// with `~1` for `/` and `~0` for `~`.
    ///
    /// # Errors
    ///
    /// [`InvalidPointer`] when it does not start with `/`, has a bad `~`
    /// escape, or is deeper than 32 tokens.
    pub fn new(pointer: &str) -> Result<Self, InvalidPointer> {
        let invalid = || InvalidPointer(pointer.to_owned());
        let tokens: Vec<String> = if pointer.is_empty() {
            Vec::new()
        } else {
            let rest = pointer.strip_prefix('/').ok_or_else(invalid)?;
            rest.split('/')
                .map(|t| unescape(t).ok_or_else(invalid))
                .collect::<Result<_, _>>()?
        };
        if tokens.len() > MAX_POINTER_DEPTH {
            return Err(invalid());
        }
        Ok(Self {
            text: pointer.into(),
            tokens: tokens.into(),
        })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The string (or integer, as text) at this pointer. `Ok(None)` when the
    /// body is JSON but has no such value or it is another type.
    ///
    /// # Errors
    ///
    /// The parse error when the body is not JSON.
    pub fn string_in(&self, body: &[u8]) -> Result<Option<String>, serde_json::Error> {
        self.find(body, LeafString, Reading::Whole)
    }

    /// The raw JSON text at this pointer, borrowed from `body`.
    ///
    /// # Errors
    ///
    /// The parse error when the body is not JSON.
    pub fn raw_in<'b>(&self, body: &'b [u8]) -> Result<Option<&'b RawValue>, serde_json::Error> {
        self.find(body, LeafRaw, Reading::Whole)
    }

    /// As [`string_in`](Self::string_in), but reads the body only up to the
    /// value: what follows it is not checked. For the event name and the
    /// delivery id, which senders put first; the handler's typed parse reads
    /// (and checks) the whole body after.
    pub(crate) fn string_in_prefix(
        &self,
        body: &[u8],
    ) -> Result<Option<String>, serde_json::Error> {
        if let Some(value) = self.first_member(body) {
            return Ok(Some(value));
        }
        self.find(body, LeafString, Reading::UpToValue)
    }

    /// The common case read without a parser: the body starts with
    /// `{"<key>":"<text>"`, `<key>` being this pointer's only token and
    /// `<text>` a string without escapes. `None` when it starts any other
    /// way (the parser then reads it).
    fn first_member(&self, body: &[u8]) -> Option<String> {
        let [key] = &*self.tokens else {
            return None;
        };
        let plain = |b: &u8| *b >= 0x20 && *b != b'"' && *b != b'\\';
        if !key.as_bytes().iter().all(plain) {
            return None; // it would be escaped in the body
        }
        let rest = after(body, b'{')?;
        let rest = after(rest, b'"')?.strip_prefix(key.as_bytes())?;
        let rest = rest.strip_prefix(b"\"")?;
        let rest = after(after(rest, b':')?, b'"')?;
        let end = rest.iter().position(|b| !plain(b))?;
        if rest[end] != b'"' {
            return None;
        }
        std::str::from_utf8(&rest[..end]).ok().map(str::to_owned)
    }

    fn find<'b, L: Leaf<'b>>(
        &self,
        body: &'b [u8],
        leaf: L,
        reading: Reading,
    ) -> Result<Option<L::Out>, serde_json::Error> {
        let found = Cell::new(None);
        let mut de = serde_json::Deserializer::from_slice(body);
        let at = At {
            tokens: &self.tokens,
            leaf,
            stop: match reading {
                Reading::Whole => None,
                Reading::UpToValue => Some(&found),
            },
        };
        match at.deserialize(&mut de) {
            Ok(value) => {
                de.end()?;
                Ok(value)
            }
            // Stopped on purpose once the value was found.
            Err(error) => match found.take() {
                Some(value) => Ok(Some(value)),
                None => Err(error),
            },
        }
    }
}

impl fmt::Debug for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPointer({:?})", self.text)
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What follows `byte` at the start of `text`, after JSON whitespace.
fn after(text: &[u8], byte: u8) -> Option<&[u8]> {
    let start = text
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    text[start..].strip_prefix(&[byte])
}

/// A string that is not a JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON pointer `{0}`")]
pub struct InvalidPointer(String);

fn unescape(token: &str) -> Option<String> {
    if !token.contains('~') {
        return Some(token.to_owned());
    }
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => return None,
        }
    }
    Some(out)
}

/// What to take at the end of the pointer.
trait Leaf<'de>: Copy {
    type Out;
    fn take<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<Self::Out>, D::Error>;
}

#[derive(Clone, Copy)]
struct LeafString;

impl<'de> Leaf<'de> for LeafString {
    type Out = String;
    fn take<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(StringVisitor)
    }
}

struct StringVisitor;

impl<'de> Visitor<'de> for StringVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[derive(Clone, Copy)]
struct LeafRaw;

impl<'de> Leaf<'de> for LeafRaw {
    type Out = &'de RawValue;
    fn take<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<&'de RawValue>, D::Error> {
        <&RawValue as de::Deserialize>::deserialize(d).map(Some)
    }
}

/// How much of the body a lookup reads.
#[derive(Clone, Copy)]
enum Reading {
    /// All of it, checking that it is JSON.
    Whole,
    /// Up to the value, then stop.
    UpToValue,
}

/// The error a lookup stops the parser with once it holds the value.
const STOP: &str = "value found";

/// Walks down `tokens`, skipping everything else. With `stop`, the value
/// found is put there and the parse is stopped with an error.
struct At<'t, 's, L, O> {
    tokens: &'t [String],
    leaf: L,
    stop: Option<&'s Cell<Option<O>>>,
}

impl<'de, L: Leaf<'de>> DeserializeSeed<'de> for At<'_, '_, L, L::Out> {
    type Value = Option<L::Out>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match self.tokens.split_first() {
            None => self.leaf.take(d),
            Some((first, rest)) => d.deserialize_any(Step {
                key: first,
                rest,
                leaf: self.leaf,
                stop: self.stop,
            }),
        }
    }
}

struct Step<'t, 's, L, O> {
    key: &'t str,
    rest: &'t [String],
    leaf: L,
    stop: Option<&'s Cell<Option<O>>>,
}

impl<'t, 's, L, O> Step<'t, 's, L, O> {
    fn next(&self) -> At<'t, 's, L, O>
    where
        L: Copy,
    {
        At {
            tokens: self.rest,
            leaf: self.leaf,
            stop: self.stop,
        }
    }

    /// `found`, or, when stopping early and it holds a value, the error
    /// that stops the parser (the value waits in `stop`).
    fn finish<E: de::Error>(&self, found: Option<O>) -> Result<Option<O>, E> {
        match (self.stop, found) {
            (Some(stop), Some(value)) => {
                stop.set(Some(value));
                Err(E::custom(STOP))
            }
            (_, found) => Ok(found),
        }
    }
}

impl<'de, L: Leaf<'de>> Visitor<'de> for Step<'_, '_, L, L::Out> {
    type Value = Option<L::Out>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(is_key) = map.next_key_seed(KeyIs(self.key))? {
            if is_key && found.is_none() {
                found = map.next_value_seed(self.next())?;
                if found.is_some() && self.stop.is_some() {
                    return self.finish(found);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let wanted = array_index(self.key);
        let mut found = None;
        let mut index = 0usize;
        loop {
            if Some(index) == wanted {
                match seq.next_element_seed(self.next())? {
                    Some(value) => found = value,
                    None => break,
                }
                if found.is_some() && self.stop.is_some() {
                    return self.finish(found);
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            index = index.saturating_add(1);
        }
        Ok(found)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Compares a map key with the wanted one without allocating it.
/// An array index as RFC 6901 writes it: `0`, or digits without a leading
/// zero (no sign, no space); anything else names no element.
fn array_index(token: &str) -> Option<usize> {
    let canonical = token == "0"
        || (!token.starts_with('0')
            && !token.is_empty()
            && token.bytes().all(|b| b.is_ascii_digit()));
    canonical.then(|| token.parse().ok()).flatten()
}

struct KeyIs<'t>(&'t str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(pointer: &str, body: &str) -> Option<String> {
        JsonPointer::new(pointer)
            .unwrap()
            .string_in(body.as_bytes())
            .unwrap()
    }

    #[test]
    fn finds_nested_strings_and_numbers() {
        let body = r#"{"a":{"skip":[1,{"x":2}],"b":"yes","n":7},"type":"t","arr":["p","q"]}"#;
        assert_eq!(at("/a/b", body).as_deref(), Some("yes"));
        assert_eq!(at("/a/n", body).as_deref(), Some("7"));
        assert_eq!(at("/type", body).as_deref(), Some("t"));
        assert_eq!(at("/arr/1", body).as_deref(), Some("q"));
        assert_eq!(at("/arr/9", body), None);
        assert_eq!(at("/arr/0", body).as_deref(), Some("p"));
        // RFC 6901 indexes: no sign, no leading zero (as `Value::pointer`).
        for index in [
            "/arr/01", "/arr/+1", "/arr/-0", "/arr/ 1", "/arr/", "/arr/1e0",
        ] {
            assert_eq!(at(index, body), None, "{index}");
        }
        assert_eq!(at("/arr/99999999999999999999999", body), None);
        assert_eq!(at("/a", body), None);
        assert_eq!(at("/missing", body), None);
        assert_eq!(at("/type/deeper", body), None);
        assert_eq!(at("/a~1b", r#"{"a/b":"esc"}"#).as_deref(), Some("esc"));
        assert_eq!(
            at("/k", r#"{"k":"first","k":"second"}"#).as_deref(),
            Some("first")
        );
    }

    #[test]
    fn prefix_reading_stops_at_the_value() {
        let p = JsonPointer::new("/type").unwrap();
        let first = |body: &[u8]| p.string_in_prefix(body).map_err(|e| e.to_string());
        // What follows the value is not read...
        assert_eq!(first(br#"{"type":"x"} trailing"#), Ok(Some("x".into())));
        assert_eq!(first(br#"{"a":[1],"type":"x","b":"#), Ok(Some("x".into())));
        assert_eq!(first(br#"{"type":7,"#), Ok(Some("7".into())));
        // ...what comes before it is.
        assert!(first(br#"{"a":tru,"type":"x"}"#).is_err());
        assert!(first(b"not json").is_err());
        assert!(first(b"").is_err());
        // Not found: the whole body is read and checked.
        assert_eq!(first(br#"{"kind":"x"}"#), Ok(None));
        assert!(first(br#"{"kind":"x"} trailing"#).is_err());
        // A value of another type is passed over, as `string_in` does.
        assert_eq!(first(br#"{"type":{},"type":"y"}"#), Ok(Some("y".into())));
        // Nested objects and arrays stop as early.
        let nested = JsonPointer::new("/event/list/1").unwrap();
        let body = br#"{"event":{"list":["a","b",{"x":"#;
        assert_eq!(nested.string_in_prefix(body).unwrap().as_deref(), Some("b"));
        // The first member is read without the parser, like the parser
        // reads it.
        assert_eq!(first(b" {\n \"type\" :\t\"x\" ,"), Ok(Some("x".into())));
        assert_eq!(
            first(br#"{"type":"caf\u00e9"}"#),
            Ok(Some("caf\u{e9}".into()))
        );
        assert_eq!(
            first(b"{\"type\":\"caf\xc3\xa9\""),
            Ok(Some("caf\u{e9}".into()))
        );
        assert!(first(b"{\"type\":\"\xff\"}").is_err());
        assert!(first(b"{\"type\":\"a\nb\"}").is_err());
        assert_eq!(first(br#"{"types":"x","type":"y"}"#), Ok(Some("y".into())));
        let quoted = JsonPointer::new("/a\"b").unwrap();
        assert_eq!(
            quoted
                .string_in_prefix(br#"{"a\"b":"x"}"#)
                .unwrap()
                .as_deref(),
            Some("x")
        );
        // Valid JSON gives what `string_in` gives.
        for body in [
            &br#"{"type":"t","type":"u"}"#[..],
            br#"{"x":{"type":"no"},"type":"yes"}"#,
            br#"[{"type":"no"}]"#,
            br#"{"type":null}"#,
        ] {
            assert_eq!(
                p.string_in_prefix(body).unwrap(),
                p.string_in(body).unwrap()
            );
        }
    }

    #[test]
    fn raw_value_borrows_the_sub_document() {
        let p = JsonPointer::new("/data").unwrap();
        let body = br#"{"type":"x","data":{"id": 5}}"#;
        assert_eq!(p.raw_in(body).unwrap().unwrap().get(), r#"{"id": 5}"#);
        let whole = JsonPointer::new("").unwrap();
        assert_eq!(whole.raw_in(b" [1] ").unwrap().unwrap().get(), "[1]");
    }

    #[test]
    fn bad_bodies_and_pointers() {
        let p = JsonPointer::new("/type").unwrap();
        assert!(p.string_in(b"not json").is_err());
        assert!(p.string_in(br#"{"type":"x"} trailing"#).is_err());
        let deep = "[".repeat(100_000);
        assert!(p.string_in(deep.as_bytes()).is_err());
        let deep_obj = r#"{"a":"#.repeat(100_000);
        assert!(p.string_in(deep_obj.as_bytes()).is_err());
        assert!(JsonPointer::new("type").is_err());
        assert!(JsonPointer::new("/a~2").is_err());
        assert!(JsonPointer::new(&"/a".repeat(33)).is_err());
    }
}
