//! Helpers for the schemes' unit tests.

use super::{Delivery, Headers, Request, Scheme};
use crate::verify::VerifyError;

/// `scheme`'s verdict on a `POST` to `target` with `headers` and `body` at
/// `now`, checked against its own secrets.
pub(crate) fn verify_post<H: Headers + ?Sized>(
    scheme: &dyn Scheme,
    target: &str,
    headers: &H,
    body: &[u8],
    now: i64,
) -> Result<Delivery, VerifyError> {
    let headers: &dyn Headers = &headers;
    scheme.verify(
        &Request::new("POST", target, headers, body),
        scheme.secrets(),
        now,
    )
}

/// [`verify_post`] to `/`.
pub(crate) fn verify<H: Headers + ?Sized>(
    scheme: &dyn Scheme,
    headers: &H,
    body: &[u8],
    now: i64,
) -> Result<Delivery, VerifyError> {
    verify_post(scheme, "/", headers, body, now)
}

/// Header values an attacker may send instead of a real one.
pub(crate) fn absurd_values() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b" ".to_vec(),
        vec![b'a'; 10_000],
        vec![b'0'; 10_000],
        vec![b'='; 10_000],
        b",".repeat(5_000),
        b";".repeat(5_000),
        b"\xff\xfe\x00\x80".to_vec(),
        b"sha256=\xff\xfe".to_vec(),
        b"v0=\xc3\x28".to_vec(),
        b"t=\xff,v1=\xff".to_vec(),
        b"ts=\xff;h1=\xff".to_vec(),
        b"t=99999999999999999999999,v1=00".to_vec(),
        b"ts=-1;h1=00".to_vec(),
        "\u{e9}t=\u{1F600}".as_bytes().to_vec(),
    ]
}

/// Checks that every absurd value of each header in `targets`, and each
/// of them sent twice, is refused with `missing_signature`,
/// `malformed_signature` or `invalid_signature`, without panicking.
pub(crate) fn assert_refuses_absurd_headers(
    scheme: &dyn Scheme,
    headers: &[(String, String)],
    targets: &[&str],
    body: &[u8],
    now: i64,
) {
    let check = |headers: &Vec<(String, Vec<u8>)>, case: &str| {
        let request = Request::new("POST", "/hook", headers, body);
        match scheme.verify(&request, scheme.secrets(), now) {
            Err(
                VerifyError::MissingSignature { .. }
                | VerifyError::MalformedSignature { .. }
                | VerifyError::InvalidSignature,
            ) => {}
            other => panic!("{} {case}: {other:?}", scheme.name()),
        }
    };
    let base: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
        .collect();
    for target in targets {
        let position = base
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(target))
            .expect("target header present");
        for value in absurd_values() {
            let mut mutated = base.clone();
            mutated[position].1.clone_from(&value);
            check(
                &mutated,
                &format!(
                    "{target}={:?}",
                    String::from_utf8_lossy(&value[..value.len().min(20)])
                ),
            );
        }
        let mut repeated = base.clone();
        repeated.push(base[position].clone());
        check(&repeated, &format!("{target} repeated"));
        let mut removed = base.clone();
        removed.remove(position);
        check(&removed, &format!("{target} removed"));
    }
}
