//! Finding one value in a JSON body without building a `serde_json::Value`.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Deepest pointer accepted; bodies are nested at most 128 levels anyway
/// (serde_json's recursion limit).
const MAX_POINTER_DEPTH: usize = 32;

/// A JSON pointer (RFC 6901) such as `/type` or `/event/type`, used to find an
/// event name, a delivery id or the payload inside a body.
///
/// Looking a value up reads the whole body once, skips the values it does
/// not need and refuses a key repeated in an object on the way to the value
/// (see [`string_in`](Self::string_in)). It allocates the string it returns
/// and a list of the keys of each object on the way, borrowed from the body
/// unless they have escapes.
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
    /// The whole body is read and checked. Each object on the way to the
    /// value (the top-level one included) must not repeat a key: readers
    /// disagree on such a body (`serde_json::Value` keeps the last member,
    /// a derived `Deserialize` refuses a repeated field, others keep the
    /// first), so it is refused rather than read one way here and another
    /// way by the handler. Objects the walk does not enter are skipped
    /// unchecked, as the handler's own parse sees them.
    ///
    /// # Errors
    ///
    /// The parse error when the body is not JSON, or a data error
    /// ([`serde_json::Error::is_data`]) when an object on the way repeats a
    /// key.
    pub fn string_in(&self, body: &[u8]) -> Result<Option<String>, serde_json::Error> {
        self.find(body, LeafString)
    }

    /// The raw JSON text at this pointer, borrowed from `body`. Read as
    /// [`string_in`](Self::string_in) reads: the whole body, refusing a key
    /// repeated in an object on the way.
    ///
    /// # Errors
    ///
    /// As [`string_in`](Self::string_in).
    pub fn raw_in<'b>(&self, body: &'b [u8]) -> Result<Option<&'b RawValue>, serde_json::Error> {
        self.find(body, LeafRaw)
    }

    fn find<'b, L: Leaf<'b>>(
        &self,
        body: &'b [u8],
        leaf: L,
    ) -> Result<Option<L::Out>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let at = At {
            tokens: &self.tokens,
            leaf,
        };
        let value = at.deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }
}

/// Whether `error` is the one [`JsonPointer::string_in`] and
/// [`JsonPointer::raw_in`] give for a key repeated on the way to the value
/// (and not a syntax error).
pub(crate) fn is_repeated_key(error: &serde_json::Error) -> bool {
    error.is_data() && error.to_string().starts_with(REPEATED_KEY)
}

/// The message of the error for a repeated key. It never quotes the key:
/// that is request data, and it may be long.
const REPEATED_KEY: &str = "a key is repeated in an object on the way to the value";

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

/// Walks down `tokens`, skipping everything else.
struct At<'t, L> {
    tokens: &'t [String],
    leaf: L,
}

impl<'de, L: Leaf<'de>> DeserializeSeed<'de> for At<'_, L> {
    type Value = Option<L::Out>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        match self.tokens.split_first() {
            None => self.leaf.take(d),
            Some((first, rest)) => d.deserialize_any(Step {
                key: first,
                rest,
                leaf: self.leaf,
            }),
        }
    }
}

struct Step<'t, L> {
    key: &'t str,
    rest: &'t [String],
    leaf: L,
}

impl<'t, L: Copy> Step<'t, L> {
    fn next(&self) -> At<'t, L> {
        At {
            tokens: self.rest,
            leaf: self.leaf,
        }
    }
}

