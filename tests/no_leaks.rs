//! Secrets stay secret: for failing verifications of every scheme (wrong
//! key, tampered body, stale, malformed, missing), neither the response
//! (status line, headers, body) nor anything logged through `tracing` (at
//! TRACE, spans included), nor the `Debug` output of schemes, secrets,
//! configs, routers and errors contains a secret, a key, or the signature
//! the receiver expected.

use std::sync::Arc;

use actix_web::http::header::HeaderValue;
use actix_web::{test as actix_test, web, App, HttpResponse};
use actix_webhook::scheme::{
    Clerk, Discord, Dropbox, Encoding, GenericHmac, GitHub, GitLab, HubSpot, Linear, Message, Meta,
    Paddle, Razorpay, Request, Resend, Scheme, Shopify, SignedContent, Signer, Slack, Square,
    StandardWebhooks, Stripe, Twilio, Twitch, Xero, Zoom,
};
use actix_webhook::verify::{FixedClock, Tolerance};
use actix_webhook::{
    webhook, Ack, Event, Rejection, Secret, Secrets, Verified, WebhookConfig, WebhookRouter,
};
use base64::Engine as _;

#[path = "support/capture.rs"]
mod capture;
use capture::Capture;

const NOW: i64 = 1_700_000_000;
const URL: &str = "https://example.com";

trait Both: Scheme + Signer {}
impl<T: Scheme + Signer> Both for T {}

/// A scheme under test: the receiver, the same sender with another key, and
/// every form of its secret material.
struct Subject {
    name: &'static str,
    receiver: Arc<dyn Both>,
    stranger: Box<dyn Both>,
    signature_header: &'static str,
    secrets: Vec<String>,
    /// The body carries the signed timestamp (Linear's `webhookTimestamp`,
    /// milliseconds): each failing body holds one, so that "stale" is stale.
    timestamp_in_body: bool,
}

fn subject(
    name: &'static str,
    receiver: impl Both,
    stranger: impl Both,
    signature_header: &'static str,
    secrets: &[&str],
) -> Subject {
    Subject {
        name,
        receiver: Arc::new(receiver),
        stranger: Box::new(stranger),
        signature_header,
        secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
        timestamp_in_body: false,
    }
}

impl Subject {
    fn timestamp_in_body(mut self) -> Self {
        self.timestamp_in_body = true;
        self
    }
}

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WHSK: &str = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const OTHER_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

