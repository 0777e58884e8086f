//! `webhook`: the sender's side of webhook providers, for local development
//! and tests. It signs a body the way a provider does (`sign`), sends it to
//! an endpoint (`send`), or checks a captured delivery (`verify`), with the
//! same code as the `actix-webhook` library's verification, so the two never
//! disagree. It also operates the inbox of a router in inbox mode, an SQLite
//! file or a Redis (`inbox`): counts, lists, shows, replays and purges
//! deliveries while the servers run. And it tells when a secret rotation
//! can be finished (`rotation`): whether the old secret's label still
//! matches deliveries, from the receivers' metrics endpoints.
//!
//! ```text
//! webhook sign   --scheme stripe --secret whsec_... event.json
//! webhook send   --scheme github --secret S --event issues.opened --url http://127.0.0.1:8080/webhooks/github event.json
//! webhook send   --scheme stripe --secret whsec_... --url https://staging.example.com/webhooks --ca-cert staging-ca.pem event.json
//! webhook verify --scheme slack  --secret S -H 'X-Slack-Signature: v0=...' -H 'X-Slack-Request-Timestamp: 1700000000' body.json
//! webhook inbox  --db webhook-inbox.db stats
//! webhook inbox  --db webhook-inbox.db replay --dead --dry-run
//! webhook inbox  --redis redis://127.0.0.1:6379/ --namespace shop list --state dead
//! webhook rotation --metrics http://127.0.0.1:8080/metrics --label 2026-11 --wait 60s
//! ```
//!
//! Exit codes: 0 done (`valid`, a 2xx answer); 1 rejected (not valid, a
//! non-2xx answer, the request could not be sent; for `inbox`, an inbox that
//! cannot be opened or read, or an unknown id); 2 a usage error. `rotation`
//! has its own: 0 the old secret did not match (it can be removed), 1 it
//! still matches, 2 the metrics could not be read or a usage error.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_webhook::scheme::{Message, Request, SignError};
use actix_webhook::testing;
use actix_webhook::verify::{Clock as _, SystemClock, Tolerance};
use clap::{Args, Parser, Subcommand};

mod exposition;
mod inbox;
mod rotation;
mod schemes;
mod tls;

use schemes::{Purpose, SchemeName};

/// Sign, send and verify webhook deliveries the way providers do; operate
/// an inbox (a file or Redis); tell when a secret rotation can be finished.
#[derive(Debug, Parser)]
#[command(name = "webhook", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the headers the provider would send with the body, one
    /// `Name: value` a line.
    Sign(SignArgs),
    /// Sign the body and POST it to --url; print the status and the answer.
    /// Exits 1 on a non-2xx answer.
    Send(SendArgs),
    /// Check a captured delivery: print `valid` (exit 0) or the rejection
    /// code, e.g. `invalid_signature` (exit 1).
    Verify(VerifyArgs),
    /// Operate the inbox of a router in inbox mode (--db PATH or --redis
    /// URL), while its servers run: `stats`, `list`, `show ID`, `replay`,
    /// `purge`.
    Inbox(inbox::InboxArgs),
    /// Tell whether an old secret still matches deliveries, the last step
    /// of a rotation, from the receivers' metrics.
    ///
    /// Reads `webhook_secret_matches_total` (the library's `metrics`
    /// feature) from each receiver's Prometheus endpoint (--metrics, once
    /// per replica).
    Rotation(rotation::RotationArgs),
}

/// What `sign` and `send` share.
#[derive(Debug, Args)]
struct Signing {
    /// The provider.
    #[arg(long, value_enum)]
    scheme: SchemeName,
    /// The signing secret; for ed25519 schemes the private key (Standard
    /// Webhooks `whsk_...`, Discord hex).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// The delivery id (default: a fresh `msg_...`).
    #[arg(long)]
    id: Option<String>,
    /// When it is signed, unix seconds (default: now).
    #[arg(long, allow_negative_numbers = true)]
    timestamp: Option<i64>,
    /// The event name, needed by providers that send it in a header:
    /// GitHub (`issues.opened` sends `X-GitHub-Event: issues` and needs a
    /// body whose `action` is `opened`; `push` is sent as it is), Shopify
    /// (`orders/create`), GitLab (`Push Hook`). Others read it from the body.
    #[arg(long)]
    event: Option<String>,
    /// The body: a file, or `-` for standard input.
    #[arg(value_name = "FILE|-")]
    body: PathBuf,
}

#[derive(Debug, Args)]
struct SignArgs {
    #[command(flatten)]
    signing: Signing,
    /// The full URL the delivery goes to (Twilio, HubSpot and Square sign it).
    #[arg(long)]
    url: Option<String>,
}

