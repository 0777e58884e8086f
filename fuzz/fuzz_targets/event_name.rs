//! Where the event name and payload are found: `JsonPointer` on arbitrary
//! pointers and bodies, checked against `serde_json::Value::pointer` (or
//! refusing a key repeated on the way, where `Value` keeps the last copy);
//! `EventName` and every preset's `event_name` on arbitrary bodies and event
//! headers.
#![no_main]

use std::sync::OnceLock;

use actix_webhook::scheme::{EventName, JsonPointer, Request};
use actix_webhook_fuzz::{presets, Preset};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    pointer: &'a str,
    body: &'a [u8],
    header: &'a [u8],
    content_type: &'a str,
}

fn presets_once() -> &'static [Preset] {
    static PRESETS: OnceLock<Vec<Preset>> = OnceLock::new();
    PRESETS.get_or_init(presets)
}

/// What `string_in` must find at a value: strings, and integers as text.
fn expected_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

fuzz_target!(|input: Input<'_>| {
    let parsed = serde_json::from_slice::<Value>(input.body);
    if let Ok(pointer) = JsonPointer::new(input.pointer) {
        let found = pointer.string_in(input.body);
        let raw = pointer.raw_in(input.body);
        if let Ok(value) = &parsed {
            let expected = value.pointer(pointer.as_str());
            // Valid JSON is read as JSON: the value `Value` holds, or a
            // refusal because an object on the way repeats a key (`Value`
            // keeps the last copy; the pointer never picks one).
            match (&found, &raw) {
                (Ok(found), Ok(raw)) => {
                    assert_eq!(
                        *found,
                        expected_string(expected),
                        "pointer {:?}",
                        pointer.as_str()
                    );
                    assert_eq!(
                        raw.is_some(),
                        expected.is_some(),
                        "pointer {:?}",
                        pointer.as_str()
                    );
                }
                (Err(found), Err(raw)) => {
                    assert!(found.is_data() && raw.is_data(), "{found} {raw}")
                }
                _ => panic!("string_in and raw_in disagree: {found:?} {raw:?}"),
            }
            // Without repeated keys (the re-serialised value has none) the
            // value is always found, and the raw text is its own.
            let canonical = serde_json::to_vec(value).unwrap();
            assert_eq!(
                pointer.string_in(&canonical).unwrap(),
                expected_string(expected),
                "pointer {:?} in {}",
                pointer.as_str(),
                String::from_utf8_lossy(&canonical)
            );
            // The raw value is the sub-value's own serialisation (compared as
            // text: floats need not survive a second parse exactly).
            let raw = pointer
                .raw_in(&canonical)
                .unwrap()
                .map(|r| r.get().to_owned());
            let expected_raw = expected.map(|v| serde_json::to_string(v).unwrap());
            assert_eq!(raw, expected_raw, "pointer {:?}", pointer.as_str());
        }
        // The router's event name reads the body as `string_in` does: the
        // same value, or an error in the same cases.
        let request = Request::new("POST", "/", &[("X-Event", "e")], input.body);
        let routed = EventName::Json(pointer.clone()).find(&request);
        assert_eq!(
            routed.as_ref().ok(),
            found.as_ref().ok(),
            "pointer {:?}",
            pointer.as_str()
        );
        // With the name in a header too, a repeated key is still refused
        // (another body would only lose its action).
        let both = EventName::HeaderAndJson("X-Event", pointer.clone()).find(&request);
        match &found {
            Err(error) if error.is_data() => assert!(both.is_err(), "{both:?}"),
            Ok(Some(action)) => assert_eq!(both.ok().flatten(), Some(format!("e.{action}"))),
            _ => assert_eq!(both.ok().flatten().as_deref(), Some("e")),
        }
        let headers = [
            ("X-Event", input.header),
            ("Content-Type", input.content_type.as_bytes()),
        ];
        let request = Request::new("POST", "/", &headers, input.body);
        let _ = EventName::Json(pointer.clone()).find(&request);
        let _ = EventName::HeaderAndJson("X-Event", pointer).find(&request);
    }
    let headers: Vec<(&str, &[u8])> = [
        "X-GitHub-Event",
        "X-Shopify-Topic",
        "X-Gitlab-Event",
        "X-Event",
    ]
    .into_iter()
    .map(|name| (name, input.header))
    .chain([("Content-Type", input.content_type.as_bytes())])
    .collect();
    let request = Request::new("POST", input.pointer, &headers, input.body);
    for preset in presets_once() {
        let _ = preset.scheme.event_name(&request);
        let _ = preset.scheme.signed_reply(&request);
    }
});