fn subjects() -> Vec<Subject> {
    let standard_secret = base64::engine::general_purpose::STANDARD
        .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap();
    let standard_forms = [
        WHSEC,
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &hex::encode(&standard_secret),
    ]
    .map(str::to_owned);
    let generic = |secret: &str| {
        GenericHmac::new("X-Signature", Secret::new(secret).unwrap())
            .prefix("sha256=")
            .timestamp_header("X-Timestamp", Tolerance::default())
            .id_header("X-Id")
            .signed_content(SignedContent::new("{id}.{timestamp}.{body}").unwrap())
    };
    let mut subjects = vec![
        subject(
            "standard-webhooks",
            StandardWebhooks::new(WHSEC).unwrap(),
            StandardWebhooks::new("whsec_b3RoZXIgc2VjcmV0").unwrap(),
            "webhook-signature",
            &[],
        ),
        subject(
            "standard-webhooks-v1a",
            StandardWebhooks::with_signing_key(WHSK).unwrap(),
            StandardWebhooks::with_signing_key(&format!(
                "whsk_{}",
                base64::engine::general_purpose::STANDARD.encode(hex::decode(OTHER_SEED).unwrap())
            ))
            .unwrap(),
            "webhook-signature",
            &[WHSK, "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", SEED],
        ),
        subject(
            "github",
            GitHub::new("It's a Secret to Everybody").unwrap(),
            GitHub::new("another secret").unwrap(),
            "X-Hub-Signature-256",
            &["It's a Secret to Everybody"],
        ),
        subject(
            "stripe",
            Stripe::new("whsec_stripe_leak_check").unwrap(),
            Stripe::new("whsec_another").unwrap(),
            "Stripe-Signature",
            &["whsec_stripe_leak_check"],
        ),
        subject(
            "slack",
            Slack::new("8f742231b10e8888abcd99yyyzzz85a5").unwrap(),
            Slack::new("another").unwrap(),
            "X-Slack-Signature",
            &["8f742231b10e8888abcd99yyyzzz85a5"],
        ),
        subject(
            "shopify",
            Shopify::new("shopify-leak-check").unwrap(),
            Shopify::new("another").unwrap(),
            "X-Shopify-Hmac-Sha256",
            &["shopify-leak-check"],
        ),
        subject(
            "gitlab",
            GitLab::new("gitlab-leak-check").unwrap(),
            GitLab::new("a-guessed-token").unwrap(),
            "X-Gitlab-Token",
            &["gitlab-leak-check"],
        ),
        subject(
            "gitlab-signing",
            GitLab::with_signing_token(WHSEC).unwrap(),
            GitLab::with_signing_token("whsec_b3RoZXIgc2VjcmV0").unwrap(),
            "webhook-signature",
            &[],
        ),
        subject(
            "paddle",
            Paddle::new("pdl_ntfset_leak_check").unwrap(),
            Paddle::new("pdl_another").unwrap(),
            "Paddle-Signature",
            &["pdl_ntfset_leak_check"],
        ),
        subject(
            "meta",
            Meta::new("meta-leak-check")
                .unwrap()
                .verify_token("meta-verify-token-leak-check"),
            Meta::new("another").unwrap(),
            "X-Hub-Signature-256",
            &["meta-leak-check", "meta-verify-token-leak-check"],
        ),
        subject(
            "twilio",
            Twilio::new("twilio-leak-check").unwrap().public_url(URL),
            Twilio::new("another").unwrap().public_url(URL),
            "X-Twilio-Signature",
            &["twilio-leak-check"],
        ),
        subject(
            "discord",
            Discord::with_signing_key(SEED).unwrap(),
            Discord::with_signing_key(OTHER_SEED).unwrap(),
            "X-Signature-Ed25519",
            &[SEED],
        ),
        subject(
            "generic",
            generic("generic-leak-check"),
            generic("another"),
            "X-Signature",
            &["generic-leak-check"],
        ),
        subject(
            "generic-base64",
            GenericHmac::new(
                "X-Signature",
                Secret::new("generic-b64-leak-check").unwrap(),
            )
            .encoding(Encoding::Base64),
            GenericHmac::new("X-Signature", Secret::new("another").unwrap())
                .encoding(Encoding::Base64),
            "X-Signature",
            &["generic-b64-leak-check"],
        ),
        subject(
            "zoom",
            Zoom::new("zoom-leak-check").unwrap(),
            Zoom::new("another").unwrap(),
            "x-zm-signature",
            &["zoom-leak-check"],
        ),
        subject(
            "twitch",
            Twitch::new("twitch-leak-check").unwrap(),
            Twitch::new("another").unwrap(),
            "Twitch-Eventsub-Message-Signature",
            &["twitch-leak-check"],
        ),
        subject(
            "hubspot",
            HubSpot::new("hubspot-leak-check").unwrap().public_url(URL),
            HubSpot::new("another").unwrap().public_url(URL),
            "X-HubSpot-Signature-v3",
            &["hubspot-leak-check"],
        ),
        subject(
            "xero",
            Xero::new("xero-leak-check").unwrap(),
            Xero::new("another").unwrap(),
            "x-xero-signature",
            &["xero-leak-check"],
        ),
        subject(
            "dropbox",
            Dropbox::new("dropbox-leak-check").unwrap(),
            Dropbox::new("another").unwrap(),
            "X-Dropbox-Signature",
            &["dropbox-leak-check"],
        ),
        subject(
            "square",
            Square::new("square-leak-check").unwrap().public_url(URL),
            Square::new("another").unwrap().public_url(URL),
            "x-square-hmacsha256-signature",
            &["square-leak-check"],
        ),
        subject(
            "linear",
            Linear::new("linear-leak-check").unwrap(),
            Linear::new("another").unwrap(),
            "Linear-Signature",
            &["linear-leak-check"],
        )
        .timestamp_in_body(),
        subject(
            "razorpay",
            Razorpay::new("razorpay-leak-check").unwrap(),
            Razorpay::new("another").unwrap(),
            "X-Razorpay-Signature",
            &["razorpay-leak-check"],
        ),
        subject(
            "clerk",
            Clerk::new(WHSEC).unwrap(),
            Clerk::new("whsec_b3RoZXIgc2VjcmV0").unwrap(),
            "svix-signature",
            &[],
        ),
        subject(
            "resend",
            Resend::new(WHSEC).unwrap(),
            Resend::new("whsec_b3RoZXIgc2VjcmV0").unwrap(),
            "svix-signature",
            &[],
        ),
    ];
    for s in &mut subjects[..] {
        // The `whsec_` secret of Standard Webhooks and the Svix senders.
        if matches!(s.signature_header, "webhook-signature" | "svix-signature") {
            s.secrets.extend(standard_forms.iter().cloned());
        }
    }
    subjects
}

