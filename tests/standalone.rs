//! `actix_webhook::construct_event` and `standalone::Verifier`: deliveries
//! signed as Stripe, GitHub and Standard Webhooks sign them give their id,
//! timestamp, event name and typed payload; a wrong secret, a stale
//! timestamp, a payload of the wrong type and a missing event name give
//! their error variants, with the status and code the router answers to the
//! same request; handshakes come back as replies to send.

use std::sync::Arc;

use actix_web::test::{call_service, init_service, read_body, TestRequest};
use actix_web::App;
use actix_webhook::scheme::{
    EventName, GitHub, JsonPointer, Message, Meta, Scheme, Signer, Slack, StandardWebhooks, Stripe,
    Twilio,
};
use actix_webhook::standalone::{ConstructError, Received, VerifiedEvent, Verifier};
use actix_webhook::verify::{FixedClock, SystemClock, VerifyError};
use actix_webhook::{construct_event, webhook, Ack, Event, Secret, Secrets, WebhookRouter};
use serde::Deserialize;
use serde_json::Value;

const STRIPE_SECRET: &str = "whsec_stripe_standalone";
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const ORDER: &str =
    r#"{"id":"evt_1","type":"order.paid","data":{"order_id":"ord_1","amount_cents":1250}}"#;
const ISSUE: &str = r#"{"action":"opened","issue":{"number":7,"title":"Crash on start"}}"#;

#[derive(Debug, Deserialize)]
struct OrderEvent {
    data: Order,
}

#[derive(Debug, Deserialize)]
struct Order {
    order_id: String,
    amount_cents: u64,
}

#[derive(Debug, Deserialize)]
struct IssueEvent {
    issue: Issue,
}

#[derive(Debug, Deserialize)]
struct Issue {
    number: u64,
    title: String,
}

fn now() -> i64 {
    use actix_webhook::verify::Clock as _;
    SystemClock.now()
}

/// The headers `signer` sends with `body`.
fn signed(signer: &dyn Signer, id: &str, timestamp: i64, event: &str, body: &str) -> Headers {
    signer.sign(&Message {
        id,
        timestamp,
        event,
        url: "",
        body: body.as_bytes(),
    })
}

type Headers = Vec<(String, String)>;

