//! The `webhook` binary on its own: what `sign` prints, `verify` accepts, for
//! every HMAC and ed25519 scheme; tampering and staleness are refused with
//! their codes; argument mistakes are clear messages with exit code 2.

mod support;

use support::{now, webhook, Case, CASES, URL};

/// `webhook sign` for `case` with `timestamp`; the headers it printed.
fn sign(case: &Case, id: &str, timestamp: i64) -> Vec<(String, String)> {
    support::sign(case, URL, id, timestamp)
}

/// `webhook verify` for `case` with `headers`, `body` and `extra` arguments.
fn verify(case: &Case, headers: &[(String, String)], body: &str, extra: &[&str]) -> support::Run {
    verify_with(case, case.verifying_secret, headers, body, extra)
}

/// [`verify`] with another `--secret`.
fn verify_with(
    case: &Case,
    secret: &str,
    headers: &[(String, String)],
    body: &str,
    extra: &[&str],
) -> support::Run {
    let lines: Vec<String> = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    let mut args = vec![
        "verify",
        "--scheme",
        case.scheme,
        "--secret",
        secret,
        "--url",
        URL,
    ];
    for line in &lines {
        args.extend(["-H", line]);
    }
    args.extend(extra);
    args.push("-");
    webhook(&args, body.as_bytes())
}

fn assert_verdict(run: &support::Run, verdict: &str, what: &str) {
    assert_eq!(run.stdout.trim(), verdict, "{what}: {run:?}");
    run.assert_exit(if verdict == "valid" { 0 } else { 1 }, what);
}

#[test]
fn what_sign_prints_verify_accepts() {
    for case in CASES {
        let case = &case.fresh();
        let headers = sign(case, "msg_roundtrip", now());
        assert!(!headers.is_empty(), "{}", case.what);
        let run = verify(case, &headers, case.body, &[]);
        assert_verdict(&run, "valid", case.what);
    }
}

#[test]
fn sign_prints_the_providers_headers() {
    let expected: &[(&str, &[&str])] = &[
        (
            "standard",
            &["webhook-id", "webhook-timestamp", "webhook-signature"],
        ),
        ("svix", &["svix-id", "svix-timestamp", "svix-signature"]),
        (
            "github",
            &["X-Hub-Signature-256", "X-GitHub-Delivery", "X-GitHub-Event"],
        ),
        ("stripe", &["Stripe-Signature"]),
        ("slack", &["X-Slack-Signature", "X-Slack-Request-Timestamp"]),
        ("paddle", &["Paddle-Signature"]),
        ("meta", &["X-Hub-Signature-256"]),
        ("twilio", &["X-Twilio-Signature", "Content-Type"]),
        #[cfg(feature = "ed25519")]
        ("discord", &["X-Signature-Ed25519", "X-Signature-Timestamp"]),
        ("zoom", &["x-zm-signature", "x-zm-request-timestamp"]),
        (
            "twitch",
            &[
                "Twitch-Eventsub-Message-Id",
                "Twitch-Eventsub-Message-Timestamp",
                "Twitch-Eventsub-Message-Signature",
                "Twitch-Eventsub-Message-Type",
                "Twitch-Eventsub-Subscription-Type",
            ],
        ),
        (
            "hubspot",
            &["X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"],
        ),
        ("xero", &["x-xero-signature"]),
        ("dropbox", &["X-Dropbox-Signature"]),
        ("square", &["x-square-hmacsha256-signature"]),
        ("linear", &["Linear-Signature", "Linear-Delivery"]),
        ("razorpay", &["X-Razorpay-Signature", "X-Razorpay-Event-Id"]),
        ("clerk", &["svix-id", "svix-timestamp", "svix-signature"]),
        ("resend", &["svix-id", "svix-timestamp", "svix-signature"]),
    ];
    for (scheme, names) in expected {
        let case = CASES.iter().find(|c| c.scheme == *scheme).unwrap();
        let headers = sign(case, "msg_names", now());
        for name in *names {
            assert!(
                headers.iter().any(|(n, _)| n == name),
                "{scheme}: no {name} in {headers:?}"
            );
        }
    }
    // The published Standard Webhooks vector, through the command line.
    let run = webhook(
        &[
            "sign",
            "--scheme",
            "standard",
            "--secret",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "--id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "--timestamp",
            "1614265330",
            "-",
        ],
        br#"{"test": 2432232314}"#,
    );
    run.assert_exit(0, "reference vector");
    assert_eq!(
        run.stdout,
        "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\nwebhook-timestamp: 1614265330\n\
         webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n"
    );
    // GitHub: `issues.opened` is sent as the event `issues` (the action is
    // in the body).
    let case = CASES.iter().find(|c| c.scheme == "github").unwrap();
    let headers = sign(
        &Case {
            event: "issues.opened",
            body: r#"{"action":"opened","issue":{"number":1}}"#,
            ..*case
        },
        "d1",
        now(),
    );
    assert!(headers.contains(&("X-GitHub-Event".into(), "issues".into())));
    assert!(headers.contains(&("X-GitHub-Delivery".into(), "d1".into())));
}