#[derive(Debug, Args)]
struct SendArgs {
    #[command(flatten)]
    signing: Signing,
    /// Where to POST it: an `http://` or `https://` URL (a local endpoint, a
    /// tunnel, a staging host); Twilio, HubSpot and Square also sign it.
    #[arg(long)]
    url: String,
    /// For `https://`: also trust the CA certificates in this PEM file, e.g.
    /// a staging host's private CA or a local test certificate. Mozilla's
    /// root certificates are always trusted.
    #[arg(long, value_name = "PATH")]
    ca_cert: Option<PathBuf>,
    /// An extra header, `Name: value` (repeatable), e.g. a content type;
    /// `application/json` is sent unless the provider or this sets one.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The provider.
    #[arg(long, value_enum)]
    scheme: SchemeName,
    /// The secret; for ed25519 schemes the public key (Standard Webhooks
    /// `whpk_...`, Discord's 64 hex digits), or the private key (`whsk_...`,
    /// Discord's seed and public key in 128 hex digits).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    secret: String,
    /// A header of the captured request, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// The full URL the request was sent to (Twilio, HubSpot and Square sign
    /// it).
    #[arg(long)]
    url: Option<String>,
    /// How far the timestamp may be from now, in seconds (default: the
    /// provider's own, 300 for most, 5 for Paddle).
    #[arg(long, value_name = "SECS", conflicts_with = "no_tolerance")]
    tolerance: Option<u64>,
    /// Accept any timestamp, e.g. to check an old capture. The signature is
    /// still checked.
    #[arg(long)]
    no_tolerance: bool,
    /// The body: a file, or `-` for standard input.
    #[arg(value_name = "FILE|-")]
    body: PathBuf,
}

/// A failure, with what to print and the exit code.
#[derive(Debug)]
enum Failure {
    /// A mistake in the arguments or input: exit 2.
    Usage(String),
    /// A rejection or failed request: exit 1, the message already printed.
    Rejected,
    /// An error while running: exit 1.
    Failed(String),
    /// A question left unanswered (`rotation`: metrics that cannot be
    /// read): exit 2, as `rotation`'s 1 means an answer, "still in use".
    Inconclusive(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Sign(args) => sign(&args),
        Command::Send(args) => send(&args),
        Command::Verify(args) => verify(&args),
        Command::Inbox(args) => inbox::run(&args),
        Command::Rotation(args) => rotation::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Rejected) => ExitCode::from(1),
        Err(Failure::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(message) | Failure::Inconclusive(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// `Name: value` → `(Name, value)`.
fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("expected `Name: value`, got {text:?}"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("invalid header name in {text:?}"));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

/// The body from `path`, or standard input for `-`.
fn read_body(path: &PathBuf) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut body).map_err(|e| {
            Failure::Usage(format!("cannot read the body from standard input: {e}"))
        })?;
    } else {
        body = std::fs::read(path)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    }
    Ok(body)
}

/// A fresh delivery id: `msg_` and the time in nanoseconds, in hex.
fn fresh_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("msg_{nanos:x}")
}

/// The headers for `signing`'s body sent to `url`.
fn signed_headers(
    signing: &Signing,
    url: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, String)>, Failure> {
    let url = match (signing.scheme.signs_url(), url) {
        (true, None) => {
            return Err(Failure::Usage(format!(
                "{} signs the URL: pass --url with the full URL the delivery goes to",
                signing.scheme
            )))
        }
        (_, url) => url.unwrap_or(""),
    };
    let signer =
        schemes::build(signing.scheme, &signing.secret, Purpose::Sign).map_err(Failure::Usage)?;
    let id = signing.id.clone().unwrap_or_else(fresh_id);
    let message = Message {
        id: &id,
        timestamp: signing.timestamp.unwrap_or_else(|| SystemClock.now()),
        event: signing.event.as_deref().unwrap_or(""),
        url,
        body,
    };
    // The library's check, the one `TestDelivery` makes: what the provider
    // would not send is a usage error, not a request the receiver refuses
    // or routes elsewhere.
    let headers = signer.try_sign(&message).map_err(|error| {
        let fix = match error {
            SignError::MissingEvent { .. } => "pass --event",
            _ => "make --event and the body agree",
        };
        Failure::Usage(format!("{}: {error}; {fix}", signing.scheme))
    })?;
    Ok(signing.scheme.rename(headers))
}

fn sign(args: &SignArgs) -> Result<(), Failure> {
    let body = read_body(&args.signing.body)?;
    let headers = signed_headers(&args.signing, args.url.as_deref(), &body)?;
    let mut out = std::io::stdout().lock();
    for (name, value) in headers {
        writeln!(out, "{name}: {value}").map_err(|e| Failure::Failed(e.to_string()))?;
    }
    Ok(())
}

/// Whether `url` is an `http://` or `https://` URL with a host, as awc
/// takes it.
fn is_http_url(url: &str) -> bool {
    url.parse::<awc::http::Uri>()
        .is_ok_and(|uri| matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some())
}

