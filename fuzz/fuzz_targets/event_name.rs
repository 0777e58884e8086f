//! Where the event name and payload are found: `JsonPointer` on arbitrary
//! pointers and bodies, checked against `serde_json::Value::pointer`;
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
            // Valid JSON is read as JSON. Duplicate keys aside (the first
            // counts here, the last in `Value`), both agree: compare on the
            // re-serialised value, which has none.
            assert!(found.is_ok() && raw.is_ok(), "{found:?} {raw:?}");
            let canonical = serde_json::to_vec(value).unwrap();
            let expected = value.pointer(pointer.as_str());
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
        // The router reads event names only up to their value (and takes a
        // shortcut for a plain first member); on valid JSON it must find what
        // the full parse finds.
        let request = Request::new("POST", "/", &[("X-Event", "e")], input.body);
        let routed = EventName::Json(pointer.clone()).find(&request);
        if parsed.is_ok() {
            assert_eq!(
                routed.as_ref().ok(),
                pointer.string_in(input.body).as_ref().ok(),
                "pointer {:?}",
                pointer.as_str()
            );
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
