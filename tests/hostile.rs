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
    Clerk, Discord, Dropbox, GitHub, GitLab, HubSpot, Linear, Message, Meta, Paddle, Razorpay,
    Resend, Scheme, Shopify, Signer, Slack, Square, StandardWebhooks, Stripe, Twilio, Twitch, Xero,
    Zoom,
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
/// Zoom's endpoint validation is checked against a published answer
/// (elastic/beats' Zoom CRC test, the plainToken of Zoom's docs example):
/// this secret, that token.
const ZOOM_SECRET: &str = "secretValueTest";
const TWITCH_SECRET: &str = "twitch-hostile";
const HUBSPOT_SECRET: &str = "hubspot-hostile";
const XERO_KEY: &str = "xero-hostile";
const DROPBOX_SECRET: &str = "dropbox-hostile";
const SQUARE_KEY: &str = "square-hostile";
const LINEAR_SECRET: &str = "linear-hostile";
const RAZORPAY_SECRET: &str = "razorpay-hostile";
/// The public origin HubSpot and Square sign with the request target.
const PUBLIC_URL: &str = "https://example.com";

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

fn zoom() -> Zoom {
    Zoom::new(ZOOM_SECRET).unwrap()
}

fn twitch_scheme() -> Twitch {
    Twitch::new(TWITCH_SECRET).unwrap()
}

fn hubspot_scheme() -> HubSpot {
    HubSpot::new(HUBSPOT_SECRET).unwrap().public_url(PUBLIC_URL)
}

