//! Verification with arbitrary headers, body, method and request target:
//! every preset's `verify`, `event_name`, `signed_reply` and `unsigned_reply`
//! must return (never panic), and nothing forged may verify.
#![no_main]

use std::sync::OnceLock;

use actix_webhook::scheme::Request;
use actix_webhook::VerifyError;
use actix_webhook_fuzz::{presets, Preset, HEADER_NAMES};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: &'a str,
    target: &'a str,
    headers: Vec<(Name<'a>, &'a [u8])>,
    body: &'a [u8],
    now: i64,
}

#[derive(Arbitrary, Debug)]
enum Name<'a> {
    Known(u8),
    Other(&'a str),
}

fn presets_once() -> &'static [Preset] {
    static PRESETS: OnceLock<Vec<Preset>> = OnceLock::new();
    PRESETS.get_or_init(presets)
}

fuzz_target!(|input: Input<'_>| {
    let headers: Vec<(&str, &[u8])> = input
        .headers
        .iter()
        .map(|(name, value)| {
            let name = match name {
                Name::Known(i) => HEADER_NAMES[usize::from(*i) % HEADER_NAMES.len()],
                Name::Other(name) => name,
            };
            (name, *value)
        })
        .collect();
    let request = Request::new(input.method, input.target, &headers, input.body);
    for preset in presets_once() {
        let scheme = &*preset.scheme;
        match scheme.verify(&request, scheme.secrets(), input.now) {
            // A MAC or an ed25519 signature cannot be guessed; only GitLab's
            // clear-text token could be sent as such, and it is not in the
            // header names' values here unless the fuzzer finds it.
            Ok(_) => assert_eq!(
                preset.name, "gitlab",
                "{} verified forged input",
                preset.name
            ),
            Err(
                VerifyError::MissingSignature { .. }
                | VerifyError::MalformedSignature { .. }
                | VerifyError::InvalidSignature
                | VerifyError::TimestampOutOfTolerance { .. },
            ) => {}
            Err(other) => panic!("{}: unexpected {other:?}", preset.name),
        }
        let _ = scheme.event_name(&request);
        let _ = scheme.signed_reply(&request);
        match scheme.unsigned_reply(&request, scheme.secrets()) {
            Some(Ok(reply)) => assert_eq!(reply.status, 200, "{reply:?}"),
            Some(Err(VerifyError::HandshakeRefused)) | None => {}
            Some(Err(other)) => panic!("{}: unexpected {other:?}", preset.name),
        }
    }
});