/// The longest run of base64 characters in a signature header: the
/// signature itself.
fn core(value: &str) -> &str {
    value
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
        .max_by_key(|run| run.len())
        .unwrap_or_default()
}

/// The signature `scheme` expects for `message`, in every encoding it could
/// be written in.
fn expected_signatures(subject: &Subject, message: &Message<'_>) -> Vec<String> {
    if subject.name == "gitlab" {
        // A clear-text token: the secret itself, already forbidden.
        return Vec::new();
    }
    let headers = subject.receiver.sign(message);
    let Some((_, value)) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(subject.signature_header))
    else {
        return Vec::new();
    };
    let text = core(value).to_owned();
    let bytes = hex::decode(&text).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&text)
            .ok()
    });
    let mut forms = vec![text];
    if let Some(bytes) = bytes {
        forms.push(hex::encode(&bytes));
        forms.push(hex::encode_upper(&bytes));
        forms.push(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes));
        forms.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes));
    }
    forms
}

#[webhook(event = "*")]
async fn anything(_event: Event<web::Bytes>) -> Ack {
    Ack::processed()
}

async fn verified(event: Result<Verified<web::Bytes>, Rejection>) -> HttpResponse {
    match event {
        Ok(_) => HttpResponse::Ok().finish(),
        Err(rejection) => {
            // What a handler may print about a rejection.
            tracing::warn!(debug = ?rejection, display = %rejection, "handler saw a rejection");
            actix_web::ResponseError::error_response(&rejection)
        }
    }
}

/// One failing delivery: what was sent, and the message the receiver would
/// have needed to see signed with its own key.
struct Failing {
    what: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    method: &'static str,
    query: &'static str,
}

fn failing(subject: &Subject) -> (Vec<Failing>, Vec<String>) {
    // The body at `timestamp`: with it as `webhookTimestamp` (ms) where the
    // body carries the signed timestamp.
    let at = |object: &str, timestamp: i64| {
        let stamp = if subject.timestamp_in_body {
            format!(r#","webhookTimestamp":{}"#, timestamp * 1000)
        } else {
            String::new()
        };
        format!(r#"{{"id":"evt_1","event_id":"evt_1","type":"order.paid","event_type":"order.paid","object":"{object}"{stamp}}}"#)
            .into_bytes()
    };
    let (body, tampered, stale_body) = (at("page", NOW), at("PAGE", NOW), at("page", NOW - 3600));
    let (body, tampered) = (&body[..], &tampered[..]);
    let message = |body, timestamp| Message {
        id: "msg_1",
        timestamp,
        event: "order.paid",
        url: "https://example.com/hook",
        body,
    };
    let own = subject.receiver.sign(&message(body, NOW));
    let stale = subject.receiver.sign(&message(&stale_body, NOW - 3600));
    let stranger = subject.stranger.sign(&message(body, NOW));
    let mut forbidden = subject.secrets.clone();
    for expected in [message(body, NOW), message(tampered, NOW)] {
        forbidden.extend(expected_signatures(subject, &expected));
    }
    let with = |headers: &[(String, String)], value: &str| -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(n, v)| {
                if n.eq_ignore_ascii_case(subject.signature_header) {
                    (n.clone(), value.to_owned())
                } else {
                    (n.clone(), v.clone())
                }
            })
            .collect()
    };
    let without: Vec<(String, String)> = own
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(subject.signature_header))
        .cloned()
        .collect();
    let post = |what, headers, body: &[u8]| Failing {
        what,
        headers,
        body: body.to_vec(),
        method: "POST",
        query: "",
    };
    let mut cases = vec![
        post("signed with another key", stranger, body),
        post("body changed after signing", own.clone(), tampered),
        post("no signature header", without, body),
        post("malformed signature", with(&own, "sha256=zz,v1,!!"), body),
        post("stale", stale, &stale_body),
    ];
    if subject.name == "meta" {
        cases.push(Failing {
            what: "subscription with a guessed verify token",
            headers: Vec::new(),
            body: Vec::new(),
            method: "GET",
            query: "?hub.mode=subscribe&hub.verify_token=meta-verify-token-guess&hub.challenge=1",
        });
    }
    (cases, forbidden)
}

