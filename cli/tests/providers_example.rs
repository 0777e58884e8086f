//! `webhook` against the providers example (`examples/providers.rs`): what
//! `sign` prints is accepted on every route of its app; `send` gets 200 on
//! every route of the example served on 127.0.0.1, and a tampered body, a
//! wrong secret or a stale timestamp get 401 there.

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/providers.rs"]
mod providers;
mod support;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use actix_web::test::{call_service, init_service, read_body, TestRequest};
use actix_web::App;
use providers::{Routes, Settings, PROVIDERS};
use serde_json::Value;
use support::{now, webhook, Case, CASES};

/// The case that signs for the example's route `name`, with its demo secret.
fn case_for(name: &str) -> Case {
    let demo = PROVIDERS
        .iter()
        .find(|p| p.name == name)
        .expect("a route")
        .demo;
    CASES
        .iter()
        .find(|c| c.scheme == name && c.verifying_secret == demo)
        .unwrap_or_else(|| panic!("no test case with the demo secret of {name}"))
        .fresh()
}

/// Whether the route answers with a status alone, as its provider asks
/// (Xero: 200 or 401 with no body).
fn bare(name: &str) -> bool {
    name == "xero"
}

/// `webhook sign` for the route `name` of a server at `base`.
fn sign(case: &Case, name: &str, base: &str, id: &str, timestamp: i64) -> Vec<(String, String)> {
    support::sign(case, &format!("{base}/webhooks/{name}"), id, timestamp)
}

/// Status and JSON body of `headers` + `body` sent to the app built from
/// `settings` at `path`.
async fn call(
    settings: &Settings,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, serde_json::Value) {
    let routes = Routes::new(settings).expect("the settings are usable");
    let app = init_service(App::new().configure(|config| routes.configure(config))).await;
    let mut request = TestRequest::post().uri(path);
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        request = request.insert_header(("content-type", "application/json"));
    }
    for (name, value) in headers {
        request = request.insert_header((name.as_str(), value.as_str()));
    }
    let response = call_service(&app, request.set_payload(body.to_owned()).to_request()).await;
    let status = response.status().as_u16();
    let bytes = read_body(response).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[actix_web::test]
async fn what_sign_prints_the_example_accepts_on_every_route() {
    let base = "http://127.0.0.1:8080";
    let settings = Settings::demo(8080);
    let routes = if cfg!(feature = "ed25519") { 21 } else { 20 };
    assert_eq!(PROVIDERS.len(), routes, "every route is built");
    for provider in PROVIDERS {
        let case = &case_for(provider.name);
        let path = format!("/webhooks/{}", provider.name);
        let headers = sign(case, provider.name, base, "msg_app_1", now());
        let (status, json) = call(&settings, &path, &headers, case.body).await;
        assert_eq!(status, 200, "{}: {json}", provider.name);
        let (processed, invalid) = if bare(provider.name) {
            (Value::Null, Value::Null)
        } else {
            ("processed".into(), "invalid_signature".into())
        };
        assert_eq!(json["status"], processed, "{}: {json}", provider.name);

        if case.signs_body {
            let tampered = case.body.replace("1250", "1251");
            let (status, json) = call(&settings, &path, &headers, &tampered).await;
            assert_eq!(status, 401, "{}: {json}", provider.name);
            assert_eq!(json["code"], invalid, "{}", provider.name);
        }
        if case.timestamped {
            let stale = sign(case, provider.name, base, "msg_app_2", now() - 3600);
            let (status, json) = call(&settings, &path, &stale, case.body).await;
            assert_eq!(status, 401, "{}: {json}", provider.name);
            assert_eq!(
                json["code"], "timestamp_out_of_tolerance",
                "{}",
                provider.name
            );
        }
    }
}

#[cfg(feature = "ed25519")]
#[actix_web::test]
async fn the_standard_route_takes_v1a_signatures_from_a_public_key() {
    let case = CASES
        .iter()
        .find(|c| c.verifying_secret.starts_with("whpk_"))
        .unwrap();
    let settings = Settings::demo(8080).set("STANDARD_WEBHOOK_SECRET", case.verifying_secret);
    let headers = support::sign(case, "", "msg_v1a", now());
    assert!(headers
        .iter()
        .any(|(n, v)| n == "webhook-signature" && v.starts_with("v1a,")));
    let (status, json) = call(&settings, "/webhooks/standard", &headers, case.body).await;
    assert_eq!(status, 200, "{json}");
    let tampered = case.body.replace("1250", "1251");
    let (status, json) = call(&settings, "/webhooks/standard", &headers, &tampered).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (401, Some("invalid_signature"))
    );
}