/// The event, failing on anything else.
#[track_caller]
fn event<T: std::fmt::Debug>(received: Result<Received<T>, ConstructError>) -> VerifiedEvent<T> {
    match received {
        Ok(Received::Delivery(event)) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[test]
fn stripe_deliveries_give_their_event_and_typed_payload() {
    let scheme = Stripe::new(STRIPE_SECRET).unwrap();
    let sent_at = now() - 10;
    let headers = signed(&scheme, "", sent_at, "", ORDER);

    let order = event(construct_event::<OrderEvent>(
        &scheme,
        &headers,
        ORDER.as_bytes(),
    ));
    assert_eq!(order.name(), "order.paid");
    assert_eq!(order.delivery_id(), Some("evt_1"));
    assert_eq!(order.timestamp().unwrap().timestamp(), sent_at);
    assert_eq!(order.delivery().timestamp, Some(sent_at));
    assert_eq!(order.data.order_id, "ord_1");
    assert_eq!(order.into_inner().data.amount_cents, 1250);

    // Another secret.
    let other = Stripe::new("whsec_someone_else").unwrap();
    let error = construct_event::<OrderEvent>(&other, &headers, ORDER.as_bytes()).unwrap_err();
    assert!(
        matches!(
            error,
            ConstructError::Unverified(VerifyError::InvalidSignature)
        ),
        "{error:?}"
    );
    assert_eq!((error.status(), error.code()), (401, "invalid_signature"));

    // Signed an hour ago: stale by the system clock, fine by one set then.
    let stale = signed(&scheme, "", now() - 3600, "", ORDER);
    let error = construct_event::<OrderEvent>(&scheme, &stale, ORDER.as_bytes()).unwrap_err();
    assert!(
        matches!(
            error,
            ConstructError::Unverified(VerifyError::TimestampOutOfTolerance { .. })
        ),
        "{error:?}"
    );
    assert_eq!(
        (error.status(), error.code()),
        (401, "timestamp_out_of_tolerance")
    );
    let then = FixedClock(now() - 3590);
    let order = event(
        Verifier::new(&scheme)
            .clock(&then)
            .construct::<OrderEvent>(&stale, ORDER.as_bytes()),
    );
    assert_eq!(order.data.order_id, "ord_1");

    // The payload does not fit: where, and why.
    #[derive(Debug, Deserialize)]
    struct Wrong {
        #[allow(dead_code)]
        data: WrongOrder,
    }
    #[derive(Debug, Deserialize)]
    struct WrongOrder {
        #[allow(dead_code)]
        amount_cents: String,
    }
    let error = construct_event::<Wrong>(&scheme, &headers, ORDER.as_bytes()).unwrap_err();
    let ConstructError::InvalidPayload(why) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(why.path(), Some("data.amount_cents"));
    assert_eq!(why.reason(), "invalid type: integer, expected a string");
    assert_eq!((error.status(), error.code()), (400, "invalid_payload"));

    // No `type`: verified, but nothing names the event.
    for body in [
        r#"{"id":"evt_2","data":{}}"#,
        r#"{"id":"evt_3","type":"","data":{}}"#,
    ] {
        let headers = signed(&scheme, "", now(), "", body);
        let error = construct_event::<Value>(&scheme, &headers, body.as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid payload: the body has no event name: no string at `/type`",
            "{body}"
        );
        assert_eq!((error.status(), error.code()), (400, "invalid_payload"));
        // Nor is it a delivery without parsing.
        let error = Verifier::new(&scheme)
            .verify(&headers, body.as_bytes())
            .unwrap_err();
        assert!(
            matches!(error, ConstructError::InvalidPayload(_)),
            "{error:?}"
        );
    }
}

#[test]
fn github_deliveries_give_their_event_and_typed_payload() {
    let scheme = GitHub::new(GITHUB_SECRET).unwrap();
    let headers = signed(&scheme, "d-1", 0, "issues.opened", ISSUE);
    assert!(headers.contains(&("X-GitHub-Event".into(), "issues".into())));

    let issue = event(construct_event::<IssueEvent>(
        &scheme,
        &headers,
        ISSUE.as_bytes(),
    ));
    assert_eq!(issue.name(), "issues.opened");
    assert_eq!(issue.delivery_id(), Some("d-1"));
    assert_eq!(issue.timestamp(), None);
    // The id is not signed: repeats are recognised by the fingerprint.
    assert!(issue.delivery().fingerprint.is_some());
    assert_eq!(issue.issue.number, 7);
    assert_eq!(issue.issue.title, "Crash on start");

    let other = GitHub::new("not the secret").unwrap();
    let error = construct_event::<IssueEvent>(&other, &headers, ISSUE.as_bytes()).unwrap_err();
    assert!(
        matches!(
            error,
            ConstructError::Unverified(VerifyError::InvalidSignature)
        ),
        "{error:?}"
    );
    assert_eq!((error.status(), error.code()), (401, "invalid_signature"));

    // A payload of the wrong type.
    let error = construct_event::<Vec<u64>>(&scheme, &headers, ISSUE.as_bytes()).unwrap_err();
    let ConstructError::InvalidPayload(why) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(why.path(), None);
    assert!(why.is_mismatch());
    // Not JSON at all.
    let text = "not json";
    let text_headers = signed(&scheme, "d-2", 0, "push", text);
    let error = construct_event::<Value>(&scheme, &text_headers, text.as_bytes()).unwrap_err();
    assert!(
        matches!(error, ConstructError::InvalidPayload(_)),
        "{error:?}"
    );
    // Trailing text after the value.
    let trailing = r#"{"action":"opened"} {}"#;
    let trailing_headers = signed(&scheme, "d-3", 0, "issues", trailing);
    let error =
        construct_event::<Value>(&scheme, &trailing_headers, trailing.as_bytes()).unwrap_err();
    assert!(
        matches!(error, ConstructError::InvalidPayload(_)),
        "{error:?}"
    );

    // No `X-GitHub-Event`: the event name cannot be read, and the router
    // answers 401 `missing_signature`.
    let without: Headers = headers
        .iter()
        .filter(|(name, _)| name != "X-GitHub-Event")
        .cloned()
        .collect();
    let error = construct_event::<IssueEvent>(&scheme, &without, ISSUE.as_bytes()).unwrap_err();
    assert!(
        matches!(
            &error,
            ConstructError::Unverified(VerifyError::MissingSignature { header })
                if header == "X-GitHub-Event"
        ),
        "{error:?}"
    );
    assert_eq!((error.status(), error.code()), (401, "missing_signature"));
}

#[test]
fn standard_webhooks_deliveries_give_their_event_and_typed_payload() {
    let scheme = StandardWebhooks::new(STANDARD_SECRET).unwrap();
    let sent_at = now();
    let headers = signed(&scheme, "msg_1", sent_at, "", ORDER);
    let order = event(construct_event::<OrderEvent>(
        &scheme,
        &headers,
        ORDER.as_bytes(),
    ));
    assert_eq!(order.name(), "order.paid");
    assert_eq!(order.delivery_id(), Some("msg_1"));
    assert_eq!(order.delivery().timestamp, Some(sent_at));
    assert_eq!(order.data.amount_cents, 1250);

    // The published example (standard-webhooks, libraries' test vector),
    // at its own time: verified, but it has no `type`.
    let published = [
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        (
            "webhook-signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
    ];
    let body = br#"{"test": 2432232314}"#;
    let then = FixedClock(1_614_265_330);
    let verifier = Verifier::new(&scheme).clock(&then);
    // Genuine (not `Unverified`), but never routed as the empty name.
    for error in [
        verifier.construct::<Value>(&published, body).unwrap_err(),
        verifier.verify(&published, body).unwrap_err(),
    ] {
        assert_eq!(
            error.to_string(),
            "invalid payload: the body has no event name: no string at `/type`"
        );
    }
    // The same at the system clock's time: stale.
    let error = construct_event::<Value>(&scheme, &published, body).unwrap_err();
    assert_eq!(error.code(), "timestamp_out_of_tolerance");

    // Another secret; a tampered body.
    let other = StandardWebhooks::new("whsec_b2xkIHNlY3JldA==").unwrap();
    let error = construct_event::<OrderEvent>(&other, &headers, ORDER.as_bytes()).unwrap_err();
    assert_eq!(error.code(), "invalid_signature");
    let tampered = ORDER.replace("1250", "1");
    let error = construct_event::<OrderEvent>(&scheme, &headers, tampered.as_bytes()).unwrap_err();
    assert_eq!(error.code(), "invalid_signature");

    // A missing signature header names it.
    let error =
        construct_event::<OrderEvent>(&scheme, &headers[..2], ORDER.as_bytes()).unwrap_err();
    assert!(
        matches!(&error, ConstructError::Unverified(VerifyError::MissingSignature { header }) if header == "webhook-signature"),
        "{error:?}"
    );
    assert_eq!(error.code(), "missing_signature");
}

/// Headers as a slice, a `Vec` of owned pairs, an array of borrowed ones,
/// or actix-web's own map, names in any case.
#[test]
fn headers_come_in_any_container() {
    let scheme = Stripe::new(STRIPE_SECRET).unwrap();
    let signature = scheme.signature(now(), ORDER.as_bytes());
    let owned: Headers = vec![("stripe-signature".into(), signature.clone())];
    let borrowed = [("STRIPE-SIGNATURE", signature.as_str())];
    let slice: &[(String, String)] = &owned;
    let map = TestRequest::default()
        .insert_header(("Stripe-Signature", signature.as_str()))
        .to_http_request();
    let body = ORDER.as_bytes();
    for received in [
        construct_event::<OrderEvent>(&scheme, &owned, body),
        construct_event::<OrderEvent>(&scheme, &borrowed, body),
        construct_event::<OrderEvent>(&scheme, slice, body),
        construct_event::<OrderEvent>(&scheme, map.headers(), body),
    ] {
        assert_eq!(event(received).data.order_id, "ord_1");
    }
    // Sent twice, the signature is refused rather than one copy guessed.
    let twice = [
        ("Stripe-Signature", signature.as_str()),
        ("stripe-signature", signature.as_str()),
    ];
    let error = construct_event::<OrderEvent>(&scheme, &twice, body).unwrap_err();
    assert_eq!(error.code(), "malformed_signature");
}

#[test]
fn handshakes_are_replies_to_send() {
    // Slack's url_verification, signed: answered with the challenge.
    let slack = Slack::new("slack-signing-secret").unwrap();
    let body = r#"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","token":"Jhj5dZrVaK7ZwHHjRyZWjbDl"}"#;
    let headers = signed(&slack, "", now(), "", body);
    match construct_event::<Value>(&slack, &headers, body.as_bytes()).unwrap() {
        Received::Handshake(reply) => {
            assert_eq!(reply.status, 200);
            let answer: Value = serde_json::from_slice(&reply.body).unwrap();
            assert_eq!(
                answer["challenge"],
                "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
            );
        }
        Received::Delivery(event) => panic!("not a reply: {event:?}"),
    }
    // Unsigned, it is refused like any delivery.
    let error = construct_event::<Value>(&slack, &Headers::new(), body.as_bytes()).unwrap_err();
    assert_eq!(error.code(), "missing_signature");

    // Meta's GET challenge: the method and the query matter.
    let meta = Meta::new("meta-app-secret").unwrap().verify_token("tok");
    let challenge =
        "/webhooks/meta?hub.mode=subscribe&hub.verify_token=tok&hub.challenge=1158201444";
    let received = Verifier::new(&meta)
        .method("GET")
        .path(challenge)
        .construct::<Value>(&Headers::new(), b"");
    match received.unwrap() {
        Received::Handshake(reply) => assert_eq!(reply.body, b"1158201444"),
        Received::Delivery(event) => panic!("not a reply: {event:?}"),
    }
    let wrong = "/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1";
    let error = Verifier::new(&meta)
        .method("GET")
        .path(wrong)
        .construct::<Value>(&Headers::new(), b"")
        .unwrap_err();
    assert!(
        matches!(
            error,
            ConstructError::Unverified(VerifyError::HandshakeRefused)
        ),
        "{error:?}"
    );
    assert_eq!((error.status(), error.code()), (403, "handshake_refused"));

    // A GET to a scheme without a handshake.
    let stripe = Stripe::new(STRIPE_SECRET).unwrap();
    let error = Verifier::new(&stripe)
        .method("GET")
        .construct::<Value>(&Headers::new(), b"")
        .unwrap_err();
    assert!(
        matches!(error, ConstructError::MethodNotAllowed),
        "{error:?}"
    );
    assert_eq!((error.status(), error.code()), (405, "method_not_allowed"));
}

/// Twilio signs the URL: the path given is the one checked.
#[test]
fn twilio_verifies_the_path_it_is_given() {
    let scheme = Twilio::new("twilio-auth-token")
        .unwrap()
        .public_url("https://example.com");
    let form = "Body=hello&From=%2B15551234567&MessageSid=SM1";
    let headers = scheme.sign(&Message {
        id: "",
        timestamp: 0,
        event: "",
        url: "https://example.com/webhooks/sms",
        body: form.as_bytes(),
    });
    let verifier = Verifier::new(&scheme).path("/webhooks/sms");
    let received = event(verifier.verify(&headers, form.as_bytes()));
    assert!(received.delivery().fingerprint.is_some());
    let error = Verifier::new(&scheme)
        .path("/webhooks/other")
        .verify(&headers, form.as_bytes())
        .unwrap_err();
    assert_eq!(error.code(), "invalid_signature");
}

/// One tenant's secrets instead of the scheme's; the event name where the
/// caller says.
#[test]
fn secrets_and_event_name_can_be_given() {
    let scheme = GitHub::new("the scheme's own").unwrap();
    let tenant = GitHub::new("tenant secret").unwrap();
    let headers = signed(&tenant, "d-1", 0, "issues", ISSUE);
    let error = construct_event::<Value>(&scheme, &headers, ISSUE.as_bytes()).unwrap_err();
    assert_eq!(error.code(), "invalid_signature");
    let secrets = Secrets::from(Secret::new("tenant secret").unwrap());
    let verifier = Verifier::new(&scheme).secrets(&secrets);
    assert_eq!(
        event(verifier.construct::<Value>(&headers, ISSUE.as_bytes())).name(),
        "issues.opened"
    );
    let title = EventName::Json(JsonPointer::new("/issue/title").unwrap());
    let by_title = verifier.event_name(&title);
    assert_eq!(
        event(by_title.construct::<Value>(&headers, ISSUE.as_bytes())).name(),
        "Crash on start"
    );
}

#[webhook(event = "*")]
async fn any_order(event: Event<OrderEvent>) -> Ack {
    assert_eq!(event.data.order_id, "ord_1");
    Ack::processed()
}

/// What the router answers to a request: status and code (or status).
async fn router_answer(
    scheme: impl Scheme,
    method: &str,
    headers: &Headers,
    body: &str,
) -> (u16, String) {
    let app = init_service(
        App::new().service(
            WebhookRouter::new(scheme)
                .handler(any_order)
                .scope("/hooks"),
        ),
    )
    .await;
    let mut request = TestRequest::default()
        .method(method.parse().unwrap())
        .uri("/hooks")
        .insert_header(("content-type", "application/json"));
    for (name, value) in headers {
        request = request.append_header((name.as_str(), value.as_str()));
    }
    let response = call_service(&app, request.set_payload(body.to_owned()).to_request()).await;
    let status = response.status().as_u16();
    let body: Value = serde_json::from_slice(&read_body(response).await).unwrap_or(Value::Null);
    let code = body["code"]
        .as_str()
        .or(body["status"].as_str())
        .unwrap_or_default()
        .to_owned();
    (status, code)
}

/// A request to refuse: what it is, the scheme, the method, the headers and
/// the body.
type Case = (
    &'static str,
    Arc<dyn Scheme>,
    &'static str,
    Headers,
    &'static str,
);

/// The same request refused by `construct_event` and by the router: the
/// same status and code, so a user on another framework answers as the
/// router does.
#[actix_web::test]
async fn errors_carry_the_routers_status_and_code() {
    let stripe = Stripe::new(STRIPE_SECRET).unwrap();
    let github = GitHub::new(GITHUB_SECRET).unwrap();
    let other_stripe = Stripe::new("whsec_other").unwrap();
    let wrong_type =
        r#"{"id":"evt_1","type":"order.paid","data":{"order_id":"ord_1","amount_cents":"many"}}"#;
    let github_order = signed(&github, "d-1", 0, "order", ORDER);
    let cases: Vec<Case> = vec![
        (
            "wrong secret",
            Arc::new(stripe.clone()),
            "POST",
            signed(&other_stripe, "", now(), "", ORDER),
            ORDER,
        ),
        (
            "stale",
            Arc::new(stripe.clone()),
            "POST",
            signed(&stripe, "", now() - 3600, "", ORDER),
            ORDER,
        ),
        (
            "no signature",
            Arc::new(stripe.clone()),
            "POST",
            Headers::new(),
            ORDER,
        ),
        (
            "wrong type",
            Arc::new(stripe.clone()),
            "POST",
            signed(&stripe, "", now(), "", wrong_type),
            wrong_type,
        ),
        (
            "no event header",
            Arc::new(github.clone()),
            "POST",
            github_order[..2].to_vec(),
            ORDER,
        ),
        ("GET", Arc::new(stripe.clone()), "GET", Headers::new(), ""),
    ];
    for (what, scheme, method, headers, body) in cases {
        let error = Verifier::new(&*scheme)
            .method(method)
            .construct::<OrderEvent>(&headers, body.as_bytes())
            .unwrap_err();
        let router = router_answer(scheme, method, &headers, body).await;
        assert_eq!(
            (error.status(), error.code().to_owned()),
            router,
            "{what}: {error:?}"
        );
    }
    // And accepted by both.
    let headers = signed(&stripe, "", now(), "", ORDER);
    assert_eq!(
        router_answer(stripe.clone(), "POST", &headers, ORDER).await,
        (200, "processed".to_owned())
    );
    event(construct_event::<OrderEvent>(
        &stripe,
        &headers,
        ORDER.as_bytes(),
    ));
}
