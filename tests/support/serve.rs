//! An actix-web server on a port of 127.0.0.1, in a thread of its own, for
//! tests that speak raw HTTP/1.1 to it.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use actix_http::Request;
use actix_service::IntoServiceFactory;
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Response, ServerHandle, Service, ServiceFactory};
use actix_web::{Error, HttpServer};

/// Serves the app `factory` builds (one worker) and returns its address and
/// handle; stop it with `handle.stop(false)`.
pub(crate) fn serve<F, I, S, B>(factory: F) -> (SocketAddr, ServerHandle)
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let server = HttpServer::new(factory)
                .workers(1)
                .bind(("127.0.0.1", 0))
                .unwrap();
            let addr = server.addrs()[0];
            let server = server.run();
            tx.send((addr, server.handle())).unwrap();
            server.await
        })
    });
    rx.recv_timeout(Duration::from_secs(30)).unwrap()
}
