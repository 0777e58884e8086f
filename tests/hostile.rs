//! Hostile requests against real actix services: one table of requests an
//! attacker (or a broken sender) may send, each with the status and problem
//! `code` it must get, none a 500. The table runs twice: through
//! `actix_test::init_service`, and over a socket against a server bound on
//! 127.0.0.1, where actix-web's own HTTP parser sees the bytes first (some
//! rows expect its answer there instead, e.g. 431 for a head over 128 KiB).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use actix_web::http::Method;
use actix_web::{test as actix_test, web, App, HttpResponse};
use actix_webhook::scheme::{
    Discord, GitHub, GitLab, Message, Meta, Paddle, Scheme, Shopify, Signer, Slack,
    StandardWebhooks, Stripe, Twilio,
};
use actix_webhook::verify::FixedClock;
use actix_webhook::{webhook, Ack, Event, Verified, WebhookConfig, WebhookRouter};
use serde::Deserialize;
use serde_json::Value;

#[path = "support/serve.rs"]
mod support;

const NOW: i64 = 1_700_000_000;
const LIMIT: usize = 256 << 10; // 256 KiB
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const STRIPE_SECRET: &str = "whsec_stripe_hostile";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SHOPIFY_SECRET: &str = "shopify-hostile";
const PADDLE_SECRET: &str = "pdl_ntfset_hostile";
const TWILIO_TOKEN: &str = "twilio-hostile";
const TWILIO_URL: &str = "https://example.com";
const DISCORD_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const META_SECRET: &str = "meta-hostile";
const GITLAB_TOKEN: &str = "gitlab-hostile";

#[derive(Deserialize)]
struct OrderPaid {
    #[allow(dead_code)]
    data: Order,
}

#[derive(Deserialize)]
struct Order {
    #[allow(dead_code)]
    order_id: String,
}

#[webhook(event = "order_paid")]
async fn order_paid(_event: Event<OrderPaid>) -> Ack {
    Ack::processed()
}

/// Asks the sender to come back in `u64::MAX` seconds.
#[webhook(event = "slow_down")]
async fn slow_down(_event: Event<Value>) -> Ack {
    Ack::retry_after(Duration::MAX)
}

#[webhook(event = "*")]
async fn anything(_event: Event<web::Bytes>) -> Ack {
    Ack::processed()
}

#[webhook(event = "push")]
async fn push(_event: Event<web::Bytes>) -> Ack {
    Ack::processed()
}

async fn verified(event: Verified<web::Json<Value>>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "processed", "id": event.delivery_id()}))
}

fn standard() -> StandardWebhooks {
    StandardWebhooks::new(SW_SECRET).unwrap()
}

fn twilio() -> Twilio {
    Twilio::new(TWILIO_TOKEN).unwrap().public_url(TWILIO_URL)
}

fn discord() -> Discord {
    Discord::with_signing_key(DISCORD_SEED).unwrap()
}

/// Every service of the table, built once per transport (each with its own
/// in-memory store).
fn routes() -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    let clock = FixedClock(NOW);
    fn router(scheme: impl Scheme) -> WebhookRouter {
        WebhookRouter::new(scheme)
            .clock(FixedClock(NOW))
            .body_limit(LIMIT)
    }
    let sw = WebhookRouter::new(standard())
        .clock(clock)
        .body_limit(LIMIT)
        .handler(order_paid)
        .handler(slow_down);
    let github = WebhookRouter::new(GitHub::new(GITHUB_SECRET).unwrap())
        .clock(clock)
        .body_limit(LIMIT)
        .handler(push);
    let stripe = router(Stripe::new(STRIPE_SECRET).unwrap()).handler(anything);
    let slack = router(Slack::new(SLACK_SECRET).unwrap()).handler(anything);
    let shopify = router(Shopify::new(SHOPIFY_SECRET).unwrap()).handler(anything);
    let paddle = router(Paddle::new(PADDLE_SECRET).unwrap()).handler(anything);
    let twilio_router = router(twilio()).handler(anything);
    let discord_router = router(discord()).handler(anything);
    let meta = router(
        Meta::new(META_SECRET)
            .unwrap()
            .verify_token("hostile-token"),
    )
    .handler(anything);
    let gitlab = router(GitLab::new(GITLAB_TOKEN).unwrap()).handler(anything);
    let config = WebhookConfig::new(standard())
        .clock(clock)
        .body_limit(LIMIT);
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(sw.scope("/sw"))
            .service(github.scope("/github"))
            .service(stripe.scope("/stripe"))
            .service(slack.scope("/slack"))
            .service(shopify.scope("/shopify"))
            .service(paddle.scope("/paddle"))
            .service(twilio_router.scope("/twilio"))
            .service(discord_router.scope("/discord"))
            .service(meta.scope("/meta"))
            .service(gitlab.scope("/gitlab"))
            .service(
                web::resource("/verified")
                    .app_data(config.clone())
                    .route(web::post().to(verified)),
            );
    }
}

