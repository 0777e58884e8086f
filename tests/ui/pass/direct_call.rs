//! The function stays callable as written, as `name::handle`, and the
//! handler value is a plain `Copy` unit struct.

use std::future::Future;

use actix_web::web;
use actix_webhook::{webhook, Ack, Event};
use serde_json::Value;

struct Db;

#[webhook(event = "order_paid")]
async fn order_paid(_event: Event<Value>, _db: web::Data<Db>) -> Result<Ack, std::io::Error> {
    Ok(Ack::processed())
}

fn callable<F, Fut>(_: F)
where
    F: Fn(Event<Value>, web::Data<Db>) -> Fut,
    Fut: Future<Output = Result<Ack, std::io::Error>>,
{
}

fn handler<H: actix_webhook::__private::Handler + Copy + std::fmt::Debug>(_: H) {}

fn main() {
    callable(order_paid::handle);
    handler(order_paid);
    assert_eq!(format!("{order_paid:?}"), "order_paid");
}