impl<'de, L: Leaf<'de>> Visitor<'de> for Step<'_, L> {
    type Value = Option<L::Out>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    /// Reads the whole object: a key seen twice (in any spelling: `"type"`
    /// and `"typ\u0065"` are one key) is an error, whether or not it is
    /// the wanted one.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = Keys::default();
        let mut found = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let wanted = key == self.key;
            if !seen.insert(key) {
                return Err(de::Error::custom(REPEATED_KEY));
            }
            if wanted {
                found = map.next_value_seed(self.next())?;
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

/// How many keys an object may have before they are looked up by hash
/// instead of one by one (webhook objects have a handful).
const LINEAR_KEYS: usize = 16;

/// The keys of one object read so far.
#[derive(Default)]
struct Keys<'de> {
    few: Vec<Cow<'de, str>>,
    /// Once there are more than [`LINEAR_KEYS`]: a hash set, keyed with
    /// the standard library's random keys so that chosen keys cannot make
    /// the lookups slow.
    many: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Keys<'de> {
    /// Adds `key`; false when it was already there.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(key);
        }
        if self.few.contains(&key) {
            return false;
        }
        self.few.push(key);
        if self.few.len() > LINEAR_KEYS {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

/// A map key, borrowed from the body unless it has escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// An array index as RFC 6901 writes it: `0`, or digits without a leading
/// zero (no sign, no space); anything else names no element.
fn array_index(token: &str) -> Option<usize> {
    let canonical = token == "0"
        || (!token.starts_with('0')
            && !token.is_empty()
            && token.bytes().all(|b| b.is_ascii_digit()));
    canonical.then(|| token.parse().ok()).flatten()
}

/// A pointer a preset writes as a constant (each one is used by the
/// preset's tests, so a typo fails them).
pub(crate) fn constant(pointer: &'static str) -> JsonPointer {
    JsonPointer::new(pointer).expect("valid pointer")
}

/// A pointer parsed once, for schemes that read fixed fields of the body.
pub(crate) fn static_pointer(
    cell: &'static std::sync::OnceLock<JsonPointer>,
    pointer: &'static str,
) -> &'static JsonPointer {
    cell.get_or_init(|| constant(pointer))
}

/// Where `part` is in `body`, when it is a slice of it (a value
/// [`JsonPointer::raw_in`] borrowed from it): its address's offset.
pub(crate) fn place_in(body: &[u8], part: &[u8]) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    (start + part.len() <= body.len()).then(|| start..start + part.len())
}

