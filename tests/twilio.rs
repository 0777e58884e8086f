//! Twilio over HTTP: the work an unauthenticated form costs is bounded before
//! the MAC (parameter count), `Host` can only name a `host[:port]` when no
//! public URL is set, and a form repeating a `name=value` pair verifies as
//! Twilio's SDKs sign it.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{test as actix_test, web, App, HttpResponse};
use actix_webhook::scheme::{Message, Signer, Twilio};
use actix_webhook::{webhook, Ack, Event, Verified, WebhookConfig, WebhookRouter};
use serde_json::Value;

#[path = "support/serve.rs"]
mod support;

const TOKEN: &str = "twilio-auth-token";
const PUBLIC_URL: &str = "https://example.com";
const FORM: &str = "application/x-www-form-urlencoded";
/// A well-formed `X-Twilio-Signature` (20 bytes of base64) that matches
/// nothing.
const BAD_SIGNATURE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
/// The default bound on form parameters, as documented on `Twilio`.
const MAX_PARAMS: usize = 1_000;

#[webhook(event = "*")]
async fn anything(_event: Event<web::Bytes>) -> Ack {
    Ack::processed()
}

async fn verified(event: Verified<web::Bytes>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "bytes": event.len() }))
}

/// The service: `/twilio` behind a router, with the default body limit
/// (1 MiB).
async fn service(
    scheme: Twilio,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    let router = WebhookRouter::new(scheme).handler(anything);
    actix_test::init_service(App::new().service(router.scope("/twilio"))).await
}

/// Headers Twilio would send with `body` to `url`.
fn signed(scheme: &Twilio, url: &str, body: &[u8]) -> Vec<(String, String)> {
    scheme.sign(&Message {
        id: "",
        timestamp: 0,
        event: "",
        url,
        body,
    })
}

