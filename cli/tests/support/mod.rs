//! Runs the `webhook` binary built for these tests.

#![allow(dead_code, unreachable_pub)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

/// What one run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The `Name: value` lines of stdout, as pairs.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.stdout
            .lines()
            .map(|line| {
                let (name, value) = line.split_once(": ").expect("a `Name: value` line");
                (name.to_owned(), value.to_owned())
            })
            .collect()
    }

    /// Asserts a clean exit with `code` and no panic.
    pub fn assert_exit(&self, code: i32, what: &str) {
        assert_eq!(self.code, Some(code), "{what}: {self:?}");
        assert!(!self.stderr.contains("panicked"), "{what}: {self:?}");
    }
}

/// Runs `webhook args...` with `stdin` as its standard input.
pub fn webhook(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_webhook"))
        .args(args)
        .env_remove("WEBHOOK_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the webhook binary runs");
    let mut input = child.stdin.take().expect("stdin");
    // A command that fails before reading its input closes the pipe.
    let _ = input.write_all(stdin);
    drop(input);
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("the webhook binary exits");
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(stderr).expect("UTF-8 stderr"),
    }
}

/// `webhook sign` for `case` to `url` with `id` and `timestamp`; the
/// headers it printed.
#[allow(dead_code)] // not every test binary signs
pub fn sign(case: &Case, url: &str, id: &str, timestamp: i64) -> Vec<(String, String)> {
    let ts = timestamp.to_string();
    let run = webhook(
        &[
            "sign",
            "--scheme",
            case.scheme,
            "--secret",
            case.signing_secret,
            "--id",
            id,
            "--timestamp",
            &ts,
            "--event",
            case.event,
            "--url",
            url,
            "-",
        ],
        case.body.as_bytes(),
    );
    run.assert_exit(0, case.what);
    assert!(run.stderr.is_empty(), "{}: {run:?}", case.what);
    run.headers()
}

/// The current time, unix seconds.
pub fn now() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    i64::try_from(secs).expect("fits")
}

/// A provider's test setup: how `webhook` signs for it and verifies it.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// What the case is, in messages.
    pub what: &'static str,
    /// `--scheme`.
    pub scheme: &'static str,
    /// `--secret` when signing (ed25519: the private key).
    pub signing_secret: &'static str,
    /// `--secret` when verifying (ed25519: the public key).
    pub verifying_secret: &'static str,
    /// The body sent.
    pub body: &'static str,
    /// `--event`.
    pub event: &'static str,
    /// Whether the signature covers a timestamp (so a stale one is refused).
    pub timestamped: bool,
    /// Whether the signature covers the body (GitLab's token does not).
    pub signs_body: bool,
}

pub const JSON: &str = r#"{"id":"evt_1","event_id":"evt_1","type":"order.paid","event_type":"order.paid","event":"order.paid","object":"page","amount":1250}"#;
/// HubSpot's body: a batch of one event.
pub const HUBSPOT: &str = r#"[{"eventId":1250,"subscriptionType":"order.paid","objectId":7}]"#;
/// Twitch's body: a notification, its subscription type the case's event.
pub const TWITCH: &str =
    r#"{"subscription":{"type":"order.paid","status":"enabled"},"event":{"amount":1250}}"#;
/// Xero's body: a batch of one event.
pub const XERO: &str = r#"{"events":[{"resourceId":"1250","eventCategory":"INVOICE","eventType":"UPDATE"}],"firstEventSequence":1,"lastEventSequence":1,"entropy":"S0MEENTR0PY"}"#;
/// Linear's body: it signs the time in it, which [`Case::fresh`] sets.
pub const LINEAR: &str = r#"{"type":"Issue","action":"create","amount":1250,"webhookTimestamp":0}"#;
/// What [`Case::fresh`] replaces in a body.
const STALE: &str = r#""webhookTimestamp":0"#;
pub const FORM: &str = "MessageSid=SM1&Body=paid+1250&EventType=order.paid";