fn square_scheme() -> Square {
    Square::new(SQUARE_KEY).unwrap().public_url(PUBLIC_URL)
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
    let zoom_router = router(zoom()).handler(anything);
    let twitch_router = router(twitch_scheme()).handler(anything);
    let hubspot_router = router(hubspot_scheme()).handler(anything);
    let xero_router = router(Xero::new(XERO_KEY).unwrap()).handler(anything);
    let dropbox_router = router(Dropbox::new(DROPBOX_SECRET).unwrap()).handler(anything);
    let square_router = router(square_scheme()).handler(anything);
    let linear_router = router(Linear::new(LINEAR_SECRET).unwrap()).handler(anything);
    let razorpay_router = router(Razorpay::new(RAZORPAY_SECRET).unwrap()).handler(anything);
    let clerk_router = router(Clerk::new(SW_SECRET).unwrap()).handler(anything);
    let resend_router = router(Resend::new(SW_SECRET).unwrap()).handler(anything);
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
            .service(zoom_router.scope("/zoom"))
            .service(twitch_router.scope("/twitch"))
            .service(hubspot_router.scope("/hubspot"))
            .service(xero_router.scope("/xero"))
            .service(dropbox_router.scope("/dropbox"))
            .service(square_router.scope("/square"))
            .service(linear_router.scope("/linear"))
            .service(razorpay_router.scope("/razorpay"))
            .service(clerk_router.scope("/clerk"))
            .service(resend_router.scope("/resend"))
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
    name: String,
    method: &'static str,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    framing: Framing,
    expect: Expect,
    /// Over a socket, when actix-web answers before the crate sees it, or
    /// its parser changes the request (it trims header values).
    wire: Option<Expect>,
    /// A handshake the scheme answers by itself: the content type and body
    /// it must get, always with `X-Content-Type-Options: nosniff`.
    reply: Option<(&'static str, Vec<u8>)>,
    /// The sender takes every answer without a body (Xero): only the
    /// status says what happened, and there must be no body.
    bodiless: bool,
}

fn case(
    name: impl Into<String>,
    path: impl Into<String>,
    headers: Headers,
    body: impl Into<Vec<u8>>,
    expect: Expect,
) -> Case {
    Case {
        name: name.into(),
        method: "POST",
        path: path.into(),
        headers,
        body: body.into(),
        framing: Framing::Length,
        expect,
        wire: None,
        reply: None,
        bodiless: false,
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
    /// The answer is the scheme's own reply: `content_type` and `body`.
    fn replies(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.reply = Some((content_type, body.into()));
        self
    }
    /// The answer has the expected status and no body (nor content type):
    /// the code or status word expected is what the status stands for, not
    /// checked.
    fn bodiless(mut self) -> Self {
        self.bodiless = true;
        self.expect = Expect(self.expect.0, "");
        self.wire = self.wire.map(|wire| Expect(wire.0, ""));
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

/// `body` signed by `scheme` at `timestamp` as its sender sends it to
/// `path`, with the delivery `id` and `event` where the sender puts them (the
/// URL, for the schemes that sign it, is `PUBLIC_URL` and `path`).
fn signed_at(
    scheme: &impl Signer,
    path: &str,
    id: &str,
    event: &str,
    timestamp: i64,
    body: &[u8],
) -> Headers {
    strings(scheme.sign(&Message {
        id,
        timestamp,
        event,
        url: &format!("{PUBLIC_URL}{path}"),
        body,
    }))
}

/// `headers` without `name`.
fn without(headers: Headers, name: &str) -> Headers {
    headers
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
        .collect()
}

/// The headers a preset reads, on one of its genuine deliveries: what
/// [`absurd_headers`] damages.
struct Sender {
    provider: &'static str,
    path: &'static str,
    headers: Headers,
    body: Vec<u8>,
    signature: &'static str,
    timestamp: Option<&'static str>,
    /// The delivery id's header, when the preset reads one.
    id: Option<&'static str>,
    /// Its answers have no body ([`Case::bodiless`]).
    bodiless: bool,
}

/// Absurd values in each header a preset reads, on an otherwise genuine
/// delivery: huge, not UTF-8, repeated, absent. Each is a 401 naming the
/// header's fault, never a 500. (A huge delivery id is a valid one, and an
/// absent one is fine for some presets: those rows are the preset's own.)
fn absurd_headers(sender: &Sender) -> Vec<Case> {
    let row = |what: String, headers: Headers, expect: Expect| {
        let row = case(
            format!("{}: {what}", sender.provider),
            sender.path,
            headers,
            sender.body.clone(),
            expect,
        );
        if sender.bodiless {
            row.bodiless()
        } else {
            row
        }
    };
    let genuine = || sender.headers.clone();
    let value = |name: &str| {
        let (_, value) = sender
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("{}: no {name}", sender.provider));
        value.clone()
    };
    let mut rows = Vec::new();
    let roles = [
        ("signature", Some(sender.signature)),
        ("timestamp", sender.timestamp),
        ("delivery id", sender.id),
    ];
    for (role, name) in roles {
        let Some(name) = name else { continue };
        if role != "delivery id" {
            let huge = if role == "timestamp" { "9" } else { "!" }.repeat(10_000);
            rows.push(row(
                format!("a {role} header of 10,000 bytes"),
                with(genuine(), name, huge),
                MALFORMED,
            ));
            rows.push(row(
                format!("no {role} header"),
                without(genuine(), name),
                MISSING,
            ));
        }
        rows.push(row(
            format!("a {role} that is not UTF-8"),
            with(genuine(), name, b"\xc3\x28\xa0\xa1\xff"),
            MALFORMED,
        ));
        rows.push(row(
            format!("the {role} header repeated"),
            plus(genuine(), name, value(name)),
            MALFORMED,
        ));
    }
    rows
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

    let mut cases = vec![
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
    ];
    for rows in [
        zoom_cases(),
        twitch_cases(),
        hubspot_cases(),
        xero_cases(),
        dropbox_cases(),
        square_cases(),
        linear_cases(),
        razorpay_cases(),
        svix_cases("Clerk", "/clerk", |message| {
            Clerk::new(SW_SECRET).unwrap().sign(message)
        }),
        svix_cases("Resend", "/resend", |message| {
            Resend::new(SW_SECRET).unwrap().sign(message)
        }),
    ] {
        cases.extend(rows);
    }
    cases
}

/// Zoom: a body fingerprint for a delivery id, and the endpoint validation
/// it answers with an HMAC of the `plainToken`.
fn zoom_cases() -> Vec<Case> {
    const SIGNATURE: &str = "x-zm-signature";
    const TIMESTAMP: &str = "x-zm-request-timestamp";
    let at = |timestamp, body: &[u8]| signed_at(&zoom(), "/zoom", "", "", timestamp, body);
    let event = br#"{"event":"meeting.started","event_ts":1700000000123,"payload":{"object":{"id":"85746065432"}}}"#;
    let forged = with(
        at(NOW, event),
        SIGNATURE,
        Zoom::new("zoom-guess").unwrap().signature(NOW, event),
    );
    let validation = |token: &str| {
        format!(r#"{{"payload":{{"plainToken":{token}}},"event_ts":1654503849680,"event":"endpoint.url_validation"}}"#)
            .into_bytes()
    };
    let plain = validation(r#""qgg8vlvZRS6UYooatFL8Aw""#);
    let answer = br#"{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"70c1f2e2e6ca2d39297490d1f9142c7d701415ea8e6151f6562a08fa657a40ff"}"#;
    let huge = validation(&format!(r#""{}""#, "A".repeat(10_000)));
    let escaped_huge = validation(&format!(r#""{}""#, "\\u003c".repeat(2_000)));
    let object = validation(r#"{"nested":["<script>alert(1)</script>",1]}"#);
    let number = validation("42");
    let two_events = br#"{"event":"endpoint.url_validation","event":"meeting.started","payload":{"plainToken":"x"}}"#;
    let mut rows = vec![
        case(
            "Zoom: a genuine event",
            "/zoom",
            at(NOW, event),
            &event[..],
            PROCESSED,
        ),
        case(
            "Zoom: the same event signed again 10 s later",
            "/zoom",
            at(NOW + 10, event),
            &event[..],
            Expect(200, "duplicate"),
        ),
        case(
            "Zoom: signed with another secret token",
            "/zoom",
            forged,
            &event[..],
            INVALID,
        ),
        case(
            "Zoom: a timestamp in milliseconds",
            "/zoom",
            at(NOW * 1000, event),
            &event[..],
            STALE,
        ),
        case(
            "Zoom: an endpoint validation",
            "/zoom",
            at(NOW, &plain),
            plain.clone(),
            Expect(200, ""),
        )
        .replies("application/json", &answer[..]),
        case(
            "Zoom: an endpoint validation signed with another secret token",
            "/zoom",
            with(
                at(NOW, &plain),
                SIGNATURE,
                Zoom::new("zoom-guess").unwrap().signature(NOW, &plain),
            ),
            plain.clone(),
            INVALID,
        ),
        // Not answered (no echo of it): routed as any event.
        case(
            "Zoom: a validation with a 10,000-byte plainToken",
            "/zoom",
            at(NOW, &huge),
            huge.clone(),
            PROCESSED,
        ),
        case(
            "Zoom: a validation with a plainToken of 2,000 escapes",
            "/zoom",
            at(NOW, &escaped_huge),
            escaped_huge.clone(),
            PROCESSED,
        ),
        case(
            "Zoom: a validation whose plainToken is an object",
            "/zoom",
            at(NOW, &object),
            object.clone(),
            PROCESSED,
        ),
        case(
            "Zoom: a validation whose plainToken is a number",
            "/zoom",
            at(NOW, &number),
            number.clone(),
            PROCESSED,
        ),
        case(
            "Zoom: a validation whose event is repeated",
            "/zoom",
            at(NOW, two_events),
            &two_events[..],
            PAYLOAD,
        ),
    ];
    rows.extend(absurd_headers(&Sender {
        provider: "Zoom",
        path: "/zoom",
        headers: at(NOW, event),
        body: event.to_vec(),
        signature: SIGNATURE,
        timestamp: Some(TIMESTAMP),
        id: None,
        bodiless: false,
    }));
    rows
}

/// Twitch: RFC 3339 timestamps, and the challenge it answers as text.
fn twitch_cases() -> Vec<Case> {
    const ID: &str = "Twitch-Eventsub-Message-Id";
    const TIMESTAMP: &str = "Twitch-Eventsub-Message-Timestamp";
    const SIGNATURE: &str = "Twitch-Eventsub-Message-Signature";
    const MESSAGE_TYPE: &str = "Twitch-Eventsub-Message-Type";
    const SUBSCRIPTION_TYPE: &str = "Twitch-Eventsub-Subscription-Type";
    let twitch = |id: &str, event: &str, body: &[u8]| {
        signed_at(&twitch_scheme(), "/twitch", id, event, NOW, body)
    };
    let follow = |id: &str, body: &[u8]| twitch(id, "channel.follow", body);
    // Signed with the timestamp `text` as sent.
    let stamped = |id: &str, text: &str, body: &[u8]| {
        with(
            with(follow(id, body), TIMESTAMP, text),
            SIGNATURE,
            twitch_scheme().signature(id, text, body),
        )
    };
    let body = br#"{"subscription":{"type":"channel.follow"},"event":{"user_login":"cool_user"}}"#;
    let challenge = |value: &str| {
        format!(r#"{{"challenge":{value},"subscription":{{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow","version":"1"}}}}"#)
            .into_bytes()
    };
    let verification = |id: &str, body: &[u8]| twitch(id, "webhook_callback_verification", body);
    let good = challenge(r#""pogchamp-kappa-360noscope-vohiyo""#);
    let markup = challenge(r#""<script>alert(1)</script>""#);
    let huge = challenge(&format!(r#""{}""#, "c".repeat(10_000)));
    let number = challenge("42");
    let mut rows = vec![
        case(
            "Twitch: a genuine notification",
            "/twitch",
            follow("tw-1", body),
            &body[..],
            PROCESSED,
        ),
        case(
            "Twitch: the same message again",
            "/twitch",
            follow("tw-1", body),
            &body[..],
            Expect(200, "duplicate"),
        ),
        case(
            "Twitch: signed with another secret",
            "/twitch",
            with(
                follow("tw-2", body),
                SIGNATURE,
                Twitch::new("twitch-guess").unwrap().signature(
                    "tw-2",
                    "2023-11-14T22:13:20.000000000Z",
                    body,
                ),
            ),
            &body[..],
            INVALID,
        ),
        case(
            "Twitch: a challenge",
            "/twitch",
            verification("tw-c1", &good),
            good.clone(),
            Expect(200, ""),
        )
        .replies(
            "text/plain; charset=utf-8",
            "pogchamp-kappa-360noscope-vohiyo",
        ),
        case(
            "Twitch: a challenge holding markup, echoed as text only",
            "/twitch",
            verification("tw-c2", &markup),
            markup.clone(),
            Expect(200, ""),
        )
        .replies("text/plain; charset=utf-8", "<script>alert(1)</script>"),
        // Not answered (no echo of it), and not routed: a verification
        // that cannot be answered is not one Twitch sends.
        case(
            "Twitch: a challenge of 10,000 bytes",
            "/twitch",
            verification("tw-c3", &huge),
            huge.clone(),
            MALFORMED,
        ),
        case(
            "Twitch: a challenge that is a number",
            "/twitch",
            verification("tw-c4", &number),
            number.clone(),
            MALFORMED,
        ),
        case(
            "Twitch: a challenge with another secret",
            "/twitch",
            with(
                verification("tw-c5", &good),
                SIGNATURE,
                Twitch::new("twitch-guess").unwrap().signature(
                    "tw-c5",
                    "2023-11-14T22:13:20.000000000Z",
                    &good,
                ),
            ),
            good.clone(),
            INVALID,
        ),
        case(
            "Twitch: a timestamp that is not RFC 3339",
            "/twitch",
            with(follow("tw-t1", body), TIMESTAMP, "yesterday at noon"),
            &body[..],
            MALFORMED,
        ),
        case(
            "Twitch: a timestamp in unix seconds",
            "/twitch",
            stamped("tw-t2", &NOW.to_string(), body),
            &body[..],
            MALFORMED,
        ),
        case(
            "Twitch: a timestamp in year 10000",
            "/twitch",
            stamped("tw-t3", "10000-01-01T00:00:00Z", body),
            &body[..],
            MALFORMED,
        ),
        case(
            "Twitch: a timestamp on February 30",
            "/twitch",
            stamped("tw-t4", "2023-02-30T22:13:20Z", body),
            &body[..],
            MALFORMED,
        ),
        case(
            "Twitch: a timestamp with 99:99 as its offset",
            "/twitch",
            stamped("tw-t5", "2023-11-14T22:13:20+99:99", body),
            &body[..],
            MALFORMED,
        ),
        case(
            "Twitch: a timestamp with 60 fraction digits",
            "/twitch",
            stamped(
                "tw-t6",
                &format!("2023-11-14T22:13:20.{}Z", "1".repeat(60)),
                body,
            ),
            &body[..],
            MALFORMED,
        ),
        case(
            "Twitch: the last instant of year 9999, offset -23:59",
            "/twitch",
            stamped("tw-t7", "9999-12-31T23:59:59.999999999-23:59", body),
            &body[..],
            STALE,
        ),
        case(
            "Twitch: year 0000, offset +23:59",
            "/twitch",
            stamped("tw-t8", "0000-01-01T00:00:00+23:59", body),
            &body[..],
            STALE,
        ),
        case(
            "Twitch: the timestamp written otherwise than signed",
            "/twitch",
            with(
                follow("tw-t9", body),
                TIMESTAMP,
                "2023-11-14T22:13:20.0000000000Z",
            ),
            &body[..],
            INVALID,
        ),
        case(
            "Twitch: the message type header repeated",
            "/twitch",
            plus(follow("tw-m1", body), MESSAGE_TYPE, "revocation"),
            &body[..],
            MALFORMED,
        ),
        // The signed body names it: the header, when sent, must agree.
        case(
            "Twitch: a notification without its subscription type header",
            "/twitch",
            without(follow("tw-m2", body), SUBSCRIPTION_TYPE),
            &body[..],
            PROCESSED,
        ),
        case(
            "Twitch: a notification under another subscription type",
            "/twitch",
            with(follow("tw-m3", body), SUBSCRIPTION_TYPE, "channel.ban"),
            &body[..],
            MALFORMED,
        ),
        case(
            "Twitch: a notification sent again as a revocation",
            "/twitch",
            with(follow("tw-m4", body), MESSAGE_TYPE, "revocation"),
            &body[..],
            MALFORMED,
        ),
    ];
    rows.extend(absurd_headers(&Sender {
        provider: "Twitch",
        path: "/twitch",
        headers: follow("tw-a", body),
        body: body.to_vec(),
        signature: SIGNATURE,
        timestamp: Some(TIMESTAMP),
        id: Some(ID),
        bodiless: false,
    }));
    rows
}

/// A HubSpot batch of `events`, numbered from `first`.
fn hubspot_batch(first: usize, events: usize) -> Vec<u8> {
    let events: Vec<String> = (first..first + events)
        .map(|i| {
            format!(r#"{{"eventId":{i},"subscriptionType":"contact.creation","objectId":{i},"occurredAt":1700000000000,"attemptNumber":0}}"#)
        })
        .collect();
    format!("[{}]", events.join(",")).into_bytes()
}

/// HubSpot: a batch per request, signed with the method, the URL and a
/// timestamp in milliseconds.
fn hubspot_cases() -> Vec<Case> {
    const SIGNATURE: &str = "X-HubSpot-Signature-v3";
    const TIMESTAMP: &str = "X-HubSpot-Request-Timestamp";
    let hubspot = |body: &[u8]| signed_at(&hubspot_scheme(), "/hubspot", "", "", NOW, body);
    let url = format!("{PUBLIC_URL}/hubspot");
    let body = hubspot_batch(1, 2);
    let thousand = hubspot_batch(100, 1000);
    let over = hubspot_batch(5000, 1001);
    let unnamed =
        br#"[{"eventId":9001,"subscriptionType":"contact.creation","objectId":1},{"eventId":9002,"objectId":2}]"#;
    let object = br#"{"eventId":9003,"subscriptionType":"contact.creation","objectId":3}"#;
    let mut rows = vec![
        case(
            "HubSpot: a genuine batch",
            "/hubspot",
            hubspot(&body),
            body.clone(),
            PROCESSED,
        ),
        case(
            "HubSpot: the same batch again",
            "/hubspot",
            hubspot(&body),
            body.clone(),
            Expect(200, "duplicate"),
        ),
        case(
            "HubSpot: signed with another client secret",
            "/hubspot",
            with(
                hubspot(&body),
                SIGNATURE,
                HubSpot::new("hubspot-guess")
                    .unwrap()
                    .signature("POST", &url, &body, NOW * 1000),
            ),
            body.clone(),
            INVALID,
        ),
        case(
            "HubSpot: signed for another URL",
            "/hubspot",
            signed_at(&hubspot_scheme(), "/hubspot/other", "", "", NOW, &body),
            body.clone(),
            INVALID,
        ),
        case(
            "HubSpot: a query string the signature does not cover",
            "/hubspot?portal=1",
            hubspot(&body),
            body.clone(),
            INVALID,
        ),
        case(
            "HubSpot: a timestamp of 40 digits",
            "/hubspot",
            with(hubspot(&body), TIMESTAMP, "1".repeat(40)),
            body.clone(),
            MALFORMED,
        ),
        case(
            "HubSpot: a timestamp in seconds, signed",
            "/hubspot",
            with(
                with(hubspot(&body), TIMESTAMP, NOW.to_string()),
                SIGNATURE,
                hubspot_scheme().signature("POST", &url, &body, NOW),
            ),
            body.clone(),
            STALE,
        ),
        case(
            "HubSpot: a timestamp i64::MAX ms",
            "/hubspot",
            with(hubspot(&body), TIMESTAMP, i64::MAX.to_string()),
            body.clone(),
            STALE,
        ),
        case(
            "HubSpot: a batch of 1,000 events",
            "/hubspot",
            hubspot(&thousand),
            thousand.clone(),
            PROCESSED,
        ),
        case(
            "HubSpot: a batch of 1,001 events",
            "/hubspot",
            hubspot(&over),
            over.clone(),
            PAYLOAD,
        ),
        case(
            "HubSpot: an event without subscriptionType",
            "/hubspot",
            hubspot(unnamed),
            &unnamed[..],
            PAYLOAD,
        ),
        case(
            "HubSpot: one event, not an array",
            "/hubspot",
            hubspot(object),
            &object[..],
            PAYLOAD,
        ),
        case(
            "HubSpot: a signed body that is not JSON",
            "/hubspot",
            hubspot(b"[{"),
            "[{",
            PAYLOAD,
        ),
    ];
    rows.extend(absurd_headers(&Sender {
        provider: "HubSpot",
        path: "/hubspot",
        headers: hubspot(&body),
        body,
        signature: SIGNATURE,
        timestamp: Some(TIMESTAMP),
        id: None,
        bodiless: false,
    }));
    rows
}

/// Xero: a batch in `events`, and the "intent to receive" handshake.
fn xero_cases() -> Vec<Case> {
    const SIGNATURE: &str = "x-xero-signature";
    let xero = |body: &[u8]| vec![h(SIGNATURE, Xero::new(XERO_KEY).unwrap().signature(body))];
    let forged = |body: &[u8]| {
        vec![h(
            SIGNATURE,
            Xero::new("xero-guess").unwrap().signature(body),
        )]
    };
    let body = br#"{"events":[{"resourceUrl":"https://api.xero.com/api.xro/2.0/Invoices/7b5f3f4c","resourceId":"7b5f3f4c","eventDateUtc":"2024-05-21T01:15:39.902","eventType":"UPDATE","eventCategory":"INVOICE","tenantId":"c2cc9b6e","tenantType":"ORGANISATION"}],"firstEventSequence":1,"lastEventSequence":1,"entropy":"CVMXBDCHWQSCOKXKZWFT"}"#;
    let intent =
        br#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}"#;
    let null = br#"{"events":null,"firstEventSequence":0,"lastEventSequence":0,"entropy":"N0n3"}"#;
    let object = br#"{"events":{"eventCategory":"INVOICE","eventType":"UPDATE"},"entropy":"OBJ"}"#;
    let text = br#"{"events":"INVOICE.UPDATE","entropy":"TXT"}"#;
    let untyped =
        br#"{"events":[{"resourceId":"1","eventCategory":"INVOICE"}],"entropy":"UNTYPED"}"#;
    let twice = br#"{"events":[],"events":[{"resourceId":"2","eventCategory":"INVOICE","eventType":"UPDATE"}]}"#;
    // Xero takes every answer as 200 (or not) with no body: the rows say
    // what each status stands for, and check the status and that no body
    // is sent. The intent to receive is 200 without a body too.
    let rows = vec![
        case(
            "Xero: a genuine batch",
            "/xero",
            xero(body),
            &body[..],
            PROCESSED,
        ),
        case(
            "Xero: the same batch again",
            "/xero",
            xero(body),
            &body[..],
            Expect(200, "duplicate"),
        ),
        case(
            "Xero: signed with another webhook key",
            "/xero",
            forged(body),
            &body[..],
            INVALID,
        ),
        case(
            "Xero: an intent to receive",
            "/xero",
            xero(intent),
            &intent[..],
            Expect(200, "handshake"),
        ),
        case(
            "Xero: an intent to receive, wrongly signed",
            "/xero",
            forged(intent),
            &intent[..],
            INVALID,
        ),
        case(
            "Xero: an intent to receive, events null",
            "/xero",
            xero(null),
            &null[..],
            Expect(200, "handshake"),
        ),
        case(
            "Xero: events an object, not an array",
            "/xero",
            xero(object),
            &object[..],
            PAYLOAD,
        ),
        case(
            "Xero: events a string",
            "/xero",
            xero(text),
            &text[..],
            PAYLOAD,
        ),
        case(
            "Xero: an event without eventType",
            "/xero",
            xero(untyped),
            &untyped[..],
            PAYLOAD,
        ),
        case(
            "Xero: events repeated, empty then not",
            "/xero",
            xero(twice),
            &twice[..],
            PAYLOAD,
        ),
    ];
    let mut rows: Vec<Case> = rows.into_iter().map(Case::bodiless).collect();
    rows.extend(absurd_headers(&Sender {
        provider: "Xero",
        path: "/xero",
        headers: xero(body),
        body: body.to_vec(),
        signature: SIGNATURE,
        timestamp: None,
        id: None,
        bodiless: true,
    }));
    rows
}

/// Dropbox: no id and no fingerprint (every notification runs), and the
/// `GET ?challenge=` it echoes only when harmless.
fn dropbox_cases() -> Vec<Case> {
    const SIGNATURE: &str = "X-Dropbox-Signature";
    let dropbox = |body: &[u8]| {
        vec![h(
            SIGNATURE,
            Dropbox::new(DROPBOX_SECRET).unwrap().signature(body),
        )]
    };
    let body = br#"{"list_folder":{"accounts":["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]},"delta":{"users":[12345842]}}"#;
    let refused = Expect(403, "handshake_refused");
    let get = |name: &'static str, path: String, expect: Expect| {
        case(name, path, vec![], "", expect).method("GET")
    };
    let mut rows = vec![
        case(
            "Dropbox: a genuine notification",
            "/dropbox",
            dropbox(body),
            &body[..],
            PROCESSED,
        ),
        // Two real notifications for one account have the same body.
        case(
            "Dropbox: the same notification again runs again",
            "/dropbox",
            dropbox(body),
            &body[..],
            PROCESSED,
        ),
        case(
            "Dropbox: signed with another app secret",
            "/dropbox",
            vec![h(
                SIGNATURE,
                Dropbox::new("dropbox-guess").unwrap().signature(body),
            )],
            &body[..],
            INVALID,
        ),
        get(
            "Dropbox: a verification request",
            "/dropbox?challenge=abc123".into(),
            Expect(200, ""),
        )
        .replies("text/plain", "abc123"),
        get(
            "Dropbox: a challenge of 256 bytes",
            format!("/dropbox?challenge={}", "a".repeat(256)),
            Expect(200, ""),
        )
        .replies("text/plain", "a".repeat(256)),
        get(
            "Dropbox: a challenge of 10,000 bytes",
            format!("/dropbox?challenge={}", "a".repeat(10_000)),
            refused,
        ),
        get(
            "Dropbox: the challenge repeated",
            "/dropbox?challenge=abc&challenge=def".into(),
            refused,
        ),
        get(
            "Dropbox: the same challenge twice",
            "/dropbox?challenge=abc&challenge=abc".into(),
            refused,
        ),
        get(
            "Dropbox: a challenge holding <script>",
            "/dropbox?challenge=%3Cscript%3Ealert(1)%3C%2Fscript%3E".into(),
            refused,
        ),
        get(
            "Dropbox: a challenge holding a line break",
            "/dropbox?challenge=a%0D%0AContent-Type:%20text/html".into(),
            refused,
        ),
        get(
            "Dropbox: a challenge that is not UTF-8",
            "/dropbox?challenge=%FF%FE".into(),
            refused,
        ),
        get(
            "Dropbox: an empty challenge",
            "/dropbox?challenge=".into(),
            refused,
        ),
        get(
            "Dropbox: a GET without challenge",
            "/dropbox".into(),
            refused,
        ),
        case(
            "Dropbox: a POST with a challenge and no signature",
            "/dropbox?challenge=abc123",
            vec![],
            "",
            MISSING,
        ),
        case(
            "Dropbox: PUT",
            "/dropbox?challenge=abc123",
            vec![],
            "",
            Expect(405, "method_not_allowed"),
        )
        .method("PUT"),
    ];
    rows.extend(absurd_headers(&Sender {
        provider: "Dropbox",
        path: "/dropbox",
        headers: dropbox(body),
        body: body.to_vec(),
        signature: SIGNATURE,
        timestamp: None,
        id: None,
        bodiless: false,
    }));
    rows
}

/// Square: the notification URL signed with the body, the id in the body.
fn square_cases() -> Vec<Case> {
    const SIGNATURE: &str = "x-square-hmacsha256-signature";
    let square = |body: &[u8]| signed_at(&square_scheme(), "/square", "", "", NOW, body);
    let body = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"payment.updated","event_id":"sq-1","created_at":"2023-11-14T22:13:20Z","data":{"type":"payment","id":"p1"}}"#;
    let no_id = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"payment.updated","data":{}}"#;
    let mut rows = vec![
        case(
            "Square: a genuine event",
            "/square",
            square(body),
            &body[..],
            PROCESSED,
        ),
        case(
            "Square: the same event again",
            "/square",
            square(body),
            &body[..],
            Expect(200, "duplicate"),
        ),
        case(
            "Square: signed with another signature key",
            "/square",
            vec![h(
                SIGNATURE,
                Square::new("square-guess")
                    .unwrap()
                    .signature(&format!("{PUBLIC_URL}/square"), body),
            )],
            &body[..],
            INVALID,
        ),
        case(
            "Square: signed for another notification URL",
            "/square",
            signed_at(&square_scheme(), "/square-other", "", "", NOW, body),
            &body[..],
            INVALID,
        ),
        case(
            "Square: a query string the signature does not cover",
            "/square?x=1",
            square(body),
            &body[..],
            INVALID,
        ),
        case(
            "Square: a signed body without event_id",
            "/square",
            square(no_id),
            &no_id[..],
            PAYLOAD,
        ),
    ];
    rows.extend(absurd_headers(&Sender {
        provider: "Square",
        path: "/square",
        headers: square(body),
        body: body.to_vec(),
        signature: SIGNATURE,
        timestamp: None,
        id: None,
        bodiless: false,
    }));
    rows
}

/// Linear: freshness from the signed body's `webhookTimestamp` (ms).
fn linear_cases() -> Vec<Case> {
    const SIGNATURE: &str = "Linear-Signature";
    const DELIVERY: &str = "Linear-Delivery";
    let linear = |id: &str, body: &[u8]| {
        signed_at(
            &Linear::new(LINEAR_SECRET).unwrap(),
            "/linear",
            id,
            "",
            NOW,
            body,
        )
    };
    let stamped = |data: &str, timestamp: &str| {
        format!(r#"{{"action":"create","type":"Issue","data":{{"id":"{data}"}},"webhookTimestamp":{timestamp}}}"#)
            .into_bytes()
    };
    let millis = |seconds: i64| (seconds * 1000).to_string();
    let body = stamped("lin-1", &millis(NOW));
    let unstamped = br#"{"action":"create","type":"Issue","data":{"id":"lin-2"}}"#;
    let stale = stamped("lin-3", &millis(NOW - 120));
    let ahead = stamped("lin-4", &millis(NOW + 120));
    let quoted = stamped("lin-5", &format!(r#""{}""#, millis(NOW)));
    let forty = stamped("lin-6", &"1".repeat(40));
    let negative = stamped("lin-7", "-1");
    let untyped = format!(
        r#"{{"action":"create","data":{{}},"webhookTimestamp":{}}}"#,
        millis(NOW)
    )
    .into_bytes();
    let mut rows = vec![
        case(
            "Linear: a genuine delivery",
            "/linear",
            linear("lin-d1", &body),
            body.clone(),
            PROCESSED,
        ),
        // The id is not signed: the body recognises a repeat.
        case(
            "Linear: the same body under another delivery id",
            "/linear",
            linear("lin-d2", &body),
            body.clone(),
            Expect(200, "duplicate"),
        ),
        case(
            "Linear: signed with another secret",
            "/linear",
            signed_at(
                &Linear::new("linear-guess").unwrap(),
                "/linear",
                "lin-d3",
                "",
                NOW,
                &body,
            ),
            body.clone(),
            INVALID,
        ),
        case(
            "Linear: a body without webhookTimestamp",
            "/linear",
            linear("lin-d4", unstamped),
            &unstamped[..],
            MISSING,
        ),
        case(
            "Linear: a webhookTimestamp 2 minutes old",
            "/linear",
            linear("lin-d5", &stale),
            stale.clone(),
            STALE,
        ),
        case(
            "Linear: a webhookTimestamp 2 minutes ahead",
            "/linear",
            linear("lin-d6", &ahead),
            ahead.clone(),
            STALE,
        ),
        case(
            "Linear: a stale body with a fresh unsigned Linear-Timestamp",
            "/linear",
            plus(linear("lin-d7", &stale), "Linear-Timestamp", millis(NOW)),
            stale.clone(),
            STALE,
        ),
        case(
            "Linear: a webhookTimestamp in quotes",
            "/linear",
            linear("lin-d8", &quoted),
            quoted.clone(),
            MALFORMED,
        ),
        case(
            "Linear: a webhookTimestamp of 40 digits",
            "/linear",
            linear("lin-d9", &forty),
            forty.clone(),
            MALFORMED,
        ),
        case(
            "Linear: a negative webhookTimestamp",
            "/linear",
            linear("lin-d10", &negative),
            negative.clone(),
            MALFORMED,
        ),
        case(
            "Linear: a signed body without type",
            "/linear",
            linear("lin-d11", &untyped),
            untyped.clone(),
            PAYLOAD,
        ),
    ];
    let absurd_body = stamped("lin-absurd", &millis(NOW));
    rows.extend(absurd_headers(&Sender {
        provider: "Linear",
        path: "/linear",
        headers: linear("lin-da", &absurd_body),
        body: absurd_body,
        signature: SIGNATURE,
        timestamp: None,
        id: Some(DELIVERY),
        bodiless: false,
    }));
    rows
}

/// Razorpay: no timestamp, an unsigned event id.
fn razorpay_cases() -> Vec<Case> {
    const SIGNATURE: &str = "X-Razorpay-Signature";
    const EVENT_ID: &str = "X-Razorpay-Event-Id";
    let razorpay = |id: &str, body: &[u8]| {
        signed_at(
            &Razorpay::new(RAZORPAY_SECRET).unwrap(),
            "/razorpay",
            id,
            "",
            NOW,
            body,
        )
    };
    let body = br#"{"entity":"event","account_id":"acc_1","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"pay_1"}}},"created_at":1700000000}"#;
    let mut rows = vec![
        case(
            "Razorpay: a genuine event",
            "/razorpay",
            razorpay("rzp-1", body),
            &body[..],
            PROCESSED,
        ),
        case(
            "Razorpay: the same body under another event id",
            "/razorpay",
            razorpay("rzp-2", body),
            &body[..],
            Expect(200, "duplicate"),
        ),
        case(
            "Razorpay: signed with another webhook secret",
            "/razorpay",
            signed_at(
                &Razorpay::new("razorpay-guess").unwrap(),
                "/razorpay",
                "rzp-3",
                "",
                NOW,
                body,
            ),
            &body[..],
            INVALID,
        ),
    ];
    rows.extend(absurd_headers(&Sender {
        provider: "Razorpay",
        path: "/razorpay",
        headers: razorpay("rzp-a", body),
        body: body.to_vec(),
        signature: SIGNATURE,
        timestamp: None,
        id: Some(EVENT_ID),
        bodiless: false,
    }));
    rows
}

/// Clerk and Resend: Standard Webhooks under the `svix-` header names.
fn svix_cases(
    provider: &'static str,
    path: &'static str,
    sign: impl Fn(&Message<'_>) -> Vec<(String, String)>,
) -> Vec<Case> {
    let signed = |id: &str, body: &[u8]| {
        strings(sign(&Message {
            id,
            timestamp: NOW,
            event: "",
            url: "",
            body,
        }))
    };
    let body =
        format!(r#"{{"type":"user.created","object":"event","data":{{"id":"{provider}_1"}}}}"#)
            .into_bytes();
    let row = |what: &str, headers: Headers, expect: Expect| {
        case(
            format!("{provider}: {what}"),
            path,
            headers,
            body.clone(),
            expect,
        )
    };
    let forged = StandardWebhooks::new("whsec_b3RoZXIgc2VjcmV0IGtleQ==")
        .unwrap()
        .signature("svix_3", NOW, &body);
    let mut rows = vec![
        row("a genuine delivery", signed("svix_1", &body), PROCESSED),
        row(
            "the same delivery again",
            signed("svix_1", &body),
            Expect(200, "duplicate"),
        ),
        row(
            "signed with another secret",
            with(signed("svix_3", &body), "svix-signature", forged),
            INVALID,
        ),
        row(
            "another delivery id under the signature",
            with(signed("svix_4", &body), "svix-id", "svix_5"),
            INVALID,
        ),
        row(
            "timestamp i64::MAX",
            with(
                signed("svix_6", &body),
                "svix-timestamp",
                i64::MAX.to_string(),
            ),
            STALE,
        ),
    ];
    rows.extend(absurd_headers(&Sender {
        provider,
        path,
        headers: signed("svix_a", &body),
        body: body.clone(),
        signature: "svix-signature",
        timestamp: Some("svix-timestamp"),
        id: Some("svix-id"),
        bodiless: false,
    }));
    rows
}

/// What a response said.
#[derive(Debug)]
struct Got {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    retry_after: Option<String>,
    /// `X-Content-Type-Options: nosniff` was sent.
    nosniff: bool,
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
            .unwrap_or_else(|| case.name.clone())
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
    if let Some((content_type, body)) = &case.reply {
        assert_eq!(got.content_type, *content_type, "{what}");
        assert_eq!(got.body, *body, "{what}");
        assert!(got.nosniff, "{what}: no X-Content-Type-Options: nosniff");
    }
    if case.bodiless {
        assert!(got.body.is_empty(), "{what}: a body");
        assert_eq!(got.content_type, "", "{what}: a content type");
    }
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
            .uri(&case.path);
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
        let nosniff = header("x-content-type-options").as_deref() == Some("nosniff");
        let status = res.status().as_u16();
        let body = actix_test::read_body(res).await.to_vec();
        let got = Got {
            status,
            content_type,
            body,
            retry_after,
            nosniff,
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
    parse_response(&response, &case.name)
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
    let mut nosniff = false;
    let mut length = None;
    for line in lines {
        let (n, v) = line.split_once(':').unwrap();
        let v = v.trim().to_owned();
        match n.to_ascii_lowercase().as_str() {
            "content-type" => content_type = v,
            "retry-after" => retry_after = Some(v),
            "x-content-type-options" => nosniff = v == "nosniff",
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
        nosniff,
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