/// How the body is framed.
#[derive(Clone, Copy, Debug)]
enum Framing {
    /// `Content-Length` of the body.
    Length,
    /// `Transfer-Encoding: chunked` (in-process: no `Content-Length`).
    Chunked,
    /// This `Content-Length`, whatever the body.
    Declared(u64),
}

/// What a row must get: status and the problem `code`, the ack's `status`
/// word, or nothing to check in the body (replies and actix's own answers).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Expect(u16, &'static str);

struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    framing: Framing,
    expect: Expect,
    /// Over a socket, when actix-web answers before the crate sees it, or
    /// its parser changes the request (it trims header values).
    wire: Option<Expect>,
}

fn case(
    name: &'static str,
    path: &'static str,
    headers: Headers,
    body: impl Into<Vec<u8>>,
    expect: Expect,
) -> Case {
    Case {
        name,
        method: "POST",
        path,
        headers,
        body: body.into(),
        framing: Framing::Length,
        expect,
        wire: None,
    }
}

impl Case {
    fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }
    fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }
    fn wire(mut self, expect: Expect) -> Self {
        self.wire = Some(expect);
        self
    }
}

type Headers = Vec<(String, Vec<u8>)>;

fn h(name: &str, value: impl AsRef<[u8]>) -> (String, Vec<u8>) {
    (name.to_owned(), value.as_ref().to_vec())
}

fn strings(headers: Vec<(String, String)>) -> Headers {
    headers
        .into_iter()
        .map(|(n, v)| (n, v.into_bytes()))
        .collect()
}

/// A Standard Webhooks delivery signed for `id`, `NOW` and `body`.
fn sw(id: &str, body: &[u8]) -> Headers {
    vec![
        h("webhook-id", id),
        h("webhook-timestamp", NOW.to_string()),
        h("webhook-signature", standard().signature(id, NOW, body)),
    ]
}

/// `headers` with `name` set to `value`.
fn with(mut headers: Headers, name: &str, value: impl AsRef<[u8]>) -> Headers {
    let value = value.as_ref().to_vec();
    match headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(slot) => slot.1 = value,
        None => headers.push((name.to_owned(), value)),
    }
    headers
}

/// `headers` with one more `name: value`.
fn plus(mut headers: Headers, name: &str, value: impl AsRef<[u8]>) -> Headers {
    headers.push(h(name, value));
    headers
}