fn assert_clean(text: &str, forbidden: &[String], context: &str) {
    for secret in forbidden {
        assert!(
            !text.contains(secret.as_str()),
            "{context}: contains {secret:?}:\n{text}"
        );
    }
}

#[actix_web::test]
async fn failing_verifications_leak_nothing() {
    let (capture, _guard) = Capture::start();

    let subjects = subjects();
    let mut checked = 0;
    for subject in &subjects {
        let router = WebhookRouter::new(subject.receiver.clone())
            .clock(FixedClock(NOW))
            .handler(anything);
        let config = WebhookConfig::new(subject.receiver.clone()).clock(FixedClock(NOW));
        let debug_output = format!(
            "{:?}\n{:?}\n{:?}\n{:?}",
            subject.receiver,
            router,
            config,
            subject.receiver.secrets()
        );
        let app = actix_test::init_service(
            App::new().service(router.scope("/hook")).service(
                web::resource("/verified")
                    .app_data(config.clone())
                    .to(verified),
            ),
        )
        .await;
        let (cases, forbidden) = failing(subject);
        let least = if subject.name == "gitlab" { 1 } else { 4 };
        assert!(forbidden.len() >= least, "{}: {forbidden:?}", subject.name);
        assert_clean(
            &debug_output,
            &forbidden,
            &format!("{} Debug", subject.name),
        );
        for case in &cases {
            for path in ["/hook", "/verified"] {
                let mut req = actix_test::TestRequest::default()
                    .method(case.method.parse().unwrap())
                    .uri(&format!("{path}{}", case.query));
                for (name, value) in &case.headers {
                    req = req.append_header((name.as_str(), HeaderValue::from_str(value).unwrap()));
                }
                let res =
                    actix_test::call_service(&app, req.set_payload(case.body.clone()).to_request())
                        .await;
                let status = res.status();
                let mut seen = format!("{status}\n");
                for (name, value) in res.headers() {
                    seen.push_str(&format!(
                        "{name}: {}\n",
                        String::from_utf8_lossy(value.as_bytes())
                    ));
                }
                seen.push_str(&String::from_utf8_lossy(&actix_test::read_body(res).await));
                let context = format!("{} {path}: {}", subject.name, case.what);
                assert!(
                    !status.is_success()
                        || case.what == "stale"
                        // GitLab's token does not sign the body.
                        || (subject.name == "gitlab" && case.what == "body changed after signing"),
                    "{context}: {seen}"
                );
                assert_clean(&seen, &forbidden, &format!("{context} response"));
                checked += 1;
            }
            // The error values themselves.
            let headers: Vec<(String, String)> = case.headers.clone();
            let request = Request::new(case.method, "/hook", &headers, &case.body);
            if let Err(error) = subject
                .receiver
                .verify(&request, subject.receiver.secrets(), NOW)
            {
                let rejection = Rejection::from(error.clone());
                let text = format!("{error:?} {error} {rejection:?} {rejection}");
                assert_clean(
                    &text,
                    &forbidden,
                    &format!("{} {} errors", subject.name, case.what),
                );
            }
        }
        let logged = capture.text();
        assert!(
            logged.contains("webhook rejected") && logged.contains("code=\"invalid_signature\""),
            "{}: nothing logged",
            subject.name
        );
        assert_clean(
            &logged,
            &forbidden,
            &format!("{} tracing output", subject.name),
        );
    }
    assert!(checked >= 100, "{checked} responses checked");
    // The check itself finds a leak when there is one.
    let github_secret = subjects[2].secrets.clone();
    let leaked = std::panic::catch_unwind(move || {
        assert_clean(
            "cause=It's a Secret to Everybody",
            &github_secret,
            "control",
        )
    });
    assert!(leaked.is_err());
    // Sets of secrets and single secrets print no bytes.
    let set = Secrets::new([
        Secret::new("rotating-new").unwrap(),
        Secret::new("rotating-old").unwrap(),
    ])
    .unwrap();
    assert_clean(
        &format!("{set:?} {:?}", set.primary()),
        &["rotating".to_owned()],
        "Secrets Debug",
    );
}
