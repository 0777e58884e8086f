//! Every return type a handler may have.

use std::fmt;

use actix_webhook::scheme::StandardWebhooks;
use actix_webhook::{webhook, Ack, Event, WebhookRouter};
use serde_json::Value;

#[derive(Debug)]
struct DbError;

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("database unavailable")
    }
}

#[webhook(event = "unit")]
async fn unit(_event: Event<Value>) {}

#[webhook(event = "ack")]
async fn ack(_event: Event<Value>) -> Ack {
    Ack::accepted()
}

#[webhook(event = "result_unit")]
async fn result_unit(_event: Event<Value>) -> Result<(), DbError> {
    Err(DbError)
}

#[webhook(event = "result_ack")]
async fn result_ack(_event: Event<Value>) -> Result<Ack, std::io::Error> {
    Ok(Ack::processed())
}

#[webhook(event = "result_string_error")]
async fn result_string_error(_event: Event<Value>) -> std::result::Result<Ack, String> {
    Err("no".to_owned())
}

fn main() {
    let scheme = StandardWebhooks::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let _ = WebhookRouter::new(scheme)
        .handler(unit)
        .handler(ack)
        .handler(result_unit)
        .handler(result_ack)
        .handler(result_string_error);
}
