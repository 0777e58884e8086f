//! Every preset signs an arbitrary delivery the provider's way and verifies
//! it; then one byte of the body, or of the signature, is changed and the
//! delivery must be refused.
#![no_main]

use std::sync::OnceLock;

use actix_webhook::scheme::Request;
use actix_webhook_fuzz::{genuine, presets, Preset};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    preset: u8,
    id: &'a str,
    timestamp: u32,
    event: &'a str,
    body: &'a [u8],
    at: usize,
    xor: u8,
}

fn presets_once() -> &'static [Preset] {
    static PRESETS: OnceLock<Vec<Preset>> = OnceLock::new();
    PRESETS.get_or_init(presets)
}

fuzz_target!(|input: Input<'_>| {
    let presets = presets_once();
    let preset = &presets[usize::from(input.preset) % presets.len()];
    let scheme = &*preset.scheme;
    let now = i64::from(input.timestamp);
    let (headers, target) = genuine(preset, input.id, now, input.event, input.body);
    let request = Request::new("POST", &target, &headers, input.body);
    let verified = scheme.verify(&request, scheme.secrets(), now);
    assert!(
        verified.is_ok(),
        "{}: own signature refused: {verified:?}",
        preset.name
    );
    let _ = scheme.event_name(&request);

    let xor = input.xor.max(1);
    if preset.signs_body_bytes && !input.body.is_empty() {
        let mut body = input.body.to_vec();
        let at = input.at % body.len();
        body[at] ^= xor;
        let request = Request::new("POST", &target, &headers, &body);
        assert!(
            scheme.verify(&request, scheme.secrets(), now).is_err(),
            "{}: a changed body byte verified",
            preset.name
        );
    }

    // One byte of the signature itself, decoded: re-encoding keeps the text
    // well formed, so only the MAC comparison can refuse it.
    let position = headers
        .iter()
        .position(|(n, _)| n.eq_ignore_ascii_case(preset.signature_header))
        .expect("signature header");
    let value = &headers[position].1;
    let text = String::from_utf8(value.clone()).unwrap();
    let core = actix_webhook_fuzz::signature_core(value);
    if preset.name == "gitlab" || core.len() < 16 {
        return;
    }
    let start = text
        .to_ascii_lowercase()
        .find(std::str::from_utf8(&core).unwrap())
        .unwrap();
    let encoded = &text[start..start + core.len()];
    let changed = flip_encoded(encoded, input.at, xor);
    let mut tampered = headers.clone();
    tampered[position].1 = format!(
        "{}{}{}",
        &text[..start],
        changed,
        &text[start + core.len()..]
    )
    .into_bytes();
    let request = Request::new("POST", &target, &tampered, input.body);
    assert!(
        scheme.verify(&request, scheme.secrets(), now).is_err(),
        "{}: a changed signature verified: {changed}",
        preset.name
    );
});

/// Decodes hex or base64 `encoded`, flips bits of one byte, encodes it the
/// same way.
fn flip_encoded(encoded: &str, at: usize, xor: u8) -> String {
    use base64::Engine as _;
    let is_hex = encoded.len() % 2 == 0 && encoded.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex {
        let mut bytes = hex::decode(encoded).unwrap();
        let i = at % bytes.len();
        bytes[i] ^= xor;
        hex::encode(bytes)
    } else {
        let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
        let mut bytes = engine.decode(encoded).unwrap();
        let i = at % bytes.len();
        bytes[i] ^= xor;
        engine.encode(bytes)
    }
}
