//! `Expect: 100-continue` with a `Content-Length` over the body limit:
//! actix-web's `HttpServer` sends `100 Continue` before any app code sees
//! the request (the 413 follows, and the body limit holds); a server built
//! with actix-http's expect service, as docs/SECURITY.md shows, refuses at
//! once.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use actix_http::{HttpService, Request};
use actix_service::map_config;
use actix_web::dev::{fn_service, AppConfig, Server, ServerHandle};
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{App, HttpResponse, HttpServer};
use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Event, WebhookRouter};
use serde_json::Value;

const LIMIT: usize = 64 * 1024;

#[webhook(event = "*")]
async fn any(_event: Event<Value>) {}

fn hooks() -> WebhookRouter {
    WebhookRouter::new(StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap())
        .body_limit(LIMIT)
        .handler(any)
}

/// The expect service of the docs: refuse a declared body over the limit
/// before the sender is told to send it.
async fn refuse_oversized(req: Request) -> Result<Request, HttpResponse> {
    let declared = req
        .head()
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    match declared {
        Some(length) if length > LIMIT as u64 => Err(HttpResponse::PayloadTooLarge().finish()),
        _ => Ok(req),
    }
}

/// Runs a server on a port of 127.0.0.1 in a thread of its own.
fn serve(
    build: impl FnOnce(TcpListener) -> std::io::Result<Server> + Send + 'static,
) -> (SocketAddr, ServerHandle) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let server = build(listener).unwrap();
            tx.send(server.handle()).unwrap();
            server.await
        })
    });
    (addr, rx.recv().unwrap())
}

/// Sends a head expecting `100 Continue` for a body twice the limit, and
/// sends no body; returns what the server wrote within a second.
fn first_answer(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    write!(
        stream,
        "POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        2 * LIMIT
    )
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the server closes, goes quiet, or has said enough.
    while answer.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn http_server_sends_100_continue_before_the_413() {
    let (addr, handle) = serve(|listener| {
        let hooks = hooks();
        Ok(
            HttpServer::new(move || App::new().service(hooks.scope("/webhooks")))
                .workers(1)
                .listen(listener)?
                .run(),
        )
    });
    let answer = first_answer(addr);
    actix_rt::System::new().block_on(handle.stop(false));
    assert!(
        answer.starts_with("HTTP/1.1 100 Continue\r\n"),
        "{answer:?}"
    );
    assert!(answer.contains("HTTP/1.1 413"), "{answer:?}");
}

#[test]
fn an_expect_service_refuses_before_100_continue() {
    let (addr, handle) = serve(|listener| {
        let hooks = hooks();
        Ok(Server::build()
            .workers(1)
            .listen("webhooks", listener, move || {
                let app = App::new().service(hooks.scope("/webhooks"));
                HttpService::build()
                    .expect(fn_service(refuse_oversized))
                    .finish(map_config(app, |()| AppConfig::default()))
                    .tcp()
            })?
            .run())
    });
    let answer = first_answer(addr);
    actix_rt::System::new().block_on(handle.stop(false));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    assert!(!answer.contains("100 Continue"), "{answer:?}");
}