/// The string at `pointer` in `body`; `None` when the body is not JSON, has
/// no such string or repeats a key on the way (the event name's read then
/// refuses the body). Used for delivery ids, which never fail a request.
pub(crate) fn json_string(body: &[u8], pointer: &JsonPointer) -> Option<String> {
    pointer.string_in(body).ok().flatten()
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
            at("/type", r#"{"typ\u0065":"esc"}"#).as_deref(),
            Some("esc")
        );
        assert_eq!(at("/type", r#"{"type":{"a":1}}"#), None);
    }

    /// The lookup's result, with a repeated key as `Err("repeated")`.
    fn lookup(pointer: &str, body: &str) -> Result<Option<String>, String> {
        JsonPointer::new(pointer)
            .unwrap()
            .string_in(body.as_bytes())
            .map_err(|e| {
                if is_repeated_key(&e) {
                    "repeated".to_owned()
                } else {
                    e.to_string()
                }
            })
    }

    #[test]
    fn a_key_repeated_on_the_way_is_refused() {
        let repeated = Err("repeated".to_owned());
        // Top level: the wanted key, after or before its value, of any type.
        for body in [
            r#"{"type":"url_verification","type":"event_callback"}"#,
            r#"{"type":"a","x":1,"type":"a"}"#,
            r#"{"type":{},"type":"y"}"#,
            r#"{"type":null,"type":"y"}"#,
            r#"{"x":1,"type":"a","x":2}"#,
            r#"{"x":1,"x":2,"type":"a"}"#,
            // One key in two spellings.
            r#"{"type":"a","typ\u0065":"b"}"#,
            r#"{"\u0074ype":"a","type":"b"}"#,
            r#"{"type":"a","t\u0079pe":"a"}"#,
        ] {
            assert_eq!(lookup("/type", body), repeated, "{body}");
        }
        // Nested: in every object the walk enters.
        for body in [
            r#"{"event":{"type":"a","type":"b"}}"#,
            r#"{"event":{"type":"a"},"event":{"type":"b"}}"#,
            r#"{"event":{"type":"a","text":"x","text":"y"}}"#,
            r#"{"event_id":"1","event":{"type":"a"},"event_id":"2"}"#,
            r#"{"event":{"typ\u0065":"a","type":"b"}}"#,
        ] {
            assert_eq!(lookup("/event/type", body), repeated, "{body}");
        }
        assert_eq!(
            lookup("/entry/0/field", r#"{"entry":[{"field":"a","field":"b"}]}"#),
            repeated
        );
        // Objects the walk does not enter are left to the handler's parse.
        for (pointer, body, expected) in [
            ("/type", r#"{"type":"a","data":{"k":1,"k":2}}"#, "a"),
            ("/type", r#"{"data":[{"k":1,"k":2}],"type":"a"}"#, "a"),
            (
                "/event/type",
                r#"{"other":{"type":"x","type":"y"},"event":{"type":"a"}}"#,
                "a",
            ),
            (
                "/event/type",
                r#"{"event":{"type":"a","item":{"type":"b","type":"c"}}}"#,
                "a",
            ),
            (
                "/entry/1/field",
                r#"{"entry":[{"field":"x","field":"y"},{"field":"a"}]}"#,
                "a",
            ),
            // Neither is a key repeated across sibling objects.
            (
                "/event/type",
                r#"{"type":"outer","event":{"type":"a"}}"#,
                "a",
            ),
        ] {
            assert_eq!(
                lookup(pointer, body),
                Ok(Some(expected.to_owned())),
                "{pointer} {body}"
            );
        }
        // The raw lookup refuses the same way.
        let data = JsonPointer::new("/data").unwrap();
        let error = data
            .raw_in(br#"{"data":{"a":1},"data":{"a":2}}"#)
            .unwrap_err();
        assert!(is_repeated_key(&error));
        // More keys than the linear search holds.
        let mut many: String = (0..1000).map(|i| format!(r#""k{i}":{i},"#)).collect();
        many.insert(0, '{');
        let unique = format!(r#"{many}"type":"a"}}"#);
        assert_eq!(lookup("/type", &unique), Ok(Some("a".to_owned())));
        let twice = format!(r#"{many}"type":"a","k999":0}}"#);
        assert_eq!(lookup("/type", &twice), repeated);
        // A syntax error is not a repeated key.
        assert!(lookup("/type", r#"{"type":"a","#).is_err_and(|e| e != "repeated"));
    }

    #[test]
    fn the_whole_body_is_read() {
        let first = |body: &[u8]| lookup("/type", std::str::from_utf8(body).unwrap());
        assert_eq!(first(br#"{"type":"x"}"#), Ok(Some("x".into())));
        assert_eq!(
            first(b" {\n \"type\" :\t\"x\" , \"a\":[1]}\n"),
            Ok(Some("x".into()))
        );
        // What follows the value is checked as what comes before it.
        assert!(first(br#"{"type":"x"} trailing"#).is_err());
        assert!(first(br#"{"type":"x","b":"#).is_err());
        assert!(first(br#"{"a":tru,"type":"x"}"#).is_err());
        assert!(first(b"not json").is_err());
        assert!(first(b"").is_err());
        assert_eq!(first(br#"{"kind":"x"}"#), Ok(None));
        assert_eq!(
            first(br#"{"type":"caf\u00e9"}"#),
            Ok(Some("caf\u{e9}".into()))
        );
        let p = JsonPointer::new("/type").unwrap();
        assert!(p.string_in(b"{\"type\":\"\xff\"}").is_err());
        assert!(p.string_in(b"{\"type\":\"a\nb\"}").is_err());
        assert_eq!(
            JsonPointer::new("/a\"b")
                .unwrap()
                .string_in(br#"{"a\"b":"x"}"#)
                .unwrap()
                .as_deref(),
            Some("x")
        );
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
