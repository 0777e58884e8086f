//! `webhook send` over HTTPS, to a real actix server on 127.0.0.1 with a
//! self-signed certificate: delivered when `--ca-cert` trusts it, refused
//! (and nothing delivered) when it does not.

mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use actix_webhook::scheme::GitHub;
use actix_webhook::{webhook, Event, WebhookRouter};
use support::{webhook, ServerThread};

const SECRET: &str = "It's a Secret to Everybody";

#[webhook(event = "*")]
async fn any(_event: Event<serde_json::Value>, seen: web::Data<AtomicUsize>) {
    seen.fetch_add(1, Ordering::SeqCst);
}

/// A GitHub webhook endpoint served over TLS on a free 127.0.0.1 port, in its
/// own thread, with a fresh self-signed certificate for `127.0.0.1`; stopped
/// when dropped.
struct Served {
    url: String,
    /// The certificate, in PEM, for `--ca-cert`.
    ca_cert: PathBuf,
    /// How many deliveries the handler saw.
    seen: web::Data<AtomicUsize>,
    _server: ServerThread,
}

impl Served {
    fn start(name: &str) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("a self-signed certificate");
        let ca_cert = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.pem"));
        std::fs::write(&ca_cert, certified.cert.pem()).expect("the certificate is written");
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("a usable certificate");

        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let hooks = WebhookRouter::new(GitHub::new(SECRET).unwrap()).handler(any);
        let seen = web::Data::new(AtomicUsize::new(0));
        let app_seen = seen.clone();
        let server = ServerThread::spawn(move || {
            Ok(HttpServer::new(move || {
                App::new()
                    .app_data(app_seen.clone())
                    .service(hooks.scope("/webhooks"))
            })
            .workers(1)
            .listen_rustls_0_23(listener, tls)?
            .run())
        });
        Self {
            url: format!("https://127.0.0.1:{port}/webhooks"),
            ca_cert,
            seen,
            _server: server,
        }
    }

    /// `webhook send` of a signed delivery to the server, with `extra` arguments.
    fn send(&self, extra: &[&str]) -> support::Run {
        let mut args = vec![
            "send",
            "--scheme",
            "github",
            "--secret",
            SECRET,
            "--event",
            "issues.opened",
            "--url",
            &self.url,
        ];
        args.extend(extra);
        args.push("-");
        webhook(&args, br#"{"action":"opened","issue":{"number":1}}"#)
    }

    fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_cert);
    }
}

#[test]
fn send_over_https_trusting_the_servers_certificate() {
    let served = Served::start("https-trusted");
    let ca_cert = served.ca_cert.to_str().expect("a UTF-8 path");
    let run = served.send(&["--ca-cert", ca_cert]);
    run.assert_exit(0, "https with --ca-cert");
    assert!(run.stdout.starts_with("200 OK\n"), "{run:?}");
    assert!(run.stdout.contains(r#""status":"processed""#), "{run:?}");
    assert_eq!(served.seen(), 1, "the handler ran once");
}

#[test]
fn send_over_https_refuses_an_untrusted_certificate() {
    let served = Served::start("https-untrusted");
    let run = served.send(&[]);
    run.assert_exit(1, "https without --ca-cert");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        run.stderr.contains("cannot send to https://127.0.0.1:"),
        "{run:?}"
    );
    assert!(run.stderr.contains("invalid peer certificate"), "{run:?}");
    assert!(run.stderr.contains("--ca-cert"), "{run:?}");
    assert_eq!(served.seen(), 0, "nothing was delivered");
}