/// The example's server on a free 127.0.0.1 port, in its own thread; stopped
/// when dropped.
struct Served {
    port: u16,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Served {
    fn start() -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes = Routes::new(&Settings::demo(port)).unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = providers::serve(routes, listener)?;
                sender.send(server.handle()).expect("the test waits");
                server.await
            })
        });
        let handle = receiver.recv().expect("the server starts");
        Self {
            port,
            handle,
            thread: Some(thread),
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn url(&self, name: &str) -> String {
        format!("{}/webhooks/{name}", self.base())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// POSTs over a plain connection: the status and the body.
fn post(port: u16, path: &str, headers: &[(String, String)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        request.push_str("Content-Type: application/json\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    (status, body)
}

/// `webhook send` for `case` to `url`, with `extra` arguments.
fn send(case: &Case, secret: &str, url: &str, body: &str, extra: &[&str]) -> support::Run {
    let mut args = vec![
        "send",
        "--scheme",
        case.scheme,
        "--secret",
        secret,
        "--event",
        case.event,
        "--url",
        url,
    ];
    args.extend(extra);
    args.push("-");
    webhook(&args, body.as_bytes())
}

#[test]
fn send_gets_200_on_every_route_of_the_served_example() {
    let served = Served::start();
    for provider in PROVIDERS {
        let case = &case_for(provider.name);
        let run = send(
            case,
            case.signing_secret,
            &served.url(provider.name),
            case.body,
            &[],
        );
        run.assert_exit(0, provider.name);
        let mut lines = run.stdout.lines();
        assert_eq!(lines.next(), Some("200 OK"), "{}: {run:?}", provider.name);
        if bare(provider.name) {
            assert_eq!(lines.next(), None, "{run:?}");
            continue;
        }
        let answer: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(answer["status"], "processed", "{}: {run:?}", provider.name);
    }
}

#[test]
fn a_tampered_body_gets_401_on_every_route_of_the_served_example() {
    let served = Served::start();
    for provider in PROVIDERS {
        let case = &case_for(provider.name);
        let path = format!("/webhooks/{}", provider.name);
        let headers = sign(case, provider.name, &served.base(), "msg_tampered", now());
        // The genuine body passes, so the 401 below is the tampering.
        let (status, answer) = post(served.port, &path, &headers, case.body);
        assert_eq!(status, 200, "{}: {answer}", provider.name);

        let tampered = case.body.replace("1250", "1251");
        let (status, answer) = post(served.port, &path, &headers, &tampered);
        // Every demo secret signs the body (GitLab's is a signing token).
        assert!(case.signs_body, "{}", provider.name);
        assert_eq!(status, 401, "{}: {answer}", provider.name);
        assert!(
            answer.contains("invalid_signature") || bare(provider.name) && answer.is_empty(),
            "{}: {answer}",
            provider.name
        );
    }
}

#[test]
fn a_forged_or_stale_send_gets_401_and_exit_code_1() {
    let served = Served::start();
    for provider in PROVIDERS {
        let case = &case_for(provider.name);
        let url = served.url(provider.name);
        let forged_secret = match provider.name {
            // Another key pair's private key (RFC 8032 TEST 2).
            "discord" => {
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb".to_owned()
            }
            "standard" | "svix" | "gitlab" | "clerk" | "resend" => {
                "whsec_b2xkIHNlY3JldA==".to_owned()
            }
            _ => format!("{}x", case.signing_secret),
        };
        let run = send(case, &forged_secret, &url, case.body, &[]);
        run.assert_exit(1, provider.name);
        assert!(
            run.stdout.starts_with("401 Unauthorized\n"),
            "{}: {run:?}",
            provider.name
        );
        assert!(
            run.stdout.contains("invalid_signature") || bare(provider.name),
            "{}: {run:?}",
            provider.name
        );

        if case.timestamped {
            let stale = (now() - 3600).to_string();
            let run = send(
                case,
                case.signing_secret,
                &url,
                case.body,
                &["--timestamp", &stale],
            );
            run.assert_exit(1, provider.name);
            assert!(
                run.stdout.contains("timestamp_out_of_tolerance"),
                "{}: {run:?}",
                provider.name
            );
        }
    }
}

#[test]
fn the_served_example_answers_the_providers_handshakes() {
    let served = Served::start();

    // Slack's url_verification: the challenge comes back.
    let case = &case_for("slack");
    let body = r#"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","token":"x"}"#;
    let run = send(case, case.signing_secret, &served.url("slack"), body, &[]);
    run.assert_exit(0, "slack");
    assert!(
        run.stdout
            .contains(r#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#),
        "{run:?}"
    );

    // Discord's PING: a PONG.
    #[cfg(feature = "ed25519")]
    {
        let case = &case_for("discord");
        let run = send(
            case,
            case.signing_secret,
            &served.url("discord"),
            r#"{"type":1,"id":"ping_1"}"#,
            &[],
        );
        run.assert_exit(0, "discord");
        assert_eq!(run.stdout, "200 OK\n{\"type\":1}\n");
    }

    // Zoom's endpoint.url_validation: the plain token and its HMAC under
    // the demo secret token (computed with Python's hmac module).
    let case = &case_for("zoom");
    let body = r#"{"event":"endpoint.url_validation","payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680}"#;
    let run = send(case, case.signing_secret, &served.url("zoom"), body, &[]);
    run.assert_exit(0, "zoom");
    assert_eq!(
        run.stdout,
        "200 OK\n{\"plainToken\":\"qgg8vlvZRS6UYooatFL8Aw\",\"encryptedToken\":\
         \"4fd0ba07927f5c518cac7b9ef57fb0b11874c364a6a902df9fdaf89df9fe56aa\"}\n"
    );
    // Signed with another secret token, it is refused, not answered.
    let run = send(case, "not-the-token", &served.url("zoom"), body, &[]);
    run.assert_exit(1, "zoom forged");
    assert!(run.stdout.starts_with("401 Unauthorized"), "{run:?}");

    // Twitch's webhook_callback_verification: the challenge as text.
    let case = Case {
        event: "webhook_callback_verification",
        ..case_for("twitch")
    };
    let body = r#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
    let run = send(&case, case.signing_secret, &served.url("twitch"), body, &[]);
    run.assert_exit(0, "twitch");
    assert_eq!(run.stdout, "200 OK\npogchamp-kappa-360noscope-vohiyo\n");

    // Xero's intent to receive: 200 for the right signature, 401 otherwise.
    let case = &case_for("xero");
    let body = r#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"YSXCMKAQBJOEMGUZEPFZ"}"#;
    let run = send(case, case.signing_secret, &served.url("xero"), body, &[]);
    run.assert_exit(0, "xero");
    assert_eq!(run.stdout, "200 OK\n");
    let run = send(case, "not-the-key", &served.url("xero"), body, &[]);
    run.assert_exit(1, "xero forged");
    assert!(run.stdout.starts_with("401 Unauthorized"), "{run:?}");

    let get = |path: &str| {
        let mut stream = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };

    // Dropbox's verification request: the challenge echoed as text, which
    // the browser must not sniff.
    let ok = get("/webhooks/dropbox?challenge=7b1c0d2e-dropbox");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let lower = ok.to_ascii_lowercase();
    assert!(lower.contains("x-content-type-options: nosniff"), "{ok}");
    assert!(lower.contains("content-type: text/plain"), "{ok}");
    assert!(ok.ends_with("\r\n\r\n7b1c0d2e-dropbox"), "{ok}");
    let refused = get("/webhooks/dropbox?challenge=%3Cscript%3E");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(!refused.contains("<script>"), "{refused}");

    // Meta's subscription: the challenge with the right verify token only.
    let ok = get(
        "/webhooks/meta?hub.mode=subscribe&hub.verify_token=demo-meta-verify-token&hub.challenge=1158201444",
    );
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.ends_with("1158201444"), "{ok}");
    let refused =
        get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(!refused.contains("1158201444"), "{refused}");
}