#[test]
fn a_tampered_body_is_invalid() {
    for case in CASES.iter().filter(|c| c.signs_body) {
        let case = &case.fresh();
        let headers = sign(case, "msg_tampered", now());
        let tampered = case.body.replace("1250", "1251");
        let run = verify(case, &headers, &tampered, &[]);
        assert_verdict(&run, "invalid_signature", case.what);
    }
    // GitLab's secret token signs nothing: the wrong token is what fails.
    let case = CASES.iter().find(|c| !c.signs_body).unwrap();
    let headers = sign(case, "msg_token", now());
    let run = verify_with(case, "another-token", &headers, case.body, &[]);
    assert_verdict(&run, "invalid_signature", case.what);
}

#[test]
fn a_wrong_secret_is_invalid() {
    for case in CASES {
        let case = &case.fresh();
        let headers = sign(case, "msg_wrong_secret", now());
        // Another usable secret of the same form: RFC 8032 TEST 2's public
        // key for ed25519, an HMAC secret with one more character.
        let wrong = match case.scheme {
            "discord" => {
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c".to_owned()
            }
            _ if case.verifying_secret.starts_with("whpk_") => {
                "whpk_PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=".to_owned()
            }
            _ if case.verifying_secret.starts_with("whsec_") && case.scheme != "stripe" => {
                "whsec_b2xkIHNlY3JldA==".to_owned()
            }
            _ => format!("{}x", case.verifying_secret),
        };
        let run = verify_with(case, &wrong, &headers, case.body, &[]);
        assert_verdict(&run, "invalid_signature", case.what);
    }
}

#[test]
fn a_stale_timestamp_is_refused_unless_tolerance_allows_it() {
    for case in CASES.iter().filter(|c| c.timestamped) {
        let headers = sign(case, "msg_stale", now() - 3600);
        let run = verify(case, &headers, case.body, &[]);
        assert_verdict(&run, "timestamp_out_of_tolerance", case.what);
        let run = verify(case, &headers, case.body, &["--no-tolerance"]);
        assert_verdict(&run, "valid", case.what);
        let run = verify(case, &headers, case.body, &["--tolerance", "7200"]);
        assert_verdict(&run, "valid", case.what);
        let run = verify(case, &headers, case.body, &["--tolerance", "60"]);
        assert_verdict(&run, "timestamp_out_of_tolerance", case.what);
    }
    // From the future, too.
    let case = &CASES[0];
    let headers = sign(case, "msg_future", now() + 3600);
    let run = verify(case, &headers, case.body, &[]);
    assert_verdict(&run, "timestamp_out_of_tolerance", "future");
}

#[test]
fn missing_and_malformed_headers_have_their_codes() {
    let case = CASES.iter().find(|c| c.scheme == "stripe").unwrap();
    let run = verify(case, &[], case.body, &[]);
    assert_verdict(&run, "missing_signature", "no headers");
    assert!(run.stderr.contains("Stripe-Signature"), "{run:?}");
    let garbled = [("Stripe-Signature".to_owned(), "garbage".to_owned())];
    let run = verify(case, &garbled, case.body, &[]);
    assert_verdict(&run, "malformed_signature", "garbled");
}

#[test]
fn the_body_can_be_a_file() {
    let case = &CASES[0];
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("webhook-body.json");
    std::fs::write(&path, case.body).unwrap();
    let path = path.to_str().unwrap();
    let run = webhook(
        &[
            "sign",
            "--scheme",
            "standard",
            "--secret",
            case.signing_secret,
            "--id",
            "msg_file",
            path,
        ],
        b"",
    );
    run.assert_exit(0, "sign a file");
    let mut args = vec![
        "verify",
        "--scheme",
        "standard",
        "--secret",
        case.verifying_secret,
    ];
    let lines: Vec<String> = run.stdout.lines().map(str::to_owned).collect();
    for line in &lines {
        args.extend(["-H", line.as_str()]);
    }
    args.push(path);
    let run = webhook(&args, b"");
    assert_verdict(&run, "valid", "verify a file");
}