fn send(args: &SendArgs) -> Result<(), Failure> {
    if !is_http_url(&args.url) {
        return Err(Failure::Usage(format!(
            "--url must be an http:// or https:// URL, not {:?}",
            args.url
        )));
    }
    let tls = tls::client_config(args.ca_cert.as_deref()).map_err(Failure::Usage)?;
    let body = read_body(&args.signing.body)?;
    let mut headers = signed_headers(&args.signing, Some(&args.url), &body)?;
    headers.extend(args.headers.iter().cloned());
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), "application/json".into()));
    }

    let (status, answer) = actix_rt::System::new()
        .block_on(post(&args.url, tls, headers, body))
        .map_err(Failure::Failed)?;
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{status}")
        .and_then(|()| out.write_all(&answer))
        .and_then(|()| {
            if answer.last().is_some_and(|b| *b != b'\n') {
                writeln!(out)
            } else {
                Ok(())
            }
        });
    written.map_err(|e| Failure::Failed(e.to_string()))?;
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::Rejected)
    }
}

/// The HTTP client of `send` and `rotation`: TLS configured by `tls` for
/// `https://`, requests given up after `timeout`, the command line's
/// `User-Agent`.
fn http_client(tls: Arc<rustls::ClientConfig>, timeout: Duration) -> awc::Client {
    awc::Client::builder()
        .connector(awc::Connector::new().rustls_0_23(tls))
        .timeout(timeout)
        .add_default_header((
            "User-Agent",
            concat!("actix-webhook-cli/", env!("CARGO_PKG_VERSION")),
        ))
        .finish()
}

/// The largest answer read back, in bytes.
const ANSWER_LIMIT: usize = 1 << 20; // 1 MiB

/// POSTs `body` with `headers` to `url`, over TLS configured by `tls` for
/// `https://`; the answer's status and body.
async fn post(
    url: &str,
    tls: Arc<rustls::ClientConfig>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<(awc::http::StatusCode, Vec<u8>), String> {
    let client = http_client(tls, Duration::from_secs(30));
    let mut request = client.post(url);
    for (name, value) in headers {
        request = request.append_header((name, value));
    }
    let mut response = request.send_body(body).await.map_err(|e| {
        let hint = if tls::untrusted_certificate(&e) {
            " (signed by a private CA? trust it with --ca-cert PATH)"
        } else {
            ""
        };
        format!("cannot send to {url}: {e}{hint}")
    })?;
    let answer = response
        .body()
        .limit(ANSWER_LIMIT)
        .await
        .map_err(|e| format!("cannot read the answer from {url}: {e}"))?;
    Ok((response.status(), answer.to_vec()))
}

fn verify(args: &VerifyArgs) -> Result<(), Failure> {
    let body = read_body(&args.body)?;
    let tolerance = if args.no_tolerance {
        Some(Tolerance::disabled())
    } else {
        args.tolerance
            .map(|secs| Tolerance::new(Duration::from_secs(secs)))
    };
    let (base, path_and_query) = match &args.url {
        Some(url) => split_url(url).map_err(Failure::Usage)?,
        None if args.scheme.signs_url() => {
            return Err(Failure::Usage(format!(
                "{} signs the URL: pass --url with the full URL the request was sent to",
                args.scheme
            )))
        }
        None => (String::new(), "/".to_owned()),
    };
    let scheme = schemes::build(
        args.scheme,
        &args.secret,
        Purpose::Verify {
            tolerance,
            public_url: &base,
        },
    )
    .map_err(Failure::Usage)?;
    let request = Request::new("POST", &path_and_query, &args.headers, &body);
    match scheme.verify(&request, scheme.secrets(), SystemClock.now()) {
        Ok(_) => {
            println!("valid");
            Ok(())
        }
        Err(error) => {
            println!("{}", error.code());
            eprintln!("{error}");
            Err(Failure::Rejected)
        }
    }
}

/// `https://example.com/hook?x=1` → (`https://example.com`, `/hook?x=1`),
/// as the library's tests split it; a URL without a host is a usage error.
fn split_url(url: &str) -> Result<(String, String), String> {
    testing::split_url(url)
        .filter(|(origin, _)| !origin.ends_with("://"))
        .map(|(origin, path)| (origin.to_owned(), path))
        .ok_or_else(|| {
            format!("--url must be a full URL such as https://example.com/hook, not {url:?}")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        assert_eq!(
            parse_header("X-Hub-Signature-256:  sha256=ab ").unwrap(),
            ("X-Hub-Signature-256".into(), "sha256=ab".into())
        );
        assert_eq!(
            parse_header("Stripe-Signature: t=1,v1=a:b").unwrap().1,
            "t=1,v1=a:b"
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": value").is_err());
        assert!(parse_header("bad name: value").is_err());
    }

    #[test]
    fn urls_split() {
        let split = |url| split_url(url).unwrap();
        assert_eq!(
            split("https://example.com/hook?x=1"),
            ("https://example.com".into(), "/hook?x=1".into())
        );
        assert_eq!(
            split("http://127.0.0.1:8080"),
            ("http://127.0.0.1:8080".into(), "/".into())
        );
        assert_eq!(split("http://h?a=b"), ("http://h".into(), "/?a=b".into()));
        assert!(split_url("example.com/hook").is_err());
        assert!(split_url("https:///hook").is_err());
    }
}