fn order(id: &str) -> Vec<u8> {
    format!(r#"{{"type":"order_paid","data":{{"order_id":"{id}"}}}}"#).into_bytes()
}

/// A valid JSON order of exactly `len` bytes (padded inside a string).
fn order_of_len(len: usize) -> Vec<u8> {
    let head = br#"{"type":"order_paid","data":{"order_id":"o"},"pad":""#;
    let tail = br#""}"#;
    let mut body = head.to_vec();
    body.resize(len - tail.len(), b'x');
    body.extend_from_slice(tail);
    body
}

fn github(body: &[u8]) -> Headers {
    vec![
        h(
            "X-Hub-Signature-256",
            GitHub::new(GITHUB_SECRET).unwrap().signature(body),
        ),
        h("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        h("X-GitHub-Event", "push"),
    ]
}

fn stripe(timestamp: i64, body: &[u8]) -> Headers {
    vec![h(
        "Stripe-Signature",
        Stripe::new(STRIPE_SECRET)
            .unwrap()
            .signature(timestamp, body),
    )]
}

fn slack(body: &[u8]) -> Headers {
    vec![
        h(
            "X-Slack-Signature",
            Slack::new(SLACK_SECRET).unwrap().signature(NOW, body),
        ),
        h("X-Slack-Request-Timestamp", NOW.to_string()),
    ]
}

fn paddle(body: &[u8]) -> Headers {
    vec![h(
        "Paddle-Signature",
        Paddle::new(PADDLE_SECRET).unwrap().signature(NOW, body),
    )]
}

fn twilio_signed(body: &[u8]) -> Headers {
    strings(twilio().sign(&Message {
        id: "",
        timestamp: NOW,
        event: "",
        url: &format!("{TWILIO_URL}/twilio"),
        body,
    }))
}

fn discord_signed(body: &[u8]) -> Headers {
    vec![
        h(
            "X-Signature-Ed25519",
            discord().signature(NOW, body).unwrap(),
        ),
        h("X-Signature-Timestamp", NOW.to_string()),
    ]
}

fn gitlab(token: &str) -> Headers {
    vec![
        h("X-Gitlab-Token", token),
        h("X-Gitlab-Event", "Push Hook"),
        h("Idempotency-Key", "gl-1"),
    ]
}

const PROCESSED: Expect = Expect(200, "processed");
const MISSING: Expect = Expect(401, "missing_signature");
const MALFORMED: Expect = Expect(401, "malformed_signature");
const INVALID: Expect = Expect(401, "invalid_signature");
const STALE: Expect = Expect(401, "timestamp_out_of_tolerance");
const PAYLOAD: Expect = Expect(400, "invalid_payload");
const TOO_LARGE: Expect = Expect(413, "payload_too_large");

fn cases() -> Vec<Case> {
    let body = order("o_1");
    let long_id_body = order("o_long_id");
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let deep_in_data = format!(
        r#"{{"type":"order_paid","data":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    )
    .into_bytes();
    let long_event = format!(r#"{{"type":"{}","data":{{}}}}"#, "e".repeat(10_000)).into_bytes();
    let over = order_of_len(LIMIT + 1);
    let at_limit = order_of_len(LIMIT);
    let other_key = StandardWebhooks::new("whsec_b3RoZXIgc2VjcmV0IGtleQ==")
        .unwrap()
        .signature("msg_k", NOW, &body);
    let thousand_bad: Vec<String> = (0..1000u32)
        .map(|i| {
            use base64::Engine as _;
            let mut mac = [0u8; 32];
            mac[..4].copy_from_slice(&i.to_be_bytes());
            format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(mac)
            )
        })
        .collect();
    let thousand_then_good = format!(
        "{} {}",
        thousand_bad.join(" "),
        standard().signature("msg_1000", NOW, &body)
    );
    let stripe_thousand = format!(
        "t={NOW},{}",
        (0..1000)
            .map(|i| format!("v1={i:064x}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let github_bare = {
        let sig = GitHub::new(GITHUB_SECRET).unwrap().signature(&body);
        sig.trim_start_matches("sha256=").to_owned()
    };
    let twilio_form = b"MessageSid=SM1&Body=paid&EventType=order.paid".to_vec();

    vec![
        // Controls: what a genuine sender gets.
        case(
            "a genuine delivery",
            "/sw",
            sw("msg_1", &body),
            body.clone(),
            PROCESSED,
        ),
        case(
            "the same delivery again",
            "/sw",
            sw("msg_1", &body),
            body.clone(),
            Expect(200, "duplicate"),
        ),
        case(
            "svix header aliases",
            "/sw",
            strings(vec![
                ("svix-id".into(), "msg_svix".into()),
                ("svix-timestamp".into(), NOW.to_string()),
                (
                    "svix-signature".into(),
                    standard().signature("msg_svix", NOW, &body),
                ),
            ]),
            body.clone(),
            PROCESSED,
        ),
        case(
            "a body exactly at the limit",
            "/sw",
            sw("msg_limit", &at_limit),
            at_limit.clone(),
            PROCESSED,
        ),
        // Header sizes and counts.
        case(
            "a signature header over 8 KiB",
            "/sw",
            with(
                sw("msg_big", &body),
                "webhook-signature",
                format!("v1,{}", "A".repeat(9_000)),
            ),
            body.clone(),
            INVALID,
        ),
        case(
            "a request head over 128 KiB",
            "/sw",
            plus(sw("msg_huge", &body), "x-padding", "p".repeat(200_000)),
            body.clone(),
            PROCESSED,
        )
        .wire(Expect(431, "")),
        case(
            "100 extra headers",
            "/sw",
            (0..100).fold(sw("msg_many", &body), |headers, i| {
                plus(headers, &format!("x-extra-{i}"), "1")
            }),
            body.clone(),
            PROCESSED,
        )
        // actix-web parses at most 96 headers.
        .wire(Expect(431, "")),
        case(
            "the signature header repeated",
            "/sw",
            plus(
                sw("msg_rep", &body),
                "webhook-signature",
                standard().signature("msg_rep", NOW, &body),
            ),
            body.clone(),
            MALFORMED,
        ),
        case(
            "the signature header repeated under another case",
            "/sw",
            plus(sw("msg_rep2", &body), "Webhook-Signature", "v1,AAAA"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "1,000 signatures in one header, none valid",
            "/sw",
            with(
                sw("msg_k1", &body),
                "webhook-signature",
                thousand_bad.join(" "),
            ),
            body.clone(),
            INVALID,
        ),
        case(
            "1,000 invalid signatures, then the valid one",
            "/sw",
            with(
                sw("msg_1000", &body),
                "webhook-signature",
                &thousand_then_good,
            ),
            body.clone(),
            PROCESSED,
        ),
        case(
            "10,000 spaces as the signature",
            "/sw",
            with(sw("msg_sp", &body), "webhook-signature", " ".repeat(10_000)),
            body.clone(),
            MALFORMED,
        )
        // actix trims the value to nothing: an empty header.
        .wire(MALFORMED),
        case(
            "only unknown signature versions",
            "/sw",
            with(
                sw("msg_v2", &body),
                "webhook-signature",
                "v2,AAAA v1b,BBBB v0,CCCC",
            ),
            body.clone(),
            INVALID,
        ),
        case(
            "signature entries without a version",
            "/sw",
            with(sw("msg_nv", &body), "webhook-signature", "AAAA BBBB"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "an empty v1 signature",
            "/sw",
            with(sw("msg_e", &body), "webhook-signature", "v1,"),
            body.clone(),
            INVALID,
        ),
        case(
            "a valid signature of another delivery id",
            "/sw",
            with(sw("msg_other", &body), "webhook-id", "msg_swapped"),
            body.clone(),
            INVALID,
        ),
        case(
            "a signature under another key",
            "/sw",
            with(sw("msg_k", &body), "webhook-signature", &other_key),
            body.clone(),
            INVALID,
        ),
        case(
            "no signature headers at all",
            "/sw",
            vec![],
            body.clone(),
            MISSING,
        ),
        case(
            "the delivery id header repeated",
            "/sw",
            plus(sw("msg_id2", &body), "webhook-id", "msg_id3"),
            body.clone(),
            MALFORMED,
        ),
        // Timestamps.
        case(
            "timestamp i64::MAX",
            "/sw",
            with(
                sw("msg_t1", &body),
                "webhook-timestamp",
                i64::MAX.to_string(),
            ),
            body.clone(),
            STALE,
        ),
        case(
            "timestamp negative",
            "/sw",
            with(sw("msg_t2", &body), "webhook-timestamp", "-1700000000"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "timestamp a float",
            "/sw",
            with(sw("msg_t3", &body), "webhook-timestamp", "1700000000.5"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "timestamp with an inner space",
            "/sw",
            with(sw("msg_t4", &body), "webhook-timestamp", "1700 000000"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "timestamp with surrounding spaces",
            "/sw",
            with(sw("msg_t5", &body), "webhook-timestamp", " 1700000000 "),
            body.clone(),
            MALFORMED,
        )
        // HTTP strips whitespace around field values: what was signed arrives.
        .wire(PROCESSED),
        case(
            "timestamp of 40 digits",
            "/sw",
            with(sw("msg_t6", &body), "webhook-timestamp", "1".repeat(40)),
            body.clone(),
            MALFORMED,
        ),
        case(
            "timestamp with a plus sign",
            "/sw",
            with(sw("msg_t7", &body), "webhook-timestamp", "+1700000000"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "timestamp empty",
            "/sw",
            with(sw("msg_t8", &body), "webhook-timestamp", ""),
            body.clone(),
            MALFORMED,
        ),
        case(
            "timestamp zero",
            "/sw",
            with(sw("msg_t9", &body), "webhook-timestamp", "0"),
            body.clone(),
            STALE,
        ),
        case(
            "timestamp an hour ahead",
            "/sw",
            with(
                sw("msg_t10", &body),
                "webhook-timestamp",
                (NOW + 3600).to_string(),
            ),
            body.clone(),
            STALE,
        ),
        // Bytes that are not UTF-8.
        case(
            "a delivery id that is not UTF-8",
            "/sw",
            with(sw("msg_u1", &body), "webhook-id", b"msg_\xff\xfe"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "a signature that is not UTF-8",
            "/sw",
            with(
                sw("msg_u2", &body),
                "webhook-signature",
                b"v1,\xc3\x28\xa0\xa1",
            ),
            body.clone(),
            MALFORMED,
        ),
        case(
            "a timestamp that is not UTF-8",
            "/sw",
            with(sw("msg_u3", &body), "webhook-timestamp", b"17000\xff0000"),
            body.clone(),
            MALFORMED,
        ),
        // Bodies.
        case(
            "a signed body that is not JSON",
            "/sw",
            sw("msg_b1", b"not json"),
            "not json",
            PAYLOAD,
        ),
        case(
            "an unsigned body that is not JSON",
            "/sw",
            sw("msg_b2", &body),
            "not json",
            INVALID,
        ),
        // Valid JSON (serde_json skips what it ignores without recursing),
        // with no event name: refused, never routed as the empty name.
        case(
            "JSON nested 100,000 deep",
            "/sw",
            sw("msg_b3", &deep_array),
            deep_array.clone(),
            PAYLOAD,
        ),
        case(
            "a payload nested 100,000 deep",
            "/sw",
            sw("msg_b4", &deep_in_data),
            deep_in_data.clone(),
            PAYLOAD,
        ),
        case(
            "a signed 0-byte body",
            "/sw",
            sw("msg_b5", b""),
            "",
            PAYLOAD,
        ),
        case(
            "a 0-byte body without signature",
            "/sw",
            vec![],
            "",
            MISSING,
        ),
        case(
            "a body 1 byte over the limit, with Content-Length",
            "/sw",
            sw("msg_b6", &over),
            over.clone(),
            TOO_LARGE,
        ),
        case(
            "a body 1 byte over the limit, chunked",
            "/sw",
            sw("msg_b7", &over),
            over.clone(),
            TOO_LARGE,
        )
        .framing(Framing::Chunked),
        case(
            "a Content-Length over the limit with a short body",
            "/sw",
            sw("msg_b8", &body),
            body.clone(),
            TOO_LARGE,
        )
        .framing(Framing::Declared(LIMIT as u64 + 1)),
        case(
            "a Content-Length of 2^64 - 1",
            "/sw",
            sw("msg_b9", &body),
            body.clone(),
            TOO_LARGE,
        )
        .framing(Framing::Declared(u64::MAX)),
        case(
            "a wrong content type (text/plain) on a signed body",
            "/sw",
            plus(sw("msg_ct", &body), "content-type", "text/plain"),
            body.clone(),
            PROCESSED,
        ),
        case(
            "a body that is JSON but not the handler's type",
            "/sw",
            sw("msg_b10", br#"{"type":"order_paid","data":5}"#),
            r#"{"type":"order_paid","data":5}"#,
            PAYLOAD,
        ),
        case(
            "a body with a byte-order mark",
            "/sw",
            sw("msg_b11", &[b"\xef\xbb\xbf".as_slice(), &body].concat()),
            [b"\xef\xbb\xbf".as_slice(), &body].concat(),
            PAYLOAD,
        ),
        case(
            "an event name of 10,000 characters",
            "/sw",
            sw("msg_ev", &long_event),
            long_event.clone(),
            Expect(200, "ignored"),
        ),
        case(
            "a handler asking for a retry in u64::MAX seconds",
            "/sw",
            sw("msg_retry", br#"{"type":"slow_down"}"#),
            r#"{"type":"slow_down"}"#,
            Expect(503, "retry"),
        ),
        // Methods.
        case(
            "GET",
            "/sw",
            sw("msg_m1", b""),
            "",
            Expect(405, "method_not_allowed"),
        )
        .method("GET"),
        case(
            "PUT with a signed body",
            "/sw",
            sw("msg_m2", &body),
            body.clone(),
            Expect(405, "method_not_allowed"),
        )
        .method("PUT"),
        // The Verified extractor.
        case(
            "Verified: a genuine delivery",
            "/verified",
            sw("msg_v1", &body),
            body.clone(),
            PROCESSED,
        ),
        case(
            "Verified: JSON nested 100,000 deep",
            "/verified",
            sw("msg_v2", &deep_array),
            deep_array.clone(),
            PAYLOAD,
        ),
        case(
            "Verified: a body 1 byte over the limit, chunked",
            "/verified",
            sw("msg_v3", &over),
            over.clone(),
            TOO_LARGE,
        )
        .framing(Framing::Chunked),
        case(
            "Verified: a signature header over 8 KiB",
            "/verified",
            with(
                sw("msg_v4", &body),
                "webhook-signature",
                "v1,".repeat(3_000),
            ),
            body.clone(),
            MALFORMED,
        ),
        // GitHub.
        case(
            "GitHub: a genuine delivery",
            "/github",
            github(&body),
            body.clone(),
            PROCESSED,
        ),
        case(
            "GitHub: a signature without the sha256= prefix",
            "/github",
            with(github(&body), "X-Hub-Signature-256", &github_bare),
            body.clone(),
            MALFORMED,
        ),
        case(
            "GitHub: a sha1= signature",
            "/github",
            with(
                github(&body),
                "X-Hub-Signature-256",
                format!("sha1={}", "0".repeat(40)),
            ),
            body.clone(),
            MALFORMED,
        ),
        case(
            "GitHub: an event name of 10,000 characters",
            "/github",
            with(github(&body), "X-GitHub-Event", "e".repeat(10_000)),
            body.clone(),
            Expect(200, "ignored"),
        ),
        // Event headers are unsigned: a second copy, an empty value or bytes
        // that are not UTF-8 must not pick a handler.
        case(
            "GitHub: the event header repeated",
            "/github",
            plus(github(&body), "X-GitHub-Event", "issues"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "GitHub: an event header that is not UTF-8",
            "/github",
            with(github(&body), "X-GitHub-Event", b"\xff\xfe"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "GitHub: an empty event header",
            "/github",
            with(github(&body), "X-GitHub-Event", ""),
            body.clone(),
            MALFORMED,
        ),
        case(
            "GitHub: no event header",
            "/github",
            github(&body)
                .into_iter()
                .filter(|(name, _)| name != "X-GitHub-Event")
                .collect(),
            body.clone(),
            MISSING,
        ),
        case(
            "Shopify: the topic header repeated",
            "/shopify",
            vec![
                h(
                    "X-Shopify-Hmac-Sha256",
                    Shopify::new(SHOPIFY_SECRET).unwrap().signature(&body),
                ),
                h("X-Shopify-Topic", "orders/paid"),
                h("X-Shopify-Topic", "orders/cancelled"),
            ],
            body.clone(),
            MALFORMED,
        ),
        case(
            "GitLab: the event header repeated",
            "/gitlab",
            plus(gitlab(GITLAB_TOKEN), "X-Gitlab-Event", "Tag Push Hook"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "GitHub: the delivery id header repeated",
            "/github",
            plus(github(&body), "X-GitHub-Delivery", "another"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "GitHub: a 100,000-byte delivery id",
            "/github",
            with(
                github(&long_id_body),
                "X-GitHub-Delivery",
                "d".repeat(100_000),
            ),
            long_id_body.clone(),
            PROCESSED,
        ),
        case(
            "GitHub: the same 100,000-byte delivery id again",
            "/github",
            with(
                github(&long_id_body),
                "X-GitHub-Delivery",
                "d".repeat(100_000),
            ),
            long_id_body.clone(),
            Expect(200, "duplicate"),
        ),
        // Stripe.
        case(
            "Stripe: a header with no t",
            "/stripe",
            with(
                stripe(NOW, &body),
                "Stripe-Signature",
                format!("v1={}", "0".repeat(64)),
            ),
            body.clone(),
            MALFORMED,
        ),
        case(
            "Stripe: two t elements",
            "/stripe",
            with(
                stripe(NOW, &body),
                "Stripe-Signature",
                format!("t={NOW},t={NOW},v1=00"),
            ),
            body.clone(),
            MALFORMED,
        ),
        case(
            "Stripe: 1,000 v1 signatures, none valid",
            "/stripe",
            with(stripe(NOW, &body), "Stripe-Signature", &stripe_thousand),
            body.clone(),
            INVALID,
        ),
        case(
            "Stripe: t = i64::MAX",
            "/stripe",
            with(
                stripe(NOW, &body),
                "Stripe-Signature",
                format!("t={},v1=00", i64::MAX),
            ),
            body.clone(),
            STALE,
        ),
        case(
            "Stripe: a signed body that is not JSON",
            "/stripe",
            stripe(NOW, b"{"),
            "{",
            PAYLOAD,
        ),
        // Slack.
        case(
            "Slack: a float timestamp",
            "/slack",
            with(slack(&body), "X-Slack-Request-Timestamp", "1700000000.0"),
            body.clone(),
            MALFORMED,
        ),
        case(
            "Slack: a retry number past u64",
            "/slack",
            plus(slack(&body), "X-Slack-Retry-Num", "9".repeat(40)),
            body.clone(),
            PROCESSED,
        ),
        case(
            "Slack: a v0= signature with nothing after it",
            "/slack",
            with(slack(&body), "X-Slack-Signature", "v0="),
            body.clone(),
            MALFORMED,
        ),
        // Shopify.
        case(
            "Shopify: a signature that is not base64",
            "/shopify",
            vec![
                h("X-Shopify-Hmac-Sha256", "!!!not base64!!!"),
                h("X-Shopify-Topic", "orders/paid"),
            ],
            body.clone(),
            MALFORMED,
        ),
        case(
            "Shopify: the event id header repeated",
            "/shopify",
            vec![
                h(
                    "X-Shopify-Hmac-Sha256",
                    Shopify::new(SHOPIFY_SECRET).unwrap().signature(&body),
                ),
                h("X-Shopify-Topic", "orders/paid"),
                h("X-Shopify-Event-Id", "1"),
                h("X-Shopify-Event-Id", "2"),
            ],
            body.clone(),
            MALFORMED,
        ),
        // Paddle.
        case(
            "Paddle: empty ts and h1",
            "/paddle",
            with(paddle(&body), "Paddle-Signature", "ts=;h1="),
            body.clone(),
            MALFORMED,
        ),
        case(
            "Paddle: a 40-digit ts",
            "/paddle",
            with(
                paddle(&body),
                "Paddle-Signature",
                format!("ts={};h1=00", "9".repeat(40)),
            ),
            body.clone(),
            MALFORMED,
        ),
        // Twilio.
        case(
            "Twilio: a genuine form post",
            "/twilio",
            twilio_signed(&twilio_form),
            twilio_form.clone(),
            PROCESSED,
        ),
        case(
            "Twilio: a parameter changed",
            "/twilio",
            twilio_signed(&twilio_form),
            b"MessageSid=SM1&Body=PAID&EventType=order.paid".to_vec(),
            INVALID,
        ),
        case(
            "Twilio: a JSON body without bodySHA256",
            "/twilio",
            with(twilio_signed(b""), "Content-Type", "application/json"),
            body.clone(),
            INVALID,
        ),
        case(
            "Twilio: no signature",
            "/twilio",
            vec![],
            twilio_form.clone(),
            MISSING,
        ),
        // Discord (ed25519).
        case(
            "Discord: a signature of the wrong length",
            "/discord",
            with(
                discord_signed(&body),
                "X-Signature-Ed25519",
                "ab".repeat(63),
            ),
            body.clone(),
            INVALID,
        ),
        case(
            "Discord: a signature that is not hex",
            "/discord",
            with(
                discord_signed(&body),
                "X-Signature-Ed25519",
                "zz".repeat(64),
            ),
            body.clone(),
            MALFORMED,
        ),
        case(
            "Discord: a PING",
            "/discord",
            discord_signed(br#"{"type":1}"#),
            r#"{"type":1}"#,
            Expect(200, ""),
        ),
        // Meta.
        case(
            "Meta: a subscription challenge with the wrong token",
            "/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=123",
            vec![],
            "",
            Expect(403, ""),
        )
        .method("GET"),
        case(
            "Meta: a POST without signature",
            "/meta",
            vec![],
            body.clone(),
            MISSING,
        ),
        // GitLab.
        case(
            "GitLab: a wrong token",
            "/gitlab",
            gitlab("guess"),
            body.clone(),
            INVALID,
        ),
        case(
            "GitLab: the token repeated",
            "/gitlab",
            plus(gitlab(GITLAB_TOKEN), "X-Gitlab-Token", GITLAB_TOKEN),
            body.clone(),
            MALFORMED,
        ),
        case(
            "GitLab: the idempotency key repeated",
            "/gitlab",
            plus(gitlab(GITLAB_TOKEN), "Idempotency-Key", "gl-2"),
            body.clone(),
            MALFORMED,
        ),
    ]
}

/// What a response said.
#[derive(Debug)]
struct Got {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    retry_after: Option<String>,
}

/// Checks one answer; returns what is wrong with it.
fn check(case: &Case, got: &Got, expect: Expect, transport: &str) -> Result<(), String> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_inner(case, got, expect, transport)
    }));
    result.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| case.name.to_owned())
    })
}

fn check_inner(case: &Case, got: &Got, expect: Expect, transport: &str) {
    let what = format!(
        "{transport}: {}: got {} {} {}",
        case.name,
        got.status,
        got.content_type,
        String::from_utf8_lossy(&got.body[..got.body.len().min(300)])
    );
    assert_ne!(got.status, 500, "{what}");
    assert_eq!(got.status, expect.0, "{what}");
    if expect.1.is_empty() {
        return;
    }
    let json: Value = serde_json::from_slice(&got.body).unwrap_or(Value::Null);
    if got.status >= 400 && got.status != 503 {
        assert_eq!(got.content_type, "application/problem+json", "{what}");
        assert_eq!(json["code"], expect.1, "{what}");
        assert_eq!(json["status"], expect.0, "{what}");
    } else {
        assert_eq!(json["status"], expect.1, "{what}");
    }
    if got.status == 503 || got.status == 409 {
        assert!(got.retry_after.is_some(), "{what}: no Retry-After");
    }
}

#[actix_web::test]
async fn hostile_requests_in_process() {
    let app = actix_test::init_service(App::new().configure(routes())).await;
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let mut req = actix_test::TestRequest::default()
            .method(Method::from_bytes(case.method.as_bytes()).unwrap())
            .uri(case.path);
        for (name, value) in &case.headers {
            req = req.append_header((
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            ));
        }
        let mut req = req.set_payload(case.body.clone()).to_request();
        match case.framing {
            Framing::Length => {}
            Framing::Chunked => {
                req.headers_mut().remove(CONTENT_LENGTH);
            }
            Framing::Declared(n) => {
                req.headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from(n));
            }
        }
        let res = actix_test::call_service(&app, req).await;
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let content_type = header("content-type").unwrap_or_default();
        let retry_after = header("retry-after");
        let status = res.status().as_u16();
        let body = actix_test::read_body(res).await.to_vec();
        let got = Got {
            status,
            content_type,
            body,
            retry_after,
        };
        failures.extend(check(case, &got, case.expect, "in process").err());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hostile_requests_over_a_socket() {
    let (addr, handle) = serve();
    let mut failures = Vec::new();
    for case in &cases() {
        let got = send_raw(addr, case);
        failures.extend(check(case, &got, case.wire.unwrap_or(case.expect), "socket").err());
    }
    actix_rt::System::new().block_on(handle.stop(false));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Binds the table's services on 127.0.0.1 in a thread of their own.
fn serve() -> (SocketAddr, actix_web::dev::ServerHandle) {
    let routes = routes();
    support::serve(move || App::new().configure(routes.clone()))
}

/// Sends `case` as raw HTTP/1.1 bytes and reads the answer to the end.
fn send_raw(addr: SocketAddr, case: &Case) -> Got {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n",
        case.method, case.path
    )
    .into_bytes();
    for (name, value) in &case.headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    let mut body = Vec::new();
    match case.framing {
        Framing::Length => {
            head.extend_from_slice(format!("Content-Length: {}\r\n", case.body.len()).as_bytes());
            body.extend_from_slice(&case.body);
        }
        Framing::Declared(n) => {
            head.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
            body.extend_from_slice(&case.body);
        }
        Framing::Chunked => {
            head.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            for chunk in case.body.chunks(16 << 10) {
                body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                body.extend_from_slice(chunk);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n\r\n");
        }
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&body);

    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Write in a thread: the server may answer (and stop reading) early.
    let mut writer = stream.try_clone().unwrap();
    let writing = std::thread::spawn(move || {
        let _ = writer.write_all(&head);
        let _ = writer.flush();
    });
    let mut response = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e) if response.is_empty() => panic!("{}: no response: {e}", case.name),
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = writing.join();
    parse_response(&response, case.name)
}

fn parse_response(response: &[u8], name: &str) -> Got {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "{name}: no response head in {:?}",
                String::from_utf8_lossy(response)
            )
        });
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut content_type = String::new();
    let mut retry_after = None;
    let mut length = None;
    for line in lines {
        let (n, v) = line.split_once(':').unwrap();
        let v = v.trim().to_owned();
        match n.to_ascii_lowercase().as_str() {
            "content-type" => content_type = v,
            "retry-after" => retry_after = Some(v),
            "content-length" => length = v.parse::<usize>().ok(),
            _ => {}
        }
    }
    let mut body = response[end + 4..].to_vec();
    if let Some(length) = length {
        body.truncate(length);
    }
    Got {
        status,
        content_type,
        body,
        retry_after,
    }
}

#[webhook(event = "slow")]
async fn slow(_event: Event<Value>) -> Ack {
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    Ack::processed()
}

/// Extreme durations in the router's settings: nothing overflows. A lease
/// and a memory of `Duration::MAX`, and a concurrent retry of a delivery in
/// flight told to come back in `u64::MAX` seconds.
#[actix_web::test]
async fn durations_past_any_clock_do_not_panic() {
    let router = WebhookRouter::new(standard())
        .clock(FixedClock(NOW))
        .lease(Duration::MAX)
        .remember_for(Duration::MAX)
        .retry_after(Duration::MAX)
        .handler(slow);
    let app = actix_test::init_service(App::new().service(router.scope("/sw"))).await;
    let body = br#"{"type":"slow"}"#;
    let request = || {
        let mut req = actix_test::TestRequest::post().uri("/sw");
        for (name, value) in sw("msg_slow", body) {
            req = req.insert_header((name, HeaderValue::from_bytes(&value).unwrap()));
        }
        req.set_payload(&body[..]).to_request()
    };
    let (first, second) =
        futures_util::future::join(actix_test::call_service(&app, request()), async {
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            actix_test::call_service(&app, request()).await
        })
        .await;
    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 409);
    assert_eq!(
        second.headers().get("retry-after").unwrap(),
        &u64::MAX.to_string()
    );
    let third = actix_test::call_service(&app, request()).await;
    let json: Value = serde_json::from_slice(&actix_test::read_body(third).await).unwrap();
    assert_eq!(json["status"], "duplicate");
}

/// A sender that sends the head and a little of the body, then stalls: the
/// router and the extractor answer 408 `body_timeout` once the body timeout
/// passes, and close the connection (actix-web itself only times out the
/// head).
#[test]
fn a_stalled_body_gets_408_and_the_connection_closes() {
    let timeout = Duration::from_millis(300);
    let router = WebhookRouter::new(standard())
        .clock(FixedClock(NOW))
        .body_timeout(timeout)
        .handler(order_paid);
    let config = WebhookConfig::new(standard())
        .clock(FixedClock(NOW))
        .body_timeout(timeout);
    let (addr, handle) = support::serve(move || {
        App::new().service(router.scope("/sw")).service(
            web::resource("/verified")
                .app_data(config.clone())
                .route(web::post().to(verified)),
        )
    });
    for path in ["/sw", "/verified"] {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let started = std::time::Instant::now();
        let mut head =
            format!("POST {path} HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1000\r\n")
                .into_bytes();
        for (name, value) in sw("msg_stall", &order("o_1")) {
            head.extend_from_slice(format!("{name}: ").as_bytes());
            head.extend_from_slice(&value);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n{\"type\":");
        stream.write_all(&head).unwrap();
        let mut response = Vec::new();
        // Read to the end: the server must close the connection itself.
        stream.read_to_end(&mut response).unwrap();
        let elapsed = started.elapsed();
        let got = parse_response(&response, path);
        assert_eq!(got.status, 408, "{path}: {got:?}");
        let json: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(json["code"], "body_timeout", "{path}");
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
            "{path}: answered after {elapsed:?}"
        );
    }
    actix_rt::System::new().block_on(handle.stop(false));
}
