//! The generated code uses absolute paths only: the user's own `Event`,
//! `Result`, `Box`, `core` or a handler named `config` cannot break it; doc
//! comments and `#[allow]` are kept.
#![deny(missing_docs, unused_variables)]

use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, WebhookRouter};

/// Handlers, public so `missing_docs` checks the copied docs.
pub mod hooks {
    use actix_webhook::webhook;

    /// Not the crate's `Event`.
    pub struct Event;
    /// Not `std::result::Result`.
    pub struct Result;
    /// Not `std::boxed::Box`.
    pub struct Box;
    /// Not `std::clone::Clone`.
    pub trait Clone {}
    /// Not the crate's `Ack`.
    pub struct Ack;
    /// Not `::core`.
    pub mod core {}
    /// Not `::std`.
    pub mod std {}

    /// Applies the configuration.
    #[webhook(event = "config.updated")]
    #[allow(unused_variables)]
    pub async fn config(
        event: actix_webhook::Event<serde_json::Value>,
    ) -> ::std::result::Result<actix_webhook::Ack, ::std::io::Error> {
        Ok(actix_webhook::Ack::processed())
    }

    /// A handler named like what it calls.
    #[webhook(event = "handle")]
    pub(crate) async fn handle(_event: actix_webhook::Event<serde_json::Value>) {}

    /// A handler named like the request.
    #[webhook(event = "req")]
    pub async fn req(
        _event: actix_webhook::Event<serde_json::Value>,
        _incoming: actix_web::HttpRequest,
    ) {
    }

    /// A raw identifier.
    #[webhook(event = "type")]
    pub async fn r#type(_event: actix_webhook::Event<serde_json::Value>) {}
}

#[cfg(any())]
#[webhook(event = "never")]
async fn compiled_out(_event: actix_webhook::Event<serde_json::Value>) {
    this_does_not_exist();
}

#[webhook(event = "cfg")]
#[cfg(all())]
async fn compiled_in(_event: actix_webhook::Event<serde_json::Value>) {}

fn main() {
    use actix_webhook::__private::Handler;
    assert_eq!(hooks::r#type.name(), "type");
    assert_eq!(hooks::config.name(), "config");
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let _ = WebhookRouter::new(scheme)
        .handler(hooks::config)
        .handler(hooks::handle)
        .handler(hooks::req)
        .handler(hooks::r#type)
        .handler(compiled_in);
}
