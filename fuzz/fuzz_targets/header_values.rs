//! Each provider's header parsing: a genuine delivery with one header
//! replaced by arbitrary bytes, repeated, or removed. Verification must
//! return without panicking, and a replaced signature header may only verify
//! when it still carries the genuine signature. Timestamps parse exactly as
//! "1 to 19 ASCII digits that fit an i64".
#![no_main]

use std::sync::OnceLock;

use actix_webhook::scheme::Request;
use actix_webhook::verify::parse_timestamp;
use actix_webhook_fuzz::{genuine, presets, signature_core, Preset};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"id":"evt_1","event_id":"evt_1","type":"order.paid","event_type":"order.paid","action":"paid"}"#;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    preset: u8,
    header: u8,
    edit: Edit,
    value: &'a [u8],
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Replace,
    Repeat,
    Remove,
    Append,
}

fn presets_once() -> &'static [Preset] {
    static PRESETS: OnceLock<Vec<Preset>> = OnceLock::new();
    PRESETS.get_or_init(presets)
}

fn reference_timestamp(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fuzz_target!(|input: Input<'_>| {
    assert_eq!(
        parse_timestamp(input.value),
        reference_timestamp(input.value)
    );

    let presets = presets_once();
    let preset = &presets[usize::from(input.preset) % presets.len()];
    let (mut headers, target) = genuine(preset, "msg_1", NOW, "order.paid", BODY);
    let at = usize::from(input.header) % headers.len();
    let name = headers[at].0.clone();
    let original = headers[at].1.clone();
    match input.edit {
        Edit::Replace => headers[at].1 = input.value.to_vec(),
        Edit::Repeat => headers.push((name.clone(), input.value.to_vec())),
        Edit::Remove => {
            headers.remove(at);
        }
        Edit::Append => headers[at].1.extend_from_slice(input.value),
    }
    let request = Request::new("POST", &target, &headers, BODY);
    let scheme = &*preset.scheme;
    let result = scheme.verify(&request, scheme.secrets(), NOW);
    if result.is_ok() && name.eq_ignore_ascii_case(preset.signature_header) {
        match input.edit {
            Edit::Replace => {
                let core = signature_core(&original);
                let sent = input.value.to_ascii_lowercase();
                assert!(
                    sent.windows(core.len()).any(|w| w == core),
                    "{}: a signature header without the genuine signature verified",
                    preset.name
                );
            }
            Edit::Repeat | Edit::Remove => {
                panic!(
                    "{}: a repeated or removed signature header verified",
                    preset.name
                )
            }
            Edit::Append => {}
        }
    }
    let _ = scheme.event_name(&request);
    let _ = scheme.signed_reply(&request);
});