/// Posts `body` to `/twilio` and returns the status and problem `code`
/// (`None` for a success).
async fn post(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (StatusCode, Option<String>) {
    let mut request = actix_test::TestRequest::post().uri("/twilio");
    for (name, value) in headers {
        request = request.insert_header((name.as_str(), value.as_str()));
    }
    let response = actix_test::call_service(app, request.set_payload(body).to_request()).await;
    let status = response.status();
    if status.is_success() {
        return (status, None);
    }
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = actix_test::read_body_json(response).await;
    (status, body["code"].as_str().map(str::to_owned))
}

/// A form of `n` distinct parameters, `p0=v0&p1=v1&...`.
fn form(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("p{i}=v{i}"))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn unauthorized(code: &str) -> (StatusCode, Option<String>) {
    (StatusCode::UNAUTHORIZED, Some(code.to_owned()))
}

/// The review's request: 524,000 one-character parameters in a 1 MiB form
/// with a bad signature. It is refused as too many parameters to check, not
/// after decoding and sorting them all to find the MAC wrong.
#[actix_web::test]
async fn a_half_million_parameter_form_is_refused_before_decoding() {
    let app = service(Twilio::new(TOKEN).unwrap().public_url(PUBLIC_URL)).await;
    let body = b"a&".repeat(524_000);
    assert!(body.len() <= 1 << 20, "{} bytes", body.len());
    let headers = [
        ("X-Twilio-Signature".to_owned(), BAD_SIGNATURE.to_owned()),
        ("Content-Type".to_owned(), FORM.to_owned()),
    ];
    assert_eq!(
        post(&app, &headers, body).await,
        unauthorized("malformed_signature")
    );
}

/// A genuine delivery at the bound verifies; one more parameter is refused
/// even with a genuine signature; the bound is configurable.
#[actix_web::test]
async fn a_genuine_form_at_the_bound_verifies_and_one_more_is_refused() {
    let scheme = Twilio::new(TOKEN).unwrap().public_url(PUBLIC_URL);
    let app = service(scheme.clone()).await;
    let url = format!("{PUBLIC_URL}/twilio");

    let at_bound = form(MAX_PARAMS);
    let headers = signed(&scheme, &url, &at_bound);
    assert_eq!(post(&app, &headers, at_bound).await, (StatusCode::OK, None));

    let over = form(MAX_PARAMS + 1);
    let headers = signed(&scheme, &url, &over);
    assert_eq!(
        post(&app, &headers, over.clone()).await,
        unauthorized("malformed_signature")
    );

    let roomier = service(scheme.max_params(MAX_PARAMS + 1)).await;
    assert_eq!(post(&roomier, &headers, over).await, (StatusCode::OK, None));
}

/// Without a public URL, `Host` is part of the URL signed. A `Host` carrying
/// a path and query would let a signature made for
/// `https://a.example/sms?next=/twilio` verify at `/twilio`; it is refused,
/// while a plain host, with or without a port, still works.
#[actix_web::test]
async fn a_host_that_is_not_host_and_port_is_refused() {
    let scheme = Twilio::new(TOKEN).unwrap();
    let app = service(scheme.clone()).await;
    let body = b"MessageSid=SM1&Body=hello".to_vec();
    let with_host = |url: &str, host: &str| {
        let mut headers = signed(&scheme, url, &body);
        headers.push(("Host".to_owned(), host.to_owned()));
        headers
    };

    for (url, host) in [
        ("https://a.example/twilio", "a.example"),
        ("https://a.example:8443/twilio", "a.example:8443"),
        ("https://[2001:db8::1]/twilio", "[2001:db8::1]"),
    ] {
        assert_eq!(
            post(&app, &with_host(url, host), body.clone()).await,
            (StatusCode::OK, None),
            "{host}"
        );
    }

    for (url, host) in [
        ("https://a.example/sms?next=/twilio", "a.example/sms?next="),
        ("https://a.example/sms#/twilio", "a.example/sms#"),
        ("https://user@a.example/twilio", "user@a.example"),
    ] {
        assert_eq!(
            post(&app, &with_host(url, host), body.clone()).await,
            unauthorized("malformed_signature"),
            "{host}"
        );
    }
}

/// The same smuggled `Host` over a socket, where actix-web's own HTTP parser
/// reads the head first: it passes the value through, the scheme refuses it.
#[test]
fn a_smuggled_host_is_refused_over_a_socket() {
    let scheme = Twilio::new(TOKEN).unwrap();
    let (addr, handle) = serve(scheme.clone());
    let body = b"MessageSid=SM1&Body=hello";
    let send = |host: &str, url: &str| {
        let mut head = format!(
            "POST /twilio HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in signed(&scheme, url, body) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };

    let genuine = send("a.example", "https://a.example/twilio");
    assert!(genuine.starts_with("HTTP/1.1 200"), "{genuine}");
    let smuggled = send("a.example/sms?next=", "https://a.example/sms?next=/twilio");
    assert!(smuggled.starts_with("HTTP/1.1 401"), "{smuggled}");
    assert!(
        smuggled.contains(r#""code":"malformed_signature""#),
        "{smuggled}"
    );
    actix_rt::System::new().block_on(handle.stop(true));
}

/// Serves `/twilio` for `scheme` on a port of 127.0.0.1, in a thread.
fn serve(scheme: Twilio) -> (SocketAddr, actix_web::dev::ServerHandle) {
    let router = WebhookRouter::new(scheme).handler(anything);
    support::serve(move || App::new().service(router.scope("/twilio")))
}

/// twilio-python's multi-value vector (tests/unit/test_request_validator.py,
/// test_compute_signature_duplicate_multi_dict,
/// https://github.com/twilio/twilio-python): token "12345", URL
/// `https://mycompany.com/myapp.php?foo=1&bar=2`, parameters
/// `Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234`, signature
/// `IK+Dwps556ElfBT0I3Rgjkr1wJU=`. The SDK signs each name's distinct values
/// sorted, so the same form with `Digits=1234` repeated carries the same
/// signature, and must be accepted.
#[actix_web::test]
async fn a_repeated_pair_verifies_as_the_sdks_sign_it() {
    let config = WebhookConfig::new(
        Twilio::new("12345")
            .unwrap()
            .public_url("https://mycompany.com"),
    );
    let app = actix_test::init_service(
        App::new().service(
            web::resource("/myapp.php")
                .app_data(config)
                .route(web::post().to(verified)),
        ),
    )
    .await;
    for body in [
        &b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234"[..],
        b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234",
        b"Digits=1234&Sid=CA123&Digits=1234&SidAccount=AC123&Digits=5678",
    ] {
        let request = actix_test::TestRequest::post()
            .uri("/myapp.php?foo=1&bar=2")
            .insert_header(("X-Twilio-Signature", "IK+Dwps556ElfBT0I3Rgjkr1wJU="))
            .insert_header(("Content-Type", FORM))
            .set_payload(body.to_vec())
            .to_request();
        let response = actix_test::call_service(&app, request).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}