impl Case {
    /// The case with a body signing the time now, for Linear (which signs
    /// `webhookTimestamp` in the body, within 60 s); the others as they are.
    pub fn fresh(&self) -> Case {
        if !self.body.contains(STALE) {
            return *self;
        }
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis();
        let body = self
            .body
            .replace(STALE, &format!(r#""webhookTimestamp":{ms}"#));
        Case {
            body: Box::leak(body.into_boxed_str()),
            ..*self
        }
    }
}

const fn case(
    what: &'static str,
    scheme: &'static str,
    secret: &'static str,
    timestamped: bool,
) -> Case {
    Case {
        what,
        scheme,
        signing_secret: secret,
        verifying_secret: secret,
        body: JSON,
        event: "order.paid",
        timestamped,
        signs_body: true,
    }
}

/// Every HMAC and ed25519 scheme of the command line, with the secrets of
/// the providers example's demo defaults where it has the scheme.
pub const CASES: &[Case] = &[
    case(
        "standard",
        "standard",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        true,
    ),
    #[cfg(feature = "ed25519")]
    Case {
        signing_secret: "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
        verifying_secret: "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        ..case("standard v1a (ed25519)", "standard", "", true)
    },
    case(
        "svix",
        "svix",
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        true,
    ),
    // GitHub names the event in `X-GitHub-Event`, the action in the body
    // (which has none): `order.paid` would be a mismatch.
    Case {
        event: "order",
        ..case("github", "github", "It's a Secret to Everybody", false)
    },
    case("stripe", "stripe", "whsec_demo_stripe_signing_secret", true),
    case("slack", "slack", "8f742231b10e8888abcd99yyyzzz85a5", true),
    case("shopify", "shopify", "demo-shopify-client-secret", false),
    Case {
        signs_body: false,
        ..case(
            "gitlab (secret token)",
            "gitlab",
            "demo-gitlab-token",
            false,
        )
    },
    case(
        "gitlab (signing token)",
        "gitlab",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        true,
    ),
    case(
        "paddle",
        "paddle",
        "pdl_ntfset_demo_paddle_secret_key",
        true,
    ),
    case("meta", "meta", "demo-meta-app-secret", false),
    Case {
        body: FORM,
        ..case("twilio", "twilio", "demo-twilio-auth-token", false)
    },
    #[cfg(feature = "ed25519")]
    Case {
        signing_secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        verifying_secret: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        ..case("discord", "discord", "", true)
    },
    case("zoom", "zoom", "demo-zoom-secret-token", true),
    Case {
        body: TWITCH,
        ..case("twitch", "twitch", "demo-twitch-eventsub-secret", true)
    },
    Case {
        body: HUBSPOT,
        ..case("hubspot", "hubspot", "demo-hubspot-client-secret", true)
    },
    Case {
        body: XERO,
        ..case("xero", "xero", "demo-xero-webhook-key", false)
    },
    case("dropbox", "dropbox", "demo-dropbox-app-secret", false),
    case("square", "square", "demo-square-signature-key", false),
    Case {
        body: LINEAR,
        ..case("linear", "linear", "demo-linear-webhook-secret", false)
    },
    case(
        "razorpay",
        "razorpay",
        "demo-razorpay-webhook-secret",
        false,
    ),
    case(
        "clerk",
        "clerk",
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        true,
    ),
    case(
        "resend",
        "resend",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        true,
    ),
];

/// The URL every case is signed for (Twilio, HubSpot and Square sign it).
pub const URL: &str = "https://example.com/webhooks/twilio";

/// An actix server on a thread of its own (with its own actix system),
/// stopped and joined when dropped.
pub struct ServerThread {
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl ServerThread {
    /// Runs the server that `start` makes, on the new thread.
    pub fn spawn<F>(start: F) -> Self
    where
        F: FnOnce() -> std::io::Result<actix_web::dev::Server> + Send + 'static,
    {
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = start()?;
                sender.send(server.handle()).expect("the test waits");
                server.await
            })
        });
        let handle = receiver.recv().expect("the server starts");
        Self {
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        actix_web::rt::System::new().block_on(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
