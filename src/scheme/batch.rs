//! Senders that put several events in one request (HubSpot, Xero): what
//! each event is, and how a preset finds them in the body.
//!
//! The router routes, claims and runs each event on its own, and answers
//! the request 200 only when every event is processed, a duplicate,
//! ignored or refused for good (4xx); otherwise 503 `batch_incomplete`, so
//! that the sender sends the whole batch again and what was done is a
//! duplicate then.

use std::ops::Range;

use serde_json::value::RawValue;

use crate::payload::PayloadError;
use crate::scheme::{place_in, JsonPointer};

/// The most events one request may hold. HubSpot sends at most 100, Xero
/// fewer; a body with more is refused rather than claimed event by event.
pub(crate) const MAX_BATCH: usize = 1000;

/// One event of a batch, as [`Scheme::batch`](crate::scheme::Scheme::batch)
/// finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchEvent {
    /// Where the event's JSON is in the body: what its handler's
    /// `Event<T>` parses.
    pub range: Range<usize>,
    /// The event's id, when it has one. It is signed with the body. An
    /// event without one is recognised by the SHA-256 of its JSON.
    pub id: Option<String>,
    /// Its event name, never empty.
    pub name: String,
}

impl BatchEvent {
    /// The event at `range` of the body, with its id and name.
    pub fn new(range: Range<usize>, id: Option<String>, name: String) -> Self {
        Self { range, id, name }
    }
}

/// The events of `body`: the JSON array at `events` (the pointer `""` for
/// a body that is the array), each read by `read` into its id and name.
///
/// # Errors
///
/// When the body is not JSON, repeats a key on the way to the array, has
/// no array there, holds more than [`MAX_BATCH`] events, or `read` refuses
/// an event.
pub(crate) fn split_batch(
    body: &[u8],
    events: &JsonPointer,
    read: impl Fn(&[u8]) -> Result<(Option<String>, String), PayloadError>,
) -> Result<Vec<BatchEvent>, PayloadError> {
    let no_array = || PayloadError::missing(format_args!("array of events at `{events}`"));
    let array = events
        .raw_in(body)
        .map_err(|error| PayloadError::from_json(&error))?
        .ok_or_else(no_array)?;
    let items: Vec<&RawValue> = serde_json::from_str(array.get()).map_err(|_| no_array())?;
    if items.len() > MAX_BATCH {
        return Err(PayloadError::missing(format_args!(
            "batch of at most {MAX_BATCH} events (it has {})",
            items.len()
        )));
    }
    items
        .into_iter()
        .map(|item| {
            let text = item.get().as_bytes();
            let range = place_in(body, text).ok_or_else(no_array)?;
            let (id, name) = read(text)?;
            Ok(BatchEvent::new(range, id, name))
        })
        .collect()
}

/// The string (or integer) at `pointer` in one event, `None` when absent.
///
/// # Errors
///
/// When the event repeats a key on the way.
pub(crate) fn event_field(
    event: &[u8],
    pointer: &JsonPointer,
) -> Result<Option<String>, PayloadError> {
    pointer
        .string_in(event)
        .map_err(|error| PayloadError::from_json(&error))
}

/// As [`event_field`], for a field every event must have, non-empty.
///
/// # Errors
///
/// As [`event_field`], and when the event has no non-empty string there.
pub(crate) fn required_field(event: &[u8], pointer: &JsonPointer) -> Result<String, PayloadError> {
    match event_field(event, pointer)? {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(PayloadError::missing(format_args!(
            "string at `{pointer}` in an event of the batch"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::pointer::constant;

    fn read(event: &[u8]) -> Result<(Option<String>, String), PayloadError> {
        let id = event_field(event, &constant("/id"))?;
        Ok((id, required_field(event, &constant("/type"))?))
    }

    #[test]
    fn finds_each_event_where_it_is_in_the_body() {
        let body = br#"{"events": [ {"id":1,"type":"a"}, {"type":"b","x":[1,2]} ], "n": 2}"#;
        let events = split_batch(body, &constant("/events"), read).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(&body[events[0].range.clone()], br#"{"id":1,"type":"a"}"#);
        assert_eq!(events[0].id.as_deref(), Some("1"));
        assert_eq!(&body[events[1].range.clone()], br#"{"type":"b","x":[1,2]}"#);
        assert_eq!((events[1].id.as_deref(), &*events[1].name), (None, "b"));

        let root = br#"[{"type":"c"}]"#;
        let events = split_batch(root, &constant(""), read).unwrap();
        assert_eq!(&root[events[0].range.clone()], br#"{"type":"c"}"#);
        assert_eq!(split_batch(b"[]", &constant(""), read), Ok(Vec::new()));
    }

    #[test]
    fn refuses_what_is_not_a_batch() {
        let events = constant("/events");
        for body in [
            &br#"{"events": {}}"#[..],
            br#"{"other": []}"#,
            br#"{"events": [], "events": [{"type":"a"}]}"#,
            b"not json",
            br#"{"events": [{"id":1}]}"#,
            br#"{"events": [{"type":""}]}"#,
            br#"{"events": [{"type":"a","type":"b"}]}"#,
        ] {
            assert!(split_batch(body, &events, read).is_err(), "{body:?}");
        }
        let many = format!("[{}]", vec![r#"{"type":"a"}"#; MAX_BATCH + 1].join(","));
        assert!(split_batch(many.as_bytes(), &constant(""), read).is_err());
    }
}