#[test]
fn argument_mistakes_are_clear_messages() {
    let secret = "s3cr3t-value-never-printed";
    let mistakes: &[(&[&str], &str)] = &[
        (
            &["sign", "--scheme", "nope", "--secret", secret, "-"],
            "invalid value 'nope' for '--scheme <SCHEME>'",
        ),
        (&["sign", "--scheme", "github", "-"], "--secret <SECRET>"),
        (
            &["sign", "--scheme", "twilio", "--secret", secret, "-"],
            "twilio signs the URL: pass --url",
        ),
        (
            &["verify", "--scheme", "twilio", "--secret", secret, "-"],
            "twilio signs the URL: pass --url",
        ),
        (
            &[
                "verify", "--scheme", "github", "--secret", secret, "-H", "no colon", "-",
            ],
            "expected `Name: value`",
        ),
        (
            &[
                "verify",
                "--scheme",
                "github",
                "--secret",
                secret,
                "--tolerance",
                "5",
                "--no-tolerance",
                "-",
            ],
            "cannot be used with",
        ),
        (
            &[
                "verify",
                "--scheme",
                "slack",
                "--secret",
                secret,
                "--tolerance",
                "soon",
                "-",
            ],
            "invalid value 'soon' for '--tolerance <SECS>'",
        ),
        (
            &[
                "sign",
                "--scheme",
                "github",
                "--secret",
                secret,
                "/nonexistent/body.json",
            ],
            "cannot read /nonexistent/body.json",
        ),
        #[cfg(feature = "ed25519")]
        (
            &["sign", "--scheme", "discord", "--secret", secret, "-"],
            "--secret for discord must be the private key",
        ),
        #[cfg(not(feature = "ed25519"))]
        (
            &["sign", "--scheme", "discord", "--secret", secret, "-"],
            "discord needs the `ed25519` feature",
        ),
        #[cfg(feature = "ed25519")]
        (
            &[
                "sign",
                "--scheme",
                "standard",
                "--secret",
                "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
                "-",
            ],
            "a whpk_ public key cannot sign",
        ),
        (
            &["sign", "--scheme", "standard", "--secret", "whsec_!!!", "-"],
            "not valid base64",
        ),
        (
            &["sign", "--scheme", "github", "--secret", "", "-"],
            "the secret is empty",
        ),
        // GitHub always names the event in a header, and reads the action
        // after the `.` from the body (here `{}`).
        (
            &["sign", "--scheme", "github", "--secret", secret, "-"],
            "github: no event name: the provider always sends one in the `X-GitHub-Event` header; pass --event",
        ),
        (
            &[
                "sign",
                "--scheme",
                "github",
                "--secret",
                secret,
                "--event",
                "issues.opened",
                "-",
            ],
            "its `/action` is absent; make --event and the body agree",
        ),
        (
            &["sign", "--scheme", "shopify", "--secret", secret, "-"],
            "`X-Shopify-Topic` header; pass --event",
        ),
        (
            &[
                "send",
                "--scheme",
                "github",
                "--secret",
                secret,
                "--url",
                "ftp://example.com/hook",
                "-",
            ],
            "--url must be an http:// or https:// URL",
        ),
        (
            &[
                "send",
                "--scheme",
                "github",
                "--secret",
                secret,
                "--url",
                "https://example.com/hook",
                "--ca-cert",
                "/nonexistent/ca.pem",
                "-",
            ],
            "--ca-cert /nonexistent/ca.pem: I/O error",
        ),
        (
            &[
                "send",
                "--scheme",
                "github",
                "--secret",
                secret,
                "--url",
                "https://example.com/hook",
                "--ca-cert",
                "Cargo.toml",
                "-",
            ],
            "--ca-cert Cargo.toml: no PEM certificate",
        ),
        (
            &[
                "verify",
                "--scheme",
                "twilio",
                "--secret",
                secret,
                "--url",
                "example.com/hook",
                "-",
            ],
            "--url must be a full URL",
        ),
    ];
    for (args, message) in mistakes {
        let run = webhook(args, b"{}");
        let what = args.join(" ");
        run.assert_exit(2, &what);
        assert!(run.stderr.contains(message), "{what}: {run:?}");
        assert!(run.stdout.is_empty(), "{what}: {run:?}");
        assert!(!run.stderr.contains(secret), "{what} printed the secret");
    }
}

#[test]
fn send_reports_a_refused_connection() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/webhooks/github");
    let run = webhook(
        &[
            "send", "--scheme", "github", "--secret", "s", "--event", "push", "--url", &url, "-",
        ],
        b"{}",
    );
    run.assert_exit(1, "refused");
    assert!(run.stderr.contains("cannot send to"), "{run:?}");
}
