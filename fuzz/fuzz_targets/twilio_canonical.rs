//! Twilio's canonical form: the URL (with and without the default port),
//! the request target's query, and the form parameters, sorted. A delivery
//! Twilio's way signs to an arbitrary URL and form body must verify when it
//! arrives at that URL, and must not once a parameter changes.
#![no_main]

use actix_webhook::scheme::{Message, Request, Scheme, Signer, Twilio};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    https: bool,
    host: &'a str,
    port: Option<u16>,
    path: &'a str,
    query: Option<&'a str>,
    body: &'a [u8],
    /// Arrive with `Host` instead of a configured public URL.
    use_host_header: bool,
    /// Send the explicit default port, or leave it out, unlike the signer.
    flip_default_port: bool,
    extra_query: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    // A host and path as they can appear in a request line and `Host`.
    let clean = |s: &str, extra: &[char]| {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || extra.contains(c))
            .collect::<String>()
    };
    let host = clean(input.host, &['.', '-']);
    if host.is_empty() {
        return;
    }
    let path = format!("/{}", clean(input.path, &['/', '.', '-', '_', '%']));
    let query = input
        .query
        .map(|q| format!("?{}", clean(q, &['=', '&', '%', '+', '-', '_', '.'])))
        .unwrap_or_default();
    // A `bodySHA256` in the query claims the body's hash, which an
    // arbitrary one does not have: that form is the unit tests' (the
    // signer here signs whatever URL it is given).
    if query.contains("bodySHA256") {
        return;
    }
    let scheme_name = if input.https { "https" } else { "http" };
    let default_port = if input.https { 443 } else { 80 };
    let authority = match input.port {
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let target = format!("{path}{query}");
    let url = format!("{scheme_name}://{authority}{target}");

    let signer = Twilio::new("twilio-auth-token").unwrap();
    let headers = signer.sign(&Message {
        id: "",
        timestamp: 0,
        event: "",
        url: &url,
        body: input.body,
    });
    // Twilio may send the URL with or without the default port.
    let arriving = match (input.port, input.flip_default_port) {
        (None, true) => format!("{host}:{default_port}"),
        (Some(port), true) if port == default_port => host.clone(),
        _ => authority.clone(),
    };
    // No bound on parameters here: this target checks the canonical form,
    // and a fuzzed body may hold more than the default 1,000.
    let receiver = if input.use_host_header && input.https {
        Twilio::new("twilio-auth-token").unwrap()
    } else {
        Twilio::new("twilio-auth-token")
            .unwrap()
            .public_url(&format!("{scheme_name}://{arriving}"))
    }
    .max_params(usize::MAX);
    let mut all: Vec<(String, Vec<u8>)> = headers
        .into_iter()
        .map(|(n, v)| (n, v.into_bytes()))
        .collect();
    all.push(("Host".into(), arriving.clone().into_bytes()));
    let request = Request::new("POST", &target, &all, input.body);
    let result = receiver.verify(&request, receiver.secrets(), 0);
    assert!(
        result.is_ok(),
        "{url} arriving at {arriving}{target}: {result:?}"
    );
    let _ = receiver.event_name(&request);

    // Another request target is another URL.
    if !input.extra_query.is_empty() {
        let sep = if query.is_empty() { "?" } else { "&" };
        let other = format!("{target}{sep}x={}", clean(input.extra_query, &[]));
        if other != target && !clean(input.extra_query, &[]).is_empty() {
            let request = Request::new("POST", &other, &all, input.body);
            assert!(receiver.verify(&request, receiver.secrets(), 0).is_err());
        }
    }
});
